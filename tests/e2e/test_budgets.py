"""Budgets: per-user limits, the daily reset, refunds, the bot's waiting line and /cancel."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from pathlib import Path

import pytest

from bot.policy.access import day_start
from bot.wiring.application import BotApp
from storage import Job, JobState
from tests.conftest import (
    FAST,
    TestClock,
    eventually,
    make_settings,
    running_bot,
    send_photo,
    services,
)
from tests.e2e.conversation import (
    FOREVER,
    command,
    created,
    photo,
    reply_to,
    status_says,
    status_texts,
    until,
    video_for,
)
from tests.e2e.taps import bot_message, buttons, saying, tap
from tests.emulators.aimlapi_emulator import AimlApiEmulator
from tests.emulators.telegram_emulator import TelegramEmulator, group_chat, private_chat, user

ANN, ANN_CHAT = user(111, "Ann"), private_chat(111)
BOB, BOB_CHAT = user(222, "Bob"), private_chat(222)
CAROL, CAROL_CHAT = user(333, "Carol"), private_chat(333)


@pytest.fixture
def clock() -> TestClock:
    """Noon UTC today: no test crosses midnight by accident, and resets are 12 h away."""
    now = time.time()
    return TestClock(offset=day_start(now) + 12 * 3600 - now)


@pytest.fixture(autouse=True)
def ready_at_first_status_call(aiml: AimlApiEmulator) -> None:
    aiml.queued_polls = 0
    aiml.generating_polls = 0


def prompts(aiml: AimlApiEmulator) -> list[str]:
    """What the paid API was asked to make, in order."""
    return [str(request.body["prompt"]) for request in aiml.creates]


async def test_a_user_over_the_active_limit_is_refused_with_the_numbers(
    tmp_path: Path, telegram: TelegramEmulator, aiml: AimlApiEmulator, clock: TestClock
) -> None:
    settings = make_settings(tmp_path, telegram, aiml, max_active_jobs_per_user=1)
    aiml.queued_polls = FOREVER
    async with running_bot(settings, clock):
        first = photo(telegram, chat=ANN_CHAT, sender=ANN, prompt="first")
        generation = await created(aiml, "first")
        second = photo(telegram, chat=ANN_CHAT, sender=ANN, prompt="second")
        refusal = await reply_to(telegram, second.message_id)
        aiml.complete_now(generation)
        await video_for(telegram, first)
        third = photo(telegram, chat=ANN_CHAT, sender=ANN, prompt="third")
        aiml.complete_now(await created(aiml, "third"))
        await video_for(telegram, third)

    assert "You already have 1 video on the way, and the most at once is 1" in refusal
    assert prompts(aiml) == ["first", "third"]
    assert len(telegram.calls_to("getFile")) == 2  # the refused photo was never downloaded


async def test_the_daily_limit_holds_until_midnight_utc_then_starts_again(
    tmp_path: Path, telegram: TelegramEmulator, aiml: AimlApiEmulator, clock: TestClock
) -> None:
    settings = make_settings(tmp_path, telegram, aiml, daily_jobs_per_user=2)
    async with running_bot(settings, clock):
        for prompt in ("one", "two"):
            await video_for(telegram, photo(telegram, chat=ANN_CHAT, sender=ANN, prompt=prompt))
        over = photo(telegram, chat=ANN_CHAT, sender=ANN, prompt="three")
        refusal = await reply_to(telegram, over.message_id)
        usage = await command(telegram, chat=ANN_CHAT, sender=ANN, text="/status")
        clock.advance(86400)
        await video_for(telegram, photo(telegram, chat=ANN_CHAT, sender=ANN, prompt="next day"))

    assert "today's limit: 2 of 2 videos" in refusal
    assert "00:00 UTC, in 12 h 0 min" in refusal
    assert "2 of 2 videos used, 0 left" in usage
    assert prompts(aiml) == ["one", "two", "next day"]


async def test_failed_timed_out_and_refused_jobs_give_the_daily_count_back(
    tmp_path: Path, telegram: TelegramEmulator, aiml: AimlApiEmulator, clock: TestClock
) -> None:
    settings = make_settings(tmp_path, telegram, aiml, daily_jobs_per_user=1)
    async with running_bot(settings, clock) as app:
        send_photo(telegram, chat=ANN_CHAT, sender=ANN, caption="tiny", size=(200, 200))
        await status_says(telegram, 111, "This image is too small")
        aiml.fail_next_job()
        photo(telegram, chat=ANN_CHAT, sender=ANN, prompt="flagged")
        await status_says(telegram, 111, "could not make this video")
        aiml.queued_polls = FOREVER
        photo(telegram, chat=ANN_CHAT, sender=ANN, prompt="slow")

        async def slow_submitted() -> bool:
            [newest] = await services(app).store.jobs_for_user(111, limit=1)
            return newest.prompt == "slow" and newest.submitted_at is not None

        await until(slow_submitted, what="'slow' to be submitted")
        clock.advance(settings.job_timeout_seconds + 1)
        await status_says(telegram, 111, "Your video is late")
        # Late is still on its way: it keeps the day's one video.
        held = await command(telegram, chat=ANN_CHAT, sender=ANN, text="/status")
        clock.advance(FAST.late_patience_seconds)
        await status_says(telegram, 111, "did not finish this video in 6 h")
        aiml.queued_polls = 0
        done = photo(telegram, chat=ANN_CHAT, sender=ANN, prompt="finally")
        await video_for(telegram, done)
        usage = await command(telegram, chat=ANN_CHAT, sender=ANN, text="/status")

    assert prompts(aiml) == ["flagged", "slow", "finally"]
    assert "1 of 1 video used, 0 left" in held
    assert "1 of 1 video used, 0 left" in usage


async def test_over_the_bots_total_jobs_wait_in_line_and_go_in_order(
    tmp_path: Path, telegram: TelegramEmulator, aiml: AimlApiEmulator, clock: TestClock
) -> None:
    settings = make_settings(tmp_path, telegram, aiml, max_active_jobs=1)
    aiml.queued_polls = FOREVER
    async with running_bot(settings, clock):
        first = photo(telegram, chat=ANN_CHAT, sender=ANN, prompt="ann first")
        ann = await created(aiml, "ann first")
        second = photo(telegram, chat=BOB_CHAT, sender=BOB, prompt="bob second")
        await status_says(telegram, 222, "it is number 1")
        third = photo(telegram, chat=CAROL_CHAT, sender=CAROL, prompt="carol third")
        await status_says(telegram, 333, "it is number 2")
        bob_status = await command(telegram, chat=BOB_CHAT, sender=BOB, text="/status")
        # Waiting costs nothing: not even the photo is fetched until the job leaves the line.
        assert aiml.charged == 1 and len(telegram.calls_to("getFile")) == 1

        aiml.complete_now(ann)
        await video_for(telegram, first)
        bob = await created(aiml, "bob second")
        await status_says(telegram, 333, "it is number 1")
        await status_says(telegram, 222, "Queued")
        aiml.complete_now(bob)
        await video_for(telegram, second)
        aiml.complete_now(await created(aiml, "carol third"))
        await video_for(telegram, third)

    assert "waiting in line" in bob_status
    assert prompts(aiml) == ["ann first", "bob second", "carol third"]
    creates, jobs = aiml.creates, aiml.jobs
    finished = sorted(job.finished_at or 0.0 for job in jobs.values())
    assert finished[0] <= creates[1].at and finished[1] <= creates[2].at  # one at a time
    # Carol saw her place once per change, and no more.
    places = [text for text in status_texts(telegram, 333) if "waits in line" in text]
    assert len(places) == 2
    assert "number 2" in places[0] and "number 1" in places[1]


async def test_a_slot_that_frees_up_is_filled_while_a_slow_create_from_the_line_runs(
    tmp_path: Path, telegram: TelegramEmulator, aiml: AimlApiEmulator, clock: TestClock
) -> None:
    settings = make_settings(tmp_path, telegram, aiml, max_active_jobs=2)
    aiml.queued_polls = FOREVER
    patient = dataclasses.replace(FAST, create_timeout_seconds=30.0)
    async with running_bot(settings, clock, patient):
        # One after the other: two photos sent at once may reach the API in either order.
        photo(telegram, chat=ANN_CHAT, sender=ANN, prompt="ann")
        ann = await created(aiml, "ann")
        photo(telegram, chat=BOB_CHAT, sender=BOB, prompt="bob")
        bob = await created(aiml, "bob")
        photo(telegram, chat=CAROL_CHAT, sender=CAROL, prompt="carol")
        await status_says(telegram, 333, "it is number 1")
        photo(telegram, chat=ANN_CHAT, sender=ANN, prompt="ann again")
        await status_says(telegram, 111, "it is number 2")
        aiml.set_delay("create", 4)  # every create from now on is answered after 4 s

        aiml.complete_now(ann)
        await eventually(lambda: len(aiml.creates) == 3, what="Carol's create call")
        aiml.complete_now(bob)
        await eventually(lambda: len(aiml.creates) == 4, timeout=15, what="Ann's second create")
        carols_create_answered = aiml.creates[2].response_status is not None
        await created(aiml, "ann again")

    # The second freed slot did not wait for the first one's slow create to be answered.
    assert not carols_create_answered
    assert prompts(aiml) == ["ann", "bob", "carol", "ann again"]


async def test_the_same_photo_and_prompt_sent_while_its_video_is_made_is_charged_once(
    tmp_path: Path, telegram: TelegramEmulator, aiml: AimlApiEmulator, clock: TestClock
) -> None:
    settings = make_settings(tmp_path, telegram, aiml, daily_jobs_per_user=3)
    aiml.queued_polls = FOREVER
    async with running_bot(settings, clock) as app:
        first = photo(telegram, chat=ANN_CHAT, sender=ANN, prompt="she waves")
        generation = await created(aiml, "she waves")
        again = photo(telegram, chat=ANN_CHAT, sender=ANN, prompt="she waves")
        await status_says(telegram, 111, "already being made into a video")
        # Another prompt, or another user, is another video.
        other_prompt = photo(telegram, chat=ANN_CHAT, sender=ANN, prompt="she waves slowly")
        await created(aiml, "she waves slowly")
        photo(telegram, chat=BOB_CHAT, sender=BOB, prompt="she waves")
        await eventually(lambda: aiml.charged == 3, what="Bob's create call")
        usage = await command(telegram, chat=ANN_CHAT, sender=ANN, text="/status")
        aiml.complete_now(generation)
        await video_for(telegram, first)
        # Once the first video is there, the same request is a new video again.
        after = photo(telegram, chat=ANN_CHAT, sender=ANN, prompt="she waves")
        jobs: dict[int, Job] = {}

        async def after_submitted() -> bool:  # recorded once the API has answered the create
            nonlocal jobs
            jobs = {j.request_message_id: j for j in await services(app).store.jobs_for_user(111)}
            return after.message_id in jobs and jobs[after.message_id].submitted_at is not None

        await until(after_submitted, what="the request after the video to be submitted")

    assert prompts(aiml) == ["she waves", "she waves slowly", "she waves", "she waves"]
    refused = jobs[again.message_id]
    assert refused.state is JobState.REJECTED and refused.submitted_at is None
    assert jobs[other_prompt.message_id].submitted_at is not None
    assert "2 of 3 videos used" in usage  # the refused double did not count
    refusal = [text for text in status_texts(telegram, 111) if "already being made" in text]
    assert "tap 🔁 Again under that video" in refusal[0]


async def test_the_same_photo_sent_twice_at_once_in_a_group_is_made_once(
    tmp_path: Path, telegram: TelegramEmulator, aiml: AimlApiEmulator, clock: TestClock
) -> None:
    settings = make_settings(tmp_path, telegram, aiml)
    aiml.queued_polls = FOREVER
    group = group_chat(-100777)
    async with running_bot(settings, clock):
        one = photo(telegram, chat=group, sender=ANN, prompt="the sea moves")
        two = photo(telegram, chat=group, sender=ANN, prompt="the sea moves")
        await status_says(telegram, -100777, "already being made into a video")
        await created(aiml, "the sea moves")
        await asyncio.sleep(0.5)  # time for a second create call, if one were coming

    assert aiml.charged == 1
    [refusal] = [
        call for call in telegram.calls if "already being made" in str(call.params.get("text", ""))
    ]
    # It links to the request that goes on, whichever of the two was checked first.
    links = {f"https://t.me/c/777/{sent.message_id}" for sent in (one, two)}
    assert any(link in str(refusal.params["text"]) for link in links)


async def test_cancel_takes_a_waiting_job_out_of_line_and_it_is_never_charged(
    tmp_path: Path, telegram: TelegramEmulator, aiml: AimlApiEmulator, clock: TestClock
) -> None:
    settings = make_settings(tmp_path, telegram, aiml, max_active_jobs=1)
    aiml.queued_polls = FOREVER
    async with running_bot(settings, clock):
        running = photo(telegram, chat=ANN_CHAT, sender=ANN, prompt="running")
        ann = await created(aiml, "running")
        waiting = photo(telegram, chat=BOB_CHAT, sender=BOB, prompt="never sent")
        await status_says(telegram, 222, "it is number 1")
        cancelled = await command(telegram, chat=BOB_CHAT, sender=BOB, text="/cancel")
        await status_says(telegram, 222, "taken out of the line. Nothing was charged")
        again = await command(telegram, chat=BOB_CHAT, sender=BOB, text="/cancel")
        usage = await command(telegram, chat=BOB_CHAT, sender=BOB, text="/status")
        aiml.complete_now(ann)
        await video_for(telegram, running)
        after = photo(telegram, chat=CAROL_CHAT, sender=CAROL, prompt="after")
        aiml.complete_now(await created(aiml, "after"))
        await video_for(telegram, after)

    assert cancelled == "✖️ Took 1 job out of the line. Nothing was charged."
    assert again == "You have nothing to cancel."
    assert "0 of 10 videos used" in usage
    assert prompts(aiml) == ["running", "after"] and aiml.charged == 2
    assert all(call.params["file_id"] != waiting.file_id for call in telegram.calls_to("getFile"))


async def test_cancel_asks_before_it_stops_following_a_paid_job_and_says_its_credits_are_spent(
    bot: BotApp, telegram: TelegramEmulator, aiml: AimlApiEmulator
) -> None:
    store = services(bot).store
    aiml.queued_polls = FOREVER
    photo(telegram, chat=ANN_CHAT, sender=ANN, prompt="too late")
    generation = await created(aiml, "too late")
    [job] = await store.jobs_for_user(111)
    # Cancel between two status calls (the next is several intervals away), as a user would.
    await eventually(lambda: aiml.jobs[generation].polls == 1, what="the first status call")

    async def first_poll_recorded() -> bool:
        return (await store.get(job.id)).poll_count == 1

    await until(first_poll_recorded, what="the first status call to be recorded")
    question = await command(telegram, chat=ANN_CHAT, sender=ANN, text="/cancel")
    # Paid for already: nothing is given up before its user says so.
    asked = await bot_message(telegram, 111, saying("Stop them, or keep them?"), "the question")
    assert (await store.get(job.id)).state is JobState.QUEUED
    stop, keep = (data for _, data in buttons(asked))
    stranger = await tap(telegram, sender=user(222, "Bob"), message=asked, data=stop)
    assert stranger.params.get("show_alert") and (await store.get(job.id)).state is JobState.QUEUED
    await tap(telegram, sender=ANN, message=asked, data=stop)
    await status_says(telegram, 111, "so its credits are spent")
    # The status is edited first, then the answer to the tap is sent: waited for in turn.
    reply = (await bot_message(telegram, 111, saying("Stopped following"), "the reply"))["text"]
    stopped = await store.get(job.id)

    async def let_go() -> bool:  # a status call begun before the stop has ended
        return (await store.get(job.id)).lease_until is None

    await until(let_go, what="no step holding the stopped job")
    polled = aiml.jobs[generation].polls

    aiml.complete_now(generation)
    nxt = photo(telegram, chat=ANN_CHAT, sender=ANN, prompt="next")
    aiml.complete_now(await created(aiml, "next"))
    await video_for(telegram, nxt)
    usage = await command(telegram, chat=ANN_CHAT, sender=ANN, text="/status")

    assert "already making 1 video for you" in question and keep.startswith("keep:")
    assert "Stopped following 1 job already sent to the video service" in reply
    assert "cannot take them back, so their credits are spent" in reply
    assert stopped.state is JobState.CANCELLED and stopped.next_poll_at is None
    assert len(telegram.calls_to("sendVideo")) == 1  # only "next"
    assert aiml.jobs[generation].polls == polled  # never asked about once stopped
    assert "2 of 10 videos used" in usage  # the cancelled job was charged, so it counts


async def test_cancel_keeps_paid_jobs_when_their_user_says_so_and_the_video_still_comes(
    bot: BotApp, telegram: TelegramEmulator, aiml: AimlApiEmulator
) -> None:
    aiml.queued_polls = FOREVER
    sent = photo(telegram, chat=ANN_CHAT, sender=ANN, prompt="keep me")
    generation = await created(aiml, "keep me")
    await command(telegram, chat=ANN_CHAT, sender=ANN, text="/cancel")
    asked = await bot_message(telegram, 111, saying("Stop them, or keep them?"), "the question")
    _, keep = (data for _, data in buttons(asked))
    await tap(telegram, sender=ANN, message=asked, data=keep)
    await status_says(telegram, 111, "Kept: those videos will still come to you.")
    aiml.complete_now(generation)
    await video_for(telegram, sent)


async def test_a_late_stop_under_cancels_question_never_stops_a_video_asked_for_since(
    bot: BotApp, telegram: TelegramEmulator, aiml: AimlApiEmulator
) -> None:
    aiml.queued_polls = FOREVER
    photo(telegram, chat=ANN_CHAT, sender=ANN, prompt="asked about")
    await created(aiml, "asked about")
    await command(telegram, chat=ANN_CHAT, sender=ANN, text="/cancel")
    asked = await bot_message(telegram, 111, saying("Stop them, or keep them?"), "the question")
    later = photo(telegram, chat=ANN_CHAT, sender=ANN, prompt="asked for since")
    since = await created(aiml, "asked for since")
    stop, _ = (data for _, data in buttons(asked))
    await tap(telegram, sender=ANN, message=asked, data=stop)
    await status_says(telegram, 111, "Stopped following 1 job")
    aiml.complete_now(since)
    await video_for(telegram, later)
