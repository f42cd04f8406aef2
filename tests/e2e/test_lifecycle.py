"""A job's whole life and the bot's: failures explained, restarts survived, start-up errors
named, secrets kept."""

from __future__ import annotations

import gc
import logging
import os
import sqlite3
import subprocess
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy.exc

from bot.wiring.application import BotApp
from bot.wiring.logs import setup_logging
from bot.wiring.settings import Settings
from bot.words.texts import ENGLISH
from storage import JobStore, Reason
from storage.migrations import MIGRATIONS
from tests.conftest import API_KEY, TOKEN, TestClock, make_settings, running_bot, send_photo
from tests.emulators.aimlapi_emulator import AimlApiEmulator
from tests.emulators.telegram_emulator import (
    RecordedCall,
    TelegramEmulator,
    parse_html,
    private_chat,
    user,
)

ANN = user(111, "Ann")
ANN_CHAT = private_chat(111)
ROOT = Path(__file__).resolve().parents[2]
#: Keeps every new job "queued" until a test moves it on.
FOREVER = 10**6


@pytest.fixture(autouse=True)
def ready_at_first_status_call(aiml: AimlApiEmulator) -> None:
    """Every job ends at its first status call, so a test takes a fraction of a second; the
    poll schedule itself is tested on its own."""
    aiml.queued_polls = 0
    aiml.generating_polls = 0


def is_queued(call: RecordedCall) -> bool:
    return "Queued" in str(call.params.get("text", ""))


def reply_target(call: RecordedCall) -> int:
    return int(call.params["reply_parameters"]["message_id"])


# --------------------------------------------------------------------------- failures


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        ("Content moderation: the image was flagged", "Content moderation: the image was flagged"),
        (
            {"name": "ModerationError", "message": "The prompt was flagged as unsafe"},
            "The prompt was flagged as unsafe",
        ),
        (
            {
                "detail": [
                    {
                        "loc": ["body", "first_frame_image"],
                        "msg": "no face found in the image",
                        "type": "value_error",
                    }
                ]
            },
            "no face found in the image",
        ),
        ({"name": "Error", "message": "size <1080p> & ratio"}, "size <1080p> & ratio"),
    ],
    ids=["string", "name-message", "detail-list", "html-special"],
)
async def test_failed_generation_is_explained_as_a_reply_to_the_photo(
    bot: BotApp,
    telegram: TelegramEmulator,
    aiml: AimlApiEmulator,
    clock: TestClock,
    error: Any,
    reason: str,
) -> None:
    aiml.fail_next_job(error)
    sent = send_photo(telegram, chat=ANN_CHAT, sender=ANN, caption="she smiles")

    [notice] = await telegram.wait_for(
        "sendMessage", where=lambda c: "could not make" in c.params["text"], timeout=15
    )
    assert notice.params["chat_id"] == ANN_CHAT["id"]
    assert reply_target(notice) == sent.message_id
    assert notice.params["text"] == ENGLISH.generation_failed(Reason.API_FAILED, reason)
    plain, _ = parse_html(notice.params["text"])
    assert reason in plain
    assert "send the photo again" in plain
    [generation_id] = aiml.jobs
    polls_at_notice = aiml.jobs[generation_id].polls

    # A minute on, any status call still planned for the failed job is long due, and another
    # job, run to its video, gives the tick ample turns to make it.
    clock.advance(60)
    later = send_photo(telegram, chat=ANN_CHAT, sender=ANN, caption="he nods")
    [video] = await telegram.wait_for("sendVideo", timeout=15)
    assert reply_target(video) == later.message_id
    assert aiml.jobs[generation_id].polls == polls_at_notice
    assert len(telegram.calls_to("sendMessage")) == 3  # two acknowledgements, one notice
    assert aiml.charged == 2


async def test_failed_status_spelled_failed_is_explained_too(
    bot: BotApp, telegram: TelegramEmulator, aiml: AimlApiEmulator
) -> None:
    aiml.fail_next_job("Generation timeout", status="failed")
    sent = send_photo(telegram, chat=ANN_CHAT, sender=ANN, caption="she smiles")
    [notice] = await telegram.wait_for(
        "sendMessage", where=lambda c: "could not make" in c.params["text"], timeout=15
    )
    assert reply_target(notice) == sent.message_id
    assert "Generation timeout" in notice.params["text"]
    assert telegram.calls_to("sendVideo") == []


async def test_success_reported_as_succeeded_delivers_the_video(
    bot: BotApp, telegram: TelegramEmulator, aiml: AimlApiEmulator
) -> None:
    aiml.queued_polls = FOREVER
    sent = send_photo(telegram, chat=ANN_CHAT, sender=ANN, caption="the tree sways")
    await telegram.wait_for("editMessageText", where=is_queued)
    [generation_id] = aiml.jobs
    aiml.set_status(generation_id, "succeeded")

    [video] = await telegram.wait_for("sendVideo", timeout=15)
    assert reply_target(video) == sent.message_id
    assert video.params["video"] == aiml.video_url(generation_id)
    assert aiml.charged == 1


# --------------------------------------------------------------------------- restarts


async def test_job_in_flight_during_a_restart_is_delivered_exactly_once(
    settings: Settings, telegram: TelegramEmulator, aiml: AimlApiEmulator, clock: TestClock
) -> None:
    aiml.queued_polls = FOREVER
    async with running_bot(settings, clock):
        sent = send_photo(telegram, chat=ANN_CHAT, sender=ANN, caption="the waves roll")
        await telegram.wait_for("editMessageText", where=is_queued)
    assert telegram.calls_to("sendVideo") == []

    # While the bot is down, the video becomes ready.
    [generation_id] = aiml.jobs
    aiml.complete_now(generation_id)
    aiml.queued_polls = 0
    async with running_bot(settings, clock):
        [video] = await telegram.wait_for("sendVideo", timeout=15)
        assert reply_target(video) == sent.message_id
        later = send_photo(telegram, chat=ANN_CHAT, sender=ANN, caption="the sun sets")
        await telegram.wait_for("sendVideo", 2, timeout=15)

    assert [reply_target(v) for v in telegram.calls_to("sendVideo")] == [
        sent.message_id,
        later.message_id,
    ]
    assert aiml.charged == 2
    assert [c.body["prompt"] for c in aiml.creates] == ["the waves roll", "the sun sets"]


async def test_delivered_job_is_not_sent_again_after_a_restart(
    settings: Settings, telegram: TelegramEmulator, aiml: AimlApiEmulator, clock: TestClock
) -> None:
    async with running_bot(settings, clock):
        first = send_photo(telegram, chat=ANN_CHAT, sender=ANN, caption="the flag flutters")
        await telegram.wait_for("sendVideo", timeout=15)

    async with running_bot(settings, clock):
        later = send_photo(telegram, chat=ANN_CHAT, sender=ANN, caption="the clock ticks")
        await telegram.wait_for(
            "sendVideo", where=lambda c: reply_target(c) == later.message_id, timeout=15
        )

    assert [reply_target(v) for v in telegram.calls_to("sendVideo")] == [
        first.message_id,
        later.message_id,
    ]
    assert aiml.charged == 2


@pytest.mark.sqlite_only
async def test_database_folders_are_created_and_it_runs_in_wal_at_the_newest_schema(
    tmp_path: Path, telegram: TelegramEmulator, aiml: AimlApiEmulator, clock: TestClock
) -> None:
    database = tmp_path / "deeply" / "nested" / "state" / "bot.sqlite3"
    settings = make_settings(tmp_path, telegram, aiml, database_path=database)
    async with running_bot(settings, clock):
        send_photo(telegram, chat=ANN_CHAT, sender=ANN, caption="rain falls")
        await telegram.wait_for("sendVideo", timeout=15)

    assert database.is_file()
    with sqlite3.connect(database) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        # 1 when this was written; each migration since has moved it on by one.
        assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS) >= 1
    db.close()


# --------------------------------------------------------------------------- start-up


def run_bot_module(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """`python -m bot` in an empty folder (no .env), with only the given settings set."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if key.upper() not in {name.upper() for name in Settings.model_fields}
    }
    environment["PYTHONPATH"] = str(ROOT)
    environment.update(env)
    return subprocess.run(
        [sys.executable, "-m", "bot"],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_missing_token_and_key_exit_2_with_one_line_naming_both(tmp_path: Path) -> None:
    result = run_bot_module(tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "TELEGRAM_BOT_TOKEN" in lines[0]
    assert "AIMLAPI_KEY" in lines[0]
    assert "Traceback" not in result.stderr


def test_malformed_poll_interval_is_named_without_echoing_secrets(tmp_path: Path) -> None:
    result = run_bot_module(
        tmp_path, TELEGRAM_BOT_TOKEN=TOKEN, AIMLAPI_KEY=API_KEY, POLL_INTERVAL_SECONDS="abc"
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "POLL_INTERVAL_SECONDS" in lines[0]
    assert "TELEGRAM_BOT_TOKEN" not in lines[0]
    assert "Traceback" not in result.stderr
    assert TOKEN not in result.stderr + result.stdout
    assert API_KEY not in result.stderr + result.stdout


def _damage_jobs_table(database: Path) -> None:
    """Overwrite the jobs table's first page with noise, as a disk that lost a sector would:
    the file opens and its schema reads, but reading any job fails."""
    with sqlite3.connect(database) as db:
        [(page_size,)] = db.execute("PRAGMA page_size").fetchall()
        [(root,)] = db.execute("SELECT rootpage FROM sqlite_master WHERE name = 'jobs'")
    db.close()
    with database.open("r+b") as file:
        file.seek((root - 1) * page_size)
        file.write(b"\xff" * page_size)


@pytest.mark.sqlite_only  # a damaged page is SQLite's to have
async def test_start_that_fails_after_opening_the_database_leaves_nothing_open(
    settings: Settings, clock: TestClock, caplog: pytest.LogCaptureFixture
) -> None:
    store = await JobStore.open(settings.database_path)
    await store.close()
    _damage_jobs_table(settings.database_path)
    with warnings.catch_warnings(record=True) as warned:
        warnings.simplefilter("always", ResourceWarning)
        with pytest.raises(sqlalchemy.exc.DatabaseError, match="malformed") as caught:
            async with running_bot(settings, clock):
                pass
        assert isinstance(caught.value.orig, sqlite3.DatabaseError)  # SQLite's own error
        # The database's lock was given back: the same process may open it again.
        reopened = await JobStore.open(settings.database_path)
        await reopened.close()
        gc.collect()  # anything left open would be collected now, and say so
    assert [str(warning.message) for warning in warned] == []
    assert "Unclosed" not in caplog.text


# --------------------------------------------------------------------------- secrets


@contextmanager
def product_logging(level: str = "DEBUG") -> Iterator[None]:
    """Logging as `python -m bot` sets it up, with pytest's capture handlers kept behind it."""
    root = logging.getLogger()
    quiet = ("httpx", "httpcore", "apscheduler")
    saved_handlers, saved_level = root.handlers[:], root.level
    saved_levels = {name: logging.getLogger(name).level for name in quiet}
    root.handlers = []  # basicConfig(force=True) would close pytest's own handlers
    setup_logging(level, [TOKEN, API_KEY])
    product_handlers = root.handlers[:]
    root.handlers = product_handlers + saved_handlers
    try:
        yield
    finally:
        for handler in product_handlers:
            root.removeHandler(handler)
            handler.close()
        root.handlers = saved_handlers
        root.setLevel(saved_level)
        for name, value in saved_levels.items():
            logging.getLogger(name).setLevel(value)


async def test_secrets_never_reach_logs_or_the_other_peer(
    settings: Settings,
    telegram: TelegramEmulator,
    aiml: AimlApiEmulator,
    clock: TestClock,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    telegram.reject_video_urls = True  # so the bot fetches the video itself
    with product_logging("DEBUG"):
        async with running_bot(settings, clock):
            send_photo(telegram, chat=ANN_CHAT, sender=ANN, caption="she smiles and waves")
            [video] = await telegram.wait_for(
                "sendVideo", where=lambda c: "video" in c.files, timeout=15
            )
    written = capsys.readouterr().err

    assert any(r.levelno == logging.DEBUG for r in caplog.records)
    assert any(r.name.startswith("bot.") for r in caplog.records)  # the job was logged
    # Checked as each record was formatted when logged: python-telegram-bot logs getFile's
    # answer and then rewrites its file_path in place, so formatting a record again later
    # would show a link no handler ever wrote.
    assert TOKEN not in caplog.text
    assert API_KEY not in caplog.text
    assert written  # the product's own handler wrote the log lines
    assert TOKEN not in written and API_KEY not in written

    # The bot token never goes to the AI/ML API...
    assert aiml.requests
    for request in aiml.requests:
        sent = f"{request.path} {request.query} {request.headers} {request.body}"
        assert TOKEN not in sent
    # ...and the API key never goes to Telegram, nor with the video download.
    for call in telegram.calls:
        assert API_KEY not in f"{call.token} {call.params}"
        assert all(API_KEY.encode() not in data for data in call.files.values())
    assert video.files["video"] == aiml.video_bytes
    assert aiml.video_requests
    for request in aiml.video_requests:
        assert request.header("Authorization") is None
        assert API_KEY not in f"{request.path} {request.query} {request.headers}"
