"""This instance's leases: a step here keeps its job to itself even when its lease ran out
and this instance's own next tick claims it again, and the heartbeat renews only the leases
of steps still running."""

from __future__ import annotations

from bot.engine.leases import Leaseholder
from storage import JobState, JobStore, NewJob
from storage.leases import LeaseStore
from tests.conftest import TestClock


async def _due_job(store: JobStore, clock: TestClock, state: JobState) -> int:
    job = await store.record_request(
        NewJob(
            chat_id=111,
            request_message_id=11,
            photo_message_id=10,
            thread_id=None,
            user_id=111,
            prompt="she waves",
            prompt_optimizer=True,
            file_id="photo-file",
        ),
        now=clock(),
    )
    assert job is not None
    await store.update(job.id, now=clock(), state=state, next_poll_at=clock())
    return job.id


async def test_a_job_whose_lease_ran_out_under_a_running_step_is_not_claimed_again_here(
    store: JobStore, clock: TestClock
) -> None:
    job_id = await _due_job(store, clock, JobState.COMPLETED)
    leases = Leaseholder(LeaseStore.of(store), clock, owner="a/1/0001", seconds=30)
    [claimed] = await leases.claim_due(limit=10)
    clock.advance(60)  # the heartbeat lagged: the lease ran out while the send went on
    assert await leases.claim_due(limit=10) == []
    assert await leases.take(job_id) is None
    # The step ends: from now on the job is anyone's again.
    await leases.release(claimed.id)
    assert [job.id for job in await leases.claim_due(limit=10)] == [job_id]


async def test_a_submission_is_fenced_by_its_state_as_well_as_its_lease(
    store: JobStore, clock: TestClock
) -> None:
    job_id = await _due_job(store, clock, JobState.RECEIVED)
    leases = Leaseholder(LeaseStore.of(store), clock, owner="a/1/0001", seconds=30)
    await leases.take(job_id)
    first = await leases.confirm(job_id, expected=JobState.RECEIVED, state=JobState.SUBMITTING)
    assert first is not None and first.state is JobState.SUBMITTING
    # A second step of the same instance, on the same lease, finds it moving on already.
    assert (
        await leases.confirm(job_id, expected=JobState.RECEIVED, state=JobState.SUBMITTING) is None
    )


async def test_the_heartbeat_lets_a_lease_whose_release_failed_run_out(
    store: JobStore, clock: TestClock
) -> None:
    job_id = await _due_job(store, clock, JobState.QUEUED)
    leases = Leaseholder(LeaseStore.of(store), clock, owner="a/1/0001", seconds=30)
    await leases.claim_due(limit=10)
    leases.held.discard(job_id)  # as `release` leaves it when its write fails
    clock.advance(20)
    assert await leases.renew() == 0
    clock.advance(20)  # past the lease: another instance takes it over
    other = Leaseholder(LeaseStore.of(store), clock, owner="b/2/0002", seconds=30)
    [taken] = await other.claim_due(limit=10)
    assert (taken.id, taken.taken_over_from) == (job_id, "a/1/0001")
