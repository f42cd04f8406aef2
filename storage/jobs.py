"""The jobs table: one row per request, from intake to the user's reply."""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.database import Database, DatabaseInUse
from storage.reasons import Reason
from storage.schema import album_notices, chat_moves, jobs

__all__ = ["ACTIVE_STATES", "DatabaseInUse", "Job", "JobState", "JobStore", "Lease", "NewJob"]

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
    lease_owner: str | None = None  # the instance working on it, or the last one that did
    lease_until: float | None = None  # the lease holds until then; None: released
    taken_over_from: str | None = None  # the last owner whose lease on it ran out
    credit_used: bool | None = None  # paid with one of the user's credits (storage.ledger)


@dataclass(frozen=True, slots=True)
class Lease:
    """A claim on a job's row (`storage.leases`): who holds it, and until when unless renewed."""

    owner: str
    until: float

    def columns(self) -> dict[str, Any]:
        """The job columns that record this lease."""
        return {"lease_owner": self.owner, "lease_until": self.until}


_COLUMNS = tuple(field.name for field in dataclasses.fields(Job))
_UPDATABLE = frozenset(_COLUMNS) - {"id", "created_at"}
#: A job's columns in the order of Job's fields, so that a row becomes a Job positionally.
JOB_COLUMNS = tuple(jobs.c[name] for name in _COLUMNS)
_SELECT = sa.select(*JOB_COLUMNS)


_STATE_AT, _OPTIMIZER_AT = _COLUMNS.index("state"), _COLUMNS.index("prompt_optimizer")
_REASON_AT = _COLUMNS.index("reason")


def to_job(row: Any) -> Job:
    """A row of `JOB_COLUMNS` as a Job."""
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


def in_chat_or_moved_there(chat_id: int) -> sa.ColumnElement[bool]:
    """A job asked in the chat given, or in a group that became that chat."""
    moved_here = sa.select(chat_moves.c.old_chat_id).where(chat_moves.c.new_chat_id == chat_id)
    return sa.or_(jobs.c.chat_id == chat_id, jobs.c.chat_id.in_(moved_here))


def states(*found: JobState) -> list[str]:
    """States as their stored values, for `column.in_(...)`."""
    return [state.value for state in found]


#: A job counts against the daily budget (and keeps the user's video credit it was paid with,
#: `storage.ledger`) while it waits or runs, and once it cost (or may have cost) the operator
#: and made a video. Failed, timed-out, refused and never-sent jobs give both back.
COUNTS_AGAINST_BUDGET = sa.or_(
    jobs.c.state.in_(states(*ACTIVE_STATES, JobState.DELIVERED, JobState.UNDELIVERABLE)),
    sa.and_(
        jobs.c.state == JobState.INTERRUPTED.value,
        sa.func.coalesce(jobs.c.reason, "") != Reason.NOT_SUBMITTED.value,
    ),
    sa.and_(jobs.c.state == JobState.CANCELLED.value, jobs.c.submitted_at.is_not(None)),
)


class JobStore:
    """Async access to the jobs database. Open with `JobStore.open(path or url)`."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self._engine = database.engine
        self._reads = database.reads

    @classmethod
    async def open(cls, where: Path | str) -> JobStore:
        """Open (creating folders and schema as needed) the database at `where`: a SQLite file,
        or a `DATABASE_URL` (`sqlite:///path`, `postgresql://user@host:port/db`).

        Raises DatabaseInUse when another process has it open: two bots on one database
        would both resume and submit the same requests.
        """
        return cls(await Database.open(where))

    async def close(self) -> None:
        await self._database.close()

    @property
    def database(self) -> Database:
        """The open database, shared with the other tables' stores (storage.counts, .waiting)."""
        return self._database

    def describe(self) -> str:
        """The engine and where the database is, for the start-up line; never a password."""
        return self._database.describe()

    async def record_request(
        self,
        job: NewJob,
        *,
        now: float,
        state: JobState = JobState.RECEIVED,
        lease: Lease | None = None,
    ) -> Job | None:
        """Record a request before anything is charged, held by `lease` when given (its
        recorder goes on with it).

        Returns the new job in `state` (RECEIVED, or WAITING for the line), or None when this
        chat's message was already recorded (Telegram redelivered the update): the caller must
        not submit.
        """
        async with self._engine.begin() as connection:
            return await self.record_in(connection, job, now=now, state=state, lease=lease)

    async def record_in(
        self,
        connection: AsyncConnection,
        job: NewJob,
        *,
        now: float,
        state: JobState,
        lease: Lease | None,
    ) -> Job | None:
        """`record_request`, in the caller's transaction (admission's, `storage.counts`)."""
        values = dataclasses.asdict(job) | {
            "state": state.value,
            "created_at": now,
            "updated_at": now,
        }
        if lease is not None:
            values |= lease.columns()
        statement = (
            self._database.insert(jobs)
            .values(values)
            .on_conflict_do_nothing(index_elements=[jobs.c.chat_id, jobs.c.request_message_id])
            .returning(*JOB_COLUMNS)
        )
        row = (await connection.execute(statement)).first()
        return None if row is None else to_job(row)

    async def get(self, job_id: int) -> Job:
        """The job with this id; raises KeyError when there is none."""
        async with self._reads.connect() as connection:
            row = (await connection.execute(_SELECT.where(jobs.c.id == job_id))).first()
        if row is None:
            raise KeyError(job_id)
        return to_job(row)

    async def update(self, job_id: int, *, now: float, **changes: Any) -> Job:
        """Set the given columns (and `updated_at`) and return the job as stored; raises
        KeyError when there is no such job."""
        job = await self._update(job_id, None, now=now, changes=changes)
        if job is None:
            raise KeyError(job_id)
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
        values = {k: v.value if isinstance(v, StrEnum) else v for k, v in changes.items()}
        # One statement compares and sets, so a state that moved on meanwhile is never
        # overwritten, on either engine.
        statement = sa.update(jobs).where(jobs.c.id == job_id).values(values)
        if expected is not None:
            statement = statement.where(jobs.c.state == expected.value)
        async with self._engine.begin() as connection:
            row = (await connection.execute(statement.returning(*JOB_COLUMNS))).first()
        return None if row is None else to_job(row)

    async def note_image(self, job: Job, image_sha256: str, *, now: float) -> Job | None:
        """Record the digest of the job's checked image, unless the same user already has the
        same video coming in the same chat: an unfinished job with the same image, prompt and
        optimizer choice that got this far. Returns that job (and records nothing), or None
        once recorded.

        Checked and written in one transaction, so two identical requests checked at the same
        moment cannot both go on to be charged.
        """
        twin = jobs.alias("twin")
        is_twin = sa.and_(
            twin.c.user_id == job.user_id,
            twin.c.chat_id == job.chat_id,
            twin.c.image_sha256 == image_sha256,
            twin.c.prompt == job.prompt,
            twin.c.prompt_optimizer == job.prompt_optimizer,
            twin.c.id != job.id,
            twin.c.state.in_(states(*ACTIVE_STATES)),
        )
        # Row locks on the user's unfinished jobs in this chat, this one among them, always in
        # the same order: of two twins checked at once on PostgreSQL, the second waits and then
        # sees the first's digest. (SQLite has no row locks and needs none: one writer at once.)
        lock_the_candidates = (
            sa.select(jobs.c.id)
            .where(
                jobs.c.user_id == job.user_id,
                jobs.c.chat_id == job.chat_id,
                sa.or_(jobs.c.state.in_(states(*ACTIVE_STATES)), jobs.c.id == job.id),
            )
            .order_by(jobs.c.id)
            .with_for_update()
        )
        note = (
            sa.update(jobs)
            .where(jobs.c.id == job.id, ~sa.exists().where(is_twin))
            .values(image_sha256=image_sha256, updated_at=now)
        )
        first_twin = (
            sa.select(*(twin.c[name] for name in _COLUMNS))
            .where(is_twin)
            .order_by(twin.c.created_at)
            .limit(1)
        )
        async with self._engine.begin() as connection:
            await connection.execute(lock_the_candidates)
            if (await connection.execute(note)).rowcount:
                return None
            found = (await connection.execute(first_twin)).first()
        if found is None:  # the twin finished in between: this job may go on after all
            return await self.note_image(job, image_sha256, now=now)
        return to_job(found)

    async def ping(self) -> None:
        """Ask the database the cheapest question there is (for /readyz). Raises the driver's
        error when it does not answer."""
        async with self._reads.connect() as connection:
            await connection.execute(sa.select(sa.literal(1)))

    async def recent_generation_seconds(self, *, limit: int) -> list[float]:
        """Submission-to-finish times of the last `limit` jobs the video service finished,
        newest first."""
        statement = (
            sa.select(
                jobs.c.completed_at - sa.func.coalesce(jobs.c.submitted_at, jobs.c.created_at)
            )
            .where(jobs.c.completed_at.is_not(None))
            .order_by(jobs.c.completed_at.desc())
            .limit(limit)
        )
        async with self._reads.connect() as connection:
            return [float(took) for took in await connection.scalars(statement)]

    async def due_jobs(self, *, now: float, limit: int) -> list[Job]:
        """Jobs whose next action is due, oldest due first."""
        async with self._reads.connect() as connection:
            result = await connection.execute(due_jobs_query(now=now, limit=limit))
            return [to_job(row) for row in result]

    async def jobs_for_user(
        self, user_id: int, *, chat_id: int | None = None, limit: int = 10
    ) -> list[Job]:
        """A user's most recent jobs, newest first; only those of `chat_id` when given (and of
        a group that became it)."""
        statement = _SELECT.where(jobs.c.user_id == user_id)
        if chat_id is not None:
            statement = statement.where(in_chat_or_moved_there(chat_id))
        statement = statement.order_by(jobs.c.created_at.desc(), jobs.c.id.desc()).limit(limit)
        async with self._reads.connect() as connection:
            return [to_job(row) for row in await connection.execute(statement)]

    async def move_chat(self, old_chat_id: int, new_chat_id: int, *, now: float) -> None:
        """Follow a group that became a supergroup: from now on, what is sent for its jobs goes
        to `new_chat_id` (see `current_chat`). The jobs keep their chat and message ids, so a
        request in the new chat is never taken for an old one that has the same message id."""
        insert = self._database.insert(chat_moves).values(
            old_chat_id=old_chat_id, new_chat_id=new_chat_id, moved_at=now
        )
        statement = insert.on_conflict_do_update(
            index_elements=[chat_moves.c.old_chat_id],
            set_={"new_chat_id": insert.excluded.new_chat_id, "moved_at": insert.excluded.moved_at},
        )
        async with self._engine.begin() as connection:
            await connection.execute(statement)

    async def current_chat(self, chat_id: int) -> int:
        """Where what is sent to `chat_id` goes now: the supergroup it became (`move_chat`),
        or `chat_id` itself."""
        seen = {chat_id}
        async with self._reads.connect() as connection:
            while True:
                moved = await connection.scalar(
                    sa.select(chat_moves.c.new_chat_id).where(chat_moves.c.old_chat_id == chat_id)
                )
                if moved is None or int(moved) in seen:
                    return chat_id
                chat_id = int(moved)
                seen.add(chat_id)

    async def note_album(self, chat_id: int, media_group_id: str, *, now: float) -> bool:
        """Remember an album; True only the first time it is seen, so it is answered once."""
        statement = (
            self._database.insert(album_notices)
            .values(chat_id=chat_id, media_group_id=media_group_id, created_at=now)
            .on_conflict_do_nothing()
            .returning(album_notices.c.chat_id)
        )
        async with self._engine.begin() as connection:
            return (await connection.execute(statement)).first() is not None


def due_jobs_query(*, now: float, limit: int) -> sa.Select[Any]:
    """The statement behind `JobStore.due_jobs`: the due jobs, oldest due first.

    `IS NOT NULL` is spelled out so that both engines take the partial index `jobs_due`, and
    the order comes from that index. The poll tick claims these rows with their leases in one
    statement (`storage.leases.LeaseStore.claim_due`); this read is what the tick did before.
    """
    return (
        _SELECT.where(jobs.c.next_poll_at.is_not(None), jobs.c.next_poll_at <= now)
        .order_by(jobs.c.next_poll_at)
        .limit(limit)
    )
