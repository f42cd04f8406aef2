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
)
from bot.firstframe import FirstFrame
from bot.schedule import next_poll_delay
from bot.services import Services
from storage import Job, JobState

log = logging.getLogger(__name__)


class SubmitOutcome(Enum):
    """How a submission ended, from the user's point of view."""

    ACCEPTED = "accepted"  # the API created the generation; polling starts
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
    log.info("job %s: submitted as generation %s", job.id, created.generation_id)
    now = clock()
    job = await store.update(
        job.id,
        now=now,
        state=JobState.QUEUED,
        generation_id=created.generation_id,
        api_status=created.status,
        submitted_at=now,
        next_poll_at=now + next_poll_delay(interval=services.settings.poll_interval_seconds, age=0),
    )
    return Submission(job, SubmitOutcome.ACCEPTED)
