"""The webhook's inbox: the updates table. Plain values in, plain values out.

An update is kept before Telegram gets its 200, so that none is lost to a process that dies
between the answer and the end of its handling, and none is handled twice when Telegram posts
it again (to this instance or another behind the same URL).
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa

from storage.database import Database
from storage.jobs import JobStore, Lease
from storage.leases import is_free
from storage.schema import updates


class UpdateInbox:
    """Reads and writes the updates table. Shares the JobStore's database:
    `UpdateInbox.of(store)`."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self._engine = database.engine
        self._reads = database.reads

    @classmethod
    def of(cls, store: JobStore) -> UpdateInbox:
        return cls(store.database)

    async def keep(self, update: dict[str, Any], *, now: float, lease: Lease) -> bool:
        """Keep a posted update, held by `lease` while it is handled; False when it was kept
        before (posted twice)."""
        insert = self._database.insert(updates).values(
            update_id=int(update["update_id"]),
            body=json.dumps(update, ensure_ascii=False),
            received_at=now,
            **lease.columns(),
        )
        statement = insert.on_conflict_do_nothing(index_elements=[updates.c.update_id])
        async with self._engine.begin() as connection:
            result = await connection.execute(statement)
        return bool(result.rowcount)

    async def mark_handled(self, update_id: int, *, now: float) -> None:
        """Note that the update was handled to the end, and let its lease go."""
        statement = (
            sa.update(updates)
            .where(updates.c.update_id == update_id, updates.c.handled_at.is_(None))
            .values(handled_at=now, lease_until=None)
        )
        async with self._engine.begin() as connection:
            await connection.execute(statement)

    async def claim_abandoned(
        self, *, lease: Lease, now: float, limit: int = 100
    ) -> list[dict[str, Any]]:
        """The updates kept but not handled to the end whose lease ran out (their instance
        died, or stopped halfway), oldest first, `limit` at most, each now held by `lease`:
        found and leased in one statement, so that each is taken over once."""
        found = (
            sa.select(updates.c.update_id)
            .where(updates.c.handled_at.is_(None), is_free(updates, now))
            .order_by(updates.c.received_at, updates.c.update_id)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        statement = (
            sa.update(updates)
            .where(updates.c.update_id.in_(found))
            .values(lease.columns())
            .returning(updates.c.received_at, updates.c.update_id, updates.c.body)
        )
        async with self._engine.begin() as connection:
            rows = sorted((await connection.execute(statement)).all())
        return [json.loads(body) for _, _, body in rows]

    async def unhandled_ids(self) -> list[int]:
        """The ids of the updates kept but not handled to the end yet, oldest first."""
        statement = (
            sa.select(updates.c.update_id)
            .where(updates.c.handled_at.is_(None))
            .order_by(updates.c.received_at, updates.c.update_id)
        )
        async with self._reads.connect() as connection:
            return [int(update_id) for update_id in await connection.scalars(statement)]

    async def forget_handled(self, *, before: float) -> int:
        """Drop the updates handled before `before`; returns how many. Telegram resends an
        update for a day at most, so a day's worth is all the guard needs."""
        statement = sa.delete(updates).where(
            updates.c.handled_at.is_not(None), updates.c.handled_at < before
        )
        async with self._engine.begin() as connection:
            result = await connection.execute(statement)
        return int(result.rowcount)
