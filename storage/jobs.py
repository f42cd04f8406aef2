"""The jobs table: one row per request, from intake to the user's reply."""

from __future__ import annotations

import dataclasses
import fcntl
import logging
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import IO, Any

import aiosqlite

from storage.migrations import migrate
from storage.reasons import Reason

log = logging.getLogger(__name__)


class JobState(StrEnum):
    """A job's life. The tick acts on a job while its `next_poll_at` is set."""

    WAITING = "waiting"  # over MAX_ACTIVE_JOBS: in the local line with its file_id, not charged
    RECEIVED = "received"  # recorded; the image is being checked, nothing is charged yet
    REJECTED = "rejected"  # the image was refused before reaching the paid API
    SUBMITTING = "submitting"  # the paid API is being asked to create the generation
    QUEUED = "queued"  # the API accepted it and has not started rendering
    GENERATING = "generating"  # the API is rendering the video
    LATE = "late"  # past JOB_TIMEOUT_SECONDS without a result: checked slowly, still coming
    COMPLETED = "completed"  # the video is ready and waits to be sent
    DELIVERED = "delivered"  # the video reached the chat
    FAILED = "failed"  # the API refused or failed the job; the user is told why
    TIMED_OUT = "timed_out"  # late, and given up after the slow checks; the user is told
    INTERRUPTED = "interrupted"  # the submission's outcome is unknown; the user is told to resend
    UNDELIVERABLE = "undeliverable"  # the chat is closed to the bot (blocked, removed)
    CANCELLED = "cancelled"  # /cancel: out of the line (never charged) or no longer followed

    @property
    def in_progress(self) -> bool:
        return self in ACTIVE_STATES


#: Jobs not yet finished (`JobState.in_progress`): a user's count against
#: MAX_ACTIVE_JOBS_PER_USER (`storage.counts`).
ACTIVE_STATES = (
    JobState.WAITING,
    JobState.RECEIVED,
    JobState.SUBMITTING,
    JobState.QUEUED,
    JobState.GENERATING,
    JobState.LATE,
    JobState.COMPLETED,
)


@dataclass(frozen=True, slots=True)
class NewJob:
    """What intake knows about a request before anything is charged."""

    chat_id: int
    request_message_id: int
    photo_message_id: int
    thread_id: int | None
    user_id: int
    prompt: str
    prompt_optimizer: bool
    file_id: str
    image_sha256: str | None = None
    language: str | None = None
    retry_of: int | None = None
    image_fix: str | None = None


@dataclass(frozen=True, slots=True)
class Job:
    """One row of the jobs table."""

    id: int
    chat_id: int
    request_message_id: int
    photo_message_id: int
    thread_id: int | None
    user_id: int
    prompt: str
    prompt_optimizer: bool
    file_id: str
    image_sha256: str | None
    state: JobState
    generation_id: str | None
    api_status: str | None
    status_message_id: int | None
    created_at: float
    updated_at: float
    submitted_at: float | None
    next_poll_at: float | None
    poll_count: int
    poll_failures: int
    video_url: str | None
    reason: Reason | None  # why it was refused, stopped, failed or not delivered
    completed_at: float | None
    delivered_at: float | None
    image_fix: str | None = None
    language: str | None = None
    retry_of: int | None = None
    status_text: str | None = None
    status_edited_at: float | None = None
    video_message_id: int | None = None
    endpoint: str | None = None  # the API endpoint that made it; None for older jobs (legacy)
    video_seconds: float | None = None
    usage_amount: float | None = None
    usage_unit: str | None = None
    busy_since: float | None = None  # when the API first answered busy to this request
    retry_at: float | None = None  # a waiting job is not taken from the line before this
    submit_attempts: int = 0  # create calls made for it that the API was too busy to take
    unanswered_sends: int = 0  # video sends Telegram never answered: maybe posted
    pending_status: str | None = None  # an outcome's text not yet in the chat: the tick shows it
    status_chat_id: int | None = None  # where the status message is; None: in `chat_id`
    # The API's own words for its refusal or failure (a moderation message, say), shown to
    # the user beside `reason`; never Telegram's words, which only go to the log.
    api_reason: str | None = None


_COLUMNS = tuple(field.name for field in dataclasses.fields(Job))
_UPDATABLE = frozenset(_COLUMNS) - {"id", "created_at"}
_SELECT = f"SELECT {', '.join(_COLUMNS)} FROM jobs"


_STATE_AT, _OPTIMIZER_AT = _COLUMNS.index("state"), _COLUMNS.index("prompt_optimizer")
_REASON_AT = _COLUMNS.index("reason")


def _to_job(row: Any) -> Job:
    # Positional: a tick may turn a thousand rows into jobs, and keywords cost twice as much.
    values = list(row)
    values[_STATE_AT] = JobState(values[_STATE_AT])
    values[_OPTIMIZER_AT] = bool(values[_OPTIMIZER_AT])
    if values[_REASON_AT] is not None:
        values[_REASON_AT] = _reason(values[_REASON_AT], job_id=values[0])
    return Job(*values)


def _reason(code: str, *, job_id: int) -> Reason | None:
    """The stored code as a Reason; None for a code this build does not know (one written by
    a newer build, rolled back since), so that one odd row never stops a tick."""
    try:
        return Reason(code)
    except ValueError:
        log.warning("job %s: unknown reason code %r, read as none", job_id, code)
        return None


#: A job asked in the chat given (a parameter, twice), or in a group that became that chat.
IN_CHAT_OR_MOVED_THERE = (
    "(chat_id = ? OR chat_id IN (SELECT old_chat_id FROM chat_moves WHERE new_chat_id = ?))"
)


class DatabaseInUse(Exception):
    """Another process holds the database: only one bot may run on it."""


def _lock_exclusively(path: Path) -> IO[str]:
    """An exclusive lock on `<database>.lock`, held while the returned file stays open. The
    kernel drops it when the process dies, so a crash never leaves it behind."""
    handle = path.with_name(path.name + ".lock").open("a")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise DatabaseInUse(f"{path} is in use by another running bot") from None
    return handle


class JobStore:
    """Async access to the jobs database. Open with `JobStore.open(path)`."""

    def __init__(self, db: aiosqlite.Connection, lock: IO[str] | None = None) -> None:
        self._db = db
        self._lock = lock

    @classmethod
    async def open(cls, path: Path) -> JobStore:
        """Open (creating folders and schema as needed) the database at `path`.

        Raises DatabaseInUse when another process has it open: two bots on one database
        would both resume and submit the same requests.
        """
        lock = None
        if str(path) != ":memory:":
            path.parent.mkdir(parents=True, exist_ok=True)
            lock = _lock_exclusively(path)
        try:
            db = await aiosqlite.connect(path)
            try:
                await db.execute("PRAGMA journal_mode=WAL")
                # FULL, not NORMAL: a power cut must never undo the SUBMITTING written just
                # before a paid create, or the restart would send that create again.
                await db.execute("PRAGMA synchronous=FULL")
                await db.execute("PRAGMA busy_timeout=5000")
                await migrate(db)
            except BaseException:
                await db.close()
                raise
        except BaseException:
            if lock is not None:
                lock.close()
            raise
        return cls(db, lock)

    async def close(self) -> None:
        await self._db.close()
        if self._lock is not None:
            self._lock.close()  # closing the file releases the lock

    @property
    def db(self) -> aiosqlite.Connection:
        """The open connection, shared with the other tables' stores (storage.counts, .waiting)."""
        return self._db

    async def record_request(
        self, job: NewJob, *, now: float, state: JobState = JobState.RECEIVED
    ) -> Job | None:
        """Record a request before anything is charged.

        Returns the new job in `state` (RECEIVED, or WAITING for the line), or None when this
        chat's message was already recorded (Telegram redelivered the update): the caller must
        not submit.
        """
        values = dataclasses.asdict(job) | {
            "prompt_optimizer": int(job.prompt_optimizer),
            "state": state.value,
            "created_at": now,
            "updated_at": now,
        }
        cursor = await self._db.execute(
            f"INSERT INTO jobs ({', '.join(values)}) VALUES ({', '.join('?' * len(values))}) "
            "ON CONFLICT (chat_id, request_message_id) DO NOTHING",
            tuple(values.values()),
        )
        await self._db.commit()
        if cursor.rowcount == 0 or cursor.lastrowid is None:
            return None
        return await self.get(cursor.lastrowid)

    async def get(self, job_id: int) -> Job:
        """The job with this id; raises KeyError when there is none."""
        async with self._db.execute(f"{_SELECT} WHERE id = ?", (job_id,)) as cursor:
            row = await cursor.fetchone()
        if row is None:
            raise KeyError(job_id)
        return _to_job(row)

    async def update(self, job_id: int, *, now: float, **changes: Any) -> Job:
        """Set the given columns (and `updated_at`) and return the job as stored."""
        job = await self._update(job_id, None, now=now, changes=changes)
        assert job is not None  # no expected state: the row is always written
        return job

    async def update_if(
        self, job_id: int, expected: JobState, *, now: float, **changes: Any
    ) -> Job | None:
        """Like `update`, but only while the job is still in `expected`; None when it moved on
        meanwhile (a /cancel during a status call, say) and nothing was changed."""
        return await self._update(job_id, expected, now=now, changes=changes)

    async def _update(
        self, job_id: int, expected: JobState | None, *, now: float, changes: dict[str, Any]
    ) -> Job | None:
        unknown = set(changes) - _UPDATABLE
        if unknown:
            raise ValueError(f"not job columns: {sorted(unknown)}")
        if changes.get("reason") is not None:
            changes["reason"] = Reason(changes["reason"])  # a sentence is refused here, not read
        changes["updated_at"] = now
        values = [v.value if isinstance(v, StrEnum) else v for v in changes.values()]
        assignments = ", ".join(f"{name} = ?" for name in changes)
        query, params = f"UPDATE jobs SET {assignments} WHERE id = ?", [*values, job_id]
        if expected is not None:
            query += " AND state = ?"
            params.append(expected.value)
        cursor = await self._db.execute(query, params)
        await self._db.commit()
        return await self.get(job_id) if expected is None or cursor.rowcount else None

    async def note_image(self, job: Job, image_sha256: str, *, now: float) -> Job | None:
        """Record the digest of the job's checked image, unless the same user already has the
        same video coming in the same chat: an unfinished job with the same image, prompt and
        optimizer choice that got this far. Returns that job (and records nothing), or None
        once recorded.

        One statement checks and writes, so two identical requests checked at the same moment
        cannot both go on to be charged.
        """
        active = [state.value for state in ACTIVE_STATES]
        marks = ", ".join("?" for _ in active)
        twin_of_job = (
            "FROM jobs AS twin WHERE twin.user_id = ? AND twin.chat_id = ? "
            "AND twin.image_sha256 = ? "
            "AND twin.prompt = ? AND twin.prompt_optimizer = ? AND twin.id != ? "
            f"AND twin.state IN ({marks})"
        )
        twin_params = [
            job.user_id,
            job.chat_id,
            image_sha256,
            job.prompt,
            int(job.prompt_optimizer),
            job.id,
            *active,
        ]
        cursor = await self._db.execute(
            "UPDATE jobs SET image_sha256 = ?, updated_at = ? "
            f"WHERE id = ? AND NOT EXISTS (SELECT 1 {twin_of_job})",
            (image_sha256, now, job.id, *twin_params),
        )
        await self._db.commit()
        if cursor.rowcount:
            return None
        async with self._db.execute(
            f"SELECT twin.id {twin_of_job} ORDER BY twin.created_at LIMIT 1", twin_params
        ) as found:
            row = await found.fetchone()
        if row is None:  # the twin finished in between: this job may go on after all
            return await self.note_image(job, image_sha256, now=now)
        return await self.get(int(row[0]))

    async def recent_generation_seconds(self, *, limit: int) -> list[float]:
        """Submission-to-finish times of the last `limit` jobs the video service finished,
        newest first."""
        async with self._db.execute(
            "SELECT completed_at - COALESCE(submitted_at, created_at) FROM jobs "
            "WHERE completed_at IS NOT NULL ORDER BY completed_at DESC LIMIT ?",
            (limit,),
        ) as cursor:
            rows = await cursor.fetchall()
        return [float(row[0]) for row in rows]

    async def due_jobs(self, *, now: float, limit: int) -> list[Job]:
        """Jobs whose next action is due, oldest due first."""
        async with self._db.execute(
            f"{_SELECT} WHERE next_poll_at IS NOT NULL AND next_poll_at <= ? "
            "ORDER BY next_poll_at LIMIT ?",
            (now, limit),
        ) as cursor:
            rows = await cursor.fetchall()
        return [_to_job(row) for row in rows]

    async def jobs_for_user(
        self, user_id: int, *, chat_id: int | None = None, limit: int = 10
    ) -> list[Job]:
        """A user's most recent jobs, newest first; only those of `chat_id` when given (and of
        a group that became it)."""
        query = f"{_SELECT} WHERE user_id = ?"
        params: list[Any] = [user_id]
        if chat_id is not None:
            query += f" AND {IN_CHAT_OR_MOVED_THERE}"
            params += [chat_id, chat_id]
        query += " ORDER BY created_at DESC, id DESC LIMIT ?"
        params.append(limit)
        async with self._db.execute(query, params) as cursor:
            rows = await cursor.fetchall()
        return [_to_job(row) for row in rows]

    async def recover_after_restart(self, *, now: float) -> tuple[int, int]:
        """Pick up requests that a crash or restart cut off. Called at start-up, before any
        update is handled, so nothing is in flight.

        Requests that never reached the paid API are made due again, to be checked and
        submitted anew. Submissions whose answer was lost are marked interrupted, to be
        explained to their users: asking again could charge twice.
        Returns (resumed, interrupted).
        """
        resumed = await self._db.execute(
            "UPDATE jobs SET next_poll_at = ?, updated_at = ? WHERE state = ?",
            (now, now, JobState.RECEIVED.value),
        )
        interrupted = await self._db.execute(
            "UPDATE jobs SET state = ?, reason = ?, next_poll_at = ?, updated_at = ? "
            "WHERE state = ?",
            (
                JobState.INTERRUPTED.value,
                Reason.RESTARTED_WHILE_SUBMITTING.value,
                now,
                now,
                JobState.SUBMITTING.value,
            ),
        )
        await self._db.commit()
        return resumed.rowcount, interrupted.rowcount

    async def move_chat(self, old_chat_id: int, new_chat_id: int, *, now: float) -> None:
        """Follow a group that became a supergroup: from now on, what is sent for its jobs goes
        to `new_chat_id` (see `current_chat`). The jobs keep their chat and message ids, so a
        request in the new chat is never taken for an old one that has the same message id."""
        await self._db.execute(
            "INSERT INTO chat_moves (old_chat_id, new_chat_id, moved_at) VALUES (?, ?, ?) "
            "ON CONFLICT (old_chat_id) DO UPDATE "
            "SET new_chat_id = excluded.new_chat_id, moved_at = excluded.moved_at",
            (old_chat_id, new_chat_id, now),
        )
        await self._db.commit()

    async def current_chat(self, chat_id: int) -> int:
        """Where what is sent to `chat_id` goes now: the supergroup it became (`move_chat`),
        or `chat_id` itself."""
        seen = {chat_id}
        while True:
            async with self._db.execute(
                "SELECT new_chat_id FROM chat_moves WHERE old_chat_id = ?", (chat_id,)
            ) as cursor:
                row = await cursor.fetchone()
            if row is None or int(row[0]) in seen:
                return chat_id
            chat_id = int(row[0])
            seen.add(chat_id)

    async def note_album(self, chat_id: int, media_group_id: str, *, now: float) -> bool:
        """Remember an album; True only the first time it is seen, so it is answered once."""
        cursor = await self._db.execute(
            "INSERT INTO album_notices (chat_id, media_group_id, created_at) VALUES (?, ?, ?) "
            "ON CONFLICT DO NOTHING",
            (chat_id, media_group_id, now),
        )
        await self._db.commit()
        return cursor.rowcount == 1
