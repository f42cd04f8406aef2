"""Restarts at any moment, as an operator's machine would cause them: nothing is lost."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.conftest import API_KEY, TOKEN, eventually, send_photo
from tests.databases import TestDatabase
from tests.e2e.conversation import command
from tests.emulators.aimlapi_emulator import AimlApiEmulator
from tests.emulators.telegram_emulator import TelegramEmulator, private_chat, user
from tests.process import BotProcess

ANN = user(111, "Ann")
ANN_CHAT = private_chat(111)
IVAN = user(999, "Иван", language_code="ru")  # an admin


@pytest.fixture
async def runs(
    tmp_path: Path, telegram: TelegramEmulator, aiml: AimlApiEmulator
) -> AsyncIterator[list[BotProcess]]:
    started: list[BotProcess] = []
    yield started
    for run in started:
        await run.close()


async def _start(
    runs: list[BotProcess],
    tmp_path: Path,
    telegram: TelegramEmulator,
    aiml: AimlApiEmulator,
    **settings: str,
) -> BotProcess:
    # On PostgreSQL a killed bot's leases hold until they run out (another instance could be
    # alive): a short lease keeps the wait short. SQLite ends them at the next start.
    run = BotProcess(tmp_path, telegram, aiml, **({"LEASE_SECONDS": "3"} | settings))
    await run.start()
    runs.append(run)
    return run


async def test_kill_during_submission_is_explained_after_restart_and_not_resubmitted(
    runs: list[BotProcess], tmp_path: Path, telegram: TelegramEmulator, aiml: AimlApiEmulator
) -> None:
    aiml.set_delay("create", 60)
    first = await _start(runs, tmp_path, telegram, aiml)
    send_photo(telegram, chat=ANN_CHAT, sender=ANN, caption="waves")
    await eventually(lambda: aiml.charged == 1, timeout=20, what="the create call")
    await first.kill()

    aiml.set_delay("create", 0)
    await _start(runs, tmp_path, telegram, aiml, ADMIN_USER_IDS="999")
    [notice] = await telegram.wait_for(
        "sendMessage", where=lambda c: "lost track" in c.params["text"], timeout=20
    )
    # The operator sees why in /stats, in their own language.
    stats = await command(telegram, chat=private_chat(999), sender=IVAN, text="/stats")

    assert notice.params["chat_id"] == 111
    assert len(aiml.creates) == 1
    assert not telegram.calls_to("sendVideo")
    assert "• прервано: бот перезапустился во время отправки × 1" in stats.splitlines()


async def test_kill_while_generating_resumes_polling_and_delivers_once(
    runs: list[BotProcess], tmp_path: Path, telegram: TelegramEmulator
) -> None:
    async with AimlApiEmulator(API_KEY, queued_polls=2, generating_polls=15) as aiml:
        first = await _start(runs, tmp_path, telegram, aiml)
        send_photo(telegram, chat=ANN_CHAT, sender=ANN, caption="waves")
        await eventually(lambda: len(aiml.polls) >= 3, timeout=20, what="polling")
        await first.kill()

        await _start(runs, tmp_path, telegram, aiml)
        await telegram.wait_for("sendVideo", timeout=30)
        await asyncio.sleep(1.0)  # ten more ticks: room for a wrong second send
        assert len(telegram.calls_to("sendVideo")) == 1
        assert aiml.charged == 1


async def test_kill_before_the_image_reached_the_api_resumes_on_its_own(
    runs: list[BotProcess], tmp_path: Path, telegram: TelegramEmulator, aiml: AimlApiEmulator
) -> None:
    telegram.set_delay("getFile", 60)
    first = await _start(runs, tmp_path, telegram, aiml)
    send_photo(telegram, chat=ANN_CHAT, sender=ANN, caption="waves")
    await telegram.wait_for("getFile", timeout=20)
    await first.kill()

    telegram.set_delay("getFile", 0)
    await _start(runs, tmp_path, telegram, aiml)
    await telegram.wait_for("sendVideo", timeout=30)
    assert aiml.charged == 1


async def test_sigterm_lets_a_submission_finish_and_exits_cleanly(
    runs: list[BotProcess], tmp_path: Path, telegram: TelegramEmulator, aiml: AimlApiEmulator
) -> None:
    aiml.set_delay("create", 1.0)
    first = await _start(runs, tmp_path, telegram, aiml)
    send_photo(telegram, chat=ANN_CHAT, sender=ANN, caption="waves")
    await eventually(lambda: len(aiml.creates) == 1, timeout=20, what="the create call")
    assert await first.terminate() == 0
    # The submission in flight was finished and recorded before the exit.
    await telegram.wait_for("editMessageText", where=lambda c: "Queued" in c.params["text"])

    aiml.set_delay("create", 0)
    await _start(runs, tmp_path, telegram, aiml)
    await telegram.wait_for("sendVideo", timeout=30)
    assert aiml.charged == 1
    for run in runs:
        assert TOKEN not in run.log() and API_KEY not in run.log()


async def test_a_second_polling_bot_on_the_same_database_refuses_to_start(
    runs: list[BotProcess],
    tmp_path: Path,
    telegram: TelegramEmulator,
    aiml: AimlApiEmulator,
    database: TestDatabase,
) -> None:
    # Either would end the other's poll at Telegram: the second is refused before it asks.
    await _start(runs, tmp_path, telegram, aiml)
    await telegram.wait_for("getUpdates", timeout=20)  # the first one is up and polling
    second = BotProcess(tmp_path, telegram, aiml)
    second.log_path = tmp_path / "second.log"
    await second.start()
    runs.append(second)
    assert await asyncio.wait_for(second.process.wait(), 30) == 2
    [line] = second.log().strip().splitlines()[-1:]
    assert "in use by another running bot" in line
    if database.engine == "postgresql":  # instances share it in webhook mode, never polling
        assert "in polling mode" in line
    # The first bot is unharmed and still answers.
    send_photo(telegram, chat=ANN_CHAT, sender=ANN, caption="waves")
    await telegram.wait_for("sendVideo", timeout=30)
