"""Submit a checked first frame to the paid API, and record what came of it."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import Enum

from bot.aimlapi.client import (
    AimlApiClient,
    AimlApiError,
    ApiBusy,
    ApiOutcomeUnknown,
    ApiOutOfCredits,
    ApiRateLimited,
    ApiRejected,
    Generation,
    Progress,
    error_reason,
    progress_of,
)
from bot.aimlapi.pacing import CreatePacer
from bot.engine.leases import Leaseholder
from bot.engine.meter import Meter
from bot.engine.schedule import next_poll_delay
from bot.engine.tuning import Clock, Tuning
from bot.image.firstframe import FirstFrame
from bot.policy.alerts import FAILING_STREAK, AdminAlerts, Alert
from bot.words.texts import texts_for
from storage import Job, JobState, JobStore, Reason

log = logging.getLogger(__name__)


class SubmitOutcome(Enum):
    """How a submission ended, from the user's point of view."""

    ACCEPTED = "accepted"  # the API created the generation; polling starts
    READY = "ready"  # the API answered the create with the finished video; the tick sends it
    FAILED = "failed"  # the API took the request and failed it at once; the tick explains
    REFUSED = "refused"  # the API refused the request itself; nothing charged
    BUSY = "busy"  # the API was too busy to take it: back in the line, to be tried again
    STAYED_BUSY = "stayed_busy"  # too busy for SUBMIT_PATIENCE_SECONDS: given up, not charged
    OUT_OF_CREDITS = "out_of_credits"  # the operator's account is empty
    MISCONFIGURED = "misconfigured"  # the key or the endpoint is wrong: the operator must act
    UNKNOWN = "unknown"  # a job may or may not exist; the user is asked to resend if needed
    TAKEN_OVER = "taken_over"  # another instance took the job over before the create: not sent


@dataclass(frozen=True, slots=True)
class Submission:
    job: Job
    outcome: SubmitOutcome
    reason: str | None = None  # the API's words, for REFUSED


def _outcome_of(error: AimlApiError) -> SubmitOutcome:
    if isinstance(error, ApiOutcomeUnknown):
        return SubmitOutcome.UNKNOWN
    if isinstance(error, ApiBusy):
        return SubmitOutcome.BUSY
    if isinstance(error, ApiRejected):
        return SubmitOutcome.REFUSED
    if isinstance(error, ApiOutOfCredits):
        return SubmitOutcome.OUT_OF_CREDITS
    if error.surely_not_created:  # 401, 404: the key or the endpoint is wrong
        return SubmitOutcome.MISCONFIGURED
    return SubmitOutcome.UNKNOWN


#: What is stored of a create the API answered with an error (never BUSY: that waits in line).
_REASONS = {
    SubmitOutcome.REFUSED: Reason.API_REFUSED,
    SubmitOutcome.OUT_OF_CREDITS: Reason.OUT_OF_CREDITS,
    SubmitOutcome.MISCONFIGURED: Reason.MISCONFIGURED,
    SubmitOutcome.UNKNOWN: Reason.OUTCOME_UNKNOWN,
}


class Submitter:
    """Creates generations with `api`, in the create calls' pace (`pacer`), recording in `store`
    what came of each, and raising `alerts` for the admins when only the operator can mend
    it; each create only while this instance holds the job's lease (`leases`). `tuning`: the
    pauses after a busy answer; `submit_patience_seconds`: how long a
    request may stay refused as busy; `poll_interval_seconds`: the first poll's pace; `meter`
    counts each create's outcome, and each failure that gives the day's count back."""

    def __init__(
        self,
        api: AimlApiClient,
        store: JobStore,
        clock: Clock,
        pacer: CreatePacer,
        alerts: AdminAlerts,
        *,
        meter: Meter,
        leases: Leaseholder,
        tuning: Tuning,
        submit_patience_seconds: float,
        poll_interval_seconds: float,
    ) -> None:
        self._api, self._store, self._clock = api, store, clock
        self._leases = leases
        self._pacer, self._alerts, self._tuning = pacer, alerts, tuning
        self._meter = meter
        self._submit_patience, self._poll_interval = submit_patience_seconds, poll_interval_seconds

    async def submit(self, job: Job, frame: FirstFrame) -> Submission:
        """Create the generation for a recorded job (see `_submit`), and raise an alert for the
        admins when the outcome is one only the operator can mend."""
        submission = await self._submit(job, frame)
        if submission.outcome is SubmitOutcome.TAKEN_OVER:
            return submission  # no create was made here: nothing to count or raise
        self._meter.create_ended(submission.outcome)
        if submission.job.state is JobState.FAILED:  # nothing charged: the day's count comes back
            self._meter.quota_refunded(submission.job)
        await self._alert_if_needed(submission)
        return submission

    async def _alert_if_needed(self, submission: Submission) -> None:
        alerts, words, now = self._alerts, texts_for(None), self._clock()
        outcome, reason = submission.outcome, submission.reason or ""
        if outcome is SubmitOutcome.OUT_OF_CREDITS:
            await alerts.raise_alert(
                Alert.OUT_OF_CREDITS, words.alert_out_of_credits(reason), now=now
            )
        elif outcome is SubmitOutcome.MISCONFIGURED:
            await alerts.raise_alert(
                Alert.MISCONFIGURED, words.alert_misconfigured(reason), now=now
            )
        if outcome in (
            SubmitOutcome.TAKEN_OVER,  # never sent: says nothing of the API
            SubmitOutcome.BUSY,  # paced and tried again: not a failure yet
            SubmitOutcome.OUT_OF_CREDITS,  # told apart above: they say nothing of the API's health
            SubmitOutcome.MISCONFIGURED,
        ):
            return
        unconfirmed = outcome in (SubmitOutcome.UNKNOWN, SubmitOutcome.STAYED_BUSY)
        if await alerts.note_submission(confirmed=not unconfirmed):
            await alerts.raise_alert(
                Alert.FAILING, words.alert_failing(FAILING_STREAK, reason), now=now
            )

    async def _submit(self, job: Job, frame: FirstFrame) -> Submission:
        """Create the generation for a recorded job, in the create calls' pace
        (`bot.aimlapi.pacing`).

        The job moves to QUEUED with its generation id (or straight on to COMPLETED or FAILED
        when the answer is already final), to FAILED or INTERRUPTED with the reason, or, when the
        API was too busy to take it (which made nothing), back into the line as WAITING, to be
        tried again after a growing pause. A request still refused as busy
        SUBMIT_PATIENCE_SECONDS after the first busy answer fails, uncharged. A create that may
        have made a job is never sent again. Never raises for API errors: the outcome says what
        happened.
        """
        store, clock = self._store, self._clock
        # Waited for before SUBMITTING: a restart during the wait finds nothing was sent.
        await self._pacer.turn()
        # SUBMITTING only while this instance still holds the job: one whose lease ran out
        # meanwhile (this instance slow, not dead) may have been taken over by another, which
        # submits it; two creates would charge twice.
        submitting = await self._leases.confirm(
            job.id, expected=JobState.RECEIVED, state=JobState.SUBMITTING
        )
        if submitting is None:
            log.warning(
                "job %s: taken over by another instance before its create; left to it", job.id
            )
            return Submission(await store.get(job.id), SubmitOutcome.TAKEN_OVER)
        job = submitting
        try:
            created = await self._api.create_generation(
                prompt=job.prompt,
                first_frame_image=frame.data_url,
                prompt_optimizer=job.prompt_optimizer,
            )
        except ApiBusy as error:
            return await self._busy(job, error)
        except AimlApiError as error:
            outcome = _outcome_of(error)
            if outcome is SubmitOutcome.MISCONFIGURED:
                log.error(
                    "job %s: the AI/ML API refused our credentials or route: %s",
                    job.id,
                    error.message,
                )
            state = JobState.INTERRUPTED if outcome is SubmitOutcome.UNKNOWN else JobState.FAILED
            job = await store.update(
                job.id,
                now=clock(),
                state=state,
                reason=_REASONS[outcome],
                api_reason=error.message,
                next_poll_at=None,
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
        job, outcome = await self._record_created(job, created)
        return Submission(job, outcome)

    async def _busy(self, job: Job, error: ApiBusy) -> Submission:
        """The API took nothing: back to the line, or, past the patience, a failure."""
        store, now, tuning = self._store, self._clock(), self._tuning
        pause = await self._pacer.busy(
            rate_limited=isinstance(error, ApiRateLimited), retry_after=error.retry_after
        )
        since = job.busy_since if job.busy_since is not None else now
        attempts = job.submit_attempts + 1
        deadline = since + self._submit_patience
        if now >= deadline:
            log.warning(
                "job %s: the API stayed busy for %.0fs (%d tries, last: %s); giving up, uncharged",
                job.id,
                now - since,
                attempts,
                error.message,
            )
            job = await store.update(
                job.id,
                now=now,
                state=JobState.FAILED,
                reason=Reason.STAYED_BUSY,
                submit_attempts=attempts,
                next_poll_at=None,
            )
            return Submission(job, SubmitOutcome.STAYED_BUSY, error.message)
        delay = min(
            tuning.submit_backoff_seconds * 2.0 ** (attempts - 1), tuning.max_submit_pause_seconds
        )
        retry_at = min(now + max(delay, pause), deadline)
        log.info(
            "job %s: %s (%s); back in line, tried again in %.0fs",
            job.id,
            # A refused connection is not a busy API: the operator's network, or a wrong URL.
            "the API could not be reached"
            if error.status is None
            else f"the API is busy (HTTP {error.status})",
            error.message,
            retry_at - now,
        )
        job = await store.update(
            job.id,
            now=now,
            state=JobState.WAITING,
            busy_since=since,
            retry_at=retry_at,
            submit_attempts=attempts,
            next_poll_at=None,
        )
        return Submission(job, SubmitOutcome.BUSY, error.message)

    async def _record_created(self, job: Job, created: Generation) -> tuple[Job, SubmitOutcome]:
        """Store a created generation. An answer that is already final is acted on at once: its
        video is sent, or its failure explained, by the next tick, without a single poll.

        Stored whatever became of the job meanwhile: one taken over as interrupted (this
        instance's lease ran out while the create call was answered, though it was alive) has
        a paid video coming after all, and it is followed to its user."""
        now = self._clock()
        changes = generation_facts(created) | {
            "generation_id": created.id,
            "endpoint": created.endpoint.value,
            "submitted_at": now,
            "reason": None,  # any interruption noted meanwhile is moot: the API has the job
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
                "reason": Reason.API_FAILED,
                "api_reason": error_reason(created.error),
                "next_poll_at": now,
            }
            outcome = SubmitOutcome.FAILED
        else:
            interval = self._poll_interval
            changes |= {
                "state": JobState.QUEUED,
                "next_poll_at": now + next_poll_delay(interval=interval, age=0),
            }
            outcome = SubmitOutcome.ACCEPTED
        return await self._store.update(job.id, now=now, **changes), outcome


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
