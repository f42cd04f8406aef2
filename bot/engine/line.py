"""The local line: requests over MAX_ACTIVE_JOBS wait here, and go to the paid API in order.

A waiting job is a WAITING row that keeps its Telegram file_id; nothing is downloaded or
charged until it leaves the line. The line survives restarts: it is the jobs table.
"""

from __future__ import annotations

import asyncio
import logging

from bot.aimlapi.pacing import CreatePacer
from bot.engine.chat_port import ChatClosed, ChatError
from bot.engine.keyboards import cancel_markup
from bot.engine.leases import Leaseholder
from bot.engine.meter import Meter
from bot.engine.pipeline import Pipeline
from bot.engine.progress import StatusMessages
from bot.engine.tuning import Clock
from bot.words.texts import texts_for
from storage import Job, JobState, JobStore, Reason
from storage.waiting import Cancelled, LineStore

log = logging.getLogger(__name__)


class Line:
    """The line in `store`: taken from in order as `pacer` and MAX_ACTIVE_JOBS
    (`max_active_jobs`) allow, each job taken then checked and submitted by `pipeline`, and
    each waiting job shown its place through `progress`, every step holding the job's lease
    (`leases`). `meter` counts the jobs that leave the line giving the day's count back."""

    def __init__(
        self,
        store: JobStore,
        clock: Clock,
        pipeline: Pipeline,
        progress: StatusMessages,
        pacer: CreatePacer,
        leases: Leaseholder,
        *,
        max_active_jobs: int,
        meter: Meter,
    ) -> None:
        self._store, self._line, self._clock = store, LineStore.of(store), clock
        self._pipeline, self._progress, self._pacer = pipeline, progress, pacer
        self._leases, self._max_active_jobs = leases, max_active_jobs
        self._meter = meter
        # Held while the jobs in line are shown their places: one pass at a time, as each
        # pass may wait on Telegram's per-group limit of about 20 edits a minute.
        self._showing_places = asyncio.Lock()

    async def take_from_line(self) -> list[int]:
        """Take waiting jobs off the head of the line, first come first served, while fewer
        than MAX_ACTIVE_JOBS are in flight and the create calls' pace allows; returns their
        ids. Each taken job is RECEIVED, leased here, and holds its slot until `advance_line`
        sends it on (or, should this instance die first, another instance's recovery).
        """
        pacer = self._pacer
        if not await pacer.ready():
            return []  # the API asked for a pause, or the next create's turn has not come
        taken = await self._line.claim(
            max_in_flight=self._max_active_jobs,
            now=self._clock(),
            lease=self._leases.lease(),
            # Paced: one at a time, so that no image waits in memory for its turn.
            most=1 if await pacer.rate() is not None else None,
        )
        for job_id in taken:
            self._leases.hold(job_id)  # taken leased: `advance_line` goes on with it
            log.info("job %s leaves the line", job_id)
        return taken

    async def advance_line(self, taken: list[int]) -> None:
        """Check and submit the jobs taken from the line (`bot.engine.pipeline`), all at once,
        while the jobs still waiting are shown their new places.

        One job's failure never stops the others; never raises.
        """
        results = await asyncio.gather(
            self.update_places(),
            *(self._submit(job_id) for job_id in taken),
            return_exceptions=True,
        )
        for result in results:
            if isinstance(result, Exception):  # the database failed: nothing to tell anyone
                log.error("moving the line failed", exc_info=result)

    async def _submit(self, job_id: int) -> None:
        store, clock = self._store, self._clock
        try:
            await self._pipeline.check_and_submit(await store.get(job_id))  # leased in `claim`
        except Exception:
            # A claimed job holds a slot: never leave it RECEIVED, or the slot is lost.
            log.exception("job %s: submitting from the line failed", job_id)
            job = await store.get(job_id)
            if job.state is JobState.RECEIVED:
                interrupted = await store.update(
                    job_id,
                    now=clock(),
                    state=JobState.INTERRUPTED,
                    reason=Reason.NOT_SUBMITTED,
                    next_poll_at=clock(),
                )
                self._meter.quota_refunded(interrupted)
        finally:
            await self._leases.release(job_id)

    async def update_places(self) -> None:
        """Edit the status message of each waiting job whose place changed since it was shown.

        A user who blocked the bot leaves the line, uncharged. A pass that finds another
        still running leaves the work to it and to the passes after it; a job whose lease
        another step holds (here or in another instance) is shown at a later pass. Never
        raises.
        """
        if self._showing_places.locked():
            return
        async with self._showing_places:
            await self._update_places()

    async def _update_places(self) -> None:
        store = self._store
        try:
            places = await self._line.places()
        except Exception:
            log.exception("could not read the line")
            return
        for entry in places:
            if entry.shown == entry.place:
                continue
            leased = None
            try:
                leased = await self._leases.take(entry.job_id)
                if leased is None or leased.state is not JobState.WAITING:
                    continue  # being shown or taken by another step, or cancelled meanwhile
                await self._show_place(leased, entry.place)
            except ChatClosed as error:
                log.info(
                    "job %s: the chat is closed to the bot (%s); out of the line",
                    entry.job_id,
                    error,
                )
                cancelled = await store.update(
                    entry.job_id,
                    now=self._clock(),
                    state=JobState.CANCELLED,
                    reason=Reason.CHAT_CLOSED,
                    next_poll_at=None,
                )
                self._meter.quota_refunded(cancelled)
            except Exception as error:  # the place is shown again next tick
                log.info("job %s: could not show its place in line (%s)", entry.job_id, error)
            finally:
                if leased is not None:
                    await self._leases.release(entry.job_id)

    async def show_place_in_line(self, job: Job) -> Job:
        """Tell a job that just joined the line its place, in its status message; the caller
        holds its lease (admission recorded it so)."""
        place = await self._line.place_of(job.id)
        if place is None:
            return job  # it already left the line: its status message tells the rest
        return await self._show_place(job, place)

    async def _show_place(self, job: Job, place: int) -> Job:
        # Noted before it is shown, so that intake and the tick never both show the same
        # place (whoever notes it first shows it); forgotten again when showing fails, so that
        # the tick tries again.
        if not await self._line.note_shown(job.id, place):
            return job
        words = texts_for(job.language)
        try:
            # The button stays while the job waits: each place shown carries it again. The
            # first edit after the job leaves the line has no buttons, and so removes it.
            return await self._progress.show_progress(
                job,
                words.busy_in_line(place)
                if job.busy_since is not None
                else words.waiting_in_line(place),
                keyboard=cancel_markup(job),
            )
        except BaseException:
            await self._line.forget_shown(job.id)
            raise

    async def cancel_jobs(
        self,
        user_id: int,
        *,
        chat_id: int | None,
        stop_submitted: bool,
        job_id: int | None = None,
        up_to: int | None = None,
    ) -> Cancelled:
        """Cancel a user's jobs waiting in line (never charged) and, with `stop_submitted`,
        stop following those the paid API already has (their credits are spent); only the
        jobs of `chat_id` when given, only the job `job_id` when given, none newer than the job
        `up_to` when given. Each cancelled job's status message says so, in the job's
        language. Returns what was done.
        """
        cancelled = await self._line.cancel(
            user_id,
            chat_id=chat_id,
            stop_submitted=stop_submitted,
            now=self._clock(),
            job_id=job_id,
            up_to=up_to,
        )
        for job_id in (*cancelled.waiting, *cancelled.stopped):
            try:
                job = await self._store.get(job_id)
                words = texts_for(job.language)
                uncharged = job_id in cancelled.waiting
                if uncharged:
                    self._meter.quota_refunded(job)
                text = words.CANCELLED_WAITING if uncharged else words.CANCELLED_SUBMITTED
                await self._progress.show_progress(job, text)
            except ChatError as error:
                log.info("job %s: could not mark its status as cancelled (%s)", job_id, error)
        if cancelled.waiting or cancelled.stopped:
            log.info(
                "user %s cancelled %d waiting and %d submitted job(s)",
                user_id,
                len(cancelled.waiting),
                len(cancelled.stopped),
            )
        return cancelled
