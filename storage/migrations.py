"""Forward-only schema migrations, tracked in `PRAGMA user_version`."""

from __future__ import annotations

import aiosqlite

# Each entry moves the schema from version i to i + 1. Never edit a released step: add one.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE jobs (
        id                  INTEGER PRIMARY KEY,
        chat_id             INTEGER NOT NULL,
        request_message_id  INTEGER NOT NULL,
        photo_message_id    INTEGER NOT NULL,
        thread_id           INTEGER,
        user_id             INTEGER NOT NULL,
        prompt              TEXT    NOT NULL,
        prompt_optimizer    INTEGER NOT NULL,
        file_id             TEXT    NOT NULL,
        image_sha256        TEXT,
        state               TEXT    NOT NULL,
        generation_id       TEXT UNIQUE,
        api_status          TEXT,
        status_message_id   INTEGER,
        created_at          REAL    NOT NULL,
        updated_at          REAL    NOT NULL,
        submitted_at        REAL,
        next_poll_at        REAL,
        poll_count          INTEGER NOT NULL DEFAULT 0,
        poll_failures       INTEGER NOT NULL DEFAULT 0,
        video_url           TEXT,
        error               TEXT,
        completed_at        REAL,
        delivered_at        REAL,
        UNIQUE (chat_id, request_message_id)
    );
    -- The tick asks only for rows with work left: a partial index keeps that cheap
    -- however many finished jobs pile up.
    CREATE INDEX jobs_due ON jobs (next_poll_at) WHERE next_poll_at IS NOT NULL;
    CREATE INDEX jobs_by_user ON jobs (user_id, created_at DESC);
    CREATE TABLE album_notices (
        chat_id         INTEGER NOT NULL,
        media_group_id  TEXT    NOT NULL,
        created_at      REAL    NOT NULL,
        PRIMARY KEY (chat_id, media_group_id)
    );
    """,
)


async def migrate(db: aiosqlite.Connection) -> int:
    """Bring the schema up to the newest version; returns the version reached."""
    async with db.execute("PRAGMA user_version") as cursor:
        row = await cursor.fetchone()
    version = int(row[0]) if row else 0
    if version > len(MIGRATIONS):
        raise RuntimeError(
            f"database schema version {version} is newer than this bot knows ({len(MIGRATIONS)})"
        )
    for target, script in enumerate(MIGRATIONS[version:], start=version + 1):
        await db.executescript(f"BEGIN; {script}; PRAGMA user_version = {target}; COMMIT;")
    return len(MIGRATIONS)
