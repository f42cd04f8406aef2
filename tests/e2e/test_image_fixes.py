"""Images out of the model's rules are fixed with a tap instead of refused for good."""

from __future__ import annotations

import asyncio
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from bot.image.firstframe import MAX_RATIO, MIN_RATIO, MIN_SHORT_SIDE, ImageProblem, ImageRejected
from bot.image.fixes import Fix, fix_for
from bot.policy.access import day_start
from bot.wiring.application import BotApp
from bot.words.texts import ENGLISH
from storage import JobState
from tests.conftest import (
    TestClock,
    eventually_async,
    make_settings,
    running_bot,
    send_photo,
    services,
)
from tests.e2e.conversation import reply_to, video_for
from tests.e2e.taps import bot_message, buttons, first_frame, image_size, saying, tap
from tests.emulators.aimlapi_emulator import AimlApiEmulator
from tests.emulators.telegram_emulator import (
    TelegramEmulator,
    document_message,
    message_update,
    parse_html,
    private_chat,
    user,
)
from tests.images import make_image

ANN, ANN_CHAT = user(111, "Ann"), private_chat(111)
BOB = user(222, "Bob")


@pytest.fixture(autouse=True)
def ready_at_first_status_call(aiml: AimlApiEmulator) -> None:
    aiml.queued_polls = 0
    aiml.generating_polls = 0


async def refused(telegram: TelegramEmulator, size: tuple[int, int]) -> dict[str, Any]:
    """Send Ann's photo of `size`, and return the refusal the bot turned its status into."""
    send_photo(
        telegram, chat=ANN_CHAT, sender=ANN, caption="it sways", image=make_image(*size), size=size
    )
    return await bot_message(telegram, 111, saying("fix the photo for you"), "a fixable refusal")


@pytest.mark.parametrize(
    ("size", "fix"),
    [
        ((1000, 390), Fix.CROP),
        ((1000, 390), Fix.PAD),
        ((390, 1000), Fix.CROP),
        ((390, 1000), Fix.PAD),
        ((600, 300), Fix.UPSCALE),
    ],
    ids=["wide-crop", "wide-pad", "tall-crop", "tall-pad", "small-upscale"],
)
async def test_a_fix_button_sends_the_fixed_image_and_shows_a_preview_first(
    bot: BotApp,
    telegram: TelegramEmulator,
    aiml: AimlApiEmulator,
    size: tuple[int, int],
    fix: Fix,
) -> None:
    refusal = await refused(telegram, size)
    [job] = await services(bot).store.jobs_for_user(111)
    width, height = size
    problem = ImageProblem.TOO_SMALL if min(size) <= MIN_SHORT_SIDE else None
    problem = problem or (ImageProblem.TOO_WIDE if width > height else ImageProblem.TOO_TALL)
    offered = fix_for(problem)

    answer = await tap(telegram, sender=ANN, message=refusal, data=f"fix:{job.id}:{fix}")
    [preview] = await telegram.wait_for("sendPhoto")
    await telegram.wait_for("sendVideo", timeout=15)
    fixed = await services(bot).store.get(job.id)

    rejection = ImageRejected(problem, width=width, height=height)
    assert refusal["text"] == parse_html(ENGLISH.image_refused(rejection, fixes=True))[0]
    assert buttons(refusal) == [(ENGLISH.fix_button(f), f"fix:{job.id}:{f}") for f in offered]
    assert answer.params.get("text") == ENGLISH.fixing(fix)
    # The same job went on, charged once, with an image inside the model's rules.
    assert fixed.image_fix == fix.value and fixed.state is not JobState.REJECTED
    assert aiml.charged == 1
    [create] = aiml.creates
    sent_width, sent_height = image_size(first_frame(create))
    assert MIN_RATIO < Fraction(sent_width, sent_height) < MAX_RATIO
    assert min(sent_width, sent_height) > MIN_SHORT_SIDE
    # Before that, the user saw what would be animated, as a reply to their photo.
    assert preview.at < create.at
    assert preview.params["caption"] == ENGLISH.fix_preview(fix, sent_width, sent_height)
    assert preview.params["reply_parameters"]["message_id"] == job.photo_message_id
    assert max(image_size(preview.files["photo"])) <= 320
    # The first tap took the buttons away: the refusal became the fix's status, with none.
    [fixing] = [
        call
        for call in telegram.calls_to("editMessageText")
        if call.params["message_id"] == refusal["message_id"]
        and call.params["text"] == ENGLISH.fixing(fix)
    ]
    assert not fixing.params.get("reply_markup")


async def test_a_second_tap_on_a_fix_changes_nothing(
    bot: BotApp, telegram: TelegramEmulator, aiml: AimlApiEmulator
) -> None:
    refusal = await refused(telegram, (1000, 390))
    [job] = await services(bot).store.jobs_for_user(111)

    answers = await asyncio.gather(
        tap(telegram, sender=ANN, message=refusal, data=f"fix:{job.id}:crop"),
        tap(telegram, sender=ANN, message=refusal, data=f"fix:{job.id}:pad"),
    )
    await telegram.wait_for("sendVideo", timeout=15)

    texts_answered = sorted(str(answer.params.get("text")) for answer in answers)
    assert ENGLISH.ALREADY_ON_ITS_WAY in texts_answered
    assert aiml.charged == 1
    assert len(telegram.calls_to("sendPhoto")) == 1


async def test_a_stranger_cannot_fix_someone_elses_photo(
    bot: BotApp, telegram: TelegramEmulator, aiml: AimlApiEmulator
) -> None:
    refusal = await refused(telegram, (390, 1000))
    [job] = await services(bot).store.jobs_for_user(111)

    answer = await tap(telegram, sender=BOB, message=refusal, data=f"fix:{job.id}:pad")
    after = await services(bot).store.get(job.id)

    assert answer.params.get("text") == ENGLISH.NOT_YOUR_BUTTON
    assert answer.params.get("show_alert") is True
    assert after.state is JobState.REJECTED and after.image_fix is None
    assert buttons(telegram.messages[(111, refusal["message_id"])])
    assert aiml.charged == 0 and telegram.calls_to("sendPhoto") == []


@pytest.mark.parametrize("late", [False, True], ids=["answered", "too-late-to-answer"])
async def test_a_fix_is_judged_against_todays_budget_like_a_new_request(
    tmp_path: Path, telegram: TelegramEmulator, aiml: AimlApiEmulator, late: bool
) -> None:
    now = time.time()
    clock = TestClock(offset=day_start(now) + 12 * 3600 - now)  # noon: no midnight reset
    settings = make_settings(tmp_path, telegram, aiml, daily_jobs_per_user=1)
    async with running_bot(settings, clock) as app:
        refusal = await refused(telegram, (1000, 390))
        [job] = await services(app).store.jobs_for_user(111)
        # The refusal did not count: another photo still fits today's budget, and uses it.
        other = send_photo(telegram, chat=ANN_CHAT, sender=ANN, caption="other")
        await video_for(telegram, other)
        if late:  # the tap is handled after Telegram stopped waiting for its answer
            telegram.callback_answer_window = 0.0
        answer = await tap(telegram, sender=ANN, message=refusal, data=f"fix:{job.id}:crop")
        # Told either way: the answer is only the button's spinner, the reply says why.
        limit = await reply_to(telegram, refusal["message_id"])
        after = await services(app).store.get(job.id)

    assert answer.params.get("text") is None
    assert "today's limit: 1 of 1" in limit
    assert after.state is JobState.REJECTED and after.image_fix is None
    assert buttons(telegram.messages[(111, refusal["message_id"])])  # for tomorrow
    assert aiml.charged == 1 and telegram.calls_to("sendPhoto") == []


async def test_a_converted_format_is_said_in_the_acknowledgement(
    bot: BotApp, telegram: TelegramEmulator, aiml: AimlApiEmulator
) -> None:
    webp = make_image(720, 1080, "WEBP")
    file_id = telegram.add_file(webp)
    message = document_message(
        chat=ANN_CHAT,
        sender=ANN,
        file_id=file_id,
        file_name="cat.webp",
        mime_type="image/webp",
        file_size=len(webp),
        caption="it blinks",
    )
    telegram.push_update(message_update(message))
    queued = await bot_message(telegram, 111, saying("Queued"), "the acknowledgement")

    assert "(converted from WEBP to JPEG)" in queued["text"]
    assert ENGLISH.queued(typical=180, converted_from="WEBP", image_format="JPEG").endswith(
        "\n(converted from WEBP to JPEG)"
    )


async def test_a_fix_tapped_after_its_video_came_says_it_is_done(
    bot: BotApp, telegram: TelegramEmulator, aiml: AimlApiEmulator
) -> None:
    refusal = await refused(telegram, (1000, 390))
    [job] = await services(bot).store.jobs_for_user(111)
    await tap(telegram, sender=ANN, message=refusal, data=f"fix:{job.id}:crop")
    await telegram.wait_for("sendVideo", timeout=15)
    # The video is in the chat a moment before the bot has recorded it delivered.
    store = services(bot).store

    async def delivered() -> bool:
        return (await store.get(job.id)).state is JobState.DELIVERED

    await eventually_async(delivered, what="the fixed job recorded delivered")
    later = await tap(telegram, sender=ANN, message=refusal, data=f"fix:{job.id}:pad")
    assert later.params.get("text") == ENGLISH.ALREADY_DONE
    assert aiml.charged == 1
