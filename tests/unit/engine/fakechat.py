"""An in-memory chat for the engine's unit tests: it keeps what the bot posted as a user would
see it, and can be told to refuse with the port's errors."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot.engine.chat_port import (
    ChatError,
    ChatMoved,
    FileTooBig,
    Keyboard,
    MessageNotEditable,
    MessageUnchanged,
    Posted,
    TopicGone,
)
from bot.engine.videoshape import VideoShape


@dataclass
class Shown:
    """A message of the bot, as it is in the chat now."""

    chat_id: int
    message_id: int
    text: str  # or a video's or a photo's caption
    thread_id: int | None = None
    reply_to: int | None = None
    keyboard: Keyboard | None = None
    video: str | bytes | None = None  # a URL, or the uploaded bytes
    shape: VideoShape | None = None
    photo: bytes | None = None

    @property
    def buttons(self) -> list[tuple[str, str]]:
        """(label, callback data) of every button under it, row by row."""
        return [(b.text, b.data) for row in self.keyboard or () for b in row]


@dataclass
class Call:
    """One request the engine made, with its arguments."""

    method: str
    params: dict[str, Any]


@dataclass
class _Failure:
    error: ChatError
    times: int
    when: Callable[[dict[str, Any]], bool] | None


@dataclass
class FakeChat:
    """The port in memory. Messages get ids 1, 2, … per chat; a reply to any id is taken."""

    messages: dict[tuple[int, int], Shown] = field(default_factory=dict)
    deleted: list[Shown] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)
    _failures: dict[str, list[_Failure]] = field(default_factory=dict)
    _moved: dict[int, int] = field(default_factory=dict)
    _gone_topics: set[tuple[int, int]] = field(default_factory=set)
    _next_id: dict[int, int] = field(default_factory=dict)

    # ------------------------------------------------------------------ the test's controls

    def fail(
        self,
        method: str,
        error: ChatError,
        *,
        times: int = 1,
        when: Callable[[dict[str, Any]], bool] | None = None,
    ) -> None:
        """Make the next `times` calls of `method` (those `when` holds for) raise `error`."""
        self._failures.setdefault(method, []).append(_Failure(error, times, when))

    def move(self, chat_id: int, new_chat_id: int) -> None:
        """The group became a supergroup: every later call naming it raises ChatMoved."""
        self._moved[chat_id] = new_chat_id

    def delete_topic(self, chat_id: int, thread_id: int) -> None:
        """Sends into the topic raise TopicGone from now on."""
        self._gone_topics.add((chat_id, thread_id))

    def in_chat(self, chat_id: int) -> list[Shown]:
        """The bot's messages in a chat as they are now, oldest first."""
        return [m for (chat, _), m in sorted(self.messages.items()) if chat == chat_id]

    def texts(self, chat_id: int) -> list[str]:
        return [m.text for m in self.in_chat(chat_id)]

    def calls_to(self, method: str) -> list[Call]:
        return [call for call in self.calls if call.method == method]

    # ------------------------------------------------------------------ the port

    async def send_message(
        self,
        chat_id: int,
        text: str,
        *,
        thread_id: int | None = None,
        reply_to: int | None = None,
        keyboard: Keyboard | None = None,
    ) -> Posted:
        self._arrive("send_message", chat_id=chat_id, text=text, thread_id=thread_id)
        return self._post(Shown(chat_id, 0, text, thread_id, reply_to, keyboard))

    async def edit_message(
        self, chat_id: int, message_id: int, text: str, *, keyboard: Keyboard | None = None
    ) -> None:
        self._arrive("edit_message", chat_id=chat_id, message_id=message_id, text=text)
        shown = self.messages.get((chat_id, message_id))
        if shown is None or shown.video is not None or shown.photo is not None:
            raise MessageNotEditable("Bad Request: message to edit not found")
        if (shown.text, shown.keyboard) == (text, keyboard):
            raise MessageUnchanged("Bad Request: message is not modified")
        shown.text, shown.keyboard = text, keyboard

    async def delete_message(self, chat_id: int, message_id: int) -> None:
        self._arrive("delete_message", chat_id=chat_id, message_id=message_id)
        shown = self.messages.pop((chat_id, message_id), None)
        if shown is None:
            raise MessageNotEditable("Bad Request: message to delete not found")
        self.deleted.append(shown)

    async def send_video(
        self,
        chat_id: int,
        video: str | bytes,
        *,
        caption: str,
        shape: VideoShape,
        answer_within: float,
        thread_id: int | None = None,
        reply_to: int | None = None,
        keyboard: Keyboard | None = None,
    ) -> Posted:
        by = "url" if isinstance(video, str) else "upload"
        self._arrive("send_video", chat_id=chat_id, by=by, text=caption, thread_id=thread_id)
        shown = Shown(chat_id, 0, caption, thread_id, reply_to, keyboard, video=video, shape=shape)
        return self._post(shown)

    async def show_uploading(self, chat_id: int, *, thread_id: int | None = None) -> None:
        self._arrive("show_uploading", chat_id=chat_id, thread_id=thread_id)

    async def send_photo(
        self,
        chat_id: int,
        photo: bytes,
        *,
        caption: str,
        thread_id: int | None = None,
        reply_to: int | None = None,
    ) -> Posted:
        self._arrive("send_photo", chat_id=chat_id, text=caption, thread_id=thread_id)
        return self._post(Shown(chat_id, 0, caption, thread_id, reply_to, photo=photo))

    async def fetch_image(self, file_id: str, *, max_bytes: int) -> bytes:
        self._arrive("fetch_image", file_id=file_id)
        data = self.files[file_id]
        if len(data) > max_bytes:
            raise FileTooBig(len(data))
        return data

    # ------------------------------------------------------------------ plumbing

    def _arrive(self, method: str, **params: Any) -> None:
        """Record the call, then raise what the chat would: a moved chat, a gone topic, or a
        failure the test asked for."""
        self.calls.append(Call(method, params))
        chat_id = params.get("chat_id")
        if isinstance(chat_id, int) and chat_id in self._moved:
            raise ChatMoved(self._moved[chat_id])
        if (chat_id, params.get("thread_id")) in self._gone_topics:
            raise TopicGone("Bad Request: message thread not found")
        for failure in self._failures.get(method, []):
            if failure.when is None or failure.when(params):
                failure.times -= 1
                if failure.times <= 0:
                    self._failures[method].remove(failure)
                raise failure.error

    def _post(self, shown: Shown) -> Posted:
        shown.message_id = self._next_id.get(shown.chat_id, 1)
        self._next_id[shown.chat_id] = shown.message_id + 1
        self.messages[(shown.chat_id, shown.message_id)] = shown
        return Posted(shown.chat_id, shown.message_id)
