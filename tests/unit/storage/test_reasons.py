"""Reasons are stored as codes: every reason a job can end with has one, and a database of
schema 4, with the sentences and foreign words of every earlier version, comes out as codes."""

from __future__ import annotations

import ast
from pathlib import Path

import aiosqlite
import pytest
import sqlalchemy as sa

import storage
from bot.image.firstframe import ImageProblem
from storage import JobState, JobStore, NewJob, Reason
from storage.migrations import MIGRATIONS
from tests.databases import TestDatabase

T0 = 1_800_000_000.0


def test_every_image_problem_is_a_reason_of_the_same_value() -> None:
    for problem in ImageProblem:
        assert Reason(problem.value).value == problem.value


def test_storage_imports_nothing_of_the_bot() -> None:
    for module in Path(storage.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            for name in names:
                assert name.split(".")[0] not in {"bot", "handlers", "telegram"}, (module, name)


def test_codes_are_short_stable_snake_case() -> None:
    for reason in Reason:
        assert reason.value == reason.name.lower()
        assert reason.value.replace("_", "").isalpha() and len(reason.value) <= 30


#: (state, what an earlier version stored in `error`) -> (reason, api_reason) after schema 5.
OLD_ROWS: list[tuple[JobState, str | None, Reason | None, str | None]] = [
    (JobState.INTERRUPTED, "stopped before submitting", Reason.NOT_SUBMITTED, None),
    (JobState.INTERRUPTED, "restarted before submitting", Reason.NOT_SUBMITTED, None),
    (
        JobState.INTERRUPTED,
        "restarted while submitting",
        Reason.RESTARTED_WHILE_SUBMITTING,
        None,
    ),
    (JobState.INTERRUPTED, "lost while submitting", Reason.LOST_WHILE_SUBMITTING, None),
    (
        JobState.INTERRUPTED,
        "no complete answer from the API (ServerDisconnectedError)",
        Reason.OUTCOME_UNKNOWN,
        "no complete answer from the API (ServerDisconnectedError)",
    ),
    (
        JobState.FAILED,
        "the video service lost track of this job",
        Reason.GENERATION_LOST,
        None,
    ),
    (
        JobState.FAILED,
        "the finished video expired before it could be sent",
        Reason.VIDEO_EXPIRED,
        None,
    ),
    (JobState.FAILED, "the video service finished without a video", Reason.NO_VIDEO, None),
    (
        JobState.FAILED,
        "the video service stayed too busy to take it",
        Reason.STAYED_BUSY,
        None,
    ),
    (
        JobState.FAILED,
        "Content moderation: the image was flagged",
        Reason.API_FAILED,
        "Content moderation: the image was flagged",
    ),
    (JobState.FAILED, None, None, None),
    (JobState.REJECTED, "download failed", Reason.DOWNLOAD_FAILED, None),
    (
        JobState.REJECTED,
        "the same photo and prompt were already being made",
        Reason.SAME_VIDEO_COMING,
        None,
    ),
    *((JobState.REJECTED, problem.value, Reason(problem.value), None) for problem in ImageProblem),
    (
        JobState.UNDELIVERABLE,
        "Forbidden: bot was blocked by the user",
        Reason.CHAT_CLOSED,
        None,
    ),
    (
        JobState.UNDELIVERABLE,
        "Forbidden: bot was kicked from the supergroup chat",
        Reason.CHAT_CLOSED,
        None,
    ),
    (JobState.UNDELIVERABLE, "Message is too long", Reason.REPLY_REFUSED, None),
    (
        JobState.CANCELLED,
        "Forbidden: bot was blocked by the user",
        Reason.CHAT_CLOSED,
        None,
    ),
    (JobState.CANCELLED, None, None, None),
    (JobState.DELIVERED, None, None, None),
    (JobState.REJECTED, "a sentence no version ever wrote", None, None),
]


async def _schema_4_with(path: Path, rows: list[tuple[JobState, str | None]]) -> None:
    async with aiosqlite.connect(path) as db:
        for target, script in enumerate(MIGRATIONS[:4], start=1):
            await db.executescript(f"BEGIN; {script}; PRAGMA user_version = {target}; COMMIT;")
        for number, (state, error) in enumerate(rows, start=1):
            await db.execute(
                "INSERT INTO jobs (chat_id, request_message_id, photo_message_id, user_id, "
                "prompt, prompt_optimizer, file_id, state, created_at, updated_at, error) "
                "VALUES (1, ?, ?, 1, 'a cat', 1, 'file', ?, ?, ?, ?)",
                (number, number, state.value, T0, T0, error),
            )
        await db.commit()


async def test_schema_5_turns_every_old_reason_into_its_code(tmp_path: Path) -> None:
    path = tmp_path / "jobs.sqlite3"
    await _schema_4_with(path, [(state, error) for state, error, _, _ in OLD_ROWS])
    store = await JobStore.open(path)
    try:
        jobs = [await store.get(number) for number in range(1, len(OLD_ROWS) + 1)]
    finally:
        await store.close()
    found = [(job.state, job.reason, job.api_reason) for job in jobs]
    assert found == [(state, reason, api) for state, _, reason, api in OLD_ROWS]


async def test_a_reason_is_stored_and_returned_as_its_code(database: TestDatabase) -> None:
    store = await JobStore.open(database.where)
    try:
        job = await store.record_request(
            NewJob(
                chat_id=1,
                request_message_id=1,
                photo_message_id=1,
                thread_id=None,
                user_id=1,
                prompt="a cat",
                prompt_optimizer=True,
                file_id="file",
            ),
            now=T0,
        )
        assert job is not None and job.reason is None and job.api_reason is None
        failed = await store.update(
            job.id,
            now=T0,
            state=JobState.FAILED,
            reason=Reason.API_FAILED,
            api_reason="Content moderation: the image was flagged",
        )
        assert failed.reason is Reason.API_FAILED
        assert failed.api_reason == "Content moderation: the image was flagged"
        async with store.database.engine.connect() as connection:
            stored = await connection.scalar(
                sa.text("SELECT reason FROM jobs WHERE id = :id"), {"id": job.id}
            )
        assert stored == "api_failed"
        # A sentence is refused where it is written, not when the row is next read.
        with pytest.raises(ValueError):
            await store.update(job.id, now=T0, reason="the video service failed")
    finally:
        await store.close()
