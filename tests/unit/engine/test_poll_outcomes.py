"""The poll tick over the chat port: a finished job is delivered and its status cleared; the
chat's refusals end the job, and its requests to wait are kept."""

from __future__ import annotations

from bot.engine.chat_port import AskedToWait, ChatClosed, MessageRefused, NoAnswer
from bot.engine.tuning import Tuning
from bot.wiring.steps import Steps
from bot.words.texts import ENGLISH
from storage import JobState, JobStore, Reason
from tests.conftest import TestClock
from tests.unit.engine.conftest import record_job
from tests.unit.engine.fakechat import FakeChat


async def _finished(steps: Steps, store: JobStore, clock: TestClock, url: str) -> int:
    job = await record_job(store, clock)
    job = await steps.progress.show_progress(job, "Generating")
    done = await store.update(
        job.id,
        now=clock(),
        state=JobState.COMPLETED,
        video_url=url,
        completed_at=clock(),
        next_poll_at=clock(),
    )
    return done.id


async def _advance(steps: Steps, job_id: int) -> None:
    """One step of the job, whether due or not, holding its lease as the tick would."""
    job = await steps.leases.take(job_id)
    assert job is not None, "nothing else holds it"
    try:
        await steps.poller.advance_job(job)
    finally:
        await steps.leases.release(job_id)


async def test_a_finished_job_is_delivered_and_its_status_makes_way(
    steps: Steps, chat: FakeChat, store: JobStore, clock: TestClock, video_server: str
) -> None:
    job_id = await _finished(steps, store, clock, f"{video_server}/video.mp4")
    assert await steps.poller.advance_due_jobs() == 1
    [video] = chat.in_chat(111)
    assert video.video is not None
    delivered = await store.get(job_id)
    assert delivered.state is JobState.DELIVERED
    assert delivered.video_message_id == video.message_id
    assert delivered.status_message_id is None
    assert delivered.lease_until is None  # let go: nothing holds it any more
    assert delivered.lease_owner == steps.leases.owner  # the last to have worked on it


async def test_a_video_for_a_blocked_chat_is_undeliverable_and_not_tried_again(
    steps: Steps, chat: FakeChat, store: JobStore, clock: TestClock, video_server: str
) -> None:
    job_id = await _finished(steps, store, clock, f"{video_server}/video.mp4")
    chat.fail("send_video", ChatClosed("Forbidden: bot was blocked by the user"))
    await steps.poller.advance_due_jobs()
    job = await store.get(job_id)
    assert job.state is JobState.UNDELIVERABLE and job.next_poll_at is None
    assert chat.in_chat(111) == []  # the status message is gone too


async def test_a_video_the_chat_keeps_refusing_is_asked_again_then_given_up(
    steps: Steps, chat: FakeChat, store: JobStore, clock: TestClock, video_server: str
) -> None:
    job_id = await _finished(steps, store, clock, f"{video_server}/video.mp4")
    attempts = Tuning().refused_reply_attempts
    # Each attempt: the URL and the upload refused, then the link too.
    chat.fail("send_video", MessageRefused("Not enough rights to send videos"), times=2 * attempts)
    chat.fail("send_message", MessageRefused("Not enough rights to send text"), times=attempts)
    for attempt in range(1, attempts):
        await _advance(steps, job_id)
        job = await store.get(job_id)
        assert job.state is JobState.COMPLETED and job.next_poll_at is not None, attempt
        assert job.poll_failures == attempt
    await _advance(steps, job_id)
    job = await store.get(job_id)
    assert job.state is JobState.UNDELIVERABLE and job.next_poll_at is None
    assert job.reason is Reason.REPLY_REFUSED


async def test_a_video_refused_until_the_chats_rights_are_mended_then_arrives(
    steps: Steps, chat: FakeChat, store: JobStore, clock: TestClock, video_server: str
) -> None:
    job_id = await _finished(steps, store, clock, f"{video_server}/video.mp4")
    chat.fail("send_video", MessageRefused("Not enough rights to send videos"), times=2)
    chat.fail("send_message", MessageRefused("Not enough rights to send text"))
    await _advance(steps, job_id)
    assert (await store.get(job_id)).state is JobState.COMPLETED
    await _advance(steps, job_id)  # an admin gave the rights back
    job = await store.get(job_id)
    assert job.state is JobState.DELIVERED and job.video_message_id is not None
    [video] = [shown for shown in chat.messages.values() if shown.video is not None]
    assert (video.chat_id, video.message_id) == (job.chat_id, job.video_message_id)


async def test_flood_control_makes_the_delivery_wait_as_long_as_asked(
    steps: Steps, chat: FakeChat, store: JobStore, clock: TestClock, video_server: str
) -> None:
    job_id = await _finished(steps, store, clock, f"{video_server}/video.mp4")
    chat.fail("send_video", AskedToWait(7.0, "Too Many Requests: retry after 7"))
    await steps.poller.advance_due_jobs()
    job = await store.get(job_id)
    assert job.state is JobState.COMPLETED
    assert job.next_poll_at is not None and abs(job.next_poll_at - (clock() + 7.0)) < 1.0


async def test_an_unanswered_video_send_is_tried_once_more_then_taken_as_sent(
    steps: Steps, chat: FakeChat, store: JobStore, clock: TestClock, video_server: str
) -> None:
    job_id = await _finished(steps, store, clock, f"{video_server}/video.mp4")
    chat.fail("send_video", NoAnswer("Timed out"), times=2)
    await _advance(steps, job_id)
    job = await store.get(job_id)
    assert job.state is JobState.COMPLETED and job.unanswered_sends == 1
    await _advance(steps, job_id)
    job = await store.get(job_id)
    assert job.state is JobState.DELIVERED and job.video_message_id is None


async def test_a_failure_notice_is_a_reply_to_the_photo_with_try_again(
    steps: Steps, chat: FakeChat, store: JobStore, clock: TestClock
) -> None:
    job = await record_job(store, clock, state=JobState.TIMED_OUT, next_poll_at=clock())
    await steps.poller.advance_due_jobs()
    [notice] = chat.in_chat(111)
    assert notice.reply_to == 10
    assert notice.buttons == [(ENGLISH.BUTTON_RETRY, f"retry:{job.id}")]
    assert (await store.get(job.id)).delivered_at is not None
