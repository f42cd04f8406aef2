"""The job's status message: one message per job, edited as the job moves on."""

from __future__ import annotations

import logging

from telegram import Bot, InlineKeyboardMarkup
from telegram.error import BadRequest, ChatMigrated, NetworkError, TelegramError

from bot.engine.delivery import in_chat, reply_in
from bot.engine.durations import GenerationTimes
from bot.wiring.services import Services
from bot.words.texts import texts_for
from storage import Job, JobState

log = logging.getLogger(__name__)


async def show_progress(
    bot: Bot,
    services: Services,
    job: Job,
    text: str,
    *,
    reply_markup: InlineKeyboardMarkup | None = None,
    anew_on_failure: bool = False,
) -> Job:
    """Put `text` (and `reply_markup`, or no buttons) in the job's status message: edit it
    when there is one, else send one as a reply to the request. With `anew_on_failure`, an
    edit that fails for want of an answer is sent as a new message too, and the old one
    deleted. Returns the job with the status message and its text recorded. Raises Telegram
    errors other than a message that cannot be edited."""
    now = services.clock()
    if job.status_message_id is not None:
        try:
            await bot.edit_message_text(
                text,
                chat_id=_status_chat(job),
                message_id=job.status_message_id,
                reply_markup=reply_markup,
            )
        except ChatMigrated as error:
            # It is in a group that became a supergroup: out of reach, so a new one there.
            log.info("job %s: status message left behind (%s); sending anew", job.id, error)
            return await _send_status(bot, services, job, text, reply_markup)
        except BadRequest as error:
            if "not modified" not in error.message.lower():
                log.info("job %s: status message not editable (%s); sending anew", job.id, error)
                return await _send_status(bot, services, job, text, reply_markup)
        except NetworkError as error:
            if not anew_on_failure:
                raise
            log.info("job %s: status message not edited (%s); sending anew", job.id, error)
            sent = await _send_status(bot, services, job, text, reply_markup)
            # The edit may have gone through unanswered: one message says it, not two.
            await _delete_status(bot, job, _status_chat(job), job.status_message_id)
            return sent
        return await services.store.update(job.id, now=now, status_text=text, status_edited_at=now)
    return await _send_status(bot, services, job, text, reply_markup)


async def show_outcome(
    bot: Bot,
    services: Services,
    job: Job,
    text: str,
    *,
    reply_markup: InlineKeyboardMarkup | None = None,
) -> Job:
    """Tell the user how the job ended without a video (a refusal, a notice): `text` in its
    status message, or in a new one when the edit fails. When neither gets through, `text`
    is kept as the job's `pending_status` and the job made due: the tick shows it then (see
    `bot.engine.pipeline.show_pending_outcome`). Returns the job as it ends up. Never raises
    Telegram errors."""
    try:
        return await show_progress(
            bot, services, job, text, reply_markup=reply_markup, anew_on_failure=True
        )
    except TelegramError as error:
        log.warning("job %s: could not tell its outcome (%s); the tick will", job.id, error)
        now = services.clock()
        return await services.store.update(job.id, now=now, pending_status=text, next_poll_at=now)


async def _send_status(
    bot: Bot, services: Services, job: Job, text: str, markup: InlineKeyboardMarkup | None
) -> Job:
    message = await in_chat(
        services,
        job,
        lambda chat_id, thread_id: bot.send_message(
            chat_id,
            text,
            message_thread_id=thread_id,
            reply_markup=markup,
            reply_parameters=reply_in(chat_id, job, job.request_message_id),
        ),
    )
    now = services.clock()
    return await services.store.update(
        job.id,
        now=now,
        status_message_id=message.message_id,
        status_chat_id=message.chat_id,
        status_text=text,
        status_edited_at=now,
    )


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


async def refresh_progress(bot: Bot, services: Services, job: Job, *, at_once: bool = False) -> Job:
    """Edit the job's status message to its current progress, when the text changed and the
    last edit is old enough for the chat (Telegram's edit limits; groups less often), or
    `at_once` (news the user must not wait for, such as a video turning late).
    Never raises: progress is a courtesy, the job goes on without it."""
    if job.status_message_id is None and job.state is not JobState.LATE:
        return job  # a late job's user must hear it will still come: a new message, then
    now = services.clock()
    text = progress_text(job, services.generation_times, now=now)
    if text is None or text == job.status_text:
        return job
    tuning = services.tuning
    interval = tuning.progress_edit_private if job.chat_id > 0 else tuning.progress_edit_group
    if not at_once and job.status_edited_at is not None and now - job.status_edited_at < interval:
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
    await _delete_status(bot, job, _status_chat(job), job.status_message_id)
    await services.store.update(job.id, now=services.clock(), status_message_id=None)


async def _delete_status(bot: Bot, job: Job, chat_id: int, message_id: int) -> None:
    try:
        await bot.delete_message(chat_id, message_id)
    except TelegramError as error:
        # Too old to delete, or already gone: it then says the last progress, which is harmless.
        log.info("job %s: could not delete the status message (%s)", job.id, error)
