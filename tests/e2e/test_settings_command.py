"""Prompt control: /settings keeps a user's prompt optimizer default; `--exact` turns it off
for one job."""

from __future__ import annotations

from pathlib import Path

from bot.wiring.application import BotApp
from bot.words.texts import ENGLISH
from tests.conftest import TestClock, make_settings, running_bot, send_photo
from tests.e2e.conversation import command, created, reply_to, video_for
from tests.e2e.taps import bot_message, buttons, saying, tap
from tests.emulators.aimlapi_emulator import AimlApiEmulator
from tests.emulators.telegram_emulator import (
    TelegramEmulator,
    group_chat,
    message_update,
    parse_html,
    private_chat,
    text_message,
    user,
)

ANN, ANN_CHAT = user(111, "Ann"), private_chat(111)
BOB = user(222, "Bob")
CAROL, CAROL_CHAT = user(333, "Carol"), private_chat(333)
GROUP = group_chat(-100888)


def optimizer_of(aiml: AimlApiEmulator, prompt: str) -> object:
    """What a create call with this prompt asked for as `prompt_optimizer`."""
    [create] = [create for create in aiml.creates if create.body["prompt"] == prompt]
    return create.body["prompt_optimizer"]


async def test_exact_at_the_end_of_a_prompt_turns_the_optimizer_off_for_that_job_only(
    bot: BotApp, telegram: TelegramEmulator, aiml: AimlApiEmulator
) -> None:
    send_photo(telegram, chat=ANN_CHAT, sender=ANN, caption="she waves slowly --exact")
    await created(aiml, "she waves slowly")
    send_photo(telegram, chat=GROUP, sender=BOB, caption="/animate he nods —exact")
    await created(aiml, "he nods")
    send_photo(telegram, chat=CAROL_CHAT, sender=CAROL, caption="a cat blinks")
    await created(aiml, "a cat blinks")

    assert optimizer_of(aiml, "she waves slowly") is False
    assert optimizer_of(aiml, "he nods") is False  # a phone's dash counts too
    assert optimizer_of(aiml, "a cat blinks") is True


async def test_exact_alone_is_no_prompt(
    bot: BotApp, telegram: TelegramEmulator, aiml: AimlApiEmulator
) -> None:
    private = send_photo(telegram, chat=ANN_CHAT, sender=ANN, caption="--exact")
    group = send_photo(telegram, chat=GROUP, sender=ANN, caption="/animate  --exact ")

    assert await reply_to(telegram, private.message_id) == parse_html(ENGLISH.NEED_CAPTION)[0]
    assert await reply_to(telegram, group.message_id) == parse_html(ENGLISH.ANIMATE_NEEDS_PROMPT)[0]
    assert aiml.charged == 0


async def test_settings_switch_applies_to_the_next_job_and_survives_a_restart(
    tmp_path: Path, telegram: TelegramEmulator, aiml: AimlApiEmulator, clock: TestClock
) -> None:
    settings = make_settings(tmp_path, telegram, aiml)
    async with running_bot(settings, clock):
        shown = await command(telegram, chat=ANN_CHAT, sender=ANN, text="/settings")
        menu = await bot_message(telegram, 111, saying("Prompt optimizer"), "the settings")
        stranger = await tap(telegram, sender=BOB, message=menu, data="opt:off")
        answer = await tap(telegram, sender=ANN, message=menu, data=buttons(menu)[0][1])
        switched = await bot_message(telegram, 111, saying("optimizer: off"), "the new settings")
        mine = send_photo(telegram, chat=ANN_CHAT, sender=ANN, caption="before the restart")
        await video_for(telegram, mine)
    async with running_bot(settings, clock):
        again = await command(telegram, chat=ANN_CHAT, sender=ANN, text="/settings")
        send_photo(telegram, chat=ANN_CHAT, sender=ANN, caption="after the restart")
        await created(aiml, "after the restart")

    assert "Prompt optimizer: on (the default)" in shown
    assert buttons(menu) == [(ENGLISH.optimizer_button(True), "opt:off")]
    assert stranger.params.get("show_alert") is True  # not Bob's settings: nothing changed
    assert answer.params.get("text") == ENGLISH.optimizer_saved(False)
    assert switched["message_id"] == menu["message_id"]  # the same message, edited
    assert buttons(switched) == [(ENGLISH.optimizer_button(False), "opt:on")]
    assert "Prompt optimizer: off" in again and "(the default)" not in again
    assert optimizer_of(aiml, "before the restart") is False
    assert optimizer_of(aiml, "after the restart") is False


async def test_a_tap_too_late_to_answer_still_switches_the_setting_and_shows_it(
    bot: BotApp, telegram: TelegramEmulator, aiml: AimlApiEmulator
) -> None:
    await command(telegram, chat=ANN_CHAT, sender=ANN, text="/settings")
    menu = await bot_message(telegram, 111, saying("Prompt optimizer"), "the settings")
    telegram.callback_answer_window = 0.0  # handled after Telegram stopped waiting for it
    await tap(telegram, sender=ANN, message=menu, data=buttons(menu)[0][1])
    # What the user sees matches what is stored: a second tap would switch it back.
    switched = await bot_message(telegram, 111, saying("optimizer: off"), "the new settings")
    send_photo(telegram, chat=ANN_CHAT, sender=ANN, caption="after the late tap")
    await created(aiml, "after the late tap")

    assert switched["message_id"] == menu["message_id"]
    assert buttons(switched) == [(ENGLISH.optimizer_button(False), "opt:on")]
    assert optimizer_of(aiml, "after the late tap") is False


async def test_settings_in_a_group_points_to_a_private_chat(
    bot: BotApp, telegram: TelegramEmulator
) -> None:
    message = text_message(chat=GROUP, sender=ANN, text="/settings")
    telegram.push_update(message_update(message))

    reply = await reply_to(telegram, int(message["message_id"]))

    assert reply == parse_html(ENGLISH.SETTINGS_IN_PRIVATE)[0]
    assert not any(call.params.get("reply_markup") for call in telegram.calls_to("sendMessage"))
