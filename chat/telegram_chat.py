"""The job engine's chat port (`bot.engine.chat_port.Chat`) over python-telegram-bot's `Bot`.

Telegram's errors become the port's, and the port's plain keyboards Telegram's inline
markup. The handlers use `reply_parameters` and `markup_of` from here too, so that a reply and
a keyboard are built in one place for the whole bot. `TimedRequest` is the bot's HTTP transport
to Telegram, which times every request the bot makes, the handlers' as well as the engine's.
"""

from __future__ import annotations

import contextlib
import io
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, InputFile, ReplyParameters
from telegram.constants import ChatAction
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.request import HTTPXRequest

from bot.engine.chat_port import (
    AskedToWait,
    ChatClosed,
    ChatError,
    ChatMoved,
    FileTooBig,
    Keyboard,
    MessageNotEditable,
    MessageRefused,
    MessageUnchanged,
    NoAnswer,
    Posted,
    TopicGone,
    Unreachable,
)
from bot.engine.videoshape import VideoShape

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

#: Telegram's words for an edit that cannot be made (lower case, as they are matched).
_NOT_EDITABLE = (
    "message can't be edited",
    "message to edit not found",
    "there is no text in the message to edit",
    "message_id_invalid",
)

#: The method name of a file download, which is no Bot API method.
FILE_DOWNLOAD = "file download"

#: Told of every request made to Telegram, answered or not: its Bot API method (or
#: FILE_DOWNLOAD), the seconds it took, and the HTTP status it was answered with (None: no
#: answer came). It must return at once and never raise.
TelegramTiming = Callable[[str, float, int | None], None]


class TimedRequest(HTTPXRequest):
    """python-telegram-bot's own HTTP transport, telling `on_timing` of each request. Each
    try counts: one the rate limiter sends again after a 429 is timed twice.
    `media_write_timeout`: how long an upload may take to send."""

    __slots__ = ("_on_timing",)

    def __init__(self, on_timing: TelegramTiming, *, media_write_timeout: float) -> None:
        super().__init__(media_write_timeout=media_write_timeout)
        self._on_timing = on_timing

    async def do_request(
        self, url: str, method: str, *args: Any, **kwargs: Any
    ) -> tuple[int, bytes]:
        """See `telegram.request.BaseRequest.do_request`."""
        started, status = time.monotonic(), None
        try:
            status, payload = await super().do_request(url, method, *args, **kwargs)
            return status, payload
        finally:
            self._on_timing(_method_of(url, method), time.monotonic() - started, status)


def _method_of(url: str, http_method: str) -> str:
    """The Bot API method a request's `url` calls. Never the rest of the URL: it holds the
    token, and a file's path is a label of its own for every file."""
    # python-telegram-bot posts every Bot API call, and fetches files with GET.
    return url.rsplit("/", 1)[-1] if http_method == "POST" else FILE_DOWNLOAD


def reply_parameters(message_id: int | None) -> ReplyParameters | None:
    """A reply to `message_id` in the same chat (None: no reply). A deleted message never
    blocks a send: the reply then quietly becomes a plain message."""
    if message_id is None:
        return None
    return ReplyParameters(message_id=message_id, allow_sending_without_reply=True)


def markup_of(keyboard: Keyboard | None) -> InlineKeyboardMarkup | None:
    """Telegram's inline markup for the port's `keyboard` (None: no buttons)."""
    if keyboard is None:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(b.text, callback_data=b.data) for b in row] for row in keyboard]
    )


def port_error(error: TelegramError) -> ChatError:
    """The port's error for a Telegram error, keeping Telegram's words for the log."""
    if isinstance(error, ChatMigrated):
        return ChatMoved(error.new_chat_id, error.message)
    if isinstance(error, RetryAfter):
        wait = error.retry_after
        seconds = wait if isinstance(wait, int | float) else wait.total_seconds()
        return AskedToWait(float(seconds), error.message)
    if isinstance(error, Forbidden):
        return ChatClosed(error.message)
    # Before NetworkError: python-telegram-bot makes a bad request a kind of network error.
    if isinstance(error, BadRequest):
        words = error.message.lower()
        if "thread not found" in words:
            return TopicGone(error.message)
        if "not modified" in words:
            return MessageUnchanged(error.message)
        if any(phrase in words for phrase in _NOT_EDITABLE):
            return MessageNotEditable(error.message)
        return MessageRefused(error.message)
    if isinstance(error, TimedOut):
        if error.message.lower().startswith("pool timeout"):
            # No free connection: the request never left, so nothing was posted.
            return Unreachable(error.message)
        return NoAnswer(error.message)
    if isinstance(error, NetworkError):
        return Unreachable(error.message)
    return ChatError(error.message)


@contextlib.contextmanager
def _translated() -> Iterator[None]:
    """Raise the port's error for any Telegram error inside the block."""
    try:
        yield
    except TelegramError as error:
        raise port_error(error) from error


class TelegramChat:
    """The port over one `Bot`, which carries the application's defaults (HTML, the rate
    limiter)."""

    def __init__(self, bot: Bot) -> None:
        self._bot = bot

    async def send_message(
        self,
        chat_id: int,
        text: str,
        *,
        thread_id: int | None = None,
        reply_to: int | None = None,
        keyboard: Keyboard | None = None,
    ) -> Posted:
        with _translated():
            message = await self._bot.send_message(
                chat_id,
                text,
                message_thread_id=thread_id,
                reply_parameters=reply_parameters(reply_to),
                reply_markup=markup_of(keyboard),
            )
        return Posted(message.chat_id, message.message_id)

    async def edit_message(
        self, chat_id: int, message_id: int, text: str, *, keyboard: Keyboard | None = None
    ) -> None:
        with _translated():
            await self._bot.edit_message_text(
                text, chat_id=chat_id, message_id=message_id, reply_markup=markup_of(keyboard)
            )

    async def delete_message(self, chat_id: int, message_id: int) -> None:
        with _translated():
            await self._bot.delete_message(chat_id, message_id)

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
        # Telegram fetches or receives the file before it answers: the library's default 5 s
        # would time out a send that succeeds, and the video would be sent again.
        upload = isinstance(video, bytes)
        with _translated():
            message = await self._bot.send_video(
                chat_id,
                video=InputFile(video, filename="video.mp4") if upload else video,
                caption=caption,
                width=shape.width,
                height=shape.height,
                duration=shape.seconds,
                supports_streaming=True,
                message_thread_id=thread_id,
                reply_parameters=reply_parameters(reply_to),
                reply_markup=markup_of(keyboard),
                read_timeout=answer_within,
                write_timeout=answer_within,
            )
        return Posted(message.chat_id, message.message_id)

    async def show_uploading(self, chat_id: int, *, thread_id: int | None = None) -> None:
        with _translated():
            await self._bot.send_chat_action(
                chat_id, ChatAction.UPLOAD_VIDEO, message_thread_id=thread_id
            )

    async def send_photo(
        self,
        chat_id: int,
        photo: bytes,
        *,
        caption: str,
        thread_id: int | None = None,
        reply_to: int | None = None,
    ) -> Posted:
        with _translated():
            message = await self._bot.send_photo(
                chat_id,
                photo,
                caption=caption,
                message_thread_id=thread_id,
                reply_parameters=reply_parameters(reply_to),
            )
        return Posted(message.chat_id, message.message_id)

    async def fetch_image(self, file_id: str, *, max_bytes: int) -> bytes:
        try:
            file = await self._bot.get_file(file_id)
        except BadRequest as error:
            # "file is too big": over the 20 MB a bot may fetch. Only here does it mean that.
            if "too big" in error.message.lower():
                raise FileTooBig(None, error.message) from error
            raise port_error(error) from error
        except TelegramError as error:
            raise port_error(error) from error
        with _translated():
            if file.file_size is not None and file.file_size > max_bytes:
                raise FileTooBig(file.file_size)
            received = _Received()
            await file.download_to_memory(received)
        return received.value()


class _Received(io.BytesIO):
    """A download's target that keeps the bytes it is handed instead of copying them: each
    copy of a 20 MB image would hold the event loop for up to ~30 ms."""

    def __init__(self) -> None:
        super().__init__()
        self._pieces: list[bytes] = []

    def write(self, buffer: ReadableBuffer, /) -> int:
        piece = buffer if isinstance(buffer, bytes) else bytes(buffer)
        self._pieces.append(piece)
        return len(piece)

    def value(self) -> bytes:
        """Everything written, as one bytes object (the very one written, when it came whole)."""
        return self._pieces[0] if len(self._pieces) == 1 else b"".join(self._pieces)
