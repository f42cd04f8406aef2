"""The line over the chat port: a waiting job is shown its place with a Cancel button, and
cancelling says so in its status message, without the button."""

from __future__ import annotations

from bot.engine.chat_port import ChatClosed
from bot.wiring.steps import Steps
from bot.words.texts import ENGLISH
from storage import JobState, JobStore
from tests.conftest import TestClock
from tests.unit.engine.conftest import record_job
from tests.unit.engine.fakechat import FakeChat


async def test_a_job_in_line_is_shown_its_place_with_a_cancel_button(
    steps: Steps, chat: FakeChat, store: JobStore, clock: TestClock
) -> None:
    job = await record_job(store, clock, state=JobState.WAITING)
    await steps.line.show_place_in_line(job)
    [status] = chat.in_chat(111)
    assert status.text == ENGLISH.waiting_in_line(1)
    assert status.reply_to == 11
    assert status.buttons == [(ENGLISH.BUTTON_CANCEL, f"cancel:{job.id}")]


async def test_cancelling_a_waiting_job_says_it_was_never_charged(
    steps: Steps, chat: FakeChat, store: JobStore, clock: TestClock
) -> None:
    job = await record_job(store, clock, state=JobState.WAITING)
    await steps.line.show_place_in_line(job)
    cancelled = await steps.line.cancel_jobs(111, chat_id=111, stop_submitted=False, job_id=job.id)
    assert cancelled.waiting == [job.id]
    [status] = chat.in_chat(111)
    assert status.text == ENGLISH.CANCELLED_WAITING
    assert status.buttons == []  # the button went with the place
    assert (await store.get(job.id)).state is JobState.CANCELLED


async def test_a_cancel_the_chat_will_not_show_still_cancels(
    steps: Steps, chat: FakeChat, store: JobStore, clock: TestClock
) -> None:
    job = await record_job(store, clock, state=JobState.WAITING)
    await steps.line.show_place_in_line(job)
    chat.fail("edit_message", ChatClosed("Forbidden: bot was blocked by the user"))
    cancelled = await steps.line.cancel_jobs(111, chat_id=None, stop_submitted=False)
    assert cancelled.waiting == [job.id]
    assert (await store.get(job.id)).state is JobState.CANCELLED


async def test_a_user_who_blocked_the_bot_leaves_the_line_uncharged(
    steps: Steps, chat: FakeChat, store: JobStore, clock: TestClock
) -> None:
    job = await record_job(store, clock, state=JobState.WAITING)
    chat.fail("send_message", ChatClosed("Forbidden: bot was blocked by the user"))
    await steps.line.update_places()
    left = await store.get(job.id)
    assert left.state is JobState.CANCELLED
    assert chat.in_chat(111) == []
