"""The SQLite schema steps released before Alembic, tracked in `PRAGMA user_version`: frozen.

A SQLite database of any version runs its remaining steps from here, as it always would have,
and then carries on with the Alembic revisions (see `storage.migrations`). Never edit a step,
never add one: new steps are Alembic revisions under `storage/migrations/versions/`.
"""

from __future__ import annotations

import sqlite3

import sqlalchemy as sa

# Each entry moved the schema from version i to i + 1.
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
    # 5: reasons as codes (storage.reasons.Reason), the API's own words in a column of their
    # own. The codes are written out here, not read from the enum: this step must do what
    # it did when it was released, whatever the enum becomes.
    """
    ALTER TABLE jobs RENAME COLUMN error TO reason;
    ALTER TABLE jobs ADD COLUMN api_reason TEXT;  -- the API's words for its failure, if any
    -- The bot's own sentences, as every earlier version wrote them.
    UPDATE jobs SET reason = CASE reason
        WHEN 'stopped before submitting' THEN 'not_submitted'
        WHEN 'restarted before submitting' THEN 'not_submitted'
        WHEN 'restarted while submitting' THEN 'restarted_while_submitting'
        WHEN 'lost while submitting' THEN 'lost_while_submitting'
        WHEN 'the video service lost track of this job' THEN 'generation_lost'
        WHEN 'the finished video expired before it could be sent' THEN 'video_expired'
        WHEN 'the video service finished without a video' THEN 'no_video'
        WHEN 'download failed' THEN 'download_failed'
        WHEN 'the video service stayed too busy to take it' THEN 'stayed_busy'
        WHEN 'the same photo and prompt were already being made' THEN 'same_video_coming'
        ELSE reason
    END
    WHERE reason IS NOT NULL;
    -- Any other text was someone else's words: the API's (a failed or interrupted job) or
    -- Telegram's (a job it would not take the reply of). Image problems are codes already.
    UPDATE jobs SET api_reason = reason, reason = CASE state
        WHEN 'failed' THEN 'api_failed'
        ELSE 'outcome_unknown'
    END
    WHERE state IN ('failed', 'interrupted') AND reason NOT IN (
        'not_submitted', 'restarted_while_submitting', 'lost_while_submitting',
        'generation_lost', 'video_expired', 'no_video', 'stayed_busy'
    );
    -- Telegram's words are not kept: only whether the chat was closed to the bot.
    UPDATE jobs SET reason = CASE
        WHEN reason LIKE 'Forbidden%' OR state = 'cancelled' THEN 'chat_closed'
        ELSE 'reply_refused'
    END
    WHERE state IN ('undeliverable', 'cancelled') AND reason IS NOT NULL;
    -- Nothing else could be worded: a code that is none is dropped rather than misread.
    UPDATE jobs SET reason = NULL WHERE reason NOT IN (
        'too_large', 'not_an_image', 'corrupt', 'unsupported_format', 'too_small',
        'too_tall', 'too_wide', 'too_many_pixels', 'download_failed', 'same_video_coming',
        'not_submitted', 'restarted_while_submitting', 'lost_while_submitting',
        'outcome_unknown', 'stayed_busy', 'api_refused', 'out_of_credits', 'misconfigured',
        'api_failed', 'generation_lost', 'no_video', 'video_expired', 'chat_closed',
        'reply_refused'
    );
    """,
)


def statements(script: str) -> list[str]:
    """A step's script, one statement at a time: each runs inside the caller's transaction
    (`executescript` would commit it first)."""
    found, pending = [], ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            found.append(pending.strip())
            pending = ""
    assert not pending.strip(), "a legacy step ends in an unfinished statement"
    return found


def user_version(connection: sa.Connection) -> int:
    """The legacy version a SQLite database records (0: none, a new or an Alembic database)."""
    return int(connection.exec_driver_sql("PRAGMA user_version").scalar_one())


def run_steps(connection: sa.Connection, *, up_to: int = 0) -> int:
    """Run the steps after the database's `user_version`, up to `up_to` (all when 0), in the
    caller's transaction; returns the version reached."""
    version = user_version(connection)
    target = up_to or len(MIGRATIONS)
    for number, script in enumerate(MIGRATIONS[version:target], start=version + 1):
        for statement in statements(script):
            connection.exec_driver_sql(statement)
        connection.exec_driver_sql(f"PRAGMA user_version = {number}")
    return max(version, target)
