"""What every instance must know alike of the paid API, and the admins' alerts.

Three instances on one database pace their creates as one bot and tell the admins once:
- `PaceStore`: the pace of create calls, read and changed under the row's lock
  (`bot.aimlapi.pacing` holds the rules);
- `AlertStore`: each alert queued at most once an interval and taken for sending by one
  instance, and the submissions in a row that ended unconfirmed (`bot.policy.alerts` holds
  the rules).

The rows are `api_health` (one, `id` 1, made by the migration) and `admin_alerts`. Plain
values in, plain values out: what a reason means, and what is said, is the policy's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from storage.database import Database
from storage.jobs import JobStore
from storage.schema import admin_alerts, api_health

#: The one row of `api_health`.
_HEALTH_ID = 1
_HEALTH = api_health.c.id == _HEALTH_ID


@dataclass(frozen=True, slots=True)
class Pace:
    """The pace of create calls, as every instance keeps to it."""

    rate: float | None = None  # creates a minute; None: unlimited (no 429 seen)
    rate_set_at: float = 0.0  # when `rate` was last set
    next_at: float = 0.0  # the earliest moment the next create may go
    paused_until: float = 0.0  # no create goes before this


_PACE_COLUMNS = (
    api_health.c.creates_per_minute,
    api_health.c.rate_set_at,
    api_health.c.next_create_at,
    api_health.c.paused_until,
)


def _pace_of(row: Sequence[Any]) -> Pace:
    rate, rate_set_at, next_at, paused_until = row
    return Pace(
        rate=None if rate is None else float(rate),
        rate_set_at=float(rate_set_at),
        next_at=float(next_at),
        paused_until=float(paused_until),
    )


class PaceStore:
    """The pace in `api_health`. Shares the JobStore's database: `PaceStore.of(store)`."""

    def __init__(self, database: Database) -> None:
        self._engine = database.engine
        self._reads = database.reads

    @classmethod
    def of(cls, store: JobStore) -> PaceStore:
        return cls(store.database)

    async def read(self) -> Pace:
        """The pace in force now."""
        statement = sa.select(*_PACE_COLUMNS).where(_HEALTH)
        async with self._reads.connect() as connection:
            row = (await connection.execute(statement)).one()
        return _pace_of(row)

    async def change(self, update: Callable[[Pace], Pace]) -> tuple[Pace, Pace]:
        """Apply `update` to the pace in one transaction, the row locked from the read to the
        write, so that no other instance changes it in between; returns the pace before and
        after. `update` must be a pure function: it runs while the row is held."""
        # FOR UPDATE on PostgreSQL; SQLite leaves the clause out, and takes one writer at a
        # time anyway.
        read = sa.select(*_PACE_COLUMNS).where(_HEALTH).with_for_update()
        async with self._engine.begin() as connection:
            before = _pace_of((await connection.execute(read)).one())
            after = update(before)
            if after != before:
                await connection.execute(
                    sa.update(api_health)
                    .where(_HEALTH)
                    .values(
                        creates_per_minute=after.rate,
                        rate_set_at=after.rate_set_at,
                        next_create_at=after.next_at,
                        paused_until=after.paused_until,
                    )
                )
        return before, after


class AlertStore:
    """The `admin_alerts` outbox, and the streak of unconfirmed submissions in `api_health`.
    Shares the JobStore's database: `AlertStore.of(store)`."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self._engine = database.engine

    @classmethod
    def of(cls, store: JobStore) -> AlertStore:
        return cls(store.database)

    async def raise_once(self, reason: str, text: str, *, now: float, interval: float) -> bool:
        """Queue `text` under `reason` unless that reason was raised less than `interval`
        seconds before `now` (by any instance); returns whether it was queued. A reason queued
        and not yet sent is replaced by the newer text once the interval has passed."""
        insert = self._database.insert(admin_alerts).values(
            reason=reason, text=text, raised_at=now, sent_at=None
        )
        # One statement: two instances raising the same reason at once meet on its key, and
        # the second finds the first's `raised_at`, too recent to raise it again.
        statement = insert.on_conflict_do_update(
            index_elements=[admin_alerts.c.reason],
            set_={
                "text": insert.excluded.text,
                "raised_at": insert.excluded.raised_at,
                "sent_at": None,
            },
            where=admin_alerts.c.raised_at <= now - interval,
        ).returning(admin_alerts.c.reason)
        async with self._engine.begin() as connection:
            raised = (await connection.execute(statement)).first()
        return raised is not None

    async def take_unsent(self, *, now: float) -> list[tuple[str, str]]:
        """Mark every alert waiting to be sent as sent at `now`, and return them as
        (reason, text), oldest first. Of instances taking at once, each alert goes to one."""
        # The alerts tick asks often and mostly finds nothing: a read answers that, without a
        # write transaction.
        waiting = sa.select(admin_alerts.c.reason).where(admin_alerts.c.sent_at.is_(None)).limit(1)
        async with self._database.reads.connect() as connection:
            if await connection.scalar(waiting) is None:
                return []
        # One statement: a second taker waits on the rows the first marks, then finds them
        # sent. An alert taken is not taken again, even if sending it then fails.
        statement = (
            sa.update(admin_alerts)
            .where(admin_alerts.c.sent_at.is_(None))
            .values(sent_at=now)
            .returning(admin_alerts.c.reason, admin_alerts.c.text, admin_alerts.c.raised_at)
        )
        async with self._engine.begin() as connection:
            rows = (await connection.execute(statement)).all()
        taken = sorted(rows, key=lambda row: (float(row.raised_at), str(row.reason)))
        return [(str(row.reason), str(row.text)) for row in taken]

    async def count_submission(self, *, confirmed: bool) -> int:
        """Count a submission's end: a confirmed one ends the streak, an unconfirmed one adds
        to it; returns the submissions in a row now ended unconfirmed, across instances."""
        streak = api_health.c.unconfirmed_in_a_row
        statement = (
            sa.update(api_health)
            .where(_HEALTH)
            .values(unconfirmed_in_a_row=0 if confirmed else streak + 1)
            .returning(streak)
        )
        async with self._engine.begin() as connection:
            counted = await connection.scalar(statement)
        return int(counted or 0)

    async def unconfirmed_in_a_row(self) -> int:
        """The submissions in a row that ended unconfirmed, as counted now."""
        statement = sa.select(api_health.c.unconfirmed_in_a_row).where(_HEALTH)
        async with self._database.reads.connect() as connection:
            counted = await connection.scalar(statement)
        return int(counted or 0)
