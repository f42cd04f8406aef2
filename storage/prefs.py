"""Per-user preferences: the user_prefs table. Plain values in, plain values out."""

from __future__ import annotations

import aiosqlite

from storage.jobs import JobStore


class PrefsStore:
    """Reads and writes user_prefs. Shares the JobStore's connection: `PrefsStore.of(store)`."""

    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db

    @classmethod
    def of(cls, store: JobStore) -> PrefsStore:
        return cls(store.db)

    async def prompt_optimizer(self, user_id: int) -> bool | None:
        """The user's own `prompt_optimizer` default; None when they never chose one (the
        PROMPT_OPTIMIZER setting then decides)."""
        async with self._db.execute(
            "SELECT prompt_optimizer FROM user_prefs WHERE user_id = ?", (user_id,)
        ) as cursor:
            row = await cursor.fetchone()
        if row is None or row[0] is None:
            return None
        return bool(row[0])

    async def set_prompt_optimizer(self, user_id: int, value: bool | None, *, now: float) -> None:
        """Store the user's `prompt_optimizer` default; None goes back to the setting."""
        await self._db.execute(
            "INSERT INTO user_prefs (user_id, prompt_optimizer, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT (user_id) DO UPDATE SET prompt_optimizer = excluded.prompt_optimizer, "
            "updated_at = excluded.updated_at",
            (user_id, None if value is None else int(value), now),
        )
        await self._db.commit()
