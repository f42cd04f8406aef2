"""Per-user preferences: the user_prefs table. Plain values in, plain values out."""

from __future__ import annotations

import sqlalchemy as sa

from storage.database import Database
from storage.jobs import JobStore
from storage.schema import user_prefs


class PrefsStore:
    """Reads and writes user_prefs. Shares the JobStore's database: `PrefsStore.of(store)`."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self._engine = database.engine
        self._reads = database.reads

    @classmethod
    def of(cls, store: JobStore) -> PrefsStore:
        return cls(store.database)

    async def prompt_optimizer(self, user_id: int) -> bool | None:
        """The user's own `prompt_optimizer` default; None when they never chose one (the
        PROMPT_OPTIMIZER setting then decides)."""
        statement = sa.select(user_prefs.c.prompt_optimizer).where(user_prefs.c.user_id == user_id)
        async with self._reads.connect() as connection:
            found = await connection.scalar(statement)
        return None if found is None else bool(found)

    async def set_prompt_optimizer(self, user_id: int, value: bool | None, *, now: float) -> None:
        """Store the user's `prompt_optimizer` default; None goes back to the setting."""
        insert = self._database.insert(user_prefs).values(
            user_id=user_id, prompt_optimizer=value, updated_at=now
        )
        statement = insert.on_conflict_do_update(
            index_elements=[user_prefs.c.user_id],
            set_={
                "prompt_optimizer": insert.excluded.prompt_optimizer,
                "updated_at": insert.excluded.updated_at,
            },
        )
        async with self._engine.begin() as connection:
            await connection.execute(statement)
