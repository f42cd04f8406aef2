"""A create that may have made a job is never sent again; one that surely made nothing is,
from the line, until the service takes it or the bot's patience runs out."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot.wiring.application import BotApp
from storage import JobState
from tests.conftest import TestClock, free_port, make_settings, running_bot, services
from tests.e2e.conversation import command, photo, status_says, status_texts, until, video_for
from tests.emulators.aimlapi_emulator import AimlApiEmulator
from tests.emulators.telegram_emulator import TelegramEmulator, private_chat, user

ANN = user(111, "Ann")
ANN_CHAT = private_chat(111)


@pytest.fixture(autouse=True)
def quick_jobs(aiml: AimlApiEmulator) -> None:
    aiml.queued_polls = 1
    aiml.generating_polls = 0


@pytest.mark.parametrize("status", [500, 502, 504, 507])
async def test_a_server_error_that_may_have_made_the_job_is_never_sent_again(
    bot: BotApp, telegram: TelegramEmulator, aiml: AimlApiEmulator, status: int
) -> None:
    aiml.inject("create", status, create_job=True)
    photo(telegram, chat=ANN_CHAT, sender=ANN, prompt="waves")
    await status_says(telegram, 111, "did not confirm")
    [job] = await services(bot).store.jobs_for_user(111)
    assert len(aiml.creates) == 1 and aiml.charged == 1
    assert job.state is JobState.INTERRUPTED
    told = status_texts(telegram, 111)[-1]
    # The user is not invited to pay twice without knowing it.
    assert "may have been charged" in told and "charged on its own" in told


async def test_a_create_that_times_out_after_its_body_was_sent_is_never_sent_again(
    bot: BotApp, telegram: TelegramEmulator, aiml: AimlApiEmulator
) -> None:
    aiml.set_delay("create", 3.0)  # past FAST's 2 s create timeout; the job is made meanwhile
    photo(telegram, chat=ANN_CHAT, sender=ANN, prompt="waves")
    await status_says(telegram, 111, "may have been charged")
    assert len(aiml.creates) == 1 and aiml.charged == 1


@pytest.mark.parametrize("status", [400, 401, 403, 413, 422])
async def test_a_refusal_that_made_nothing_is_not_sent_again_and_says_nothing_was_charged(
    bot: BotApp, telegram: TelegramEmulator, aiml: AimlApiEmulator, status: int
) -> None:
    aiml.inject("create", status, {"statusCode": status, "message": f"refused with {status}"})
    photo(telegram, chat=ANN_CHAT, sender=ANN, prompt="waves")
    await status_says(telegram, 111, "Nothing was charged")
    assert len(aiml.creates) == 1 and aiml.charged == 0


@pytest.mark.parametrize("status", [408, 429, 503])
async def test_a_busy_answer_puts_the_request_back_in_line_until_the_service_takes_it(
    tmp_path: Path,
    telegram: TelegramEmulator,
    aiml: AimlApiEmulator,
    clock: TestClock,
    status: int,
) -> None:
    aiml.inject("create", status, times=3, headers={"Retry-After": "0.3"})
    settings = make_settings(tmp_path, telegram, aiml)
    async with running_bot(settings, clock) as app:
        sent = photo(telegram, chat=ANN_CHAT, sender=ANN, prompt="waves")
        await status_says(telegram, 111, "busy right now and did not take your photo yet")
        await video_for(telegram, sent)
        store = services(app).store

        async def delivered() -> bool:  # recorded once Telegram answered the send
            return (await store.jobs_for_user(111))[0].state is JobState.DELIVERED

        await until(delivered, what="the delivery to be on record")
        [job] = await store.jobs_for_user(111)
    assert len(aiml.creates) == 4 and aiml.charged == 1
    gaps = [
        later.at - earlier.at
        for earlier, later in zip(aiml.creates, aiml.creates[1:], strict=False)
    ]
    assert min(gaps) >= 0.3  # the API's own wish, not a speed target
    assert job.submit_attempts == 3
    # Nobody was told to send the photo again.
    assert not any("send the photo again" in text for text in status_texts(telegram, 111))


async def test_a_service_that_stays_busy_is_given_up_after_the_patience_uncharged(
    tmp_path: Path, telegram: TelegramEmulator, aiml: AimlApiEmulator, clock: TestClock
) -> None:
    aiml.inject("create", 503, times=10**6)
    settings = make_settings(tmp_path, telegram, aiml, submit_patience_seconds=1.0)
    async with running_bot(settings, clock):
        photo(telegram, chat=ANN_CHAT, sender=ANN, prompt="waves")
        await status_says(telegram, 111, "stayed too busy to take your request for 1 s")
    assert len(aiml.creates) >= 2 and aiml.charged == 0
    assert "Nothing was charged" in status_texts(telegram, 111)[-1]


async def test_an_unreachable_service_is_tried_again_and_the_video_still_comes(
    tmp_path: Path,
    telegram: TelegramEmulator,
    aiml: AimlApiEmulator,
    clock: TestClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="bot")
    closed = free_port()  # nobody listens there
    settings = make_settings(
        tmp_path, telegram, aiml, aimlapi_base_url=f"http://127.0.0.1:{closed}/v2"
    )
    async with running_bot(settings, clock) as app:
        sent = photo(telegram, chat=ANN_CHAT, sender=ANN, prompt="waves")
        await status_says(telegram, 111, "nothing is charged until the service takes it")
    # The log tells the operator it is their side (network, URL), not a busy API.
    assert "the API could not be reached" in caplog.text and "API is busy" not in caplog.text
    # The service comes back: the same request, from the line, reaches it after a restart.
    fixed = settings.model_copy(update={"aimlapi_base_url": aiml.base_url})
    async with running_bot(fixed, clock) as app:
        await video_for(telegram, sent)
        [job] = await services(app).store.jobs_for_user(111)
    assert aiml.charged == 1 and job.submit_attempts >= 1


async def test_a_request_waiting_for_a_busy_service_can_be_cancelled(
    bot: BotApp, telegram: TelegramEmulator, aiml: AimlApiEmulator
) -> None:
    aiml.inject("create", 429, times=10**6, headers={"Retry-After": "5"})
    photo(telegram, chat=ANN_CHAT, sender=ANN, prompt="waves")
    await status_says(telegram, 111, "busy right now")
    reply = await command(telegram, chat=ANN_CHAT, sender=ANN, text="/cancel")
    [job] = await services(bot).store.jobs_for_user(111)
    assert job.state is JobState.CANCELLED and "Nothing was charged" in reply
    assert len(aiml.creates) == 1 and aiml.charged == 0


async def test_a_burst_over_the_accounts_rate_is_paced_and_every_photo_gets_its_video(
    tmp_path: Path, telegram: TelegramEmulator, clock: TestClock
) -> None:
    # An account that takes 3 creates in any 2 s, and 12 photos from 4 users at once.
    async with AimlApiEmulator(
        "k", queued_polls=1, generating_polls=0, creates_per_window=3, rate_window=2.0
    ) as aiml:
        settings = make_settings(
            tmp_path, telegram, aiml, aimlapi_key="k", max_active_jobs_per_user=3
        )
        async with running_bot(settings, clock):
            sent = [
                photo(telegram, chat=private_chat(uid), sender=user(uid, "U"), prompt=f"p{n}")
                for n in range(3)
                for uid in (201, 202, 203, 204)
            ]
            await telegram.wait_for("sendVideo", len(sent), timeout=60)
            answered = {
                call.params["reply_parameters"]["message_id"]
                for call in telegram.calls_to("sendVideo")
            }
        assert answered == {each.message_id for each in sent}
        assert aiml.charged == 12
        refused = [r for r in aiml.creates if r.response_status == 429]
        # Paced after the first 429s: most creates went through at the first try.
        assert len(refused) < 12
    for uid in (201, 202, 203, 204):
        assert not any("again" in text for text in status_texts(telegram, uid) if "😔" in text)
