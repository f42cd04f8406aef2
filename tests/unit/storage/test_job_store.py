"""Tests for storage: plain records in and out of the database (each test on each engine),
the schema's version, and the index the poll tick relies on."""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from storage import DatabaseInUse, JobState, JobStore, NewJob, Reason
from storage.database import DatabaseClosed
from storage.jobs import due_jobs_query
from storage.leases import LeaseStore
from storage.migrations import MIGRATIONS, head
from tests.databases import TestDatabase

T0 = 1_800_000_000.0


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "jobs.sqlite3"


@pytest.fixture
async def store(database: TestDatabase) -> AsyncIterator[JobStore]:
    opened = await JobStore.open(database.where)
    try:
        yield opened
    finally:
        await opened.close()


def request(
    message_id: int, *, chat_id: int = 111, user_id: int = 111, prompt: str = "a cat"
) -> NewJob:
    return NewJob(
        chat_id=chat_id,
        request_message_id=message_id,
        photo_message_id=message_id,
        thread_id=None,
        user_id=user_id,
        prompt=prompt,
        prompt_optimizer=True,
        file_id=f"file-{chat_id}-{message_id}",
    )


async def record(
    store: JobStore, message_id: int, *, now: float = T0, chat_id: int = 111, user_id: int = 111
) -> int:
    job = await store.record_request(request(message_id, chat_id=chat_id, user_id=user_id), now=now)
    assert job is not None
    return job.id


# --------------------------------------------------------------------------- record_request


async def test_recorded_request_comes_back_as_a_received_job(store: JobStore) -> None:
    new = NewJob(
        chat_id=-100500,
        request_message_id=7,
        photo_message_id=6,
        thread_id=42,
        user_id=111,
        prompt="the dog wags its tail",
        prompt_optimizer=False,
        file_id="AgAC-file",
        image_sha256="ab" * 32,
    )
    job = await store.record_request(new, now=T0)
    assert job is not None
    assert job.state is JobState.RECEIVED
    assert (job.chat_id, job.request_message_id, job.photo_message_id) == (-100500, 7, 6)
    assert job.thread_id == 42
    assert job.prompt == "the dog wags its tail"
    assert job.prompt_optimizer is False
    assert job.file_id == "AgAC-file"
    assert job.image_sha256 == "ab" * 32
    assert job.created_at == job.updated_at == T0
    assert job.generation_id is None and job.next_poll_at is None
    assert job.poll_count == 0 and job.poll_failures == 0
    assert await store.get(job.id) == job


async def test_the_same_message_recorded_twice_is_refused_the_second_time(
    store: JobStore,
) -> None:
    first = await store.record_request(request(5, prompt="first"), now=T0)
    again = await store.record_request(request(5, prompt="redelivered"), now=T0 + 1)
    assert first is not None
    assert again is None
    assert (await store.get(first.id)).prompt == "first"
    assert len(await store.jobs_for_user(111)) == 1


async def test_the_same_message_id_in_another_chat_is_another_request(store: JobStore) -> None:
    here = await store.record_request(request(5, chat_id=111), now=T0)
    there = await store.record_request(request(5, chat_id=-100500), now=T0)
    assert here is not None and there is not None
    assert here.id != there.id


async def test_update_sets_columns_and_refuses_unknown_ones(store: JobStore) -> None:
    job_id = await record(store, 1)
    job = await store.update(
        job_id, now=T0 + 5, state=JobState.QUEUED, generation_id="g1", next_poll_at=T0 + 15
    )
    assert job.state is JobState.QUEUED
    assert job.generation_id == "g1"
    assert job.updated_at == T0 + 5
    assert job.created_at == T0
    with pytest.raises(ValueError, match="not job columns"):
        await store.update(job_id, now=T0, colour="red")
    with pytest.raises(ValueError):
        await store.update(job_id, now=T0, id=99)


async def test_get_of_an_unknown_job_raises_key_error(store: JobStore) -> None:
    with pytest.raises(KeyError):
        await store.get(404)


# --------------------------------------------------------------------------- due_jobs


async def test_due_jobs_are_the_due_ones_oldest_due_first(store: JobStore) -> None:
    due_at = {1: T0 + 30, 2: T0 + 10, 3: T0 + 20, 4: None, 5: T0 + 100}
    ids = {}
    for message_id, at in due_at.items():
        ids[message_id] = await record(store, message_id)
        await store.update(ids[message_id], now=T0, next_poll_at=at)

    due = await store.due_jobs(now=T0 + 50, limit=10)
    assert [job.id for job in due] == [ids[2], ids[3], ids[1]]
    assert all(job.next_poll_at is not None for job in due)

    assert [job.id for job in await store.due_jobs(now=T0 + 30, limit=10)] == [
        ids[2],
        ids[3],
        ids[1],
    ]  # exactly due counts
    assert await store.due_jobs(now=T0 + 5, limit=10) == []


async def test_due_jobs_takes_at_most_the_limit(store: JobStore) -> None:
    ids = []
    for message_id in range(1, 8):
        job_id = await record(store, message_id)
        await store.update(job_id, now=T0, next_poll_at=T0 - message_id)
        ids.append(job_id)
    due = await store.due_jobs(now=T0, limit=3)
    assert [job.id for job in due] == [ids[6], ids[5], ids[4]]


@pytest.mark.sqlite_only
async def test_due_query_uses_the_jobs_due_index(store: JobStore, database: TestDatabase) -> None:
    for message_id in range(1, 50):
        job_id = await record(store, message_id)
        await store.update(job_id, now=T0, next_poll_at=T0 + message_id if message_id % 3 else None)
    sent: list[tuple[str, tuple[object, ...]]] = []

    def note(
        _conn: object, _cursor: object, statement: str, parameters: object, *_: object
    ) -> None:
        assert isinstance(parameters, tuple)
        sent.append((statement, parameters))

    engine = store.database.engine.sync_engine
    sa.event.listen(engine, "before_cursor_execute", note)
    try:
        await store.due_jobs(now=T0 + 10, limit=5)
    finally:
        sa.event.remove(engine, "before_cursor_execute", note)
    [(query, parameters)] = [s for s in sent if s[0].lstrip().upper().startswith("SELECT")]

    with sqlite3.connect(database.where) as db:
        plan = [row[3] for row in db.execute("EXPLAIN QUERY PLAN " + query, parameters)]
    db.close()
    assert any("jobs_due" in step for step in plan), plan
    assert not any(step.strip() == "SCAN jobs" for step in plan), plan
    assert not any("TEMP B-TREE" in step for step in plan), plan  # the index gives the order


@pytest.mark.postgresql_only
async def test_due_query_uses_the_jobs_due_index_on_postgresql(database: TestDatabase) -> None:
    store = await JobStore.open(database.where)
    try:
        async with store.database.engine.begin() as connection:
            # Enough finished rows that a scan of the table would cost more than the index.
            await connection.execute(
                sa.text(
                    "INSERT INTO jobs (chat_id, request_message_id, photo_message_id, user_id, "
                    "prompt, prompt_optimizer, file_id, state, created_at, updated_at, "
                    "next_poll_at) SELECT 1, n, n, 1, 'p', true, 'f', 'delivered', 0, 0, "
                    "CASE WHEN n % 100 = 0 THEN n END FROM generate_series(1, 20000) AS n"
                )
            )
            await connection.execute(sa.text("ANALYZE jobs"))
        async with store.database.engine.connect() as connection:
            query = due_jobs_query(now=T0, limit=5).compile(
                connection.sync_connection, compile_kwargs={"literal_binds": True}
            )
            plan = "\n".join(await connection.scalars(sa.text(f"EXPLAIN {query}")))
    finally:
        await store.close()
    assert "jobs_due" in plan, plan
    assert "Seq Scan" not in plan and "Sort" not in plan, plan


# --------------------------------------------------------------------------- jobs_for_user


async def test_jobs_for_user_are_newest_first_and_only_theirs(store: JobStore) -> None:
    older = await record(store, 1, now=T0)
    newer = await record(store, 2, now=T0 + 60)
    in_group = await record(store, 3, now=T0 + 120, chat_id=-100500)
    await record(store, 4, now=T0 + 180, user_id=222, chat_id=222)

    assert [j.id for j in await store.jobs_for_user(111)] == [in_group, newer, older]
    assert [j.id for j in await store.jobs_for_user(111, chat_id=-100500)] == [in_group]
    assert [j.id for j in await store.jobs_for_user(111, limit=2)] == [in_group, newer]
    assert await store.jobs_for_user(333) == []


async def test_jobs_recorded_in_the_same_instant_keep_their_order(store: JobStore) -> None:
    first = await record(store, 1, now=T0)
    second = await record(store, 2, now=T0)
    assert [j.id for j in await store.jobs_for_user(111)] == [second, first]


# --------------------------------------------------------------------------- chat moves

OLD_GROUP, SUPERGROUP = -4242, -1009999


async def test_group_that_became_a_supergroup_moves_even_where_message_ids_meet(
    store: JobStore,
) -> None:
    old = await record(store, 7, chat_id=OLD_GROUP)
    new = await record(store, 7, chat_id=SUPERGROUP, now=T0 + 60)  # the new chat counts anew
    await store.move_chat(OLD_GROUP, SUPERGROUP, now=T0 + 120)
    await store.move_chat(OLD_GROUP, SUPERGROUP, now=T0 + 180)  # Telegram says so again
    assert await store.current_chat(OLD_GROUP) == SUPERGROUP
    assert await store.current_chat(SUPERGROUP) == SUPERGROUP
    assert await store.current_chat(111) == 111
    # Each job keeps the chat its message ids belong to.
    assert (await store.get(old)).chat_id == OLD_GROUP
    assert (await store.get(new)).chat_id == SUPERGROUP


async def test_supergroup_request_with_an_old_group_message_id_is_a_new_request(
    store: JobStore,
) -> None:
    old = await record(store, 7, chat_id=OLD_GROUP)
    await store.move_chat(OLD_GROUP, SUPERGROUP, now=T0 + 60)
    new = await record(store, 7, chat_id=SUPERGROUP, now=T0 + 120)
    assert await store.record_request(request(7, chat_id=SUPERGROUP), now=T0 + 180) is None
    # The supergroup's list holds what was asked in the group it was.
    assert [j.id for j in await store.jobs_for_user(111, chat_id=SUPERGROUP)] == [new, old]
    assert [j.id for j in await store.jobs_for_user(111, chat_id=OLD_GROUP)] == [old]


# --------------------------------------------------------------------------- restarts


async def test_recovery_resumes_unleased_requests_and_interrupts_cut_off_submissions(
    store: JobStore,
) -> None:
    received = await record(store, 1)
    submitting = await record(store, 2)
    await store.update(submitting, now=T0, state=JobState.SUBMITTING)
    untouched = {}
    for message_id, state in enumerate(
        (JobState.QUEUED, JobState.DELIVERED, JobState.REJECTED, JobState.FAILED), start=3
    ):
        job_id = await record(store, message_id)
        untouched[job_id] = await store.update(job_id, now=T0, state=state)

    now = T0 + 300
    resumed, interrupted = await LeaseStore.of(store).recover_abandoned(owner="next", now=now)
    assert (resumed, interrupted) == (1, 1)

    # Never sent to the paid API: it can safely be checked and sent again.
    again = await store.get(received)
    assert again.state is JobState.RECEIVED
    assert again.next_poll_at == now
    # The answer to a create call was lost: asking again could charge twice.
    cut_off = await store.get(submitting)
    assert cut_off.state is JobState.INTERRUPTED
    assert cut_off.reason is Reason.RESTARTED_WHILE_SUBMITTING
    assert cut_off.next_poll_at == now
    for job_id, before in untouched.items():
        assert await store.get(job_id) == before

    assert {j.id for j in await store.due_jobs(now=now, limit=10)} == {received, submitting}
    # Made due once: the tick takes it from there, and a second pass has nothing to do.
    assert await LeaseStore.of(store).recover_abandoned(owner="next", now=now + 1) == (0, 0)


async def test_jobs_survive_closing_and_reopening(database: TestDatabase) -> None:
    first = await JobStore.open(database.where)
    job = await first.record_request(request(1), now=T0)
    await first.close()

    second = await JobStore.open(database.where)
    try:
        assert job is not None
        assert await second.get(job.id) == job
        assert await second.record_request(request(1), now=T0) is None
    finally:
        await second.close()


async def test_a_second_process_on_the_same_sqlite_file_is_refused(
    database: TestDatabase,
) -> None:
    if database.engine != "sqlite":
        pytest.skip("several instances share a PostgreSQL database (test_leases.py)")
    first = await JobStore.open(database.where)
    try:
        with pytest.raises(DatabaseInUse, match="in use by another running bot"):
            await JobStore.open(database.where)
    finally:
        await first.close()
    again = await JobStore.open(database.where)  # closing gave it back
    await again.close()


async def test_instances_share_a_postgresql_database_but_one_polls(
    database: TestDatabase,
) -> None:
    if database.engine != "postgresql":
        pytest.skip("a SQLite file takes one process (the test above)")
    polling, webhook = await JobStore.open(database.where), await JobStore.open(database.where)
    try:
        await polling.database.claim_polling()
        second = await JobStore.open(database.where)
        try:
            with pytest.raises(DatabaseInUse, match="in polling mode"):
                await second.database.claim_polling()
        finally:
            await second.close()
        await polling.close()  # closing gives the claim back
        await webhook.database.claim_polling()
    finally:
        await polling.close()
        await webhook.close()


async def test_instances_started_together_on_a_new_database_migrate_it_once(
    database: TestDatabase,
) -> None:
    if database.engine != "postgresql":
        pytest.skip("a SQLite file takes one process")
    opened = await asyncio.gather(*(JobStore.open(database.where) for _ in range(3)))
    try:
        assert await opened[0].record_request(request(1), now=T0) is not None
        assert await opened[2].record_request(request(1), now=T0) is None  # one schema, one row
    finally:
        for store in opened:
            await store.close()


async def test_a_closed_store_never_reaches_the_database_again(database: TestDatabase) -> None:
    # Its claim on the database is given back at close: another bot may hold it by then.
    store = await JobStore.open(database.where)
    job_id = await record(store, 1)
    await store.close()
    with pytest.raises(DatabaseClosed, match="was closed"):
        await store.get(job_id)
    with pytest.raises(DatabaseClosed):
        await store.ping()  # what /readyz asks: a closed store is not ready


async def test_ping_answers_while_the_database_is_open(store: JobStore) -> None:
    await store.ping()


# --------------------------------------------------------------------------- schema


@pytest.mark.sqlite_only
async def test_new_database_is_created_with_folders_in_wal_at_the_newest_version(
    store: JobStore, database: TestDatabase
) -> None:
    path = database.where
    assert isinstance(path, Path)
    assert await asyncio.to_thread(path.is_file)
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        assert db.execute("SELECT version_num FROM alembic_version").fetchall() == [(head(),)]
        indexes = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
    db.close()
    assert len(MIGRATIONS) >= 1
    assert {"jobs", "jobs_due", "jobs_by_user", "album_notices"} <= indexes


@pytest.mark.sqlite_only
async def test_every_connection_syncs_each_commit_in_full(store: JobStore) -> None:
    # FULL, not NORMAL: a power cut must never undo a SUBMITTING row and resend a paid create.
    async with store.database.engine.connect() as connection:
        synchronous = await connection.scalar(sa.text("PRAGMA synchronous"))
        journal = await connection.scalar(sa.text("PRAGMA journal_mode"))
    assert (synchronous, journal) == (2, "wal")  # 2 is FULL


async def test_database_at_version_1_is_migrated_forward_keeping_its_jobs(path: Path) -> None:
    path.parent.mkdir(parents=True)
    with sqlite3.connect(path) as db:
        db.executescript(f"BEGIN; {MIGRATIONS[0]}; PRAGMA user_version = 1; COMMIT;")
        db.execute(
            "INSERT INTO jobs (chat_id, request_message_id, photo_message_id, user_id, prompt, "
            "prompt_optimizer, file_id, state, created_at, updated_at) "
            "VALUES (111, 1, 1, 111, 'kept', 1, 'f', 'delivered', ?, ?)",
            (T0, T0),
        )
    db.close()

    store = await JobStore.open(path)
    try:
        [job] = await store.jobs_for_user(111)
        assert job.prompt == "kept"
        assert job.state is JobState.DELIVERED
    finally:
        await store.close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    db.close()


async def test_database_from_a_newer_bot_is_refused(path: Path) -> None:
    path.parent.mkdir(parents=True)
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    db.close()
    with pytest.raises(RuntimeError, match="newer"):
        await JobStore.open(path)


async def test_database_at_a_revision_this_bot_does_not_know_is_refused(
    database: TestDatabase,
) -> None:
    store = await JobStore.open(database.where)
    try:
        async with store.database.engine.begin() as connection:
            await connection.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))
    finally:
        await store.close()
    with pytest.raises(RuntimeError, match="revision 9999 is newer than this bot knows"):
        await JobStore.open(database.where)


async def test_album_is_noted_once(store: JobStore) -> None:
    assert await store.note_album(111, "album-1", now=T0) is True
    assert await store.note_album(111, "album-1", now=T0 + 1) is False
    assert await store.note_album(222, "album-1", now=T0) is True


# --------------------------------------------------------------------------- note_image


async def test_an_image_is_noted_once_per_user_prompt_and_unfinished_job(store: JobStore) -> None:
    first, second = await record(store, 1), await record(store, 2)
    bobs = await record(store, 3, user_id=222)
    job_one, job_two, job_bob = [await store.get(i) for i in (first, second, bobs)]

    assert await store.note_image(job_one, "sha-a", now=T0) is None
    twin = await store.note_image(job_two, "sha-a", now=T0)
    assert twin is not None and twin.id == first
    assert (await store.get(second)).image_sha256 is None  # nothing recorded for the double
    assert await store.note_image(job_bob, "sha-a", now=T0) is None  # another user's
    assert await store.note_image(job_two, "sha-b", now=T0) is None  # another image
    assert await store.note_image(job_one, "sha-a", now=T0) is None  # itself, checked again


async def test_an_image_noted_after_its_twin_finished_goes_on(store: JobStore) -> None:
    first, second = await record(store, 1), await record(store, 2)
    assert await store.note_image(await store.get(first), "sha", now=T0) is None
    for ended in (JobState.DELIVERED, JobState.FAILED, JobState.REJECTED, JobState.INTERRUPTED):
        await store.update(first, now=T0, state=ended)
        assert await store.note_image(await store.get(second), "sha", now=T0) is None
        await store.update(second, now=T0, image_sha256=None)


async def test_another_prompt_chat_or_optimizer_choice_is_another_video(store: JobStore) -> None:
    first = await record(store, 1)
    elsewhere = await store.get(await record(store, 1, chat_id=-100777))
    other_prompt = await store.record_request(request(2, prompt="a dog"), now=T0)
    exact = await store.record_request(
        dataclasses.replace(request(3), prompt_optimizer=False), now=T0
    )
    assert other_prompt is not None and exact is not None
    assert await store.note_image(await store.get(first), "sha", now=T0) is None
    assert await store.note_image(other_prompt, "sha", now=T0) is None
    assert await store.note_image(exact, "sha", now=T0) is None
    assert await store.note_image(elsewhere, "sha", now=T0) is None  # answered in its own chat


async def test_two_identical_images_noted_at_once_let_exactly_one_go_on(store: JobStore) -> None:
    jobs = [await store.get(await record(store, i)) for i in range(1, 9)]
    twins = await asyncio.gather(*(store.note_image(job, "sha", now=T0) for job in jobs))
    assert sum(twin is None for twin in twins) == 1
    [going_on] = [job.id for job, twin in zip(jobs, twins, strict=True) if twin is None]
    assert all(twin.id == going_on for twin in twins if twin is not None)


async def test_recent_generation_times_are_the_finished_jobs_newest_first(
    store: JobStore,
) -> None:
    for message_id, took in ((1, 150.0), (2, 200.0), (3, 170.0)):
        job_id = await record(store, message_id)
        submitted = T0 + message_id * 1000
        await store.update(job_id, now=T0, submitted_at=submitted, completed_at=submitted + took)
    await record(store, 4)  # still running: not a time yet
    assert await store.recent_generation_seconds(limit=2) == [170.0, 200.0]


async def test_a_reason_code_this_build_does_not_know_reads_as_none_and_stops_no_tick(
    store: JobStore,
) -> None:
    # As after rolling back from a newer build that wrote a code of its own.
    job_id = await record(store, 1)
    await store.update(job_id, now=T0, state=JobState.FAILED, next_poll_at=T0)
    async with store.database.engine.begin() as connection:
        await connection.execute(
            sa.text("UPDATE jobs SET reason = 'a_future_code' WHERE id = :id"), {"id": job_id}
        )

    [due] = await store.due_jobs(now=T0 + 1, limit=10)
    assert (due.id, due.state, due.reason) == (job_id, JobState.FAILED, None)
