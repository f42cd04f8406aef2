"""The local line: WAITING jobs, first come first served, and the place each was last shown.

A waiting job is an ordinary row of the jobs table in state WAITING; the order is
(created_at, id). `line_places` remembers the place last shown to each waiting job, so a
place is edited only when it changes.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from storage.counts import IN_FLIGHT_STATES, count_where
from storage.database import Database
from storage.jobs import JobState, JobStore, Lease, in_chat_or_moved_there, states
from storage.schema import jobs, line_places

_WAITING = JobState.WAITING.value
#: First come, first served.
_FIFO = (jobs.c.created_at, jobs.c.id)


@dataclass(frozen=True, slots=True)
class LinePlace:
    """A waiting job's place now (1 = next), and the place its user last saw (None: never)."""

    job_id: int
    place: int
    shown: int | None


@dataclass(frozen=True, slots=True)
class Cancelled:
    """What /cancel did to a user's jobs."""

    waiting: list[int]  # ids taken out of the line: never charged
    stopped: list[int]  # ids already at the paid API that are no longer followed
    busy: int  # jobs being sent or delivered right now, which cannot be stopped
    at_service: int = 0  # jobs the paid API is making, left alone (not `stop_submitted`)


#: Jobs that /cancel stops following: the API has them, the video is not ready.
_STOPPABLE = (JobState.QUEUED, JobState.GENERATING, JobState.LATE)
#: Jobs that /cancel leaves alone: mid-submission (stopping could lose track of a charge), or
#: finished and about to be sent.
_BUSY = (JobState.RECEIVED, JobState.SUBMITTING, JobState.COMPLETED)


class LineStore:
    """Reads and moves the line. Shares the JobStore's database: `LineStore.of(store)`."""

    def __init__(self, database: Database) -> None:
        self._engine = database.engine
        self._reads = database.reads
        self._database = database

    @classmethod
    def of(cls, store: JobStore) -> LineStore:
        return cls(store.database)

    async def claim(
        self, *, max_in_flight: int, now: float, lease: Lease, most: int | None = None
    ) -> list[int]:
        """Take as many jobs off the head of the line as there are free slots, moving them to
        RECEIVED (so they count as in flight), each held by `lease`; returns their ids, first
        in line first, `most` of them at the most. A job back in line because the API was
        busy is taken only once its `retry_at` has come, and one another step holds (its place
        being shown) once that step let it go; the jobs behind either wait for it.

        Counted and taken in admission's turn (`Database.take_admission_turn`), so that no
        request admitted at the same moment, in any instance, takes the same slots.
        """
        in_flight = sa.select(sa.func.count()).where(jobs.c.state.in_(states(*IN_FLIGHT_STATES)))
        async with self._engine.begin() as connection:
            await self._database.take_admission_turn(connection)
            free = max_in_flight - int(await connection.scalar(in_flight) or 0)
            if most is not None:
                free = min(free, most)
            if free <= 0:
                return []
            # Find and claim in one transaction. SKIP LOCKED: on PostgreSQL a head row that
            # another transaction is taking (a /cancel) is passed over, not waited for;
            # SQLite, one writer at a time, leaves the clause out.
            head = (
                sa.select(jobs.c.id, jobs.c.retry_at, jobs.c.lease_until)
                .where(jobs.c.state == _WAITING)
                .order_by(*_FIFO)
                .limit(free)
                .with_for_update(skip_locked=True)
            )
            ids = []
            for job_id, retry_at, lease_until in await connection.execute(head):
                if retry_at is not None and retry_at > now:
                    break  # its pause is not over, and those behind it do not overtake it
                if lease_until is not None and lease_until > now:
                    break  # its place is being shown: taken at the next pass
                ids.append(int(job_id))
            if not ids:
                return []
            # Conditional: a /cancel may have taken a job out of the line meanwhile.
            take = (
                sa.update(jobs)
                .where(jobs.c.id.in_(ids), jobs.c.state == _WAITING)
                .values(lease.columns() | {"state": JobState.RECEIVED.value, "updated_at": now})
                .returning(jobs.c.id)
            )
            taken = {int(job_id) for job_id in await connection.scalars(take)}
            claimed = [job_id for job_id in ids if job_id in taken]
            await connection.execute(
                sa.delete(line_places).where(line_places.c.job_id.in_(claimed))
            )
        return claimed

    async def places(self) -> list[LinePlace]:
        """Every waiting job with its place and the place last shown, first in line first."""
        statement = (
            sa.select(jobs.c.id, line_places.c.place)
            .select_from(jobs.outerjoin(line_places, line_places.c.job_id == jobs.c.id))
            .where(jobs.c.state == _WAITING)
            .order_by(*_FIFO)
        )
        async with self._reads.connect() as connection:
            rows = (await connection.execute(statement)).all()
        return [
            LinePlace(int(job_id), place, None if shown is None else int(shown))
            for place, (job_id, shown) in enumerate(rows, start=1)
        ]

    async def place_of(self, job_id: int) -> int | None:
        """The job's place in line (1 = next), or None when it is not waiting."""
        ahead, this = jobs.alias("ahead"), jobs.alias("this")
        statement = sa.select(sa.func.count()).where(
            this.c.id == job_id,
            this.c.state == _WAITING,
            ahead.c.state == _WAITING,
            sa.or_(
                ahead.c.created_at < this.c.created_at,
                sa.and_(ahead.c.created_at == this.c.created_at, ahead.c.id <= this.c.id),
            ),
        )
        async with self._reads.connect() as connection:
            place = int(await connection.scalar(statement) or 0)
        return place or None

    async def note_shown(self, job_id: int, place: int) -> bool:
        """Remember the place the job's user is about to see; False when that very place was
        noted already (by intake or by another pass of the tick), which then shows it: the
        caller must not show it again. One statement compares and sets, on either engine."""
        insert = self._database.insert(line_places).values(job_id=job_id, place=place)
        statement = insert.on_conflict_do_update(
            index_elements=[line_places.c.job_id],
            set_={"place": insert.excluded.place},
            where=line_places.c.place != insert.excluded.place,
        ).returning(line_places.c.job_id)
        async with self._engine.begin() as connection:
            return (await connection.execute(statement)).first() is not None

    async def forget_shown(self, job_id: int) -> None:
        """Forget the place noted for a job: it is shown again at the next chance."""
        async with self._engine.begin() as connection:
            await connection.execute(sa.delete(line_places).where(line_places.c.job_id == job_id))

    async def cancel(
        self,
        user_id: int,
        *,
        chat_id: int | None,
        stop_submitted: bool,
        now: float,
        job_id: int | None = None,
        up_to: int | None = None,
    ) -> Cancelled:
        """Cancel a user's waiting jobs (and, with `stop_submitted`, stop following those at
        the API); only those of `chat_id` (or of a group that became it) when given, only
        `job_id` when given, only those up to the job id `up_to` when given (the jobs a
        question was about, not those asked for since). Cancelled jobs are never touched
        again."""
        theirs = [jobs.c.user_id == user_id]
        if chat_id is not None:
            theirs.append(in_chat_or_moved_there(chat_id))
        if job_id is not None:
            theirs.append(jobs.c.id == job_id)
        if up_to is not None:
            theirs.append(jobs.c.id <= up_to)

        def cancel(*found: JobState) -> sa.Update:
            return (
                sa.update(jobs)
                .where(*theirs, jobs.c.state.in_(states(*found)))
                .values(state=JobState.CANCELLED.value, next_poll_at=None, updated_at=now)
                .returning(jobs.c.id)
            )

        left = sa.select(
            count_where(jobs.c.state.in_(states(*_BUSY))),
            count_where(jobs.c.state.in_(states(*_STOPPABLE))),
        ).where(*theirs)
        async with self._engine.begin() as connection:
            waiting = sorted(int(i) for i in await connection.scalars(cancel(JobState.WAITING)))
            stopped: list[int] = []
            if stop_submitted:
                stopped = sorted(int(i) for i in await connection.scalars(cancel(*_STOPPABLE)))
            await connection.execute(
                sa.delete(line_places).where(line_places.c.job_id.in_(waiting))
            )
            busy, at_service = (await connection.execute(left)).one()
        return Cancelled(
            waiting=waiting, stopped=stopped, busy=int(busy), at_service=int(at_service)
        )
