"""Leases: which instance works on which job, so that no step runs twice at once.

Every step that must happen once (submit, poll, deliver, edit a status message, take from the
line) holds a lease on the job's row while it runs: an owner (the instance) and an expiry. The
lease is taken in the same statement that finds the work, so two instances (or two ticks of
one) never take the same job; on PostgreSQL that statement locks the rows it finds with
`FOR UPDATE SKIP LOCKED`, so a second claimer passes over them instead of waiting. SQLite,
one writer at a time, leaves the clause out.

A running instance renews its leases (a heartbeat) long before they expire, and releases each
when its step ends: `lease_until` NULL, the owner kept as the last to have worked on the job.
An instance that dies renews nothing: once its leases expire, another instance takes the work
over (`claim_due`, `take`), noting whose lease ran out in `taken_over_from`. A job cut off in
the middle of a submission is never submitted again: `recover_abandoned` marks it interrupted,
to be explained, as a restart did before there were leases.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from storage.database import Database
from storage.jobs import JOB_COLUMNS, Job, JobState, JobStore, to_job
from storage.reasons import Reason
from storage.schema import jobs, updates

#: A job whose lease ran out while its video was being sent: the send may have reached the
#: chat, so it counts as one Telegram never answered (`Job.unanswered_sends`).
_DELIVERING = JobState.COMPLETED.value


def is_free(table: sa.Table, now: float) -> sa.ColumnElement[bool]:
    """No live lease on the row: never leased, released, or expired by `now`."""
    return sa.or_(table.c.lease_until.is_(None), table.c.lease_until <= now)


def _taken_over_from(owner: str) -> sa.ColumnElement[Any]:
    """`taken_over_from` as `owner` takes a job: the owner before, when its lease was held
    and ran out (SET expressions read the row as it was before)."""
    ran_out = sa.and_(jobs.c.lease_until.is_not(None), jobs.c.lease_owner != owner)
    return sa.case((ran_out, jobs.c.lease_owner), else_=jobs.c.taken_over_from)


def _lease_values(*, owner: str, until: float) -> dict[str, Any]:
    """What taking a job's lease sets, noting an owner whose lease ran out."""
    ran_out = sa.and_(jobs.c.lease_until.is_not(None), jobs.c.lease_owner != owner)
    return {
        "lease_owner": owner,
        "lease_until": until,
        "taken_over_from": _taken_over_from(owner),
        # A send cut off by its instance's death may have posted the video: one unanswered.
        "unanswered_sends": sa.case(
            (sa.and_(ran_out, jobs.c.state == _DELIVERING), jobs.c.unanswered_sends + 1),
            else_=jobs.c.unanswered_sends,
        ),
    }


def _held_by(table: sa.Table, owner: str) -> list[sa.ColumnElement[bool]]:
    """The rows of `table` (jobs or updates) whose lease `owner` holds."""
    return [table.c.lease_owner == owner, table.c.lease_until.is_not(None)]


class LeaseStore:
    """Takes, renews and releases the leases on jobs and on webhook updates. Shares the
    JobStore's database: `LeaseStore.of(store)`."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self._engine = database.engine

    @classmethod
    def of(cls, store: JobStore) -> LeaseStore:
        return cls(store.database)

    async def claim_due(self, *, owner: str, now: float, until: float, limit: int) -> list[Job]:
        """The jobs whose next action is due by `now` and that no live lease holds, `limit` of
        them at most, oldest due first, each leased to `owner` until `until`: found and leased
        in one statement."""
        found = (
            sa.select(jobs.c.id)
            .where(jobs.c.next_poll_at.is_not(None), jobs.c.next_poll_at <= now, is_free(jobs, now))
            .order_by(jobs.c.next_poll_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        statement = (
            sa.update(jobs)
            .where(jobs.c.id.in_(found))
            .values(_lease_values(owner=owner, until=until))
            .returning(*JOB_COLUMNS)
        )
        async with self._engine.begin() as connection:
            claimed = [to_job(row) for row in await connection.execute(statement)]
        # RETURNING keeps no order: the oldest due goes first, as it was found.
        return sorted(claimed, key=lambda job: (job.next_poll_at or 0.0, job.id))

    async def take(self, job_id: int, *, owner: str, now: float, until: float) -> Job | None:
        """Lease one job to `owner` until `until`; None when a live lease holds it (another
        step is working on it, here or in another instance), or there is no such job."""
        statement = (
            sa.update(jobs)
            .where(jobs.c.id == job_id, is_free(jobs, now))
            .values(_lease_values(owner=owner, until=until))
            .returning(*JOB_COLUMNS)
        )
        async with self._engine.begin() as connection:
            row = (await connection.execute(statement)).first()
        return None if row is None else to_job(row)

    async def confirm(
        self,
        job_id: int,
        *,
        owner: str,
        until: float,
        expected: str | None = None,
        **changes: Any,
    ) -> Job | None:
        """Renew `owner`'s lease on the job until `until`, with `changes`, only if it still
        holds it (and, with `expected`, the job is still in that state); None when another
        instance took the job over meanwhile (the lease ran out while `owner` was slow, not
        dead), or it moved on. A step that must not run twice asks this just before it acts,
        in the same statement as its own write (SUBMITTING before a create)."""
        values = changes | {"lease_until": until}
        statement = (
            sa.update(jobs)
            .where(
                jobs.c.id == job_id, jobs.c.lease_owner == owner, jobs.c.lease_until.is_not(None)
            )
            .values(values)
            .returning(*JOB_COLUMNS)
        )
        if expected is not None:
            statement = statement.where(jobs.c.state == expected)
        async with self._engine.begin() as connection:
            row = (await connection.execute(statement)).first()
        return None if row is None else to_job(row)

    async def release(self, job_id: int, *, owner: str) -> None:
        """End `owner`'s lease on the job, if it still holds it; the owner stays recorded as
        the last to have worked on it."""
        statement = (
            sa.update(jobs)
            .where(
                jobs.c.id == job_id, jobs.c.lease_owner == owner, jobs.c.lease_until.is_not(None)
            )
            .values(lease_until=None)
        )
        async with self._engine.begin() as connection:
            await connection.execute(statement)

    async def renew(self, *, owner: str, until: float, job_ids: list[int] | None = None) -> int:
        """The heartbeat: every lease `owner` holds on updates, and on jobs (only those of
        `job_ids` when given: the steps still running), now holds until `until`; returns how
        many job leases it renewed."""
        held = _held_by(jobs, owner)
        if job_ids is not None:
            held.append(jobs.c.id.in_(job_ids))
        async with self._engine.begin() as connection:
            renewed = await connection.execute(
                sa.update(jobs).where(*held).values(lease_until=until)
            )
            await connection.execute(
                sa.update(updates).where(*_held_by(updates, owner)).values(lease_until=until)
            )
        return int(renewed.rowcount)

    async def release_all(self, *, owner: str) -> int:
        """Release every lease `owner` still holds (a clean stop), so that other instances
        carry on at once instead of after the expiry; returns how many job leases."""
        async with self._engine.begin() as connection:
            released = await connection.execute(
                sa.update(jobs).where(*_held_by(jobs, owner)).values(lease_until=None)
            )
            await connection.execute(
                sa.update(updates).where(*_held_by(updates, owner)).values(lease_until=None)
            )
        return int(released.rowcount)

    async def expire_all(self, *, now: float) -> int:
        """End every lease on the database as of `now`: for the only process a database can
        have (a SQLite file, held by its lock), whose leases found at start-up are all of a
        process that died. Their work is then taken over at once, not after the expiry."""
        async with self._engine.begin() as connection:
            expired = await connection.execute(
                sa.update(jobs).where(jobs.c.lease_until > now).values(lease_until=now)
            )
            await connection.execute(
                sa.update(updates).where(updates.c.lease_until > now).values(lease_until=now)
            )
        return int(expired.rowcount)

    async def recover_abandoned(self, *, owner: str, now: float) -> tuple[int, int]:
        """Take over the jobs whose step between intake and the paid API's answer was cut off:
        RECEIVED or SUBMITTING with no live lease (their instance died, or stopped in the
        middle). Live leases, the work of running instances, are never touched.

        A RECEIVED job never reached the paid API: it is made due, to be checked and
        submitted anew. A SUBMITTING one may have: asking again could charge twice, so it is
        INTERRUPTED, to be explained to its user. Returns (resumed, interrupted).
        """
        abandoned = is_free(jobs, now)
        taken_over = {
            "taken_over_from": _taken_over_from(owner),
            "lease_owner": owner,
            "lease_until": None,
            "next_poll_at": now,
            "updated_at": now,
        }
        resume = (
            sa.update(jobs)
            # One made due already waits for the tick (`claim_due`), which takes it over.
            .where(
                jobs.c.state == JobState.RECEIVED.value, jobs.c.next_poll_at.is_(None), abandoned
            )
            .values(taken_over)
        )
        interrupt = (
            sa.update(jobs)
            .where(jobs.c.state == JobState.SUBMITTING.value, abandoned)
            .values(
                taken_over
                | {
                    "state": JobState.INTERRUPTED.value,
                    "reason": Reason.RESTARTED_WHILE_SUBMITTING.value,
                }
            )
        )
        async with self._engine.begin() as connection:
            resumed = (await connection.execute(resume)).rowcount
            interrupted = (await connection.execute(interrupt)).rowcount
        return int(resumed), int(interrupted)
