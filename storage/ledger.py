"""The ledger of video credits: what users bought in Telegram Stars, were given, and spent.

One row per event (`Entry`). A credit is spent when its job is recorded (a SPEND row, and
the job's `credit_used`), and comes back whenever the job ends without costing its user, as
the job's place in the day's count does (`storage.jobs.COUNTS_AGAINST_BUDGET`): a refused
image, a failure, a late job given up, an interruption before the paid API, a cancellation
in the line. So a user's balance is derived: granted and bought, less refunded, less the paid
jobs that still count; no step has to remember to give a credit back. Every write is once
only, whoever posts it twice: once per Telegram charge id, once per job.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.database import Database
from storage.jobs import ACTIVE_STATES, COUNTS_AGAINST_BUDGET, JobStore, states
from storage.schema import jobs, ledger


class Entry(StrEnum):
    """What a ledger row records."""

    GRANT = "grant"  # the free videos of a new user (FREE_VIDEOS_PER_USER)
    PURCHASE = "purchase"  # a pack paid in Stars
    SPEND = "spend"  # one credit, for a job (counted through the job: see the module)
    REFUND = "refund"  # a purchase's Stars paid back, and its unused credits taken back


#: The rows whose `videos` a balance adds up; a spend is counted through its job instead.
_HELD = [Entry.GRANT.value, Entry.PURCHASE.value, Entry.REFUND.value]


@dataclass(frozen=True, slots=True)
class Purchase:
    """A pack bought: its charge, what it gave, and whether it was refunded."""

    user_id: int
    charge_id: str
    videos: int
    stars: int
    pack: str | None
    bought_at: float
    refunded: bool = False


@dataclass(frozen=True, slots=True)
class StarTotals:
    """The Stars figures of /stats."""

    earned: int  # paid in, ever
    refunded: int  # paid back, ever
    outstanding: int  # credits held by all users, unspent


class LedgerStore:
    """Reads and writes the ledger. Shares the JobStore's database: `LedgerStore.of(store)`."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self._engine = database.engine
        self._reads = database.reads

    @classmethod
    def of(cls, store: JobStore) -> LedgerStore:
        return cls(store.database)

    async def balance(self, user_id: int, *, free_videos: int | None = None, now: float) -> int:
        """The credits the user has; with `free_videos`, a user never seen is granted them
        first (once, however many ask at once)."""
        async with self._engine.begin() as connection:
            if free_videos is not None:
                await self.grant_in(connection, user_id, free_videos, now=now)
            return await self.balance_in(connection, user_id)

    async def grant_in(
        self, connection: AsyncConnection, user_id: int, videos: int, *, now: float
    ) -> None:
        """Give a user their free videos, unless they had them already (in the caller's
        transaction)."""
        statement = (
            self._database.insert(ledger)
            .values(user_id=user_id, kind=Entry.GRANT.value, videos=videos, created_at=now)
            .on_conflict_do_nothing()
        )
        await connection.execute(statement)

    @staticmethod
    async def balance_in(connection: AsyncConnection, user_id: int) -> int:
        """The user's credits, in the caller's transaction."""
        return int(await connection.scalar(balance_of(ledger.c.user_id == user_id)) or 0)

    async def in_use(self, user_id: int) -> int:
        """The user's credits held by videos still being made (back if they fail)."""
        statement = sa.select(sa.func.count()).where(
            jobs.c.user_id == user_id,
            jobs.c.credit_used.is_(True),
            jobs.c.state.in_(states(*ACTIVE_STATES)),
        )
        async with self._reads.connect() as connection:
            return int(await connection.scalar(statement) or 0)

    async def spend_in(
        self, connection: AsyncConnection, user_id: int, job_id: int, *, now: float
    ) -> None:
        """Spend one of the user's credits on a job (in admission's transaction, which checked
        the balance): it stays spent while the job counts against the day's budget."""
        await connection.execute(
            self._database.insert(ledger)
            .values(
                user_id=user_id, kind=Entry.SPEND.value, videos=-1, job_id=job_id, created_at=now
            )
            .on_conflict_do_nothing()
        )
        await connection.execute(
            sa.update(jobs).where(jobs.c.id == job_id).values(credit_used=True)
        )

    async def credit_purchase(
        self, user_id: int, *, charge_id: str, videos: int, stars: int, pack: str, now: float
    ) -> bool:
        """Add a paid pack's videos to the user's balance, once per Telegram charge id; False
        when this charge was credited already (the payment's update came twice)."""
        statement = (
            self._database.insert(ledger)
            .values(
                user_id=user_id,
                kind=Entry.PURCHASE.value,
                videos=videos,
                stars=stars,
                charge_id=charge_id,
                pack=pack,
                created_at=now,
            )
            .on_conflict_do_nothing()
            .returning(ledger.c.id)
        )
        async with self._engine.begin() as connection:
            return (await connection.execute(statement)).first() is not None

    async def purchase(self, charge_id: str) -> Purchase | None:
        """The purchase of this charge id, or None."""
        found = await self._purchases(ledger.c.charge_id == charge_id, limit=1)
        return found[0] if found else None

    async def purchases(self, user_id: int, *, limit: int = 5) -> list[Purchase]:
        """The user's last purchases, newest first."""
        return await self._purchases(ledger.c.user_id == user_id, limit=limit)

    async def _purchases(self, where: sa.ColumnElement[bool], *, limit: int) -> list[Purchase]:
        refund = ledger.alias("refund")
        refunded = (
            sa.exists()
            .where(refund.c.kind == Entry.REFUND.value, refund.c.charge_id == ledger.c.charge_id)
            .label("refunded")
        )
        statement = (
            sa.select(
                ledger.c.user_id,
                ledger.c.charge_id,
                ledger.c.videos,
                ledger.c.stars,
                ledger.c.pack,
                ledger.c.created_at,
                refunded,
            )
            .where(where, ledger.c.kind == Entry.PURCHASE.value)
            .order_by(ledger.c.created_at.desc(), ledger.c.id.desc())
            .limit(limit)
        )
        async with self._reads.connect() as connection:
            rows = (await connection.execute(statement)).all()
        return [
            Purchase(
                int(user_id), str(charge), int(videos), int(stars), pack, float(at), bool(back)
            )
            for user_id, charge, videos, stars, pack, at, back in rows
        ]

    async def record_refund(
        self, purchase: Purchase, *, videos_taken: int, now: float, note: str | None = None
    ) -> bool:
        """Record that a purchase's Stars were paid back and `videos_taken` of its credits
        taken back; False when it was recorded already."""
        statement = (
            self._database.insert(ledger)
            .values(
                user_id=purchase.user_id,
                kind=Entry.REFUND.value,
                videos=-videos_taken,
                stars=-purchase.stars,
                charge_id=purchase.charge_id,
                pack=purchase.pack,
                created_at=now,
                note=note,
            )
            .on_conflict_do_nothing()
            .returning(ledger.c.id)
        )
        async with self._engine.begin() as connection:
            return (await connection.execute(statement)).first() is not None

    async def totals(self) -> StarTotals:
        """Stars earned and refunded, and the credits all users hold."""
        statement = sa.select(
            sa.func.coalesce(
                sa.func.sum(ledger.c.stars).filter(ledger.c.kind == Entry.PURCHASE.value), 0
            ),
            sa.func.coalesce(
                -sa.func.sum(ledger.c.stars).filter(ledger.c.kind == Entry.REFUND.value), 0
            ),
        )
        async with self._reads.connect() as connection:
            earned, refunded = (await connection.execute(statement)).one()
            outstanding = await connection.scalar(balance_of(sa.true()))
        return StarTotals(int(earned), int(refunded), int(outstanding or 0))


def balance_of(users: sa.ColumnElement[bool]) -> sa.Select[Any]:
    """The credits of the users that `users` (a condition on `ledger.c.user_id`) selects,
    together: granted and bought, less refunded, less their paid jobs that still count."""
    held = sa.select(sa.func.coalesce(sa.func.sum(ledger.c.videos), 0)).where(
        users, ledger.c.kind.in_(_HELD)
    )
    spent = (
        sa.select(sa.func.count())
        .select_from(jobs.join(ledger, sa.and_(ledger.c.job_id == jobs.c.id)))
        .where(
            users,
            ledger.c.kind == Entry.SPEND.value,
            jobs.c.credit_used.is_(True),
            COUNTS_AGAINST_BUDGET,
        )
    )
    return sa.select(held.scalar_subquery() - spent.scalar_subquery())
