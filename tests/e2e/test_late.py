"""A video the operator paid for reaches its user whenever it is ready: a job past its
timeout is late, not lost."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from storage import JobState
from storage.counts import AccessStore
from tests.conftest import FAST, TestClock, make_settings, running_bot, services
from tests.e2e.conversation import (
    FOREVER,
    command,
    created,
    photo,
    status_says,
    status_texts,
    video_for,
)
from tests.emulators.aimlapi_emulator import AimlApiEmulator
from tests.emulators.telegram_emulator import TelegramEmulator, private_chat, user

ANN = user(111, "Ann")
ANN_CHAT = private_chat(111)
#: Late jobs checked every 0.2 s, given up an hour after submission.
SLOW_CHECKS = dataclasses.replace(FAST, late_poll_seconds=0.2, late_patience_seconds=3600.0)


@pytest.fixture(autouse=True)
def slow_jobs(aiml: AimlApiEmulator) -> None:
    aiml.queued_polls = FOREVER


async def test_a_late_video_is_still_delivered_and_its_user_was_told_it_would_come(
    tmp_path: Path, telegram: TelegramEmulator, aiml: AimlApiEmulator, clock: TestClock
) -> None:
    settings = make_settings(tmp_path, telegram, aiml, job_timeout_seconds=600)
    async with running_bot(settings, clock, SLOW_CHECKS) as app:
        sent = photo(telegram, chat=ANN_CHAT, sender=ANN, prompt="slow")
        generation_id = await created(aiml, "slow")
        await status_says(telegram, 111, "Queued")
        clock.advance(601)
        await status_says(telegram, 111, "Your video is late")
        [job] = await services(app).store.jobs_for_user(111)
        polls_when_late = len(aiml.polls)
        clock.advance(1800)  # half an hour late: still checked
        aiml.complete_now(generation_id)
        await video_for(telegram, sent)
    assert job.state is JobState.LATE and aiml.charged == 1
    assert len(aiml.polls) > polls_when_late
    assert not any("stopped waiting" in text for text in status_texts(telegram, 111))


async def test_a_late_job_keeps_its_place_against_the_limits_until_it_is_given_up(
    tmp_path: Path, telegram: TelegramEmulator, aiml: AimlApiEmulator, clock: TestClock
) -> None:
    settings = make_settings(
        tmp_path, telegram, aiml, job_timeout_seconds=600, max_active_jobs_per_user=1
    )
    async with running_bot(settings, clock, SLOW_CHECKS) as app:
        photo(telegram, chat=ANN_CHAT, sender=ANN, prompt="slow")
        await created(aiml, "slow")
        # Recorded as submitted before the clock moves on: its lateness counts from then.
        await status_says(telegram, 111, "Queued")
        clock.advance(601)
        await status_says(telegram, 111, "Your video is late")
        second = photo(telegram, chat=ANN_CHAT, sender=ANN, prompt="another")
        await status_says(telegram, 111, "on the way")
        store = services(app).store
        late_counts = await AccessStore.of(store).user_counts(111, since=0)
        clock.advance(3600)
        await telegram.wait_for(
            "sendMessage", where=lambda c: "did not finish this video in 1 h" in c.params["text"]
        )
        given_up = await AccessStore.of(store).user_counts(111, since=0)
        status = await command(telegram, chat=ANN_CHAT, sender=ANN, text="/status")
    assert late_counts.active == 1 and late_counts.today == 1
    assert given_up.active == 0 and given_up.today == 0
    assert "❌" not in status and aiml.charged == 1
    assert second.message_id not in {
        call.params["reply_parameters"]["message_id"] for call in telegram.calls_to("sendVideo")
    }


async def test_a_video_ready_while_the_bot_was_down_past_the_timeout_is_delivered(
    tmp_path: Path, telegram: TelegramEmulator, aiml: AimlApiEmulator, clock: TestClock
) -> None:
    settings = make_settings(tmp_path, telegram, aiml, job_timeout_seconds=600)
    async with running_bot(settings, clock):
        sent = photo(telegram, chat=ANN_CHAT, sender=ANN, prompt="slow")
        generation_id = await created(aiml, "slow")
        await status_says(telegram, 111, "Queued")
    aiml.complete_now(generation_id)
    clock.advance(2 * 3600)  # down for two hours, long past the job's timeout
    async with running_bot(settings, clock):
        await video_for(telegram, sent)
    assert aiml.charged == 1
    assert not any("stopped waiting" in text for text in status_texts(telegram, 111))


async def test_turning_late_is_told_at_once_whatever_the_pace_of_progress_edits(
    tmp_path: Path, telegram: TelegramEmulator, aiml: AimlApiEmulator, clock: TestClock
) -> None:
    # Progress edits so rare that only news told at once can reach the status message.
    rare_edits = dataclasses.replace(SLOW_CHECKS, progress_edit_private=10**6)
    settings = make_settings(tmp_path, telegram, aiml, job_timeout_seconds=600)
    async with running_bot(settings, clock, rare_edits):
        photo(telegram, chat=ANN_CHAT, sender=ANN, prompt="slow")
        await created(aiml, "slow")
        await status_says(telegram, 111, "Queued")
        clock.advance(601)
        await status_says(telegram, 111, "Your video is late")
