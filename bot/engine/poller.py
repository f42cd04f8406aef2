"""The poll tick: moves every due job one step on, many at once, none twice at a time."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp
from telegram import Bot
from telegram.error import (
    BadRequest,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)

from bot.aimlapi.client import (
    AimlApiError,
    ApiNotFound,
    Endpoint,
    Progress,
    error_reason,
    progress_of,
)
from bot.engine.delivery import VideoExpired, deliver_video, send_notice
from bot.engine.pipeline import check_and_submit, show_pending_outcome
from bot.engine.progress import clear_progress, refresh_progress
from bot.engine.schedule import next_poll_delay
from bot.engine.submission import generation_facts
from bot.wiring.services import Services
from storage import Job, JobState, Reason

log = logging.getLogger(__name__)

_NOTICE_STATES = frozenset({JobState.FAILED, JobState.TIMED_OUT, JobState.INTERRUPTED})


async def advance_due_jobs(bot: Bot, services: Services) -> int:
    """Poll, deliver or explain every due job that no other tick is working on; returns how
    many it took on.

    Jobs run concurrently, at most `POLL_CONCURRENCY` at once across all ticks. One job's
    failure is logged and never stops the others.
    """
    due = await services.store.due_jobs(now=services.clock(), limit=services.tuning.due_batch)
    jobs = [job for job in due if job.id not in services.in_flight]
    if not jobs:
        return 0
    services.in_flight.update(job.id for job in jobs)

    async def one(job: Job) -> None:
        try:
            async with services.poll_slots:
                await advance_job(bot, services, job)
        except Exception:
            log.exception("job %s: unexpected error; retrying later", job.id)
            await _back_off(services, job)
        finally:
            services.in_flight.discard(job.id)

    await asyncio.gather(*(one(job) for job in jobs))
    return len(jobs)


async def advance_job(bot: Bot, services: Services, job: Job) -> None:
    """Move one due job one step on."""
    if job.pending_status is not None:
        # Read again: a fix tapped under a refusal that did reach the chat, unknown to the
        # bot, takes the job up again meanwhile.
        job = await services.store.get(job.id)
        if job.pending_status is not None and not job.state.in_progress:
            await _tell_pending(bot, services, job)
            return
    if job.state is JobState.RECEIVED:
        # Cut off by a restart before reaching the paid API, or taken up again while its
        # refusal was retold: nothing was charged, so go on.
        job = await services.store.update(
            job.id, now=services.clock(), next_poll_at=None, pending_status=None
        )
        await check_and_submit(bot, services, job, claimed=True)
        return
    if job.state is JobState.WAITING and job.pending_status is not None:
        # Taken up again into the line, which submits it: nothing is left for the tick.
        await services.store.update(
            job.id, now=services.clock(), next_poll_at=None, pending_status=None
        )
        return
    if job.state in (JobState.QUEUED, JobState.GENERATING, JobState.LATE):
        was_late = job.state is JobState.LATE
        job = await _poll(services, job)
        # Turning late is told at once: the next chance may be a slow check away.
        turned_late = job.state is JobState.LATE and not was_late
        job = await refresh_progress(bot, services, job, at_once=turned_late)
    if job.state is JobState.COMPLETED:
        await _deliver(bot, services, job)
    elif job.state in _NOTICE_STATES and job.next_poll_at is not None:
        await _notify(bot, services, job)
    elif not job.state.in_progress and job.next_poll_at is not None:
        # Moved on while it was due (cancelled, say): nothing is left for the tick to do.
        await services.store.update(job.id, now=services.clock(), next_poll_at=None)


async def _back_off(services: Services, job: Job, **changes: Any) -> Job:
    """Make the job due again after a pause that grows with each failure in a row; `changes`
    are recorded with it."""
    failures = job.poll_failures + 1
    delay = next_poll_delay(
        interval=services.settings.poll_interval_seconds,
        failures=failures,
        ceiling=services.tuning.max_backoff_seconds,
    )
    now = services.clock()
    return await services.store.update(
        job.id, now=now, poll_failures=failures, next_poll_at=now + delay, **changes
    )


async def _poll(services: Services, job: Job) -> Job:
    """Ask the API about one job at the service, and record what it said.

    A job is always asked once more before it is given up: a video that is ready reaches its
    user whenever it is. Past JOB_TIMEOUT_SECONDS a job is LATE: its user is told it will
    still come, and it is checked every `late_poll_seconds` until `late_patience_seconds`
    after its submission, while its video link could still be fetched; only then is it
    TIMED_OUT, and its place in the day's count given back.
    """
    store, clock, tuning = services.store, services.clock, services.tuning
    assert job.generation_id is not None
    started = job.submitted_at or job.created_at
    try:
        status = await services.api.get_generation(
            job.generation_id, Endpoint(job.endpoint or Endpoint.LEGACY)
        )
    except ApiNotFound as error:
        if job.poll_failures + 1 >= tuning.missing_generation_polls:
            log.warning("job %s: the API does not know generation %s", job.id, job.generation_id)
            return await store.update(
                job.id,
                now=clock(),
                state=JobState.FAILED,
                reason=Reason.GENERATION_LOST,
                next_poll_at=clock(),
            )
        log.info("job %s: generation not found (%s), asking again later", job.id, error.message)
        return await _back_off(services, job)
    except AimlApiError as error:
        if (
            clock() - started > tuning.late_patience_seconds
            and job.poll_failures + 1 >= tuning.missing_generation_polls
        ):
            # Past the patience, and asked in vain a few times: one failed call alone never
            # gives up a video that may be ready.
            return await _give_up(services, job, started)
        log.info("job %s: status call failed (%s), backing off", job.id, error.message)
        return await _back_off(services, job)

    now = clock()
    assert status.status is not None  # a status answer always has one
    progress = progress_of(status.status)
    changes = generation_facts(status) | {
        "poll_count": job.poll_count + 1,
        "poll_failures": 0,
    }
    if progress is Progress.SUCCEEDED and status.video_url is not None:
        services.generation_times.add(now - started)
        changes |= {
            "state": JobState.COMPLETED,
            "completed_at": now,
            "next_poll_at": now,
        }
    elif progress is Progress.SUCCEEDED or progress is Progress.FAILED:
        if progress is Progress.SUCCEEDED:
            changes |= {"reason": Reason.NO_VIDEO}
        else:
            changes |= {"reason": Reason.API_FAILED, "api_reason": error_reason(status.error)}
        changes |= {"state": JobState.FAILED, "next_poll_at": now}
    elif now - started > tuning.late_patience_seconds:
        return await _give_up(services, job, started)
    else:
        if progress is Progress.UNKNOWN and status.status != job.api_status:
            log.warning(
                "job %s: undocumented status %r; polling until the job is given up",
                job.id,
                status.status,
            )
        if now - started > services.settings.job_timeout_seconds:
            if job.state is not JobState.LATE:
                log.warning(
                    "job %s: no result after %.0fs; late, checked every %.0fs from now on",
                    job.id,
                    now - started,
                    tuning.late_poll_seconds,
                )
            changes |= {"state": JobState.LATE, "next_poll_at": now + tuning.late_poll_seconds}
        else:
            if progress is Progress.RENDERING:
                changes["state"] = JobState.GENERATING
            changes["next_poll_at"] = now + next_poll_delay(
                interval=services.settings.poll_interval_seconds, age=now - started
            )
    # Written only if nobody moved the job on during the status call (a /cancel, say).
    updated = await store.update_if(job.id, job.state, now=now, **changes)
    return updated if updated is not None else await store.get(job.id)


async def _give_up(services: Services, job: Job, started: float) -> Job:
    """A late job that never came: TIMED_OUT, explained by the next tick."""
    now = services.clock()
    log.warning("job %s: no video after %.0fs; given up", job.id, now - started)
    updated = await services.store.update_if(
        job.id, job.state, now=now, state=JobState.TIMED_OUT, next_poll_at=now
    )
    return updated if updated is not None else await services.store.get(job.id)


async def _deliver(bot: Bot, services: Services, job: Job) -> None:
    store, clock = services.store, services.clock
    try:
        sent = await deliver_video(bot, services, job)
    except VideoExpired:
        log.warning("job %s: the video link expired before delivery", job.id)
        await store.update(
            job.id,
            now=clock(),
            state=JobState.FAILED,
            reason=Reason.VIDEO_EXPIRED,
            next_poll_at=clock(),
        )
        return
    except TimedOut as error:
        # Telegram may well have posted it: a send that is never answered is tried once more,
        # then taken as delivered rather than risk posting the video again and again. Only
        # unanswered sends count here: a send refused outright posted nothing.
        if job.unanswered_sends == 0:
            log.warning("job %s: no answer to the video send (%s); trying once more", job.id, error)
            await _back_off(services, job, unanswered_sends=job.unanswered_sends + 1)
            return
        log.warning("job %s: no answer to the second send either; taking it as sent", job.id)
        sent = None
    except Exception as error:
        await _after_telegram_error(bot, services, job, error)
        return
    job = await store.update(
        job.id,
        now=clock(),
        state=JobState.DELIVERED,
        delivered_at=clock(),
        next_poll_at=None,
        video_message_id=sent.message_id if sent is not None else None,
    )
    log.info("job %s: video delivered", job.id)
    await clear_progress(bot, services, job)


async def _notify(bot: Bot, services: Services, job: Job) -> None:
    try:
        await send_notice(bot, services, job)
    except (Forbidden, BadRequest) as error:
        # Blocked, or a notice Telegram will never take: the job keeps how it ended (never
        # UNDELIVERABLE, which counts as a video made), unheard.
        log.warning("job %s: Telegram will not take its notice (%s)", job.id, error.message)
        await services.store.update(job.id, now=services.clock(), next_poll_at=None)
        return
    except Exception as error:
        await _after_telegram_error(bot, services, job, error)
        return
    job = await services.store.update(
        job.id, now=services.clock(), delivered_at=services.clock(), next_poll_at=None
    )
    await clear_progress(bot, services, job)


async def _tell_pending(bot: Bot, services: Services, job: Job) -> None:
    """Show an outcome that did not get through when it came (a refusal, a notice)."""
    try:
        await show_pending_outcome(bot, services, job)
    except TelegramError as error:
        if await _retry_later(services, job, error):
            return
        # Blocked, or a message Telegram will never take. The job keeps its state (never
        # UNDELIVERABLE, which counts as charged): it ended as it did, unheard.
        log.warning("job %s: Telegram will not take its outcome (%s)", job.id, error.message)
        await services.store.update_if(
            job.id, job.state, now=services.clock(), pending_status=None, next_poll_at=None
        )


async def _retry_later(services: Services, job: Job, error: Exception) -> bool:
    """Make the job due again when Telegram asked to wait or did not answer; False for any
    other error."""
    if isinstance(error, RetryAfter):
        wait = error.retry_after
        seconds = wait if isinstance(wait, int | float) else wait.total_seconds()
        log.info("job %s: Telegram asks to wait %ss", job.id, seconds)
        now = services.clock()
        await services.store.update(job.id, now=now, next_poll_at=now + float(seconds))
    elif isinstance(error, NetworkError | aiohttp.ClientError | TimeoutError):
        log.info("job %s: sending failed (%s), retrying later", job.id, error)
        await _back_off(services, job)
    else:
        return False
    return True


async def _after_telegram_error(bot: Bot, services: Services, job: Job, error: Exception) -> None:
    store, clock = services.store, services.clock
    if await _retry_later(services, job, error):
        return
    if isinstance(error, Forbidden | BadRequest):
        # Blocked or removed (Forbidden), or a reply Telegram will never take (BadRequest,
        # after delivery's own fallbacks): asking again cannot help.
        log.warning("job %s: Telegram will not take the reply (%s)", job.id, error.message)
        job = await store.update(
            job.id,
            now=clock(),
            state=JobState.UNDELIVERABLE,
            reason=Reason.CHAT_CLOSED if isinstance(error, Forbidden) else Reason.REPLY_REFUSED,
            next_poll_at=None,
        )
        await clear_progress(bot, services, job)
    else:
        raise error
