"""The run-time allowlist, and the counts that access, budgets and /stats are decided on.

Plain records in, plain records out; the rules themselves live in `bot.policy.access`.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from storage.database import Database
from storage.jobs import ACTIVE_STATES, JobState, JobStore, states
from storage.reasons import Reason
from storage.schema import access_overrides, jobs

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
_COUNTS_TODAY = sa.or_(
    jobs.c.state.in_(states(*ACTIVE_STATES, JobState.DELIVERED, JobState.UNDELIVERABLE)),
    sa.and_(
        jobs.c.state == JobState.INTERRUPTED.value,
        sa.func.coalesce(jobs.c.reason, "") != Reason.NOT_SUBMITTED.value,
    ),
    sa.and_(jobs.c.state == JobState.CANCELLED.value, jobs.c.submitted_at.is_not(None)),
)


def count_where(*conditions: sa.ColumnElement[bool]) -> sa.ColumnElement[int]:
    """How many of the rows counted hold all `conditions` (COUNT(*) FILTER, on both engines)."""
    return sa.func.count().filter(sa.and_(*conditions))


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
    database: build it with `AccessStore.of(store)`."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self._engine = database.engine
        self._reads = database.reads

    @classmethod
    def of(cls, store: JobStore) -> AccessStore:
        return cls(store.database)

    async def overrides(self) -> list[AccessOverride]:
        """Every run-time /allow and /deny, oldest first."""
        statement = sa.select(
            access_overrides.c.user_id,
            access_overrides.c.allowed,
            access_overrides.c.changed_by,
            access_overrides.c.changed_at,
        ).order_by(access_overrides.c.changed_at, access_overrides.c.user_id)
        async with self._reads.connect() as connection:
            rows = (await connection.execute(statement)).all()
        return [
            AccessOverride(int(u), bool(a), None if by is None else int(by), float(at))
            for u, a, by, at in rows
        ]

    async def set_override(
        self, user_id: int, *, allowed: bool, changed_by: int | None, now: float
    ) -> None:
        """Record /allow (`allowed`) or /deny for a user, replacing any earlier one."""
        insert = self._database.insert(access_overrides).values(
            user_id=user_id, allowed=allowed, changed_by=changed_by, changed_at=now
        )
        statement = insert.on_conflict_do_update(
            index_elements=[access_overrides.c.user_id],
            set_={
                "allowed": insert.excluded.allowed,
                "changed_by": insert.excluded.changed_by,
                "changed_at": insert.excluded.changed_at,
            },
        )
        async with self._engine.begin() as connection:
            await connection.execute(statement)

    async def user_counts(self, user_id: int, *, since: float) -> UserCounts:
        """A user's jobs in flight now, and those counted against the budget since `since`."""
        statement = sa.select(
            count_where(jobs.c.state.in_(states(*ACTIVE_STATES))),
            count_where(jobs.c.created_at >= since, _COUNTS_TODAY),
        ).where(jobs.c.user_id == user_id)
        async with self._reads.connect() as connection:
            active, today = (await connection.execute(statement)).one()
        return UserCounts(active=int(active), today=int(today))

    async def bot_counts(self, *, since: float | None = None) -> BotCounts:
        """The bot's jobs at the paid API, those waiting in the local line, and (with `since`)
        those of every user counted against the day since then, as a user's are."""
        load = sa.select(
            count_where(jobs.c.state.in_(states(*IN_FLIGHT_STATES))),
            count_where(jobs.c.state == JobState.WAITING.value),
        ).where(jobs.c.state.in_(states(*IN_FLIGHT_STATES, JobState.WAITING)))
        async with self._reads.connect() as connection:
            in_flight, waiting = (await connection.execute(load)).one()
            today = 0
            if since is not None:
                counted = sa.select(sa.func.count()).where(
                    jobs.c.created_at >= since, _COUNTS_TODAY
                )
                today = int(await connection.scalar(counted) or 0)
        return BotCounts(in_flight=int(in_flight), waiting=int(waiting), today=today)

    async def jobs_by_state(self) -> dict[JobState, int]:
        """How many jobs are in each state, of all ever recorded; a state with none is left
        out."""
        statement = sa.select(jobs.c.state, sa.func.count()).group_by(jobs.c.state)
        async with self._reads.connect() as connection:
            rows = (await connection.execute(statement)).all()
        return {JobState(state): int(count) for state, count in rows}

    async def recorded_id(self, chat_id: int, request_message_id: int) -> int | None:
        """The id of the job this chat's message became, or None when it is none."""
        statement = sa.select(jobs.c.id).where(
            jobs.c.chat_id == chat_id, jobs.c.request_message_id == request_message_id
        )
        async with self._reads.connect() as connection:
            found = await connection.scalar(statement)
        return None if found is None else int(found)

    async def is_recorded(self, chat_id: int, request_message_id: int) -> bool:
        """Whether this chat's message is already a job (Telegram redelivered the update)."""
        return await self.recorded_id(chat_id, request_message_id) is not None

    async def stats(self, *, today: float, week: float) -> JobStats:
        """The figures behind /stats: requests since `today` and since `week` (timestamps),
        and the outcomes of the jobs created since `week`."""
        submitted = jobs.c.submitted_at.is_not(None)
        totals = sa.select(
            count_where(jobs.c.created_at >= today),
            count_where(jobs.c.created_at >= today, submitted),
            sa.func.count(),
            count_where(submitted),
            count_where(jobs.c.state.in_(states(*FINISHED_STATES))),
            count_where(jobs.c.state == JobState.DELIVERED.value),
        ).where(jobs.c.created_at >= week)
        durations = sa.select(jobs.c.delivered_at - jobs.c.submitted_at).where(
            jobs.c.created_at >= week,
            jobs.c.state == JobState.DELIVERED.value,
            jobs.c.delivered_at.is_not(None),
            submitted,
        )
        n = sa.func.count().label("n")
        failures = (
            sa.select(jobs.c.state, jobs.c.reason, jobs.c.api_reason, n)
            .where(jobs.c.created_at >= week, jobs.c.state.in_(states(*_FAILED_STATES)))
            .group_by(jobs.c.state, jobs.c.reason, jobs.c.api_reason)
            # NULLs first, as SQLite puts them and PostgreSQL would not unless told.
            .order_by(
                n.desc(), jobs.c.state, jobs.c.reason.nulls_first(), jobs.c.api_reason.nulls_first()
            )
        )
        usage = (
            sa.select(jobs.c.usage_unit, sa.func.sum(jobs.c.usage_amount))
            .where(jobs.c.created_at >= today, jobs.c.usage_unit.is_not(None))
            .group_by(jobs.c.usage_unit)
            .order_by(jobs.c.usage_unit)
        )
        async with self._reads.connect() as connection:
            counted = [int(value) for value in (await connection.execute(totals)).one()]
            seconds = [float(took) for took in await connection.scalars(durations)]
            failed = [
                FailureCount(
                    JobState(state),
                    Reason(reason) if reason is not None else None,
                    int(count),
                    api_reason,
                )
                for state, reason, api_reason, count in await connection.execute(failures)
            ]
            used = {str(unit): float(total) for unit, total in await connection.execute(usage)}
        load = await self.bot_counts()
        return JobStats(
            requests_today=counted[0],
            submitted_today=counted[1],
            requests_week=counted[2],
            submitted_week=counted[3],
            finished_week=counted[4],
            delivered_week=counted[5],
            delivery_seconds=seconds,
            failures=failed,
            in_flight=load.in_flight,
            waiting=load.waiting,
            usage_today=used,
        )
