"""`python -m bot` as an operator starts it: the command line, and each start-up failure told
in one line (exit code 2) that names what to fix, with no traceback and no secret."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import sys
from pathlib import Path

from telegram import Bot

from bot.wiring.settings import Settings
from storage import JobStore
from tests.conftest import API_KEY, TOKEN, free_port, send_photo
from tests.databases import database_of
from tests.emulators.aimlapi_emulator import AimlApiEmulator
from tests.emulators.telegram_emulator import TelegramEmulator, private_chat, user
from tests.process import BotProcess

ROOT = Path(__file__).resolve().parents[2]


async def run_module(tmp_path: Path, *arguments: str, **settings: str) -> tuple[int, str, str]:
    """`python -m bot ARGUMENTS` in an empty folder (no .env), with only `settings` set;
    its exit code, stdout and stderr."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if key.upper() not in {name.upper() for name in Settings.model_fields}
    }
    environment.update(PYTHONPATH=str(ROOT), **settings)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *arguments,
        cwd=tmp_path,
        env=environment,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=90)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def _usual(telegram: TelegramEmulator, aiml: AimlApiEmulator, tmp_path: Path) -> dict[str, str]:
    return {
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "AIMLAPI_KEY": API_KEY,
        "TELEGRAM_BASE_URL": telegram.base_url,
        "TELEGRAM_BASE_FILE_URL": telegram.base_file_url,
        "AIMLAPI_BASE_URL": aiml.base_url,
        "DATABASE_PATH": str(tmp_path / "data" / "bot.sqlite3"),
    }


def _one_line(code: int, err: str) -> str:
    assert code == 2, err
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert TOKEN not in err and API_KEY not in err
    return lines[0]


async def test_an_empty_token_is_called_empty(tmp_path: Path) -> None:
    line = _one_line(*(await run_module(tmp_path, TELEGRAM_BOT_TOKEN="", AIMLAPI_KEY=API_KEY))[::2])
    assert line == "Configuration error: TELEGRAM_BOT_TOKEN is empty (see .env.example)"


async def test_a_database_path_that_cannot_be_written_names_database_path(
    tmp_path: Path, telegram: TelegramEmulator, aiml: AimlApiEmulator
) -> None:
    # Root ignores file modes: a folder that is a regular file stops even root.
    (tmp_path / "taken").write_text("a file, not a folder")
    settings = _usual(telegram, aiml, tmp_path) | {"DATABASE_PATH": str(tmp_path / "taken/bot.db")}
    code, _, err = await run_module(tmp_path, **settings)
    line = _one_line(code, err)
    assert line.startswith(f"Not started: DATABASE_PATH={tmp_path / 'taken/bot.db'} cannot be")
    assert telegram.calls == []  # nothing asked of Telegram before the database opened


async def test_a_rejected_token_is_one_line(
    tmp_path: Path, telegram: TelegramEmulator, aiml: AimlApiEmulator
) -> None:
    settings = _usual(telegram, aiml, tmp_path) | {"TELEGRAM_BOT_TOKEN": TOKEN[:-1] + "X"}
    code, _, err = await run_module(tmp_path, **settings)
    line = _one_line(code, err)
    assert line == "Configuration error: Telegram rejected TELEGRAM_BOT_TOKEN (see .env.example)"
    assert TOKEN[:-1] not in err


async def test_telegram_unreachable_is_asked_again_then_told_in_one_line(
    tmp_path: Path, aiml: AimlApiEmulator
) -> None:
    port = free_port()  # nothing listens there
    code, _, err = await run_module(
        tmp_path,
        TELEGRAM_BOT_TOKEN=TOKEN,
        AIMLAPI_KEY=API_KEY,
        TELEGRAM_BASE_URL=f"http://127.0.0.1:{port}/bot",
        AIMLAPI_BASE_URL=aiml.base_url,
        DATABASE_PATH=str(tmp_path / "bot.sqlite3"),
        STARTUP_PATIENCE_SECONDS="2",
    )
    assert code == 2 and "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 2, err  # the notice that it asks again, then how it ended
    assert "does not answer" in lines[0] and "asking again for up to 2 s" in lines[0]
    assert lines[1].startswith(f"Not started: Telegram's Bot API at 127.0.0.1:{port} did not")
    assert "TELEGRAM_BASE_URL" in lines[1]


async def test_a_webhook_url_telegram_refuses_is_one_line(
    tmp_path: Path, telegram: TelegramEmulator, aiml: AimlApiEmulator
) -> None:
    settings = _usual(telegram, aiml, tmp_path) | {
        "TELEGRAM_WEBHOOK_URL": "http://bot.example.org/telegram",  # Telegram needs https
        "TELEGRAM_WEBHOOK_SECRET": "s3cret",
        "HTTP_HOST": "127.0.0.1",
        "HTTP_PORT": "0",
    }
    code, _, err = await run_module(tmp_path, **settings)
    line = _one_line(code, err)  # refused before the ticks, the menus or the start-up line
    assert line.startswith(
        "Not started: Telegram refused TELEGRAM_WEBHOOK_URL=http://bot.example.org/telegram"
    )
    assert "s3cret" not in err
    assert telegram.calls_to("setMyCommands") == []


async def test_a_malformed_webhook_url_is_named_before_anything_starts(tmp_path: Path) -> None:
    code, _, err = await run_module(
        tmp_path,
        TELEGRAM_BOT_TOKEN=TOKEN,
        AIMLAPI_KEY=API_KEY,
        TELEGRAM_WEBHOOK_URL="bot.example.org/telegram",
        TELEGRAM_WEBHOOK_SECRET="s3cret",
    )
    assert "TELEGRAM_WEBHOOK_URL is invalid" in _one_line(code, err)


async def test_help_and_version_answer_without_settings(tmp_path: Path) -> None:
    code, out, _ = await run_module(tmp_path, "--help")
    assert code == 0
    assert out.startswith("usage: python -m bot [-h] [--version] [{run,check}]")
    assert ".env.example" in out
    code, out, _ = await run_module(tmp_path, "--version")
    assert (code, out.split()[:3]) == (0, ["python", "-m", "bot"])


async def test_check_reaches_telegram_and_the_api_and_creates_nothing(
    tmp_path: Path, telegram: TelegramEmulator, aiml: AimlApiEmulator
) -> None:
    code, out, err = await run_module(tmp_path, "check", **_usual(telegram, aiml, tmp_path))
    assert code == 0, out + err
    lines = out.strip().splitlines()
    assert lines[0].startswith("settings: valid (polling mode, database ")
    assert lines[1] == f"Telegram: the token works, the bot is @{telegram.bot_username}"
    assert lines[2] == f"AI/ML API at {aiml.base_url}: the key works"
    assert aiml.charged == 0 and len(aiml.polls) == 1
    assert telegram.calls_to("getUpdates") == []  # it never competes with a running bot


async def test_check_says_which_secret_is_refused(
    tmp_path: Path, telegram: TelegramEmulator, aiml: AimlApiEmulator
) -> None:
    settings = _usual(telegram, aiml, tmp_path) | {"AIMLAPI_KEY": "not-the-key"}
    code, out, _ = await run_module(tmp_path, "check", **settings)
    assert code == 2
    assert (
        out.strip().splitlines()[-1]
        == f"AI/ML API at {aiml.base_url}: AIMLAPI_KEY is refused (401/403)"
    )
    assert aiml.charged == 0


async def test_json_logs_are_one_object_a_line_naming_the_instance_job_generation_and_update(
    tmp_path: Path, telegram: TelegramEmulator, aiml: AimlApiEmulator
) -> None:
    run = BotProcess(
        tmp_path, telegram, aiml, LOG_FORMAT="json", LOG_LEVEL="INFO", INSTANCE_NAME="bot-7"
    )
    await run.start()
    try:
        send_photo(telegram, chat=private_chat(111), sender=user(111, "Ann"), caption="waves")
        await telegram.wait_for("sendVideo", timeout=30)
        assert await run.terminate() == 0
    finally:
        await run.close()

    lines = [json.loads(line) for line in run.log().splitlines()]  # every line is JSON
    assert {"time", "level", "logger", "message"} <= set(lines[0])
    store = await JobStore.open(database_of(tmp_path).where)
    try:
        [job] = await store.jobs_for_user(111)
    finally:
        await store.close()
    generation = job.generation_id
    delivered = [line for line in lines if line["message"].endswith("video delivered")]
    assert [(line["job_id"], line["generation_id"]) for line in delivered] == [(1, generation)]
    # Once started, every line names the instance, as the job's lease does.
    assert job.lease_owner is not None and job.lease_owner.startswith("bot-7/")
    assert {line["instance"] for line in delivered} == {job.lease_owner}
    recorded = [line for line in lines if "update_id" in line]
    assert recorded and all(isinstance(line["update_id"], int) for line in recorded)
    assert TOKEN not in run.log() and API_KEY not in run.log()


async def test_a_database_from_a_newer_version_is_one_line_not_a_traceback(
    tmp_path: Path, telegram: TelegramEmulator, aiml: AimlApiEmulator
) -> None:
    settings = _usual(telegram, aiml, tmp_path)
    database = Path(settings["DATABASE_PATH"])
    database.parent.mkdir(parents=True)
    with sqlite3.connect(database) as db:
        db.execute("PRAGMA user_version = 999")
    db.close()
    code, _, err = await run_module(tmp_path, **settings)
    line = _one_line(code, err)
    assert line.startswith(f"Not started: DATABASE_PATH={database}: database schema version 999")
    assert "restore the backup" in line


async def test_polling_is_refused_while_a_webhook_is_set_so_it_is_never_removed(
    tmp_path: Path, telegram: TelegramEmulator, aiml: AimlApiEmulator
) -> None:
    # Another instance serves a webhook: a poller would delete it at start.
    telegram.local_server = True
    async with Bot(TOKEN, base_url=telegram.base_url) as other:
        await other.set_webhook("http://127.0.0.1:9/hook", secret_token="s3cret")
    code, _, err = await run_module(tmp_path, **_usual(telegram, aiml, tmp_path))
    line = _one_line(code, err)
    assert line.startswith("Not started: a webhook is set for this bot (http://127.0.0.1:9/hook)")
    assert telegram.webhook_url == "http://127.0.0.1:9/hook"
    assert telegram.calls_to("deleteWebhook") == []


async def test_an_unreachable_database_url_names_database_url_and_hides_its_password(
    tmp_path: Path, telegram: TelegramEmulator, aiml: AimlApiEmulator
) -> None:
    port = free_port()  # no PostgreSQL listens there
    url = f"postgresql://bot:pa55word@127.0.0.1:{port}/bot"
    settings = _usual(telegram, aiml, tmp_path) | {"DATABASE_URL": url}
    code, _, err = await run_module(tmp_path, **settings)
    line = _one_line(code, err)
    assert line.startswith(f"Not started: DATABASE_URL (PostgreSQL bot:***@127.0.0.1:{port}/bot)")
    assert "cannot be opened" in line and "Check that the server runs" in line
    assert "pa55word" not in err
    assert telegram.calls == []  # the database is checked first


async def test_a_second_poller_on_the_token_stops_the_first_with_one_line(
    tmp_path: Path, telegram: TelegramEmulator, aiml: AimlApiEmulator
) -> None:
    # Two pollers would take turns at the updates, each missing some: one of them stops.
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    first = BotProcess(tmp_path / "one", telegram, aiml)
    # On a database of its own: the same database would stop it at once, as in use.
    own = {"DATABASE_URL": "", "DATABASE_PATH": str(tmp_path / "two" / "bot.sqlite3")}
    second = BotProcess(tmp_path / "two", telegram, aiml, **own)
    await first.start()
    try:
        await telegram.wait_for("getUpdates", timeout=30)
        polled = len(telegram.calls_to("getUpdates"))
        await second.start()
        code = await asyncio.wait_for(first.process.wait(), 60)
        assert len(telegram.calls_to("getUpdates")) > polled  # the second one polls on
        assert second.process.returncode is None
        assert await second.terminate() == 0
    finally:
        await first.close()
        await second.close()
    assert code == 2
    last = first.log().strip().splitlines()[-1]
    assert last.startswith("Stopped: another bot is polling Telegram with this TELEGRAM_BOT_TOKEN")
    assert "Traceback" not in first.log()
