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
from storage.jobs import JobStore
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

    async def keep(self, update: dict[str, Any], *, now: float) -> bool:
        """Keep a posted update; False when it was kept before (posted twice)."""
        insert = self._database.insert(updates).values(
            update_id=int(update["update_id"]),
            body=json.dumps(update, ensure_ascii=False),
            received_at=now,
        )
        statement = insert.on_conflict_do_nothing(index_elements=[updates.c.update_id])
        async with self._engine.begin() as connection:
            result = await connection.execute(statement)
        return bool(result.rowcount)

    async def mark_handled(self, update_id: int, *, now: float) -> None:
        """Note that the update was handled to the end."""
        statement = (
            sa.update(updates)
            .where(updates.c.update_id == update_id, updates.c.handled_at.is_(None))
            .values(handled_at=now)
        )
        async with self._engine.begin() as connection:
            await connection.execute(statement)

    async def unhandled(self, *, limit: int = 1000) -> list[dict[str, Any]]:
        """The updates kept but not handled to the end, oldest first."""
        statement = (
            sa.select(updates.c.body)
            .where(updates.c.handled_at.is_(None))
            .order_by(updates.c.received_at, updates.c.update_id)
            .limit(limit)
        )
        async with self._reads.connect() as connection:
            bodies = list(await connection.scalars(statement))
        return [json.loads(body) for body in bodies]

    async def forget_handled(self, *, before: float) -> int:
        """Drop the updates handled before `before`; returns how many. Telegram resends an
        update for a day at most, so a day's worth is all the guard needs."""
        statement = sa.delete(updates).where(
            updates.c.handled_at.is_not(None), updates.c.handled_at < before
        )
        async with self._engine.begin() as connection:
            result = await connection.execute(statement)
        return int(result.rowcount)
