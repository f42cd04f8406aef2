"""The local line: WAITING jobs, first come first served, and the place each was last shown.

A waiting job is an ordinary row of the jobs table in state WAITING; the order is
(created_at, id). `line_places` remembers the place last shown to each waiting job, so a
place is edited only when it changes.
"""

from __future__ import annotations

from dataclasses import dataclass

import aiosqlite

from storage.counts import IN_FLIGHT_STATES, sql_states
from storage.jobs import IN_CHAT_OR_MOVED_THERE, JobState, JobStore

_WAITING = JobState.WAITING.value
_FIFO = "ORDER BY created_at, id"


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
    """Reads and moves the line. Shares the JobStore's connection: `LineStore.of(store)`."""

    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db

    @classmethod
    def of(cls, store: JobStore) -> LineStore:
        return cls(store.db)

    async def claim(self, *, max_in_flight: int, now: float, most: int | None = None) -> list[int]:
        """Take as many jobs off the head of the line as there are free slots, moving them to
        RECEIVED (so they count as in flight); returns their ids, first in line first, `most`
        of them at the most. A job back in line because the API was busy is taken only once
        its `retry_at` has come, and the jobs behind it wait for it.

        The caller must hold the admission lock, so that intake cannot take the same slots.
        """
        async with self._db.execute(
            f"SELECT COUNT(*) FROM jobs WHERE state IN {sql_states(*IN_FLIGHT_STATES)}"
        ) as cursor:
            row = await cursor.fetchone()
        free = max_in_flight - (int(row[0]) if row else 0)
        if most is not None:
            free = min(free, most)
        if free <= 0:
            return []
        async with self._db.execute(
            f"SELECT id, retry_at FROM jobs WHERE state = ? {_FIFO} LIMIT ?", (_WAITING, free)
        ) as cursor:
            rows = await cursor.fetchall()
        ids = []
        for job_id, retry_at in rows:
            if retry_at is not None and retry_at > now:
                break  # its pause is not over, and those behind it do not overtake it
            ids.append(int(job_id))
        claimed = []
        for job_id in ids:
            # Conditional: a /cancel may have taken the job out of the line meanwhile.
            cursor = await self._db.execute(
                "UPDATE jobs SET state = ?, updated_at = ? WHERE id = ? AND state = ?",
                (JobState.RECEIVED.value, now, job_id, _WAITING),
            )
            if cursor.rowcount == 1:
                claimed.append(job_id)
        await self._db.executemany(
            "DELETE FROM line_places WHERE job_id = ?", [(job_id,) for job_id in claimed]
        )
        await self._db.commit()
        return claimed

    async def places(self) -> list[LinePlace]:
        """Every waiting job with its place and the place last shown, first in line first."""
        async with self._db.execute(
            "SELECT jobs.id, line_places.place FROM jobs "
            "LEFT JOIN line_places ON line_places.job_id = jobs.id "
            f"WHERE jobs.state = ? {_FIFO}",
            (_WAITING,),
        ) as cursor:
            rows = await cursor.fetchall()
        return [
            LinePlace(int(job_id), place, None if shown is None else int(shown))
            for place, (job_id, shown) in enumerate(rows, start=1)
        ]

    async def place_of(self, job_id: int) -> int | None:
        """The job's place in line (1 = next), or None when it is not waiting."""
        async with self._db.execute(
            "SELECT COUNT(*) FROM jobs AS ahead, jobs AS this WHERE this.id = ? "
            "AND this.state = ? AND ahead.state = ? AND (ahead.created_at < this.created_at "
            "OR (ahead.created_at = this.created_at AND ahead.id <= this.id))",
            (job_id, _WAITING, _WAITING),
        ) as cursor:
            row = await cursor.fetchone()
        place = int(row[0]) if row else 0
        return place or None

    async def note_shown(self, job_id: int, place: int) -> None:
        """Remember the place the job's user now sees."""
        await self._db.execute(
            "INSERT INTO line_places (job_id, place) VALUES (?, ?) "
            "ON CONFLICT (job_id) DO UPDATE SET place = excluded.place",
            (job_id, place),
        )
        await self._db.commit()

    async def forget_shown(self, job_id: int) -> None:
        """Forget the place noted for a job: it is shown again at the next chance."""
        await self._db.execute("DELETE FROM line_places WHERE job_id = ?", (job_id,))
        await self._db.commit()

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
        where = "user_id = ?"
        params: list[object] = [user_id]
        if chat_id is not None:
            where += f" AND {IN_CHAT_OR_MOVED_THERE}"
            params += [chat_id, chat_id]
        if job_id is not None:
            where += " AND id = ?"
            params.append(job_id)
        if up_to is not None:
            where += " AND id <= ?"
            params.append(up_to)
        cancel = (
            f"UPDATE jobs SET state = '{JobState.CANCELLED.value}', next_poll_at = NULL, "
            f"updated_at = ? WHERE {where} AND state IN "
        )
        async with self._db.execute(
            cancel + sql_states(JobState.WAITING) + " RETURNING id", (now, *params)
        ) as cursor:
            waiting = sorted(int(r[0]) for r in await cursor.fetchall())
        stopped: list[int] = []
        if stop_submitted:
            async with self._db.execute(
                cancel + sql_states(*_STOPPABLE) + " RETURNING id", (now, *params)
            ) as cursor:
                stopped = sorted(int(r[0]) for r in await cursor.fetchall())
        await self._db.executemany(
            "DELETE FROM line_places WHERE job_id = ?", [(job_id,) for job_id in waiting]
        )
        await self._db.commit()
        async with self._db.execute(
            f"SELECT COALESCE(SUM(state IN {sql_states(*_BUSY)}), 0), "
            f"COALESCE(SUM(state IN {sql_states(*_STOPPABLE)}), 0) FROM jobs WHERE {where}",
            params,
        ) as cursor:
            row = await cursor.fetchone()
        busy, at_service = (int(row[0]), int(row[1])) if row else (0, 0)
        return Cancelled(waiting=waiting, stopped=stopped, busy=busy, at_service=at_service)
