"""The buttons under the bot's messages: Again, Try again and Cancel, for their owner only."""

from __future__ import annotations

import asyncio
import copy
from pathlib import Path

import pytest

from bot.engine.keyboards import again_markup, cancel_markup, fix_markup, retry_markup
from bot.image.fixes import Fix
from bot.wiring.application import BotApp
from bot.words.texts import ENGLISH
from storage import JobState
from tests.conftest import (
    TestClock,
    eventually,
    eventually_async,
    make_settings,
    running_bot,
    send_photo,
    services,
)
from tests.e2e.conversation import (
    FOREVER,
    created,
    jobs_in_line,
    photo,
    status_says,
    status_texts,
    until,
    video_for,
)
from tests.e2e.taps import (
    bot_message,
    button_data,
    buttons,
    first_frame,
    saying,
    tap,
)
from tests.emulators.aimlapi_emulator import AimlApiEmulator
from tests.emulators.telegram_emulator import (
    TelegramEmulator,
    callback_update,
    group_chat,
    private_chat,
    user,
)
from tests.images import make_image

ANN, ANN_CHAT = user(111, "Ann", language_code="de"), private_chat(111)
BOB, BOB_CHAT = user(222, "Bob"), private_chat(222)
GROUP = group_chat(-100777)
FIXES = [Fix.CROP, Fix.PAD]


@pytest.fixture(autouse=True)
def ready_at_first_status_call(aiml: AimlApiEmulator) -> None:
    aiml.queued_polls = 0
    aiml.generating_polls = 0


def is_video(message: dict[str, object]) -> bool:
    return "video" in message


async def test_again_under_a_video_makes_a_new_video_from_the_same_photo_and_prompt(
    bot: BotApp, telegram: TelegramEmulator, aiml: AimlApiEmulator
) -> None:
    store = services(bot).store
    sent = photo(telegram, chat=ANN_CHAT, sender=ANN, prompt="she waves")
    first = await bot_message(telegram, 111, is_video, "the first video")
    [job] = await store.jobs_for_user(111)

    answer = await tap(
        telegram, sender=ANN, message=first, data=button_data(first, again_markup(job))
    )
    await telegram.wait_for("sendVideo", 2, timeout=15)
    newest, original = await store.jobs_for_user(111)

    assert answer.params.get("text") == ENGLISH.ON_ITS_WAY
    assert aiml.charged == 2
    one, two = aiml.creates
    assert first_frame(one) == first_frame(two) == sent.image
    assert one.body["prompt"] == two.body["prompt"] == "she waves"
    # The user uploaded nothing: the photo Telegram keeps was fetched again.
    assert [call.params["file_id"] for call in telegram.calls_to("getFile")] == [sent.file_id] * 2
    assert newest.retry_of == original.id
    assert newest.request_message_id == first["message_id"]
    assert newest.photo_message_id == sent.message_id
    assert newest.language == original.language == "de"
    # The new video answers the photo, as the first did.
    for video in telegram.calls_to("sendVideo"):
        assert video.params["reply_parameters"]["message_id"] == sent.message_id


async def test_again_is_made_even_while_the_same_photo_and_prompt_are_in_the_works(
    tmp_path: Path, telegram: TelegramEmulator, aiml: AimlApiEmulator, clock: TestClock
) -> None:
    async with running_bot(make_settings(tmp_path, telegram, aiml), clock) as app:
        photo(telegram, chat=ANN_CHAT, sender=ANN, prompt="she waves")
        video = await bot_message(telegram, 111, is_video, "the first video")
        [done] = await services(app).store.jobs_for_user(111)
        aiml.queued_polls = FOREVER
        photo(telegram, chat=ANN_CHAT, sender=ANN, prompt="she waves")  # sent again
        await eventually(lambda: aiml.charged == 2, what="the photo sent again")
        # Again is a second version asked for on purpose, not a photo sent twice by mistake.
        answer = await tap(
            telegram, sender=ANN, message=video, data=button_data(video, again_markup(done))
        )
        await eventually(lambda: aiml.charged == 3, what="the again")

    assert answer.params.get("text") == ENGLISH.ON_ITS_WAY
    assert not [text for text in status_texts(telegram, 111) if "already being made" in text]


async def test_a_double_tap_on_again_charges_once(
    bot: BotApp, telegram: TelegramEmulator, aiml: AimlApiEmulator
) -> None:
    photo(telegram, chat=ANN_CHAT, sender=ANN, prompt="he nods")
    video = await bot_message(telegram, 111, is_video, "the video")
    [job] = await services(bot).store.jobs_for_user(111)
    data = button_data(video, again_markup(job))

    answers = await asyncio.gather(
        tap(telegram, sender=ANN, message=video, data=data),
        tap(telegram, sender=ANN, message=video, data=data),
    )
    await telegram.wait_for("sendVideo", 2, timeout=15)

    assert sorted(str(answer.params.get("text")) for answer in answers) == sorted(
        [ENGLISH.ON_ITS_WAY, ENGLISH.ALREADY_ON_ITS_WAY]
    )
    assert aiml.charged == 2  # the original and one again
    assert len(await services(bot).store.jobs_for_user(111)) == 2


async def test_try_again_after_a_failure_notice_makes_a_new_job(
    bot: BotApp, telegram: TelegramEmulator, aiml: AimlApiEmulator
) -> None:
    store = services(bot).store
    aiml.fail_next_job()
    sent = photo(telegram, chat=ANN_CHAT, sender=ANN, prompt="she jumps")
    notice = await bot_message(telegram, 111, saying("could not make this video"), "the notice")
    [failed] = await store.jobs_for_user(111)

    answer = await tap(
        telegram, sender=ANN, message=notice, data=button_data(notice, retry_markup(failed))
    )
    await video_for(telegram, sent)
    retried, failed = await store.jobs_for_user(111)

    assert answer.params.get("text") == ENGLISH.ON_ITS_WAY
    assert failed.state is JobState.FAILED
    assert retried.retry_of == failed.id
    assert aiml.charged == 2
    one, two = aiml.creates
    assert first_frame(one) == first_frame(two) == sent.image
    assert two.body["prompt"] == "she jumps"


async def test_cancel_under_a_place_in_line_takes_only_that_job_out_uncharged(
    tmp_path: Path, telegram: TelegramEmulator, aiml: AimlApiEmulator, clock: TestClock
) -> None:
    settings = make_settings(tmp_path, telegram, aiml, max_active_jobs=1)
    aiml.queued_polls = FOREVER
    async with running_bot(settings, clock) as app:
        store = services(app).store
        running = photo(telegram, chat=ANN_CHAT, sender=ANN, prompt="running")
        ann = await created(aiml, "running")
        photo(telegram, chat=BOB_CHAT, sender=BOB, prompt="bob one")
        await status_says(telegram, 222, "it is number 1")
        two = photo(telegram, chat=BOB_CHAT, sender=BOB, prompt="bob two")
        await status_says(telegram, 222, "it is number 2")
        waiting_two, waiting_one = await jobs_in_line(store, 222)
        assert waiting_one.status_message_id is not None
        status = telegram.messages[(222, waiting_one.status_message_id)]
        assert buttons(status) == [(ENGLISH.BUTTON_CANCEL, f"cancel:{waiting_one.id}")]

        data = button_data(status, cancel_markup(waiting_one))
        answer = await tap(telegram, sender=BOB, message=status, data=data)
        await status_says(telegram, 222, "taken out of the line. Nothing was charged")
        cancelled_status = telegram.messages[(222, waiting_one.status_message_id)]
        await status_says(telegram, 222, "it is number 1")  # bob two moved up
        assert waiting_two.status_message_id is not None
        second_status = dict(telegram.messages[(222, waiting_two.status_message_id)])
        aiml.complete_now(ann)
        await video_for(telegram, running)
        aiml.complete_now(await created(aiml, "bob two"))
        await video_for(telegram, two)
        # A Cancel still on screen after its job left the line changes nothing.
        late = await tap(
            telegram,
            sender=BOB,
            message=second_status,
            data=button_data(second_status, cancel_markup(waiting_two)),
        )
        cancelled = await store.get(waiting_one.id)

        async def delivered() -> bool:  # recorded once Telegram has answered the send
            return (await store.get(waiting_two.id)).state is JobState.DELIVERED

        await until(delivered, what="bob two recorded as delivered")

    assert answer.params.get("text") == ENGLISH.OUT_OF_THE_LINE
    assert "reply_markup" not in cancelled_status  # the button went with the place
    assert late.params.get("text") == ENGLISH.ALREADY_LEFT_THE_LINE
    assert cancelled.state is JobState.CANCELLED and cancelled.submitted_at is None
    assert [create.body["prompt"] for create in aiml.creates] == ["running", "bob two"]


async def test_a_stranger_pressing_someone_elses_buttons_gets_an_alert_and_nothing_changes(
    tmp_path: Path, telegram: TelegramEmulator, aiml: AimlApiEmulator, clock: TestClock
) -> None:
    settings = make_settings(tmp_path, telegram, aiml, max_active_jobs=1)
    aiml.queued_polls = FOREVER
    chat_id = GROUP["id"]
    async with running_bot(settings, clock) as app:
        store = services(app).store
        # A photo too wide for the model: refused, with buttons to fix it.
        send_photo(
            telegram,
            chat=GROUP,
            sender=ANN,
            caption="/animate it pans",
            image=make_image(1000, 390),
            size=(1000, 390),
        )
        refusal = await bot_message(telegram, chat_id, saying("too wide"), "the refusal")
        [refused] = await store.jobs_for_user(111)
        first = photo(telegram, chat=GROUP, sender=ANN, prompt="first")
        generation = await created(aiml, "first")
        photo(telegram, chat=GROUP, sender=ANN, prompt="second")
        await status_says(telegram, chat_id, "it is number 1")
        waiting, running, _ = await jobs_in_line(store, 111)
        assert waiting.status_message_id is not None
        # As the user saw it then: it loses its button once the job leaves the line.
        in_line = copy.deepcopy(telegram.messages[(chat_id, waiting.status_message_id)])
        aiml.complete_now(generation)
        await video_for(telegram, first)
        video = await bot_message(telegram, chat_id, is_video, "the video")
        await created(aiml, "second")  # the line moved on: the paid API has it

        assert buttons(refusal) == [
            (b.text, b.data) for row in fix_markup(refused, FIXES) for b in row
        ]
        taps = [
            (refusal, f"fix:{refused.id}:crop"),
            (in_line, button_data(in_line, cancel_markup(waiting))),
            (video, button_data(video, again_markup(running))),
            (video, f"retry:{running.id}"),
        ]
        answers = [await tap(telegram, sender=BOB, message=m, data=d) for m, d in taps]
        still_refused = await store.get(refused.id)
        bobs, anns = await store.jobs_for_user(222), await store.jobs_for_user(111)

    for answer in answers:
        assert answer.params.get("text") == ENGLISH.NOT_YOUR_BUTTON
        assert answer.params.get("show_alert") is True
    assert still_refused.state is JobState.REJECTED and still_refused.image_fix is None
    assert buttons(telegram.messages[(chat_id, refusal["message_id"])])  # still offered to Ann
    assert [create.body["prompt"] for create in aiml.creates] == ["first", "second"]
    assert bobs == [] and len(anns) == 3


async def test_again_goes_on_when_the_tap_can_no_longer_be_answered(
    bot: BotApp, telegram: TelegramEmulator, aiml: AimlApiEmulator
) -> None:
    photo(telegram, chat=ANN_CHAT, sender=ANN, prompt="he nods")
    video = await bot_message(telegram, 111, is_video, "the video")
    [job] = await services(bot).store.jobs_for_user(111)
    telegram.callback_answer_window = 0.0  # Telegram stopped waiting for the answer
    update = callback_update(
        sender=ANN, message=copy.deepcopy(video), data=button_data(video, again_markup(job))
    )
    telegram.push_update(update)
    await telegram.wait_for("sendVideo", 2, timeout=15)
    assert aiml.charged == 2


async def test_again_tapped_once_more_after_its_video_came_says_it_is_done(
    bot: BotApp, telegram: TelegramEmulator, aiml: AimlApiEmulator
) -> None:
    photo(telegram, chat=ANN_CHAT, sender=ANN, prompt="he nods")
    video = await bot_message(telegram, 111, is_video, "the video")
    [job] = await services(bot).store.jobs_for_user(111)
    data = button_data(video, again_markup(job))
    first = await tap(telegram, sender=ANN, message=video, data=data)
    await telegram.wait_for("sendVideo", 2, timeout=15)
    # The video is in the chat a moment before the bot has recorded it delivered.
    store = services(bot).store

    async def both_delivered() -> bool:
        return all(j.state is JobState.DELIVERED for j in await store.jobs_for_user(111))

    await eventually_async(both_delivered, what="the second video recorded delivered")
    later = await tap(telegram, sender=ANN, message=video, data=data)
    assert first.params.get("text") == ENGLISH.ON_ITS_WAY
    assert later.params.get("text") == ENGLISH.ALREADY_DONE
    assert aiml.charged == 2
