"""The poll tick: moves every due job one step on, many at once, none twice at a time."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp

from bot.aimlapi.client import (
    AimlApiClient,
    AimlApiError,
    ApiNotFound,
    Endpoint,
    Progress,
    error_reason,
    progress_of,
)
from bot.engine.chat_port import (
    AskedToWait,
    ChatClosed,
    ChatError,
    MessageRefused,
    NoAnswer,
    Unreachable,
)
from bot.engine.delivery import Delivery, VideoExpired
from bot.engine.durations import GenerationTimes
from bot.engine.leases import Leaseholder
from bot.engine.meter import Meter
from bot.engine.pipeline import Pipeline
from bot.engine.progress import StatusMessages
from bot.engine.schedule import next_poll_delay
from bot.engine.submission import generation_facts
from bot.engine.tuning import Clock, Tuning
from bot.logcontext import about_job
from storage import Job, JobState, JobStore, Reason

log = logging.getLogger(__name__)

_NOTICE_STATES = frozenset({JobState.FAILED, JobState.TIMED_OUT, JobState.INTERRUPTED})


class Poller:
    """The poll tick's work: asks `api` about each due job in `store`, delivers a finished one
    (`delivery`), explains one that ended without a video, and shows its progress
    (`progress`); a job a restart cut off before the API is checked and submitted again
    (`pipeline`). Each due job is claimed with its lease (`leases`), so that no other tick,
    here or in another instance, takes it meanwhile; at most `poll_concurrency` jobs are
    advanced at once across this instance's ticks (`poll_slots`). `meter` counts the status
    calls of each video delivered, and the jobs that end here giving the day's count back."""

    def __init__(
        self,
        api: AimlApiClient,
        store: JobStore,
        clock: Clock,
        delivery: Delivery,
        progress: StatusMessages,
        pipeline: Pipeline,
        times: GenerationTimes,
        leases: Leaseholder,
        *,
        tuning: Tuning,
        poll_interval_seconds: float,
        job_timeout_seconds: float,
        poll_concurrency: int,
        meter: Meter,
    ) -> None:
        self._api, self._store, self._clock = api, store, clock
        self.delivery, self._progress, self._pipeline = delivery, progress, pipeline
        self._times, self._leases, self._tuning = times, leases, tuning
        self._poll_interval, self._job_timeout = poll_interval_seconds, job_timeout_seconds
        self._meter = meter
        # Ticks overlap (one slow job must not hold up the next tick), and all share these.
        self.poll_slots = asyncio.Semaphore(poll_concurrency)
        self._poll_concurrency, self._advancing = poll_concurrency, 0

    async def advance_due_jobs(self) -> int:
        """Poll, deliver or explain every due job that no other step (of any instance) is
        working on, each held by its lease meanwhile; returns how many it took on.

        Jobs run concurrently, at most `POLL_CONCURRENCY` at once across all ticks. One job's
        failure is logged and never stops the others.
        """
        # No more than the free poll slots: a job claimed waits for none, and what this
        # instance cannot take on now is left to the others.
        free = self._poll_concurrency - self._advancing
        jobs = await self._leases.claim_due(limit=min(self._tuning.due_batch, free))
        if not jobs:
            return 0
        self._advancing += len(jobs)

        async def one(job: Job) -> None:
            with about_job(job.id, job.generation_id):  # every line of this step names the job
                try:
                    async with self.poll_slots:
                        await self.advance_job(job)
                except Exception:
                    log.exception("job %s: unexpected error; retrying later", job.id)
                    await self._back_off(job)
                finally:
                    self._advancing -= 1
                    await self._let_go(job.id)

        await asyncio.gather(*(one(job) for job in jobs))
        return len(jobs)

    async def _let_go(self, job_id: int) -> None:
        try:
            await self._leases.release(job_id)
        except Exception:  # no longer renewed: it runs out, and the job is taken on then
            log.exception("job %s: could not release its lease", job_id)

    async def advance_job(self, job: Job) -> None:
        """Move one due job one step on."""
        if job.pending_status is not None:
            # Read again: a fix tapped under a refusal that did reach the chat, unknown to the
            # bot, takes the job up again meanwhile.
            job = await self._store.get(job.id)
            if job.pending_status is not None and not job.state.in_progress:
                await self._tell_pending(job)
                return
        if job.state is JobState.RECEIVED:
            # Cut off by a restart before reaching the paid API, or taken up again while its
            # refusal was retold: nothing was charged, so go on.
            job = await self._store.update(
                job.id, now=self._clock(), next_poll_at=None, pending_status=None
            )
            await self._pipeline.check_and_submit(job)
            return
        if job.state is JobState.WAITING and job.pending_status is not None:
            # Taken up again into the line, which submits it: nothing is left for the tick.
            await self._store.update(
                job.id, now=self._clock(), next_poll_at=None, pending_status=None
            )
            return
        if job.state in (JobState.QUEUED, JobState.GENERATING, JobState.LATE):
            was_late = job.state is JobState.LATE
            job = await self._poll(job)
            # Turning late is told at once: the next chance may be a slow check away.
            turned_late = job.state is JobState.LATE and not was_late
            job = await self._progress.refresh_progress(job, at_once=turned_late)
        if job.state is JobState.COMPLETED or (
            job.state in _NOTICE_STATES and job.next_poll_at is not None
        ):
            # What is sent cannot be taken back: sent only while this instance still holds
            # the job (its lease may have run out during a slow poll, and been taken over).
            if await self._leases.confirm(job.id) is None:
                log.warning("job %s: taken over by another instance; left to it", job.id)
            elif job.state is JobState.COMPLETED:
                await self._deliver(job)
            else:
                await self._notify(job)
        elif not job.state.in_progress and job.next_poll_at is not None:
            # Moved on while it was due (cancelled, say): nothing is left for the tick to do.
            await self._store.update(job.id, now=self._clock(), next_poll_at=None)

    async def _back_off(self, job: Job, **changes: Any) -> Job:
        """Make the job due again after a pause that grows with each failure in a row; `changes`
        are recorded with it."""
        failures = job.poll_failures + 1
        delay = next_poll_delay(
            interval=self._poll_interval,
            failures=failures,
            ceiling=self._tuning.max_backoff_seconds,
        )
        now = self._clock()
        return await self._store.update(
            job.id, now=now, poll_failures=failures, next_poll_at=now + delay, **changes
        )

    async def _poll(self, job: Job) -> Job:
        """Ask the API about one job at the service, and record what it said.

        A job is always asked once more before it is given up: a video that is ready reaches its
        user whenever it is. Past JOB_TIMEOUT_SECONDS a job is LATE: its user is told it will
        still come, and it is checked every `late_poll_seconds` until `late_patience_seconds`
        after its submission, while its video link could still be fetched; only then is it
        TIMED_OUT, and its place in the day's count given back.
        """
        store, clock, tuning = self._store, self._clock, self._tuning
        assert job.generation_id is not None
        started = job.submitted_at or job.created_at
        try:
            status = await self._api.get_generation(
                job.generation_id, Endpoint(job.endpoint or Endpoint.LEGACY)
            )
        except ApiNotFound as error:
            if job.poll_failures + 1 >= tuning.missing_generation_polls:
                log.warning(
                    "job %s: the API does not know generation %s", job.id, job.generation_id
                )
                lost = await store.update(
                    job.id,
                    now=clock(),
                    state=JobState.FAILED,
                    reason=Reason.GENERATION_LOST,
                    next_poll_at=clock(),
                )
                self._meter.quota_refunded(lost)
                return lost
            log.info("job %s: generation not found (%s), asking again later", job.id, error.message)
            return await self._back_off(job)
        except AimlApiError as error:
            if (
                clock() - started > tuning.late_patience_seconds
                and job.poll_failures + 1 >= tuning.missing_generation_polls
            ):
                # Past the patience, and asked in vain a few times: one failed call alone never
                # gives up a video that may be ready.
                return await self._give_up(job, started)
            log.info("job %s: status call failed (%s), backing off", job.id, error.message)
            return await self._back_off(job)

        now = clock()
        assert status.status is not None  # a status answer always has one
        progress = progress_of(status.status)
        changes = generation_facts(status) | {
            "poll_count": job.poll_count + 1,
            "poll_failures": 0,
        }
        if progress is Progress.SUCCEEDED and status.video_url is not None:
            self._times.add(now - started)
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
            return await self._give_up(job, started)
        else:
            if progress is Progress.UNKNOWN and status.status != job.api_status:
                log.warning(
                    "job %s: undocumented status %r; polling until the job is given up",
                    job.id,
                    status.status,
                )
            if now - started > self._job_timeout:
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
                    interval=self._poll_interval, age=now - started
                )
        # Written only if nobody moved the job on during the status call (a /cancel, say).
        updated = await store.update_if(job.id, job.state, now=now, **changes)
        if updated is None:
            return await store.get(job.id)
        if updated.state is JobState.FAILED:  # no video: the day's count comes back
            self._meter.quota_refunded(updated)
        return updated

    async def _give_up(self, job: Job, started: float) -> Job:
        """A late job that never came: TIMED_OUT, explained by the next tick."""
        now = self._clock()
        log.warning("job %s: no video after %.0fs; given up", job.id, now - started)
        updated = await self._store.update_if(
            job.id, job.state, now=now, state=JobState.TIMED_OUT, next_poll_at=now
        )
        if updated is None:
            return await self._store.get(job.id)
        self._meter.quota_refunded(updated)
        return updated

    async def _deliver(self, job: Job) -> None:
        store, clock = self._store, self._clock
        try:
            sent = await self.delivery.deliver_video(job)
        except VideoExpired:
            log.warning("job %s: the video link expired before delivery", job.id)
            expired = await store.update(
                job.id,
                now=clock(),
                state=JobState.FAILED,
                reason=Reason.VIDEO_EXPIRED,
                next_poll_at=clock(),
            )
            self._meter.quota_refunded(expired)
            return
        except NoAnswer as error:
            # Telegram may well have posted it: a send that is never answered is tried once more,
            # then taken as delivered rather than risk posting the video again and again. Only
            # unanswered sends count here: a send refused outright posted nothing.
            if job.unanswered_sends == 0:
                log.warning(
                    "job %s: no answer to the video send (%s); trying once more", job.id, error
                )
                await self._back_off(job, unanswered_sends=job.unanswered_sends + 1)
                return
            log.warning("job %s: no answer to the second send either; taking it as sent", job.id)
            sent = None
        except Exception as error:
            await self._after_chat_error(job, error)
            return
        # Counted before it is recorded: whoever sees it delivered sees it counted too.
        self._meter.video_delivered(job.poll_count)
        job = await store.update(
            job.id,
            now=clock(),
            state=JobState.DELIVERED,
            delivered_at=clock(),
            next_poll_at=None,
            video_message_id=sent.message_id if sent is not None else None,
        )
        log.info("job %s: video delivered", job.id)
        await self._progress.clear_progress(job)

    async def _notify(self, job: Job) -> None:
        # Each write is kept only while the job still ended as told: a submission taken over
        # as interrupted while its create call was still being answered (its instance's lease
        # ran out, alive) may yet record its generation, and the video must then be followed.
        try:
            await self.delivery.send_notice(job)
        except (ChatClosed, MessageRefused) as error:
            # Blocked, or a notice Telegram will never take: the job keeps how it ended (never
            # UNDELIVERABLE, which counts as a video made), unheard.
            log.warning("job %s: Telegram will not take its notice (%s)", job.id, error.words)
            await self._store.update_if(job.id, job.state, now=self._clock(), next_poll_at=None)
            return
        except Exception as error:
            await self._after_chat_error(job, error)
            return
        told = await self._store.update_if(
            job.id, job.state, now=self._clock(), delivered_at=self._clock(), next_poll_at=None
        )
        if told is None:
            log.warning("job %s: moved on while its notice was sent; followed on", job.id)
            return
        await self._progress.clear_progress(told)

    async def _tell_pending(self, job: Job) -> None:
        """Show an outcome that did not get through when it came (a refusal, a notice)."""
        try:
            await self._pipeline.show_pending_outcome(job)
        except ChatError as error:
            if await self._retry_later(job, error) or await self._refused_again_later(job, error):
                return
            # Blocked, or a message Telegram will never take. The job keeps its state (never
            # UNDELIVERABLE, which counts as charged): it ended as it did, unheard.
            log.warning("job %s: Telegram will not take its outcome (%s)", job.id, error.words)
            await self._store.update_if(
                job.id, job.state, now=self._clock(), pending_status=None, next_poll_at=None
            )

    async def _retry_later(self, job: Job, error: Exception) -> bool:
        """Make the job due again when Telegram asked to wait or did not answer; False for any
        other error."""
        if isinstance(error, AskedToWait):
            log.info("job %s: Telegram asks to wait %ss", job.id, error.seconds)
            now = self._clock()
            await self._store.update(job.id, now=now, next_poll_at=now + error.seconds)
        elif isinstance(error, Unreachable | aiohttp.ClientError | TimeoutError):
            log.info("job %s: sending failed (%s), retrying later", job.id, error)
            await self._back_off(job)
        else:
            return False
        return True

    async def _refused_again_later(self, job: Job, error: Exception) -> bool:
        """Make the job due again, after a growing pause, when the chat refused the message
        and it has not yet been asked `refused_reply_attempts` times; False otherwise."""
        if not isinstance(error, MessageRefused):
            return False
        if job.poll_failures + 1 >= self._tuning.refused_reply_attempts:
            return False
        log.warning(
            "job %s: Telegram refused the reply (%s); asking again later", job.id, error.words
        )
        await self._back_off(job)
        return True

    async def _after_chat_error(self, job: Job, error: Exception) -> None:
        store, clock = self._store, self._clock
        if await self._retry_later(job, error) or await self._refused_again_later(job, error):
            return
        if isinstance(error, ChatClosed | MessageRefused):
            # Blocked or removed, or a reply Telegram refused again and again (after
            # delivery's own fallbacks): asking again cannot help.
            log.warning("job %s: Telegram will not take the reply (%s)", job.id, error.words)
            closed = isinstance(error, ChatClosed)
            job = await store.update(
                job.id,
                now=clock(),
                state=JobState.UNDELIVERABLE,
                reason=Reason.CHAT_CLOSED if closed else Reason.REPLY_REFUSED,
                next_poll_at=None,
            )
            await self._progress.clear_progress(job)
        else:
            raise error
