"""Deliver a job's outcome to its chat: the video, or a notice that explains why there is none.

Like the other steps that talk to the chat (`bot.engine.pipeline`, `bot.engine.progress`,
`bot.engine.line`), it posts through the chat port (`bot.engine.chat_port`), never Telegram
itself. `JobChat` is where every step posts for a job: it follows a group that became a
supergroup, and a topic that is gone. What the user reads is in the job's language (the one
they had when asking).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import aiohttp

from bot.engine.chat_port import (
    Chat,
    ChatError,
    ChatMoved,
    Keyboard,
    MessageRefused,
    Posted,
    TopicGone,
)
from bot.engine.keyboards import again_markup, retry_markup
from bot.engine.meter import DeliveryPath, Meter
from bot.engine.tuning import Clock
from bot.engine.videoshape import VideoShape, read_video_shape
from bot.words.texts import texts_for
from storage import Job, JobState, JobStore, NewJob, Reason

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


class JobChat:
    """Posts for a job in its chat through `chat`: where the group went when it became a
    supergroup, and in the main chat when the job's topic is gone (both recorded in
    `store`)."""

    def __init__(self, chat: Chat, store: JobStore, clock: Clock) -> None:
        self.chat = chat
        self._store, self._clock = store, clock

    async def in_chat(
        self, job: Job | NewJob, send: Callable[[int, int | None], Awaitable[T]]
    ) -> T:
        """Run `send(chat_id, thread_id)` for the job's chat, following a group's migration
        and dropping a topic that no longer exists (from the job's record, when `job` is one:
        a request refused before it was recorded has none). Other chat errors propagate.

        A group known to have become a supergroup is sent to there at once. The job's
        message ids are the old group's: a reply to one of them in `chat_id` is made with
        `reply_in`.
        """
        chat_id, thread_id = await self._store.current_chat(job.chat_id), job.thread_id
        who = f"job {job.id}" if isinstance(job, Job) else "a refused request"
        for _ in range(3):
            try:
                return await send(chat_id, thread_id)
            except ChatMoved as error:
                log.info("%s: chat %s moved to %s", who, chat_id, error.new_chat_id)
                await self._store.move_chat(chat_id, error.new_chat_id, now=self._clock())
                chat_id = error.new_chat_id
            except TopicGone:
                if thread_id is None:
                    raise
                log.info("%s: topic %s is gone, answering in the main chat", who, thread_id)
                if isinstance(job, Job):
                    await self._store.update(job.id, now=self._clock(), thread_id=None)
                thread_id = None
        return await send(chat_id, thread_id)

    async def post(
        self, job: Job | NewJob, text: str, *, reply_to: int, keyboard: Keyboard | None = None
    ) -> Posted:
        """Post `text` (with `keyboard`) in the job's chat, as a reply to the job's message
        `reply_to` (its id in the chat the job was asked in)."""
        return await self.in_chat(
            job,
            lambda chat_id, thread_id: self.chat.send_message(
                chat_id,
                text,
                thread_id=thread_id,
                reply_to=reply_in(chat_id, job, reply_to),
                keyboard=keyboard,
            ),
        )


def reply_in(chat_id: int, job: Job | NewJob, message_id: int) -> int | None:
    """The message to reply to, in `chat_id`, for the job's message `message_id`: None when the
    job's chat has since become that supergroup, whose message ids mean other messages than
    the old group's."""
    return message_id if chat_id == job.chat_id else None


class Delivery:
    """Sends each finished job's video, or the notice of why there is none, through
    `job_chat`. `downloads`: the session that fetches a video to upload it (it carries no API
    key); `late_patience_seconds`: how long a job that timed out was followed; `meter` counts
    the videos sent, by the path they took."""

    def __init__(
        self,
        job_chat: JobChat,
        downloads: aiohttp.ClientSession,
        *,
        late_patience_seconds: float,
        meter: Meter,
    ) -> None:
        self._job_chat, self._downloads = job_chat, downloads
        self._late_patience = late_patience_seconds
        self._meter = meter

    async def deliver_video(self, job: Job) -> Posted:
        """Send the job's video as a reply to its photo: by URL first, then as an upload, then
        as a link when it is too large to upload or the chat will not take a video.

        Raises VideoExpired when the link is dead, and the chat's errors other than a refused
        URL or upload.
        """
        assert job.video_url is not None
        url, chat = job.video_url, self._job_chat.chat
        made_in = None
        if job.completed_at is not None:
            made_in = job.completed_at - (job.submitted_at or job.created_at)
        words = texts_for(job.language)
        caption = words.video_caption(job.prompt, made_in)
        again = again_markup(job)

        def sender(
            video: str | bytes, shape: VideoShape
        ) -> Callable[[int, int | None], Awaitable[Posted]]:
            async def send(chat_id: int, thread_id: int | None) -> Posted:
                await _uploading(chat, chat_id, thread_id)
                return await chat.send_video(
                    chat_id,
                    video,
                    caption=caption,
                    shape=shape,
                    answer_within=SEND_VIDEO_SECONDS,
                    thread_id=thread_id,
                    reply_to=reply_in(chat_id, job, job.photo_message_id),
                    keyboard=again,
                )

            return send

        # Telegram reads the file's size itself; its length is passed when the API gave it.
        try:
            return self._sent(
                DeliveryPath.URL, await self._job_chat.in_chat(job, sender(url, _known_shape(job)))
            )
        except MessageRefused as error:
            # Telegram could not fetch the link itself (or it is over its 20 MB URL limit).
            log.info("job %s: Telegram did not take the video by URL (%s)", job.id, error.words)

        async def as_link(text: str) -> Posted:
            posted = await self._job_chat.post(
                job, text, reply_to=job.photo_message_id, keyboard=again
            )
            return self._sent(DeliveryPath.LINK, posted)

        with tempfile.TemporaryDirectory(prefix="video-") as folder:
            try:
                path = await self._download(url, Path(folder))
            except VideoTooLarge:
                return await as_link(words.video_too_large(url))
            # Read here, in a thread, once for every attempt: the upload needs the whole file.
            video = await asyncio.to_thread(path.read_bytes)
            # Without its size, an uploaded vertical video shows as a square on some clients.
            shape = _known_shape(job, await asyncio.to_thread(read_video_shape, path))
            try:
                return self._sent(
                    DeliveryPath.UPLOAD, await self._job_chat.in_chat(job, sender(video, shape))
                )
            except MessageRefused as error:
                # Not a problem of the file: the chat will not take a video from the bot (its
                # rights, say). The user still gets what they paid for, as a link.
                log.warning("job %s: Telegram refused the upload too (%s)", job.id, error.words)
                return await as_link(words.video_refused(url))

    def _sent(self, path: DeliveryPath, posted: Posted) -> Posted:
        self._meter.video_sent(path)
        return posted

    async def send_notice(self, job: Job) -> Posted:
        """Tell the user why the job ended without a video, as a reply to the photo."""
        return await self._job_chat.post(
            job,
            notice_for(job, waited=self._late_patience),
            reply_to=job.photo_message_id,
            keyboard=retry_markup(job),
        )

    async def _download(self, url: str, folder: Path) -> Path:
        """Stream the video to a file under `folder`, never holding it all in memory."""
        target = folder / "video.mp4"
        timeout = aiohttp.ClientTimeout(total=300, sock_connect=15)
        async with self._downloads.get(url, timeout=timeout) as response:
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


async def _uploading(chat: Chat, chat_id: int, thread_id: int | None) -> None:
    """Show "sending a video…" in the chat while the video is on its way."""
    try:
        await chat.show_uploading(chat_id, thread_id=thread_id)
    except ChatError as error:
        log.debug("chat action not shown: %s", error)


def _known_shape(job: Job, read: VideoShape | None = None) -> VideoShape:
    """The video's shape as far as it is known: what its file `read` says, and for the length,
    what the API reported where the file does not say."""
    shape = read or VideoShape()
    if shape.seconds is None and job.video_seconds is not None and job.video_seconds > 0:
        shape = dataclasses.replace(shape, seconds=max(1, round(job.video_seconds)))
    return shape


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
