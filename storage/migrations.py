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
    # 2: access control and the local line (storage/counts.py, storage/waiting.py).
    """
    -- /allow and /deny at run time, on top of the settings' lists.
    CREATE TABLE access_overrides (
        user_id     INTEGER PRIMARY KEY,
        allowed     INTEGER NOT NULL,  -- 1 after /allow, 0 after /deny
        changed_by  INTEGER,
        changed_at  REAL    NOT NULL
    );
    -- The place in line last shown to each waiting job, so it is edited only when it changes.
    CREATE TABLE line_places (
        job_id  INTEGER PRIMARY KEY REFERENCES jobs (id),
        place   INTEGER NOT NULL
    );
    -- Budgets and the line count jobs by state on every request.
    CREATE INDEX jobs_by_state ON jobs (state, created_at);
    """,
    # 3: live progress, one-tap retries, image fixes and per-user preferences.
    """
    ALTER TABLE jobs ADD COLUMN image_fix TEXT;          -- crop / pad / upscale chosen by the user
    ALTER TABLE jobs ADD COLUMN language TEXT;           -- the user's Telegram language_code
    ALTER TABLE jobs ADD COLUMN retry_of INTEGER;        -- the job "Again"/"Try again" repeats
    ALTER TABLE jobs ADD COLUMN status_text TEXT;        -- what the status message shows now
    ALTER TABLE jobs ADD COLUMN status_edited_at REAL;   -- when it was last edited
    ALTER TABLE jobs ADD COLUMN video_message_id INTEGER;  -- the delivered video's message
    CREATE TABLE user_prefs (
        user_id           INTEGER PRIMARY KEY,
        prompt_optimizer  INTEGER,  -- NULL: the PROMPT_OPTIMIZER setting decides
        updated_at        REAL NOT NULL
    );
    """,
    # 4: both of the API's endpoints, and what it reports of a video and its cost.
    """
    ALTER TABLE jobs ADD COLUMN endpoint TEXT;       -- where it was made; NULL: 'legacy'
    ALTER TABLE jobs ADD COLUMN video_seconds REAL;  -- the video's length, as the API says
    ALTER TABLE jobs ADD COLUMN usage_amount REAL;   -- what the API says the job cost ...
    ALTER TABLE jobs ADD COLUMN usage_unit TEXT;     -- ... in 'credits' or 'tokens'
    -- A request the API was too busy to take waits in line again (state 'waiting'):
    ALTER TABLE jobs ADD COLUMN busy_since REAL;     -- the API's first busy answer to it
    ALTER TABLE jobs ADD COLUMN retry_at REAL;       -- not taken from the line before this
    ALTER TABLE jobs ADD COLUMN submit_attempts INTEGER NOT NULL DEFAULT 0;
    -- Video sends Telegram left unanswered (maybe posted): one is sent again, a second is not.
    ALTER TABLE jobs ADD COLUMN unanswered_sends INTEGER NOT NULL DEFAULT 0;
    -- An outcome (a refusal, a notice) Telegram would not take yet: the tick shows it.
    ALTER TABLE jobs ADD COLUMN pending_status TEXT;
    -- A group that became a supergroup: its jobs keep their chat and message ids; what is
    -- sent for them goes to the new chat (JobStore.current_chat).
    CREATE TABLE chat_moves (
        old_chat_id  INTEGER PRIMARY KEY,
        new_chat_id  INTEGER NOT NULL,
        moved_at     REAL    NOT NULL
    );
    -- The chat the status message is in: the one it was sent to, the job's or its successor.
    ALTER TABLE jobs ADD COLUMN status_chat_id INTEGER;
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
