"""The job's status message: one message per job, edited as the job moves on."""

from __future__ import annotations

import logging

from telegram import Bot, InlineKeyboardMarkup, ReplyParameters
from telegram.error import BadRequest, TelegramError

from bot.durations import GenerationTimes
from bot.services import Services
from bot.texts import texts_for
from storage import Job, JobState

log = logging.getLogger(__name__)


async def show_progress(
    bot: Bot,
    services: Services,
    job: Job,
    text: str,
    *,
    reply_markup: InlineKeyboardMarkup | None = None,
) -> Job:
    """Put `text` (and `reply_markup`, or no buttons) in the job's status message: edit it
    when there is one, else send one as a reply to the request. Returns the job with the
    status message and its text recorded. Raises Telegram errors other than a message that
    cannot be edited."""
    now = services.clock()
    if job.status_message_id is not None:
        try:
            await bot.edit_message_text(
                text,
                chat_id=job.chat_id,
                message_id=job.status_message_id,
                reply_markup=reply_markup,
            )
        except BadRequest as error:
            if "not modified" not in error.message.lower():
                log.info("job %s: status message not editable (%s); sending anew", job.id, error)
                return await _send_status(bot, services, job, text, reply_markup)
        return await services.store.update(job.id, now=now, status_text=text, status_edited_at=now)
    return await _send_status(bot, services, job, text, reply_markup)


async def _send_status(
    bot: Bot, services: Services, job: Job, text: str, markup: InlineKeyboardMarkup | None
) -> Job:
    message = await bot.send_message(
        job.chat_id,
        text,
        message_thread_id=job.thread_id,
        reply_markup=markup,
        reply_parameters=ReplyParameters(
            message_id=job.request_message_id, allow_sending_without_reply=True
        ),
    )
    now = services.clock()
    return await services.store.update(
        job.id,
        now=now,
        status_message_id=message.message_id,
        status_text=text,
        status_edited_at=now,
    )


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


async def refresh_progress(bot: Bot, services: Services, job: Job) -> Job:
    """Edit the job's status message to its current progress, when the text changed and the
    last edit is old enough for the chat (Telegram's edit limits; groups less often).
    Never raises: progress is a courtesy, the job goes on without it."""
    if job.status_message_id is None and job.state is not JobState.LATE:
        return job  # a late job's user must hear it will still come: a new message, then
    now = services.clock()
    text = progress_text(job, services.generation_times, now=now)
    if text is None or text == job.status_text:
        return job
    tuning = services.tuning
    interval = tuning.progress_edit_private if job.chat_id > 0 else tuning.progress_edit_group
    if job.status_edited_at is not None and now - job.status_edited_at < interval:
        return job
    try:
        return await show_progress(bot, services, job, text)
    except TelegramError as error:
        log.info("job %s: could not show progress (%s)", job.id, error)
        return job


async def clear_progress(bot: Bot, services: Services, job: Job) -> None:
    """Delete the status message once the job's outcome is in the chat. Never raises."""
    if job.status_message_id is None:
        return
    try:
        await bot.delete_message(job.chat_id, job.status_message_id)
    except TelegramError as error:
        # Too old to delete, or already gone: it then says the last progress, which is harmless.
        log.info("job %s: could not delete the status message (%s)", job.id, error)
    await services.store.update(job.id, now=services.clock(), status_message_id=None)
