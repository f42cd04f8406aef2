"""The run-time allowlist, and the counts that access, budgets and /stats are decided on.

Plain records in, plain records out; the rules themselves live in `bot.policy.access`.
"""

from __future__ import annotations

from dataclasses import dataclass

import aiosqlite

from storage.jobs import ACTIVE_STATES, JobState, JobStore
from storage.reasons import Reason


def sql_states(*states: JobState) -> str:
    """An SQL list of state literals. Only enum values are ever put in it, never input."""
    return "(" + ", ".join(f"'{state.value}'" for state in states) + ")"


#: Jobs at the paid API, or about to be: they count against MAX_ACTIVE_JOBS. A COMPLETED job
#: only waits to be sent to Telegram; the API is done with it.
IN_FLIGHT_STATES = (
    JobState.RECEIVED,
    JobState.SUBMITTING,
    JobState.QUEUED,
    JobState.GENERATING,
    JobState.LATE,
)
#: Jobs that ended without a video after the paid API took them (or may have): /stats' failures.
_FAILED_STATES = (
    JobState.FAILED,
    JobState.TIMED_OUT,
    JobState.INTERRUPTED,
    JobState.UNDELIVERABLE,
)
#: Jobs that ended after the paid API took them (or may have): /stats' "finished".
FINISHED_STATES = (JobState.DELIVERED, *_FAILED_STATES)

#: A job counts against the daily budget while it waits or runs, and once it cost (or may have
#: cost) credits and made a video. Failed, timed-out, refused and never-sent jobs give it back.
_COUNTS_TODAY = f"""(
    state IN {sql_states(*ACTIVE_STATES, JobState.DELIVERED, JobState.UNDELIVERABLE)}
    OR (state = '{JobState.INTERRUPTED.value}' AND COALESCE(reason, '') != ?)
    OR (state = '{JobState.CANCELLED.value}' AND submitted_at IS NOT NULL)
)"""


@dataclass(frozen=True, slots=True)
class AccessOverride:
    """One run-time /allow or /deny."""

    user_id: int
    allowed: bool
    changed_by: int | None
    changed_at: float


@dataclass(frozen=True, slots=True)
class UserCounts:
    active: int  # waiting or in flight
    today: int  # counted against the daily budget since `since`


@dataclass(frozen=True, slots=True)
class BotCounts:
    in_flight: int
    waiting: int
    today: int = 0  # the whole bot's jobs counted against the day since `since`


@dataclass(frozen=True, slots=True)
class FailureCount:
    """How many of the week's jobs ended in `state` for `reason` (and the API's words)."""

    state: JobState
    reason: Reason | None
    count: int
    api_reason: str | None = None


@dataclass(frozen=True, slots=True)
class JobStats:
    """The raw figures behind /stats."""

    requests_today: int
    submitted_today: int
    requests_week: int
    submitted_week: int
    finished_week: int
    delivered_week: int
    delivery_seconds: list[float]  # submission → delivery, of the week's delivered jobs
    failures: list[FailureCount]  # the week's, most frequent first
    in_flight: int
    waiting: int
    usage_today: dict[str, float]  # what the API reported today's jobs cost, by unit


class AccessStore:
    """The access_overrides table, and counts over the jobs table. Shares the JobStore's
    connection: build it with `AccessStore.of(store)`."""

    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db

    @classmethod
    def of(cls, store: JobStore) -> AccessStore:
        return cls(store.db)

    async def overrides(self) -> list[AccessOverride]:
        """Every run-time /allow and /deny, oldest first."""
        async with self._db.execute(
            "SELECT user_id, allowed, changed_by, changed_at FROM access_overrides "
            "ORDER BY changed_at, user_id"
        ) as cursor:
            rows = await cursor.fetchall()
        return [AccessOverride(int(u), bool(a), by, float(at)) for u, a, by, at in rows]

    async def set_override(
        self, user_id: int, *, allowed: bool, changed_by: int | None, now: float
    ) -> None:
        """Record /allow (`allowed`) or /deny for a user, replacing any earlier one."""
        await self._db.execute(
            "INSERT INTO access_overrides (user_id, allowed, changed_by, changed_at) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (user_id) DO UPDATE SET "
            "allowed = excluded.allowed, changed_by = excluded.changed_by, "
            "changed_at = excluded.changed_at",
            (user_id, int(allowed), changed_by, now),
        )
        await self._db.commit()

    async def user_counts(self, user_id: int, *, since: float) -> UserCounts:
        """A user's jobs in flight now, and those counted against the budget since `since`."""
        async with self._db.execute(
            f"SELECT COALESCE(SUM(state IN {sql_states(*ACTIVE_STATES)}), 0), "
            f"COALESCE(SUM(created_at >= ? AND {_COUNTS_TODAY}), 0) "
            "FROM jobs WHERE user_id = ?",
            (since, Reason.NOT_SUBMITTED.value, user_id),
        ) as cursor:
            row = await cursor.fetchone()
        assert row is not None
        return UserCounts(active=int(row[0]), today=int(row[1]))

    async def bot_counts(self, *, since: float | None = None) -> BotCounts:
        """The bot's jobs at the paid API, those waiting in the local line, and (with `since`)
        those of every user counted against the day since then, as a user's are."""
        async with self._db.execute(
            f"SELECT COALESCE(SUM(state IN {sql_states(*IN_FLIGHT_STATES)}), 0), "
            f"COALESCE(SUM(state = '{JobState.WAITING.value}'), 0) "
            f"FROM jobs WHERE state IN {sql_states(*IN_FLIGHT_STATES, JobState.WAITING)}"
        ) as cursor:
            row = await cursor.fetchone()
        assert row is not None
        today = 0
        if since is not None:
            async with self._db.execute(
                f"SELECT COUNT(*) FROM jobs WHERE created_at >= ? AND {_COUNTS_TODAY}",
                (since, Reason.NOT_SUBMITTED.value),
            ) as cursor:
                counted = await cursor.fetchone()
            today = int(counted[0]) if counted else 0
        return BotCounts(in_flight=int(row[0]), waiting=int(row[1]), today=today)

    async def jobs_by_state(self) -> dict[JobState, int]:
        """How many jobs are in each state, of all ever recorded; a state with none is left
        out."""
        async with self._db.execute("SELECT state, COUNT(*) FROM jobs GROUP BY state") as cursor:
            rows = await cursor.fetchall()
        return {JobState(state): int(count) for state, count in rows}

    async def recorded_id(self, chat_id: int, request_message_id: int) -> int | None:
        """The id of the job this chat's message became, or None when it is none."""
        async with self._db.execute(
            "SELECT id FROM jobs WHERE chat_id = ? AND request_message_id = ?",
            (chat_id, request_message_id),
        ) as cursor:
            row = await cursor.fetchone()
        return None if row is None else int(row[0])

    async def is_recorded(self, chat_id: int, request_message_id: int) -> bool:
        """Whether this chat's message is already a job (Telegram redelivered the update)."""
        async with self._db.execute(
            "SELECT 1 FROM jobs WHERE chat_id = ? AND request_message_id = ?",
            (chat_id, request_message_id),
        ) as cursor:
            return await cursor.fetchone() is not None

    async def stats(self, *, today: float, week: float) -> JobStats:
        """The figures behind /stats: requests since `today` and since `week` (timestamps),
        and the outcomes of the jobs created since `week`."""
        async with self._db.execute(
            "SELECT COALESCE(SUM(created_at >= ?), 0), "
            "COALESCE(SUM(created_at >= ? AND submitted_at IS NOT NULL), 0), "
            "COUNT(*), COALESCE(SUM(submitted_at IS NOT NULL), 0), "
            f"COALESCE(SUM(state IN {sql_states(*FINISHED_STATES)}), 0), "
            f"COALESCE(SUM(state = '{JobState.DELIVERED.value}'), 0) "
            "FROM jobs WHERE created_at >= ?",
            (today, today, week),
        ) as cursor:
            totals = await cursor.fetchone()
        assert totals is not None
        async with self._db.execute(
            "SELECT delivered_at - submitted_at FROM jobs WHERE created_at >= ? AND state = ? "
            "AND delivered_at IS NOT NULL AND submitted_at IS NOT NULL",
            (week, JobState.DELIVERED.value),
        ) as cursor:
            durations = [float(row[0]) for row in await cursor.fetchall()]
        async with self._db.execute(
            "SELECT state, reason, api_reason, COUNT(*) AS n FROM jobs "
            f"WHERE created_at >= ? AND state IN {sql_states(*_FAILED_STATES)} "
            "GROUP BY state, reason, api_reason ORDER BY n DESC, state, reason, api_reason",
            (week,),
        ) as cursor:
            failures = [
                FailureCount(
                    JobState(state),
                    Reason(reason) if reason is not None else None,
                    int(n),
                    api_reason,
                )
                for state, reason, api_reason, n in await cursor.fetchall()
            ]
        async with self._db.execute(
            "SELECT usage_unit, SUM(usage_amount) FROM jobs "
            "WHERE created_at >= ? AND usage_unit IS NOT NULL GROUP BY usage_unit "
            "ORDER BY usage_unit",
            (today,),
        ) as cursor:
            usage = {str(unit): float(total) for unit, total in await cursor.fetchall()}
        load = await self.bot_counts()
        return JobStats(
            requests_today=int(totals[0]),
            submitted_today=int(totals[1]),
            requests_week=int(totals[2]),
            submitted_week=int(totals[3]),
            finished_week=int(totals[4]),
            delivered_week=int(totals[5]),
            delivery_seconds=durations,
            failures=failures,
            in_flight=load.in_flight,
            waiting=load.waiting,
            usage_today=usage,
        )
