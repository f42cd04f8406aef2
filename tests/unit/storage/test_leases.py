"""Leases on both engines: a step's claim on a job is taken in the statement that finds it,
held by one owner at a time, renewed by its heartbeat, and taken over only once it ran out;
and admission lets one request through the last slot, however many instances judge at once.

On PostgreSQL several instances are several stores on one database, as they would be several
processes; SQLite takes one process, so there the "instances" share the one store.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from storage import JobState, JobStore, NewJob, Reason
from storage.counts import AccessStore, BotCounts, Decide, UserCounts
from storage.jobs import Lease
from storage.leases import LeaseStore
from tests.databases import TestDatabase

T0 = 1_800_000_000.0
A, B, C = "a/101/0a0a", "b/202/0b0b", "c/303/0c0c"


@pytest.fixture
async def stores(database: TestDatabase) -> AsyncIterator[list[JobStore]]:
    """Three instances' stores on the test's database (one store, three times, on SQLite)."""
    if database.engine == "sqlite":
        one = await JobStore.open(database.where)
        opened = [one, one, one]
    else:
        opened = [await JobStore.open(database.where) for _ in range(3)]
    try:
        yield opened
    finally:
        for store in {id(store): store for store in opened}.values():
            await store.close()


def _request(message_id: int, *, user_id: int = 111) -> NewJob:
    return NewJob(
        chat_id=user_id,
        request_message_id=message_id,
        photo_message_id=message_id,
        thread_id=None,
        user_id=user_id,
        prompt="she waves",
        prompt_optimizer=True,
        file_id=f"file-{message_id}",
    )


async def _due(store: JobStore, count: int, *, state: JobState = JobState.QUEUED) -> list[int]:
    """`count` jobs in `state`, due one second apart from T0 on."""
    ids = []
    for number in range(count):
        job = await store.record_request(_request(number + 1), now=T0)
        assert job is not None
        await store.update(job.id, now=T0, state=state, next_poll_at=T0 + number)
        ids.append(job.id)
    return ids


async def test_due_jobs_are_claimed_oldest_first_by_one_owner_until_the_lease_runs_out(
    stores: list[JobStore],
) -> None:
    ids = await _due(stores[0], 4)
    a, b = LeaseStore.of(stores[0]), LeaseStore.of(stores[1])

    mine = await a.claim_due(owner=A, now=T0 + 10, until=T0 + 40, limit=3)
    assert [job.id for job in mine] == ids[:3]
    assert {(job.lease_owner, job.lease_until) for job in mine} == {(A, T0 + 40)}
    # Held: another instance finds only what is left.
    theirs = await b.claim_due(owner=B, now=T0 + 20, until=T0 + 50, limit=10)
    assert [job.id for job in theirs] == ids[3:]
    assert await b.claim_due(owner=B, now=T0 + 39, until=T0 + 69, limit=10) == []

    # A never renewed: once its leases ran out, B takes the jobs over, and says from whom.
    taken = await b.claim_due(owner=B, now=T0 + 40, until=T0 + 70, limit=10)
    assert [job.id for job in taken] == ids[:3]
    assert {(job.lease_owner, job.taken_over_from) for job in taken} == {(B, A)}


async def test_two_instances_claiming_at_once_never_take_the_same_job(
    stores: list[JobStore],
) -> None:
    ids = await _due(stores[0], 60)
    claims = await asyncio.gather(
        *(
            LeaseStore.of(store).claim_due(owner=owner, now=T0 + 100, until=T0 + 130, limit=25)
            for store, owner in zip(stores, (A, B, C), strict=True)
        )
    )
    taken = [job.id for claim in claims for job in claim]
    assert len(taken) == len(set(taken)) == 60
    assert set(taken) == set(ids)


async def test_a_held_job_is_taken_only_once_let_go_and_only_its_owner_lets_it_go(
    stores: list[JobStore],
) -> None:
    [job_id] = await _due(stores[0], 1)
    a, b = LeaseStore.of(stores[0]), LeaseStore.of(stores[1])
    assert await a.take(job_id, owner=A, now=T0, until=T0 + 30) is not None
    assert await b.take(job_id, owner=B, now=T0 + 1, until=T0 + 31) is None
    await b.release(job_id, owner=B)  # not B's to let go
    assert await b.take(job_id, owner=B, now=T0 + 2, until=T0 + 32) is None

    await a.release(job_id, owner=A)
    released = await stores[0].get(job_id)
    assert (released.lease_owner, released.lease_until) == (A, None)  # A did the last work
    taken = await b.take(job_id, owner=B, now=T0 + 3, until=T0 + 33)
    assert taken is not None
    assert taken.lease_owner == B
    assert taken.taken_over_from is None  # let go, not run out: nothing was taken over


async def test_the_heartbeat_renews_only_its_own_leases(stores: list[JobStore]) -> None:
    first, second = await _due(stores[0], 2)
    a, b = LeaseStore.of(stores[0]), LeaseStore.of(stores[1])
    await a.take(first, owner=A, now=T0, until=T0 + 30)
    await b.take(second, owner=B, now=T0, until=T0 + 30)
    assert await a.renew(owner=A, until=T0 + 50) == 1
    assert (await stores[0].get(first)).lease_until == T0 + 50
    assert (await stores[0].get(second)).lease_until == T0 + 30
    # B died: at T0 + 40 its job is free, A's still held.
    claimed = await LeaseStore.of(stores[2]).claim_due(owner=C, now=T0 + 40, until=T0 + 70, limit=9)
    assert [job.id for job in claimed] == [second]


async def test_recovery_takes_over_only_what_a_dead_instance_left_between_intake_and_the_api(
    stores: list[JobStore],
) -> None:
    store = stores[0]
    ids = {}
    for number, (state, until) in enumerate(
        (
            (JobState.RECEIVED, T0 + 30),  # A's, run out
            (JobState.SUBMITTING, T0 + 30),  # A's, run out: its create may have reached the API
            (JobState.RECEIVED, T0 + 90),  # B's, live: B is checking the image now
            (JobState.SUBMITTING, T0 + 90),  # B's, live: B is waiting for the API's answer
        ),
        start=1,
    ):
        job = await store.record_request(
            _request(number), now=T0, lease=Lease(A if until == T0 + 30 else B, until)
        )
        assert job is not None
        await store.update(job.id, now=T0, state=state)
        ids[number] = job.id

    assert await LeaseStore.of(stores[2]).recover_abandoned(owner=C, now=T0 + 60) == (1, 1)

    resumed = await store.get(ids[1])
    assert (resumed.state, resumed.next_poll_at, resumed.taken_over_from) == (
        JobState.RECEIVED,
        T0 + 60,
        A,
    )
    interrupted = await store.get(ids[2])
    assert interrupted.state is JobState.INTERRUPTED
    assert interrupted.reason is Reason.RESTARTED_WHILE_SUBMITTING
    assert (interrupted.taken_over_from, interrupted.lease_owner) == (A, C)
    for live in (ids[3], ids[4]):  # another instance's live work is never touched
        job = await store.get(live)
        assert (job.lease_owner, job.lease_until, job.taken_over_from) == (B, T0 + 90, None)
        assert job.state in (JobState.RECEIVED, JobState.SUBMITTING)


async def test_a_delivery_taken_over_counts_as_a_send_telegram_never_answered(
    stores: list[JobStore],
) -> None:
    [job_id] = await _due(stores[0], 1, state=JobState.COMPLETED)
    await LeaseStore.of(stores[0]).claim_due(owner=A, now=T0, until=T0 + 30, limit=1)
    [taken] = await LeaseStore.of(stores[1]).claim_due(owner=B, now=T0 + 31, until=T0 + 61, limit=1)
    assert taken.id == job_id
    assert taken.unanswered_sends == 1  # A may have posted it: tried once more, not forever


async def test_at_start_a_sole_instance_ends_the_leases_of_the_process_before_it(
    stores: list[JobStore], database: TestDatabase
) -> None:
    [job_id] = await _due(stores[0], 1)
    await LeaseStore.of(stores[0]).take(job_id, owner=A, now=T0, until=T0 + 30)
    assert stores[0].database.sole_instance is (database.engine == "sqlite")
    assert await LeaseStore.of(stores[0]).expire_all(now=T0 + 1) == 1
    assert await LeaseStore.of(stores[0]).take(job_id, owner=B, now=T0 + 1, until=T0 + 31)


def _at_most(active_total: int, per_user: int) -> Decide:
    def decide(mine: UserCounts, load: BotCounts) -> JobState | None:
        if mine.active >= per_user:
            return None
        return JobState.WAITING if load.in_flight >= active_total else JobState.RECEIVED

    return decide


async def test_instances_admitting_at_once_let_one_request_through_the_last_slot(
    stores: list[JobStore],
) -> None:
    # One slot left of MAX_ACTIVE_JOBS=3: of three requests judged at the same moment by three
    # instances, one is let in, the other two wait in line.
    await _due(stores[0], 2)
    admitted = await asyncio.gather(
        *(
            AccessStore.of(store).admit(
                _request(100 + number, user_id=500 + number),
                now=T0,
                since=T0 - 60,
                lease=Lease(owner, T0 + 30),
                decide=_at_most(3, per_user=5),
            )
            for number, (store, owner) in enumerate(zip(stores, (A, B, C), strict=True))
        )
    )
    states = sorted(str(a.job.state) for a in admitted if a.job is not None)
    assert states == ["received", "waiting", "waiting"]


async def test_one_user_sending_from_three_instances_at_once_gets_one_job_past_the_limit(
    stores: list[JobStore],
) -> None:
    admitted = await asyncio.gather(
        *(
            AccessStore.of(store).admit(
                _request(200 + number),
                now=T0,
                since=T0 - 60,
                lease=Lease(owner, T0 + 30),
                decide=_at_most(20, per_user=1),
            )
            for number, (store, owner) in enumerate(zip(stores, (A, B, C), strict=True))
        )
    )
    assert sum(a.job is not None for a in admitted) == 1
    assert all(a.new for a in admitted)  # judged and refused, not taken for repeats


async def test_a_message_posted_to_two_instances_is_recorded_once(
    stores: list[JobStore],
) -> None:
    admitted = await asyncio.gather(
        *(
            AccessStore.of(store).admit(
                _request(300),
                now=T0,
                since=T0 - 60,
                lease=Lease(owner, T0 + 30),
                decide=_at_most(20, per_user=5),
            )
            for store, owner in zip(stores[:2], (A, B), strict=True)
        )
    )
    assert sorted(a.new for a in admitted) == [False, True]
    [job] = [a.job for a in admitted if a.job is not None]
    assert job.lease_owner in (A, B)
