"""The ledger of video credits: what users bought in Telegram Stars, were given, and spent.

One row per event (`Entry`); a user's balance is the sum of their rows' `videos`. A credit is
spent when its job is recorded (a SPEND row, the job's `credit` 'reserved'), counts as used
once the paid API took the job ('spent'), and comes back (a RETURN row, 'returned') whenever
the job ends without costing the user, as the day's count does. Every write is once only,
whoever posts it twice: once per Telegram charge id, once per job.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.database import Database
from storage.jobs import JobStore
from storage.schema import jobs, ledger


class Entry(StrEnum):
    """What a ledger row records."""

    GRANT = "grant"  # the free videos of a new user (FREE_VIDEOS_PER_USER)
    PURCHASE = "purchase"  # a pack paid in Stars
    SPEND = "spend"  # one credit, for a job
    RETURN = "return"  # that credit back: the job ended without costing the user
    REFUND = "refund"  # a purchase's Stars paid back, and its unused credits taken back


class Credit(StrEnum):
    """Where a job's credit is (`jobs.credit`)."""

    RESERVED = "reserved"  # taken when the job was recorded
    SPENT = "spent"  # the paid API took the job
    RETURNED = "returned"  # given back


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
        total = sa.select(sa.func.coalesce(sa.func.sum(ledger.c.videos), 0)).where(
            ledger.c.user_id == user_id
        )
        return int(await connection.scalar(total) or 0)

    async def reserve_in(
        self, connection: AsyncConnection, user_id: int, job_id: int, *, now: float
    ) -> None:
        """Spend one of the user's credits on a job just recorded (in admission's transaction,
        which checked the balance)."""
        await connection.execute(
            self._database.insert(ledger)
            .values(
                user_id=user_id, kind=Entry.SPEND.value, videos=-1, job_id=job_id, created_at=now
            )
            .on_conflict_do_nothing()
        )
        await connection.execute(
            sa.update(jobs).where(jobs.c.id == job_id).values(credit=Credit.RESERVED.value)
        )

    async def respend_in(
        self, connection: AsyncConnection, user_id: int, job_id: int, *, now: float
    ) -> None:
        """Spend a credit again on a job taken up again after its refusal gave the first one
        back (in admission's transaction): its SPEND and RETURN rows are replaced by one
        spend, so that a job has one of each at most."""
        await connection.execute(
            sa.delete(ledger).where(
                ledger.c.job_id == job_id,
                ledger.c.kind.in_([Entry.SPEND.value, Entry.RETURN.value]),
            )
        )
        await self.reserve_in(connection, user_id, job_id, now=now)

    async def give_back(self, job_id: int, *, now: float) -> bool:
        """Return the credit a job was paid with, once: it ended without costing its user.
        False when it was paid with none, or had it back already."""
        statement = (
            sa.update(jobs)
            .where(
                jobs.c.id == job_id,
                jobs.c.credit.in_([Credit.RESERVED.value, Credit.SPENT.value]),
            )
            .values(credit=Credit.RETURNED.value)
            .returning(jobs.c.user_id)
        )
        async with self._engine.begin() as connection:
            user_id = await connection.scalar(statement)
            if user_id is None:
                return False
            await connection.execute(
                self._database.insert(ledger)
                .values(
                    user_id=int(user_id),
                    kind=Entry.RETURN.value,
                    videos=1,
                    job_id=job_id,
                    created_at=now,
                )
                .on_conflict_do_nothing()
            )
        return True

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
            sa.func.coalesce(sa.func.sum(ledger.c.videos), 0),
        )
        async with self._reads.connect() as connection:
            earned, refunded, outstanding = (await connection.execute(statement)).one()
        return StarTotals(int(earned), int(refunded), int(outstanding))
