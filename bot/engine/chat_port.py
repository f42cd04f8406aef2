"""The job engine's port to the chat: how it posts, edits and fetches, in plain types only.

The engine (delivery, progress, the pipeline, the line, the poll tick, the admins' alerts)
talks to the chat through `Chat` and catches the errors below, never Telegram's own. One
adapter implements it with python-telegram-bot (`chat.telegram_chat`); unit tests drive the
engine with an in-memory one. A message is named by its chat and its id; a reply is always
allowed to become a plain message when the message it answers is gone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from bot.engine.videoshape import VideoShape


@dataclass(frozen=True, slots=True)
class Button:
    """One button under a message: its label, and the callback data a tap sends back (at most
    64 bytes; the formats are in `bot.engine.keyboards`)."""

    text: str
    data: str


#: The buttons under a message, row by row.
Keyboard = tuple[tuple[Button, ...], ...]


@dataclass(frozen=True, slots=True)
class Posted:
    """A message the bot posted: the chat it is in, and its id there."""

    chat_id: int
    message_id: int


class ChatError(Exception):
    """The chat did not take what the bot posted or asked. `words`: the chat's own words, for
    the log (never shown to a user)."""

    def __init__(self, words: str) -> None:
        super().__init__(words)
        self.words = words


class ChatMoved(ChatError):
    """The group became a supergroup, `new_chat_id`: everything goes there from now on."""

    def __init__(self, new_chat_id: int, words: str = "the group became a supergroup") -> None:
        super().__init__(words)
        self.new_chat_id = new_chat_id


class ChatClosed(ChatError):
    """The chat is closed to the bot: blocked by the user, or the bot removed from the group.
    Trying again cannot help."""


class AskedToWait(ChatError):
    """Flood control: nothing may be sent for `seconds`."""

    def __init__(self, seconds: float, words: str = "asked to wait") -> None:
        super().__init__(words)
        self.seconds = seconds


class Unreachable(ChatError):
    """The chat could not be reached, or its server failed: trying later may work."""


class NoAnswer(Unreachable):
    """The request went out and no answer came in time: it may well have been carried out."""


class MessageRefused(ChatError):
    """The chat refused this message or request itself (a bad request): sending the same again
    cannot help."""


class TopicGone(MessageRefused):
    """The forum topic the message was for no longer exists."""


class MessageUnchanged(MessageRefused):
    """An edit that would change nothing: the message already says that, with those buttons."""


class MessageNotEditable(MessageRefused):
    """The message cannot be edited: deleted, too old, or not the bot's."""


class FileTooBig(ChatError):
    """The file is larger than the bot may fetch. `size`: its declared size in bytes, when the
    chat said it."""

    def __init__(self, size: int | None, words: str = "the file is too big") -> None:
        super().__init__(words)
        self.size = size


class Chat(Protocol):
    """What the engine asks of the chat. Every method raises the `ChatError`s above, and only
    them, for what the chat refused or did not answer. `thread_id`: the forum topic (None:
    the chat's main thread); `reply_to`: the id of a message of that chat to reply to, the
    reply becoming a plain message when it is gone."""

    async def send_message(
        self,
        chat_id: int,
        text: str,
        *,
        thread_id: int | None = None,
        reply_to: int | None = None,
        keyboard: Keyboard | None = None,
    ) -> Posted:
        """Post `text` (Telegram's HTML) with the buttons of `keyboard`."""
        ...

    async def edit_message(
        self, chat_id: int, message_id: int, text: str, *, keyboard: Keyboard | None = None
    ) -> None:
        """Make a message of the bot say `text`, with the buttons of `keyboard` (None: none).
        Raises MessageUnchanged when it says that already, MessageNotEditable when it cannot
        be edited."""
        ...

    async def delete_message(self, chat_id: int, message_id: int) -> None:
        """Delete a message of the bot."""
        ...

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
        """Post a video: by URL (`str`, the chat fetches it) or uploaded (`bytes`, an MP4),
        with `caption`, the width, height and length of `shape` where known, and the buttons
        of `keyboard`. `answer_within`: how long the chat may take to fetch or receive the file and
        answer; past it NoAnswer is raised, though the video may well have been posted."""
        ...

    async def show_uploading(self, chat_id: int, *, thread_id: int | None = None) -> None:
        """Show "sending a video…" in the chat for a few seconds."""
        ...

    async def send_photo(
        self,
        chat_id: int,
        photo: bytes,
        *,
        caption: str,
        thread_id: int | None = None,
        reply_to: int | None = None,
    ) -> Posted:
        """Post an image (JPEG or PNG bytes) with `caption`."""
        ...

    async def fetch_image(self, file_id: str, *, max_bytes: int) -> bytes:
        """The bytes of a file a user sent, by its file id. Raises FileTooBig, before fetching
        anything, when the chat will not serve it or declares it larger than `max_bytes`."""
        ...
