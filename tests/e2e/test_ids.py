"""/id tells anyone their Telegram id, and in a group the group's too, so that an operator can
fill in ALLOWED_USER_IDS, ADMIN_USER_IDS and ALLOWED_CHAT_IDS; a group the bot is not allowed
in is named in the log, once."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tests.conftest import TestClock, make_settings, running_bot
from tests.e2e.conversation import command
from tests.emulators.aimlapi_emulator import AimlApiEmulator
from tests.emulators.telegram_emulator import (
    TelegramEmulator,
    group_chat,
    message_update,
    private_chat,
    text_message,
    user,
)

ANN, ANN_CHAT = user(111, "Ann"), private_chat(111)
IVAN = user(333, "Иван", language_code="ru")
OTHER_GROUP = group_chat(-100777, title="Strangers")
HINT = (
    "The bot's operator lets people in with these: ALLOWED_USER_IDS and ADMIN_USER_IDS for a "
    "person, ALLOWED_CHAT_IDS for a group."
)


async def test_id_in_private_gives_the_users_own_id_even_to_a_stranger(
    tmp_path: Path, telegram: TelegramEmulator, aiml: AimlApiEmulator, clock: TestClock
) -> None:
    closed = make_settings(tmp_path, telegram, aiml, allowed_user_ids=[999])
    async with running_bot(closed, clock):
        answer = await command(telegram, chat=ANN_CHAT, sender=ANN, text="/id")
    assert answer == f"🪪 Your user id: 111\n{HINT}"


async def test_id_in_a_group_the_bot_is_not_allowed_in_answers_and_the_log_names_it_once(
    tmp_path: Path,
    telegram: TelegramEmulator,
    aiml: AimlApiEmulator,
    clock: TestClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="handlers")
    closed = make_settings(tmp_path, telegram, aiml, allowed_chat_ids=[-100500])
    async with running_bot(closed, clock):
        answer = await command(telegram, chat=OTHER_GROUP, sender=IVAN, text="/id@animate_test_bot")
        help_asked = text_message(chat=OTHER_GROUP, sender=IVAN, text="/help")
        telegram.push_update(message_update(help_asked))
        again = await command(telegram, chat=OTHER_GROUP, sender=ANN, text="/id")

    assert answer.splitlines()[:2] == [
        "🪪 Ваш id пользователя: 333",
        "👥 id этой группы: -100777",
    ]
    assert again.splitlines()[:2] == ["🪪 Your user id: 111", "👥 This group's id: -100777"]
    # The door still keeps the group's strangers unanswered otherwise.
    replies = [call.params["text"] for call in telegram.calls_to("sendMessage")]
    assert len(replies) == 2
    named = [r for r in caplog.records if "-100777" in r.getMessage()]
    assert len(named) == 1 and "ALLOWED_CHAT_IDS" in named[0].getMessage()
