"""Deliver a job's outcome to its chat: the video, or a notice that explains why there is none.

Like the other steps that talk to the chat (`bot.engine.pipeline`, `bot.engine.progress`,
`bot.engine.line`), it works with Telegram types; the API client and storage never see them.
What the user reads is in the job's language (the one they had when asking).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
from telegram import Bot, InputFile, Message, ReplyParameters
from telegram.constants import ChatAction
from telegram.error import BadRequest, ChatMigrated, TelegramError

from bot.engine.keyboards import again_markup, retry_markup
from bot.engine.videoshape import VideoShape, read_video_shape
from bot.wiring.services import Services
from bot.words.texts import texts_for
from storage import Job, JobState, NewJob, Reason

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Largest file a bot may upload through the public Bot API.
MAX_UPLOAD_BYTES = 50 * 1024 * 1024
_CHUNK = 256 * 1024
#: How long a video send may take to be answered (fetching or receiving, then processing).
SEND_VIDEO_SECONDS = 300


class VideoExpired(Exception):
    """The video's signed link no longer serves the file."""


class VideoTooLarge(Exception):
    """The video is larger than a bot may upload."""


async def in_chat(
    services: Services, job: Job | NewJob, send: Callable[[int, int | None], Awaitable[T]]
) -> T:
    """Run `send(chat_id, thread_id)` for the job's chat, following a group's migration and
    dropping a topic that no longer exists (from the job's record, when `job` is one: a
    request refused before it was recorded has none). Other Telegram errors propagate.

    A group known to have become a supergroup is sent to there at once. The job's message ids
    are the old group's: a reply to one of them in `chat_id` is made with `reply_in`.
    """
    chat_id, thread_id = await services.store.current_chat(job.chat_id), job.thread_id
    who = f"job {job.id}" if isinstance(job, Job) else "a refused request"
    for _ in range(3):
        try:
            return await send(chat_id, thread_id)
        except ChatMigrated as error:
            log.info("%s: chat %s moved to %s", who, chat_id, error.new_chat_id)
            await services.store.move_chat(chat_id, error.new_chat_id, now=services.clock())
            chat_id = error.new_chat_id
        except BadRequest as error:
            if thread_id is None or "thread not found" not in error.message.lower():
                raise
            log.info("%s: topic %s is gone, answering in the main chat", who, thread_id)
            if isinstance(job, Job):
                await services.store.update(job.id, now=services.clock(), thread_id=None)
            thread_id = None
    return await send(chat_id, thread_id)


async def _uploading(bot: Bot, chat_id: int, thread_id: int | None) -> None:
    """Show "sending a video…" in the chat while the video is on its way."""
    try:
        await bot.send_chat_action(chat_id, ChatAction.UPLOAD_VIDEO, message_thread_id=thread_id)
    except TelegramError as error:
        log.debug("chat action not shown: %s", error)


def reply_in(chat_id: int, job: Job | NewJob, message_id: int) -> ReplyParameters | None:
    """A reply, sent in `chat_id`, to the job's message `message_id`; None when the job's chat
    has since become that supergroup, whose message ids mean other messages than the old
    group's. A deleted message must not block a send: the reply then quietly becomes a plain
    message."""
    if chat_id != job.chat_id:
        return None
    return ReplyParameters(message_id=message_id, allow_sending_without_reply=True)


def _reply_to(job: Job, chat_id: int) -> ReplyParameters | None:
    return reply_in(chat_id, job, job.photo_message_id)


async def _download(services: Services, url: str, folder: Path) -> Path:
    """Stream the video to a file under `folder`, never holding it all in memory."""
    target = folder / "video.mp4"
    timeout = aiohttp.ClientTimeout(total=300, sock_connect=15)
    async with services.downloads.get(url, timeout=timeout) as response:
        if response.status in (401, 403, 404, 410):
            raise VideoExpired(f"HTTP {response.status}")
        response.raise_for_status()
        if (response.content_length or 0) > MAX_UPLOAD_BYTES:
            raise VideoTooLarge
        size = 0
        with target.open("wb") as sink:
            async for chunk in response.content.iter_chunked(_CHUNK):
                size += len(chunk)
                if size > MAX_UPLOAD_BYTES:
                    raise VideoTooLarge
                sink.write(chunk)
    return target


def _known_shape(job: Job, read: VideoShape | None = None) -> VideoShape:
    """The video's shape as far as it is known: what its file `read` says, and for the length,
    what the API reported where the file does not say."""
    shape = read or VideoShape()
    if shape.seconds is None and job.video_seconds is not None and job.video_seconds > 0:
        shape = dataclasses.replace(shape, seconds=max(1, round(job.video_seconds)))
    return shape


async def deliver_video(bot: Bot, services: Services, job: Job) -> Message:
    """Send the job's video as a reply to its photo: by URL first, then as an upload, then as
    a link when it is too large to upload.

    Raises VideoExpired when the link is dead, and Telegram errors other than a refused URL.
    """
    assert job.video_url is not None
    url = job.video_url
    made_in = None
    if job.completed_at is not None:
        made_in = job.completed_at - (job.submitted_at or job.created_at)
    words = texts_for(job.language)
    caption = words.video_caption(job.prompt, made_in)
    again = again_markup(job)

    def video_reply(chat_id: int, thread_id: int | None) -> dict[str, Any]:
        """The keyword arguments of `send_video` shared by the send by URL and the upload."""
        return {
            "caption": caption,
            "message_thread_id": thread_id,
            "reply_parameters": _reply_to(job, chat_id),
            "reply_markup": again,
            "supports_streaming": True,
            # Telegram fetches or receives the file before it answers: the default 5 s would
            # time out a send that succeeds, and the video would be sent again.
            "read_timeout": SEND_VIDEO_SECONDS,
        }

    async def by_url(chat_id: int, thread_id: int | None) -> Message:
        await _uploading(bot, chat_id, thread_id)
        # Telegram reads the file's size itself; its length is passed when the API gave it.
        seconds = _known_shape(job).seconds
        return await bot.send_video(
            chat_id, video=url, duration=seconds, **video_reply(chat_id, thread_id)
        )

    try:
        return await in_chat(services, job, by_url)
    except BadRequest as error:
        # Telegram could not fetch the link itself (or it is over its 20 MB URL limit).
        log.info("job %s: Telegram did not take the video by URL (%s)", job.id, error.message)

    def as_link(text: str) -> Callable[[int, int | None], Awaitable[Message]]:
        return lambda chat_id, thread_id: bot.send_message(
            chat_id,
            text,
            message_thread_id=thread_id,
            reply_parameters=_reply_to(job, chat_id),
            reply_markup=again,
        )

    with tempfile.TemporaryDirectory(prefix="video-") as folder:
        try:
            path = await _download(services, url, Path(folder))
        except VideoTooLarge:
            return await in_chat(services, job, as_link(words.video_too_large(url)))
        # The upload itself needs the whole file in memory: the library reads a file object
        # whole, on the event loop. Read here instead, in a thread, once for every attempt.
        video = InputFile(await asyncio.to_thread(path.read_bytes), filename="video.mp4")
        # Without its size, an uploaded vertical video shows as a square on some clients.
        shape = _known_shape(job, await asyncio.to_thread(read_video_shape, path))

        async def upload(chat_id: int, thread_id: int | None) -> Message:
            await _uploading(bot, chat_id, thread_id)
            return await bot.send_video(
                chat_id,
                video=video,
                width=shape.width,
                height=shape.height,
                duration=shape.seconds,
                write_timeout=SEND_VIDEO_SECONDS,
                **video_reply(chat_id, thread_id),
            )

        try:
            return await in_chat(services, job, upload)
        except BadRequest as error:
            # Not a problem of the file: the chat will not take a video from the bot (its
            # rights, say). The user still gets what they paid for, as a link.
            log.warning("job %s: Telegram refused the upload too (%s)", job.id, error.message)
            return await in_chat(services, job, as_link(words.video_refused(url)))


def notice_for(job: Job, *, waited: float) -> str:
    """The text that explains a job that ended without a video, in the job's language;
    `waited`: how long a timed-out job was followed."""
    words = texts_for(job.language)
    if job.state is JobState.TIMED_OUT:
        return words.timed_out(waited)
    if job.state is JobState.INTERRUPTED:
        if job.reason is Reason.NOT_SUBMITTED:
            return words.INTERRUPTED_BEFORE_SUBMIT
        return words.INTERRUPTED
    return words.generation_failed(job.reason, job.api_reason)


async def send_notice(bot: Bot, services: Services, job: Job) -> Message:
    """Tell the user why the job ended without a video, as a reply to the photo."""
    text = notice_for(job, waited=services.tuning.late_patience_seconds)
    return await in_chat(
        services,
        job,
        lambda chat_id, thread_id: bot.send_message(
            chat_id,
            text,
            message_thread_id=thread_id,
            reply_parameters=_reply_to(job, chat_id),
            reply_markup=retry_markup(job),
        ),
    )
