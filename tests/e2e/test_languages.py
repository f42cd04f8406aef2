"""Each user reads the bot in their Telegram language: Russian for "ru", English for a language
without a catalog ("de").

A job remembers its user's language, so what the tick sends later (progress, the video, a
failure notice) speaks it too, with no update from the user to read it from.
"""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import Any

from telegram import BotCommandScopeAllGroupChats, BotCommandScopeAllPrivateChats

from bot.engine.durations import USUAL_SECONDS
from bot.image.firstframe import ImageProblem, ImageRejected
from bot.image.fixes import fix_for
from bot.wiring.application import BotApp
from bot.words.texts import ENGLISH, RUSSIAN, TRANSLATIONS
from storage import JobState, Reason
from tests.conftest import (
    FAST,
    TestClock,
    eventually_async,
    make_settings,
    running_bot,
    send_photo,
    services,
)
from tests.e2e.conversation import command, replies_to
from tests.e2e.taps import bot_message, buttons, saying, tap
from tests.emulators.aimlapi_emulator import AimlApiEmulator
from tests.emulators.telegram_emulator import TelegramEmulator, parse_html, private_chat, user

IVAN, IVAN_CHAT = user(333, "Иван", language_code="ru"), private_chat(333)
HANS, HANS_CHAT = user(444, "Hans", language_code="de"), private_chat(444)
#: Progress edits as often as the emulator can show them.
LIVELY = dataclasses.replace(FAST, progress_edit_private=0.3, progress_edit_group=0.6)


def _texts(telegram: TelegramEmulator, chat_id: int) -> list[str]:
    """Every text the bot sent or edited in a chat, as HTML, oldest first."""
    return [
        str(call.params["text"])
        for call in telegram.calls
        if call.method in ("sendMessage", "editMessageText") and call.params["chat_id"] == chat_id
    ]


def _is_video(message: dict[str, Any]) -> bool:
    return "video" in message


async def test_a_russian_user_follows_a_job_in_russian_from_photo_to_status(
    tmp_path: Path, telegram: TelegramEmulator, clock: TestClock
) -> None:
    async with AimlApiEmulator("k", queued_polls=2, generating_polls=14) as aiml:
        settings = make_settings(tmp_path, telegram, aiml, aimlapi_key="k")
        async with running_bot(settings, clock, LIVELY) as app:
            sent = send_photo(telegram, chat=IVAN_CHAT, sender=IVAN, caption="кот моргает")
            video = await bot_message(telegram, 333, _is_video, "the video")
            store = services(app).store

            async def delivered() -> bool:  # recorded once Telegram answered the send
                return (await store.jobs_for_user(333))[0].state is JobState.DELIVERED

            await eventually_async(delivered, what="the delivery recorded")
            status = await command(telegram, chat=IVAN_CHAT, sender=IVAN, text="/status")
            nothing = await command(telegram, chat=IVAN_CHAT, sender=IVAN, text="/cancel")
            again = await tap(telegram, sender=IVAN, message=video, data=buttons(video)[0][1])

    texts = _texts(telegram, 333)
    [ack] = replies_to(telegram, sent.message_id)[:1]
    assert ack.params["text"] == RUSSIAN.RECEIVED
    assert RUSSIAN.queued(typical=USUAL_SECONDS) in texts
    progress = [parse_html(text)[0] for text in texts if text.startswith("⚙️ Делаю видео")]
    assert progress, texts
    assert all("прошло" in text for text in progress)
    # The video: its caption and its button in Russian, the prompt as the user wrote it.
    assert video["caption"].startswith("🎬 кот моргает\n⏱ сделано за ")
    assert [label for label, _ in buttons(video)] == [RUSSIAN.BUTTON_AGAIN]
    assert again.params["text"] == RUSSIAN.ON_ITS_WAY
    # /status and /cancel answer in Russian too.
    assert status.startswith("Ваши задания, сначала новые:")
    assert "готово" in status and "кот моргает" in status and "Сегодня (UTC)" in status
    assert nothing == "Отменять нечего."


async def test_a_russian_users_photo_that_is_too_small_is_refused_in_russian(
    bot: BotApp, telegram: TelegramEmulator, aiml: AimlApiEmulator
) -> None:
    send_photo(telegram, chat=IVAN_CHAT, sender=IVAN, caption="машет рукой", size=(300, 600))
    refusal = await bot_message(telegram, 333, saying("слишком маленькая"), "the refusal")

    rejection = ImageRejected(ImageProblem.TOO_SMALL, width=300, height=600)
    assert refusal["text"] == parse_html(RUSSIAN.image_refused(rejection, fixes=True))[0]
    offered = fix_for(ImageProblem.TOO_SMALL)
    assert [label for label, _ in buttons(refusal)] == [RUSSIAN.fix_button(f) for f in offered]
    assert aiml.charged == 0


async def test_a_user_whose_language_has_no_translation_reads_english(
    bot: BotApp, telegram: TelegramEmulator, aiml: AimlApiEmulator
) -> None:
    sent = send_photo(telegram, chat=HANS_CHAT, sender=HANS, caption="er nickt")
    video = await bot_message(telegram, 444, _is_video, "the video")
    status = await command(telegram, chat=HANS_CHAT, sender=HANS, text="/status")
    help_text = await command(telegram, chat=HANS_CHAT, sender=HANS, text="/help")

    assert replies_to(telegram, sent.message_id)[0].params["text"] == ENGLISH.RECEIVED
    assert ENGLISH.queued(typical=USUAL_SECONDS) in _texts(telegram, 444)
    assert "made in" in video["caption"]
    assert [label for label, _ in buttons(video)] == [ENGLISH.BUTTON_AGAIN]
    assert status.startswith("Your jobs, newest first:")
    assert help_text == parse_html(ENGLISH.help(USUAL_SECONDS))[0]


async def test_the_ticks_failure_notice_for_a_russian_users_job_is_russian(
    bot: BotApp, telegram: TelegramEmulator, aiml: AimlApiEmulator
) -> None:
    aiml.fail_next_job("no face found in the image")
    send_photo(telegram, chat=IVAN_CHAT, sender=IVAN, caption="улыбается")
    notice = await bot_message(telegram, 333, saying("не смог сделать"), "the failure notice")

    # The API's reason is quoted as it wrote it; the sentence around it is Russian.
    failed = RUSSIAN.generation_failed(Reason.API_FAILED, "no face found in the image")
    assert notice["text"] == parse_html(failed)[0]
    assert [label for label, _ in buttons(notice)] == [RUSSIAN.BUTTON_RETRY]


async def test_command_menus_are_registered_in_english_and_in_every_translation(
    bot: BotApp, telegram: TelegramEmulator
) -> None:
    calls = telegram.calls_to("setMyCommands")
    registered = {(str(call.params["scope"]), call.params.get("language_code")) for call in calls}
    assert len(registered) == len(calls) == 2 * (1 + len(TRANSLATIONS))
    assert "ru" in TRANSLATIONS
    for language_code, words in ((None, ENGLISH), *TRANSLATIONS.items()):
        for scope, menu in (
            (BotCommandScopeAllPrivateChats(), words.PRIVATE_COMMANDS),
            (BotCommandScopeAllGroupChats(), words.GROUP_COMMANDS),
        ):
            commands = await bot.bot.get_my_commands(scope=scope, language_code=language_code)
            assert [(c.command, c.description) for c in commands] == list(menu)


async def test_updates_handled_at_once_each_speak_their_senders_language(
    bot: BotApp, telegram: TelegramEmulator
) -> None:
    # The language is bound per update: updates handled concurrently never borrow another's.
    asks = [(IVAN_CHAT, IVAN), (HANS_CHAT, HANS)] * 4
    answers = await asyncio.gather(
        *(command(telegram, chat=chat, sender=sender, text="/cancel") for chat, sender in asks)
    )
    expected = {IVAN["id"]: "Отменять нечего.", HANS["id"]: "You have nothing to cancel."}
    assert answers == [expected[sender["id"]] for _, sender in asks]
