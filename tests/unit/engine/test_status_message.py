"""The status message over the chat port: edited in place, sent anew when it cannot be, and an
outcome kept for the tick when it cannot get through at all."""

from __future__ import annotations

from bot.engine.chat_port import Button, ChatClosed, NoAnswer, Unreachable
from bot.wiring.steps import Steps
from storage import JobState, JobStore
from tests.conftest import TestClock
from tests.unit.engine.conftest import record_job
from tests.unit.engine.fakechat import FakeChat

CANCEL = ((Button("✖️ Cancel", "cancel:1"),),)


async def test_the_first_status_is_a_reply_to_the_request(
    steps: Steps, chat: FakeChat, store: JobStore, clock: TestClock
) -> None:
    job = await record_job(store, clock)
    shown = await steps.progress.show_progress(job, "Received", keyboard=CANCEL)
    [status] = chat.in_chat(111)
    assert (status.text, status.reply_to, status.keyboard) == ("Received", 11, CANCEL)
    assert shown.status_message_id == status.message_id
    assert shown.status_text == "Received"


async def test_a_status_is_edited_in_place_and_its_buttons_dropped(
    steps: Steps, chat: FakeChat, store: JobStore, clock: TestClock
) -> None:
    job = await steps.progress.show_progress(
        await record_job(store, clock), "Received", keyboard=CANCEL
    )
    await steps.progress.show_progress(job, "Queued")
    [status] = chat.in_chat(111)
    assert (status.text, status.keyboard) == ("Queued", None)


async def test_a_status_that_already_says_it_is_left_as_it_is(
    steps: Steps, chat: FakeChat, store: JobStore, clock: TestClock
) -> None:
    job = await steps.progress.show_progress(await record_job(store, clock), "Queued")
    again = await steps.progress.show_progress(job, "Queued")
    assert chat.texts(111) == ["Queued"]
    assert again.status_message_id == job.status_message_id
    assert len(chat.calls_to("edit_message")) == 1


async def test_a_status_that_cannot_be_edited_is_sent_anew(
    steps: Steps, chat: FakeChat, store: JobStore, clock: TestClock
) -> None:
    job = await steps.progress.show_progress(await record_job(store, clock), "Received")
    assert job.status_message_id is not None
    chat.messages.pop((111, job.status_message_id))  # deleted by the user
    shown = await steps.progress.show_progress(job, "Queued")
    [status] = chat.in_chat(111)
    assert (status.text, status.reply_to) == ("Queued", 11)
    assert shown.status_message_id == status.message_id != job.status_message_id


async def test_a_status_left_in_the_old_group_is_sent_anew_in_the_supergroup(
    steps: Steps, chat: FakeChat, store: JobStore, clock: TestClock
) -> None:
    job = await record_job(store, clock, chat_id=-4242)
    job = await steps.progress.show_progress(job, "Received")
    chat.move(-4242, -1009999)
    shown = await steps.progress.show_progress(job, "Queued")
    assert chat.texts(-1009999) == ["Queued"]
    assert shown.status_chat_id == -1009999


async def test_an_unanswered_edit_of_an_outcome_is_sent_anew_and_the_old_deleted(
    steps: Steps, chat: FakeChat, store: JobStore, clock: TestClock
) -> None:
    job = await steps.progress.show_progress(await record_job(store, clock), "Received")
    chat.fail("edit_message", NoAnswer("Timed out"))
    await steps.progress.show_outcome(job, "Out of credits")
    # The edit may have gone through: the one message left says the outcome.
    assert chat.texts(111) == ["Out of credits"]
    assert [m.text for m in chat.deleted] == ["Received"]


async def test_an_unanswered_progress_edit_is_not_sent_anew(
    steps: Steps, chat: FakeChat, store: JobStore, clock: TestClock
) -> None:
    job = await steps.progress.show_progress(await record_job(store, clock), "Queued")
    chat.fail("edit_message", Unreachable("Bad Gateway"))
    clock.advance(60)
    job = await store.update(job.id, now=clock(), state=JobState.GENERATING, submitted_at=clock())
    same = await steps.progress.refresh_progress(job)
    assert chat.texts(111) == ["Queued"] and same.status_text == "Queued"


async def test_an_outcome_that_cannot_get_through_waits_for_the_tick(
    steps: Steps, chat: FakeChat, store: JobStore, clock: TestClock
) -> None:
    job = await record_job(store, clock)
    chat.fail("send_message", Unreachable("Internal Server Error"))
    kept = await steps.progress.show_outcome(job, "Out of credits")
    assert chat.texts(111) == []
    assert kept.pending_status == "Out of credits"
    assert kept.next_poll_at is not None and kept.next_poll_at <= clock()  # due: the tick


async def test_a_blocked_chat_is_not_told_progress_and_the_job_goes_on(
    steps: Steps, chat: FakeChat, store: JobStore, clock: TestClock
) -> None:
    job = await steps.progress.show_progress(await record_job(store, clock), "Queued")
    chat.fail("edit_message", ChatClosed("Forbidden: bot was blocked by the user"))
    job = await store.update(job.id, now=clock(), state=JobState.LATE, submitted_at=clock())
    assert (await steps.progress.refresh_progress(job)).status_text == "Queued"


async def test_the_status_goes_once_the_outcome_is_in_the_chat(
    steps: Steps, chat: FakeChat, store: JobStore, clock: TestClock
) -> None:
    job = await steps.progress.show_progress(await record_job(store, clock), "Generating")
    await steps.progress.clear_progress(job)
    assert chat.in_chat(111) == []
    assert (await store.get(job.id)).status_message_id is None
