"""The job's status message: one message per job, edited as the job moves on."""

from __future__ import annotations

import logging

from bot.engine.chat_port import (
    ChatError,
    ChatMoved,
    Keyboard,
    MessageRefused,
    MessageUnchanged,
    Unreachable,
)
from bot.engine.delivery import JobChat
from bot.engine.durations import GenerationTimes
from bot.engine.tuning import Clock
from bot.words.texts import texts_for
from storage import Job, JobState, JobStore

log = logging.getLogger(__name__)


class StatusMessages:
    """Shows each job's progress and outcome in its status message, through `job_chat`, and
    records in `store` what the message says. `edit_private`, `edit_group`: the least seconds
    between two progress edits in a private chat and in a group (Telegram's edit limits)."""

    def __init__(
        self,
        job_chat: JobChat,
        store: JobStore,
        clock: Clock,
        times: GenerationTimes,
        *,
        edit_private: float,
        edit_group: float,
    ) -> None:
        self._job_chat, self._store, self._clock, self._times = job_chat, store, clock, times
        self._edit_private, self._edit_group = edit_private, edit_group

    async def show_progress(
        self,
        job: Job,
        text: str,
        *,
        keyboard: Keyboard | None = None,
        anew_on_failure: bool = False,
    ) -> Job:
        """Put `text` (and `keyboard`, or no buttons) in the job's status message: edit it
        when there is one, else send one as a reply to the request. With `anew_on_failure`, an
        edit that fails for want of an answer is sent as a new message too, and the old one
        deleted. Returns the job with the status message and its text recorded. Raises the
        chat's errors other than a message that cannot be edited."""
        now = self._clock()
        if job.status_message_id is not None:
            chat = self._job_chat.chat
            try:
                await chat.edit_message(
                    _status_chat(job), job.status_message_id, text, keyboard=keyboard
                )
            except ChatMoved as error:
                # It is in a group that became a supergroup: out of reach, so a new one there.
                log.info("job %s: status message left behind (%s); sending anew", job.id, error)
                return await self._send_status(job, text, keyboard)
            except MessageUnchanged:
                pass  # it says that already
            except MessageRefused as error:
                log.info("job %s: status message not editable (%s); sending anew", job.id, error)
                return await self._send_status(job, text, keyboard)
            except Unreachable as error:
                if not anew_on_failure:
                    raise
                log.info("job %s: status message not edited (%s); sending anew", job.id, error)
                sent = await self._send_status(job, text, keyboard)
                # The edit may have gone through unanswered: one message says it, not two.
                await self._delete_status(job, _status_chat(job), job.status_message_id)
                return sent
            return await self._store.update(job.id, now=now, status_text=text, status_edited_at=now)
        return await self._send_status(job, text, keyboard)

    async def show_outcome(self, job: Job, text: str, *, keyboard: Keyboard | None = None) -> Job:
        """Tell the user how the job ended without a video (a refusal, a notice): `text` in its
        status message, or in a new one when the edit fails. When neither gets through, `text`
        is kept as the job's `pending_status` and the job made due: the tick shows it then
        (see `bot.engine.pipeline.Pipeline.show_pending_outcome`). Returns the job as it ends
        up. Never raises the chat's errors."""
        try:
            return await self.show_progress(job, text, keyboard=keyboard, anew_on_failure=True)
        except ChatError as error:
            log.warning("job %s: could not tell its outcome (%s); the tick will", job.id, error)
            now = self._clock()
            return await self._store.update(job.id, now=now, pending_status=text, next_poll_at=now)

    async def refresh_progress(self, job: Job, *, at_once: bool = False) -> Job:
        """Edit the job's status message to its current progress, when the text changed and
        the last edit is old enough for the chat (Telegram's edit limits; groups less often),
        or `at_once` (news the user must not wait for, such as a video turning late).
        Never raises: progress is a courtesy, the job goes on without it."""
        if job.status_message_id is None and job.state is not JobState.LATE:
            return job  # a late job's user must hear it will still come: a new message, then
        now = self._clock()
        text = progress_text(job, self._times, now=now)
        if text is None or text == job.status_text:
            return job
        interval = self._edit_private if job.chat_id > 0 else self._edit_group
        if (
            not at_once
            and job.status_edited_at is not None
            and now - job.status_edited_at < interval
        ):
            return job
        try:
            return await self.show_progress(job, text)
        except ChatError as error:
            log.info("job %s: could not show progress (%s)", job.id, error)
            return job

    async def clear_progress(self, job: Job) -> None:
        """Delete the status message once the job's outcome is in the chat. Never raises."""
        if job.status_message_id is None:
            return
        await self._delete_status(job, _status_chat(job), job.status_message_id)
        await self._store.update(job.id, now=self._clock(), status_message_id=None)

    async def _send_status(self, job: Job, text: str, keyboard: Keyboard | None) -> Job:
        posted = await self._job_chat.post(
            job, text, reply_to=job.request_message_id, keyboard=keyboard
        )
        now = self._clock()
        return await self._store.update(
            job.id,
            now=now,
            status_message_id=posted.message_id,
            status_chat_id=posted.chat_id,
            status_text=text,
            status_edited_at=now,
        )

    async def _delete_status(self, job: Job, chat_id: int, message_id: int) -> None:
        try:
            await self._job_chat.chat.delete_message(chat_id, message_id)
        except ChatError as error:
            # Too old to delete, or already gone: it then says the last progress, harmless.
            log.info("job %s: could not delete the status message (%s)", job.id, error)


def _status_chat(job: Job) -> int:
    """The chat the job's status message is in."""
    return job.status_chat_id if job.status_chat_id is not None else job.chat_id


def progress_text(job: Job, times: GenerationTimes, *, now: float) -> str | None:
    """What the status message of a job at the video service should say now (in the job's
    language), if anything: the time so far, against what `times` says is usual."""
    elapsed = now - (job.submitted_at or job.created_at)
    words, late = texts_for(job.language), times.running_late(elapsed)
    if job.state is JobState.QUEUED:
        return words.progress_queued(elapsed, times.typical, late=late)
    if job.state is JobState.GENERATING:
        return words.progress_generating(elapsed, times.typical, late=late)
    if job.state is JobState.LATE:
        return words.progress_late(elapsed)
    return None
