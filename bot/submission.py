"""Submit a checked first frame to the paid API, and record what came of it."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from enum import Enum

from bot.aimlapi import (
    AimlApiError,
    ApiOutcomeUnknown,
    ApiOutOfCredits,
    ApiRateLimited,
    ApiRejected,
    ApiUnauthorized,
    Generation,
    Progress,
    error_reason,
    progress_of,
)
from bot.firstframe import FirstFrame
from bot.schedule import next_poll_delay
from bot.services import Services
from storage import Job, JobState

log = logging.getLogger(__name__)


class SubmitOutcome(Enum):
    """How a submission ended, from the user's point of view."""

    ACCEPTED = "accepted"  # the API created the generation; polling starts
    READY = "ready"  # the API answered the create with the finished video; the tick sends it
    FAILED = "failed"  # the API took the request and failed it at once; the tick explains
    REFUSED = "refused"  # the API refused the request itself; nothing charged
    BUSY = "busy"  # the API kept answering "busy" or could not be reached; nothing charged
    OUT_OF_CREDITS = "out_of_credits"  # the operator's account is empty
    MISCONFIGURED = "misconfigured"  # the key or the endpoint is wrong: the operator must act
    UNKNOWN = "unknown"  # a job may or may not exist; the user is asked to resend if needed


@dataclass(frozen=True, slots=True)
class Submission:
    job: Job
    outcome: SubmitOutcome
    reason: str | None = None  # the API's words, for REFUSED


def _outcome_of(error: AimlApiError) -> SubmitOutcome:
    if isinstance(error, ApiOutcomeUnknown):
        return SubmitOutcome.UNKNOWN
    if isinstance(error, ApiRejected):
        return SubmitOutcome.REFUSED
    if isinstance(error, ApiOutOfCredits):
        return SubmitOutcome.OUT_OF_CREDITS
    if isinstance(error, ApiUnauthorized):
        return SubmitOutcome.MISCONFIGURED
    if error.surely_not_created and error.status in (None, 429, 502, 503):
        return SubmitOutcome.BUSY
    if error.surely_not_created:
        return SubmitOutcome.MISCONFIGURED
    return SubmitOutcome.UNKNOWN


def _retry_delay(attempt: int, error: AimlApiError, base: float) -> float:
    delay: float = base * 2.0**attempt
    if isinstance(error, ApiRateLimited) and error.retry_after is not None:
        delay = max(delay, error.retry_after)
    return min(delay, 60.0)


async def submit(services: Services, job: Job, frame: FirstFrame) -> Submission:
    """Create the generation for a recorded job, retrying only when no job can have been made.

    The job moves to QUEUED with its generation id, or to FAILED / INTERRUPTED with the reason.
    Never raises for API errors: the outcome says what happened.
    """
    store, clock, tuning = services.store, services.clock, services.tuning
    job = await store.update(job.id, now=clock(), state=JobState.SUBMITTING)
    attempt = 0
    while True:
        try:
            created = await services.api.create_generation(
                prompt=job.prompt,
                first_frame_image=frame.data_url,
                prompt_optimizer=job.prompt_optimizer,
            )
            break
        except AimlApiError as error:
            outcome = _outcome_of(error)
            attempt += 1
            if outcome is SubmitOutcome.BUSY and attempt < tuning.submit_attempts:
                delay = _retry_delay(attempt - 1, error, tuning.submit_backoff_seconds)
                log.info("job %s: API busy (%s), retrying in %.1fs", job.id, error.status, delay)
                await asyncio.sleep(delay)
                continue
            if outcome is SubmitOutcome.MISCONFIGURED:
                log.error(
                    "job %s: the AI/ML API refused our credentials or route: %s",
                    job.id,
                    error.message,
                )
            state = JobState.INTERRUPTED if outcome is SubmitOutcome.UNKNOWN else JobState.FAILED
            job = await store.update(
                job.id, now=clock(), state=state, error=error.message, next_poll_at=None
            )
            return Submission(job, outcome, error.message)

    # Logged before it is stored: should storing fail, the paid generation can still be found.
    log.info(
        "job %s: submitted as generation %s on the %s endpoint (%s)",
        job.id,
        created.id,
        created.endpoint,
        created.status,
    )
    job, outcome = await _record_created(services, job, created)
    return Submission(job, outcome)


async def _record_created(
    services: Services, job: Job, created: Generation
) -> tuple[Job, SubmitOutcome]:
    """Store a created generation. An answer that is already final is acted on at once: its
    video is sent, or its failure explained, by the next tick, without a single poll."""
    now = services.clock()
    changes = generation_facts(created) | {
        "generation_id": created.id,
        "endpoint": created.endpoint.value,
        "submitted_at": now,
    }
    progress = progress_of(created.status) if created.status else Progress.WAITING
    if progress is Progress.SUCCEEDED and created.video_url is not None:
        changes |= {"state": JobState.COMPLETED, "completed_at": now, "next_poll_at": now}
        outcome = SubmitOutcome.READY
    elif progress is Progress.FAILED:
        # Failed, not charged for a video: the day's count comes back with the FAILED state.
        log.info("job %s: the API failed it at once: %s", job.id, created.error)
        changes |= {
            "state": JobState.FAILED,
            "error": error_reason(created.error),
            "next_poll_at": now,
        }
        outcome = SubmitOutcome.FAILED
    else:
        interval = services.settings.poll_interval_seconds
        changes |= {
            "state": JobState.QUEUED,
            "next_poll_at": now + next_poll_delay(interval=interval, age=0),
        }
        outcome = SubmitOutcome.ACCEPTED
    return await services.store.update(job.id, now=now, **changes), outcome


def generation_facts(generation: Generation) -> dict[str, object]:
    """The job columns a create or status answer fills in, where the API gave them."""
    facts: dict[str, object] = {"api_status": generation.status}
    if generation.video_url is not None:
        facts["video_url"] = generation.video_url
    if generation.duration is not None:
        facts["video_seconds"] = generation.duration
    if generation.usage is not None:
        facts |= {"usage_amount": generation.usage.amount, "usage_unit": generation.usage.unit}
    return facts
