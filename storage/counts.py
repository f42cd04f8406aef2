"""The run-time allowlist, and the counts that access, budgets and /stats are decided on.

Plain records in, plain records out; the rules themselves live in `bot.policy.access`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.database import Database
from storage.jobs import (
    ACTIVE_STATES,
    COUNTS_AGAINST_BUDGET,
    JOB_COLUMNS,
    Job,
    JobState,
    JobStore,
    Lease,
    NewJob,
    states,
    to_job,
)
from storage.ledger import LedgerStore
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
    credits: int | None = None  # the video credits left, when the user pays (storage.ledger)


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


#: What admission decides from the counts: the state to record the job in, or None to refuse.
Decide = Callable[[UserCounts, BotCounts], JobState | None]


@dataclass(frozen=True, slots=True)
class Admitted:
    """What `AccessStore.admit` and `.readmit` did."""

    job: Job | None  # recorded (or taken up again); None: refused, or not new (see `new`)
    new: bool  # False: the message was a job already, or the job was no longer refused
    leased: bool = False  # `job` is held by the lease given (else another step holds it)


class AccessStore:
    """The access_overrides table, counts over the jobs table, and admission: judging a
    request on the counts and recording it, in one transaction. Shares the JobStore's
    database: build it with `AccessStore.of(store)`."""

    def __init__(self, database: Database, store: JobStore | None = None) -> None:
        self._database = database
        self._engine = database.engine
        self._reads = database.reads
        self._store = store
        self._ledger = LedgerStore(database)

    @classmethod
    def of(cls, store: JobStore) -> AccessStore:
        return cls(store.database, store)

    async def admit(
        self,
        request: NewJob,
        *,
        now: float,
        since: float,
        lease: Lease,
        decide: Decide,
        free_videos: int | None = None,
    ) -> Admitted:
        """Record `request` if `decide` lets it in on the counts of now (the user's, and the
        bot's since `since`), in the state it gives, held by `lease`. With `free_videos` (the
        user pays for videos), the counts carry the user's credits (a user never seen is
        granted `free_videos` first), and the job recorded spends one of them.

        The counts and the write are one transaction, taken in turn with every other
        admission and every take from the line, of every instance
        (`Database.take_admission_turn`): two requests judged at once never both take the last
        slot. A message recorded already (Telegram posted it again, to this instance or
        another) is neither judged nor recorded again: `new` is False.
        """
        assert self._store is not None, "build it with AccessStore.of(store)"
        async with self._engine.begin() as connection:
            await self._database.take_admission_turn(connection)
            if await self._recorded_in(connection, request.chat_id, request.request_message_id):
                return Admitted(job=None, new=False)
            mine = await self._user_counts_in(
                connection, request.user_id, since=since, free_videos=free_videos, now=now
            )
            state = decide(mine, await self._bot_counts_in(connection, since=since))
            if state is None:
                return Admitted(job=None, new=True)
            job = await self._store.record_in(
                connection, request, now=now, state=state, lease=lease
            )
            if job is not None and free_videos is not None:
                await self._ledger.spend_in(connection, job.user_id, job.id, now=now)
                job = dataclasses.replace(job, credit_used=True)
        return Admitted(job=job, new=job is not None, leased=job is not None)

    async def readmit(
        self,
        job_id: int,
        *,
        now: float,
        since: float,
        lease: Lease,
        decide: Decide,
        changes: dict[str, Any],
        free_videos: int | None = None,
    ) -> Admitted:
        """Take a REJECTED job up again, as `admit` takes a new request: judged by `decide` on
        the counts of its user and of the bot (and, with `free_videos`, their credits), and
        set to the state it gives with `changes`, in the same turn; a paid job spends a
        credit again (its refusal gave the first back). Held by `lease` when no other step
        holds the job (retelling its refusal, say); else made due, for the tick to go on with
        once that step let it go (`leased` False). A job no longer REJECTED (a second tap) is
        left alone: `new` False.
        """
        row = jobs.c
        async with self._engine.begin() as connection:
            await self._database.take_admission_turn(connection)
            found = (
                await connection.execute(
                    sa.select(row.user_id, row.state).where(row.id == job_id).with_for_update()
                )
            ).first()
            if found is None or found.state != JobState.REJECTED.value:
                return Admitted(job=None, new=False)
            user_id = int(found.user_id)
            mine = await self._user_counts_in(
                connection, user_id, since=since, free_videos=free_videos, now=now
            )
            state = decide(mine, await self._bot_counts_in(connection, since=since))
            if state is None:
                return Admitted(job=None, new=True)
            if free_videos is not None:  # its refusal gave its credit back: spent again
                await self._ledger.spend_in(connection, user_id, job_id, now=now)
            values = changes | {"state": state.value, "updated_at": now}
            if free_videos is None:  # they pay no more (made an admin, payments off)
                values["credit_used"] = None
            reopen = sa.update(jobs).where(row.id == job_id).returning(*JOB_COLUMNS)
            free = sa.or_(row.lease_until.is_(None), row.lease_until <= now)
            taken = (
                await connection.execute(
                    reopen.where(free).values(values | lease.columns() | {"next_poll_at": None})
                )
            ).first()
            if taken is not None:
                return Admitted(job=to_job(taken), new=True, leased=True)
            # Due for the tick only when it goes on now; one back in line waits for the line.
            later = now if state is JobState.RECEIVED else None
            due = (await connection.execute(reopen.values(values | {"next_poll_at": later}))).one()
        return Admitted(job=to_job(due), new=True, leased=False)

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
        async with self._reads.connect() as connection:
            return await self._user_counts_in(connection, user_id, since=since)

    async def bot_counts(self, *, since: float | None = None) -> BotCounts:
        """The bot's jobs at the paid API, those waiting in the local line, and (with `since`)
        those of every user counted against the day since then, as a user's are."""
        async with self._reads.connect() as connection:
            return await self._bot_counts_in(connection, since=since)

    async def _user_counts_in(
        self,
        connection: AsyncConnection,
        user_id: int,
        *,
        since: float,
        free_videos: int | None = None,
        now: float = 0.0,
    ) -> UserCounts:
        statement = sa.select(
            count_where(jobs.c.state.in_(states(*ACTIVE_STATES))),
            count_where(jobs.c.created_at >= since, COUNTS_AGAINST_BUDGET),
        ).where(jobs.c.user_id == user_id)
        active, today = (await connection.execute(statement)).one()
        credits = None
        if free_videos is not None:
            await self._ledger.grant_in(connection, user_id, free_videos, now=now)
            credits = await self._ledger.balance_in(connection, user_id)
        return UserCounts(active=int(active), today=int(today), credits=credits)

    @staticmethod
    async def _bot_counts_in(connection: AsyncConnection, *, since: float | None) -> BotCounts:
        load = sa.select(
            count_where(jobs.c.state.in_(states(*IN_FLIGHT_STATES))),
            count_where(jobs.c.state == JobState.WAITING.value),
        ).where(jobs.c.state.in_(states(*IN_FLIGHT_STATES, JobState.WAITING)))
        in_flight, waiting = (await connection.execute(load)).one()
        today = 0
        if since is not None:
            counted = sa.select(sa.func.count()).where(
                jobs.c.created_at >= since, COUNTS_AGAINST_BUDGET
            )
            today = int(await connection.scalar(counted) or 0)
        return BotCounts(in_flight=int(in_flight), waiting=int(waiting), today=today)

    @staticmethod
    async def _recorded_in(connection: AsyncConnection, chat_id: int, message_id: int) -> bool:
        statement = sa.select(jobs.c.id).where(
            jobs.c.chat_id == chat_id, jobs.c.request_message_id == message_id
        )
        return await connection.scalar(statement) is not None

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
