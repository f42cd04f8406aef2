"""Who may spend the credits: allowlists, run-time /allow and /deny, admins, and secrets."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from pathlib import Path

import pytest

from bot.wiring.application import BotApp
from tests.conftest import API_KEY, TOKEN, TestClock, make_settings, running_bot, services
from tests.databases import database_of
from tests.e2e.conversation import (
    FOREVER,
    command,
    created,
    photo,
    plain,
    replies_to,
    reply_to,
    status_says,
    video_for,
)
from tests.emulators.aimlapi_emulator import AimlApiEmulator
from tests.emulators.telegram_emulator import (
    TelegramEmulator,
    group_chat,
    message_update,
    private_chat,
    text_message,
    user,
)

PROJECT = Path(__file__).resolve().parents[2]
ANN, ANN_CHAT = user(111, "Ann"), private_chat(111)
STRANGER, STRANGER_CHAT = user(333, "Sam"), private_chat(333)
ADMIN, ADMIN_CHAT = user(999, "Ada"), private_chat(999)
ALLOWED_GROUP = group_chat(-100500, title="Friends")
OTHER_GROUP = group_chat(-100777, title="Strangers")


@pytest.fixture(autouse=True)
def ready_at_first_status_call(aiml: AimlApiEmulator) -> None:
    aiml.queued_polls = 0
    aiml.generating_polls = 0


async def test_a_stranger_in_private_is_told_their_id_and_nothing_is_downloaded_or_charged(
    tmp_path: Path, telegram: TelegramEmulator, aiml: AimlApiEmulator, clock: TestClock
) -> None:
    settings = make_settings(tmp_path, telegram, aiml, allowed_user_ids=[111])
    async with running_bot(settings, clock):
        sent = photo(telegram, chat=STRANGER_CHAT, sender=STRANGER, prompt="let me in")
        refusal = await reply_to(telegram, sent.message_id)
        help_text = await command(telegram, chat=STRANGER_CHAT, sender=STRANGER, text="/help")

    assert "only for people its operator has allowed" in refusal
    assert "333" in refusal
    assert len(replies_to(telegram, sent.message_id)) == 1
    assert "/status" in help_text  # /help stays open to everyone
    assert telegram.calls_to("getFile") == [] and telegram.file_downloads == []
    assert aiml.requests == []


async def test_a_listed_user_gets_a_video(
    tmp_path: Path, telegram: TelegramEmulator, aiml: AimlApiEmulator, clock: TestClock
) -> None:
    settings = make_settings(tmp_path, telegram, aiml, allowed_user_ids=[111])
    async with running_bot(settings, clock):
        await video_for(telegram, photo(telegram, chat=ANN_CHAT, sender=ANN, prompt="she waves"))
    assert aiml.charged == 1


async def test_a_stranger_in_an_allowed_group_can_animate_there_but_not_in_private(
    tmp_path: Path, telegram: TelegramEmulator, aiml: AimlApiEmulator, clock: TestClock
) -> None:
    settings = make_settings(tmp_path, telegram, aiml, allowed_chat_ids=[-100500])
    async with running_bot(settings, clock):
        in_group = photo(telegram, chat=ALLOWED_GROUP, sender=STRANGER, prompt="group fun")
        await video_for(telegram, in_group)
        in_private = photo(telegram, chat=STRANGER_CHAT, sender=STRANGER, prompt="alone")
        assert "333" in await reply_to(telegram, in_private.message_id)
    assert [job.prompt for job in aiml.jobs.values()] == ["group fun"]


async def test_in_an_unlisted_group_strangers_get_no_answer_at_all(
    tmp_path: Path, telegram: TelegramEmulator, aiml: AimlApiEmulator, clock: TestClock
) -> None:
    settings = make_settings(
        tmp_path, telegram, aiml, allowed_chat_ids=[-100500], allowed_user_ids=[111]
    )
    async with running_bot(settings, clock):
        request = photo(telegram, chat=OTHER_GROUP, sender=STRANGER, prompt="free credits")
        no_prompt = text_message(chat=OTHER_GROUP, sender=STRANGER, text="/animate")
        asks_help = text_message(chat=OTHER_GROUP, sender=STRANGER, text="/help@animate_test_bot")
        telegram.push_update(message_update(no_prompt))
        last = telegram.push_update(message_update(asks_help))
        await telegram.wait_for("getUpdates", where=lambda c: c.params.get("offset", 0) > last)
        # Ann is allowed in person, so she may animate even in this group: her answer shows
        # that the stranger's messages, handled before hers, got none.
        ann = photo(telegram, chat=OTHER_GROUP, sender=ANN, prompt="ann's own")
        await video_for(telegram, ann)

    for message_id in (request.message_id, no_prompt["message_id"], asks_help["message_id"]):
        assert replies_to(telegram, message_id) == []
    assert all(
        call.params["chat_id"] != -100777
        or call.params["reply_parameters"]["message_id"] == ann.message_id
        for call in telegram.calls_to("sendMessage")
    )
    assert [job.prompt for job in aiml.jobs.values()] == ["ann's own"]
    assert len(telegram.calls_to("getFile")) == 1


async def test_allow_and_deny_change_access_at_run_time_and_survive_a_restart(
    tmp_path: Path, telegram: TelegramEmulator, aiml: AimlApiEmulator, clock: TestClock
) -> None:
    settings = make_settings(tmp_path, telegram, aiml, allowed_user_ids=[111], admin_user_ids=[999])
    async with running_bot(settings, clock):
        answer = await command(telegram, chat=ADMIN_CHAT, sender=ADMIN, text="/allow 333")
        assert "333 may now make videos" in answer and "was open" not in answer
        await video_for(
            telegram, photo(telegram, chat=STRANGER_CHAT, sender=STRANGER, prompt="one")
        )

    async with running_bot(settings, clock):
        await video_for(
            telegram, photo(telegram, chat=STRANGER_CHAT, sender=STRANGER, prompt="two")
        )
        answer = await command(telegram, chat=ADMIN_CHAT, sender=ADMIN, text="/deny 333")
        assert "333 can no longer make videos" in answer
        answer = await command(telegram, chat=ADMIN_CHAT, sender=ADMIN, text="/deny 111")
        assert "111 can no longer make videos" in answer  # wins over ALLOWED_USER_IDS

    async with running_bot(settings, clock):
        for sender, chat in ((STRANGER, STRANGER_CHAT), (ANN, ANN_CHAT)):
            refused = photo(telegram, chat=chat, sender=sender, prompt="three")
            assert "operator" in await reply_to(telegram, refused.message_id)

    assert [job.prompt for job in aiml.jobs.values()] == ["one", "two"]


async def test_allow_and_deny_validate_their_argument_and_are_for_admins_only(
    tmp_path: Path, telegram: TelegramEmulator, aiml: AimlApiEmulator, clock: TestClock
) -> None:
    settings = make_settings(tmp_path, telegram, aiml, admin_user_ids=[999])
    async with running_bot(settings, clock):
        for text in ("/allow", "/allow ann", "/allow 1 2", "/allow -100500"):
            assert "Usage" in await command(telegram, chat=ADMIN_CHAT, sender=ADMIN, text=text)
        assert "Usage" in await command(telegram, chat=ADMIN_CHAT, sender=ADMIN, text="/deny x")
        denied_admin = await command(telegram, chat=ADMIN_CHAT, sender=ADMIN, text="/deny 999")
        assert "is an admin" in denied_admin
        for text in ("/allow 111", "/deny 333", "/stats"):
            reply = await command(telegram, chat=ANN_CHAT, sender=ANN, text=text)
            assert reply == "🔒 This command is for the bot's admins."
        # Allowing someone closes a bot that was open to everyone: the admin is told.
        opened = await command(telegram, chat=ADMIN_CHAT, sender=ADMIN, text="/allow 111")
        assert "was open to everyone" in opened
        refused = photo(telegram, chat=STRANGER_CHAT, sender=STRANGER, prompt="too late")
        assert "333" in await reply_to(telegram, refused.message_id)
    assert aiml.charged == 0


async def test_stats_for_an_admin_count_jobs_outcomes_failures_and_the_line(
    tmp_path: Path, telegram: TelegramEmulator, aiml: AimlApiEmulator, clock: TestClock
) -> None:
    settings = make_settings(tmp_path, telegram, aiml, admin_user_ids=[999], max_active_jobs=1)
    async with running_bot(settings, clock):
        await video_for(telegram, photo(telegram, chat=ANN_CHAT, sender=ANN, prompt="works"))
        aiml.fail_next_job()
        photo(telegram, chat=ANN_CHAT, sender=ANN, prompt="flagged")
        await status_says(telegram, 111, "could not make this video")
        aiml.queued_polls = FOREVER
        photo(telegram, chat=ANN_CHAT, sender=ANN, prompt="running")
        await created(aiml, "running")
        photo(telegram, chat=ANN_CHAT, sender=ANN, prompt="waiting")
        await status_says(telegram, 111, "number 1")
        refused = await command(telegram, chat=ANN_CHAT, sender=ANN, text="/stats")
        stats = await command(telegram, chat=ADMIN_CHAT, sender=ADMIN, text="/stats")

    assert "admins" in refused
    lines = stats.splitlines()
    assert "Today (UTC): 4 requests, 3 sent to the video service" in lines
    assert "Last 7 days: 4 requests, 3 sent" in lines
    assert "Delivered (7 days): 1 of 2 finished (50%)" in lines
    [timing] = [line for line in lines if line.startswith("Submission to delivery")]
    assert "median" in timing and "p95" in timing and "–" not in timing
    assert "• failed: Content moderation: the image was flagged × 1" in lines
    assert "Now: 1 of 1 at the video service, 1 waiting in line" in lines


async def test_the_start_up_log_warns_once_when_the_bot_is_open_to_everyone(
    tmp_path: Path,
    telegram: TelegramEmulator,
    aiml: AimlApiEmulator,
    clock: TestClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="bot")
    async with running_bot(make_settings(tmp_path, telegram, aiml), clock):
        pass
    open_warnings = [r for r in caplog.records if "open to everyone" in r.getMessage()]
    assert [r.levelno for r in open_warnings] == [logging.WARNING]

    caplog.clear()
    closed = make_settings(tmp_path, telegram, aiml, allowed_chat_ids=[-100500])
    async with running_bot(closed, clock):
        pass
    assert not [r for r in caplog.records if "open to everyone" in r.getMessage()]


async def test_the_token_and_key_reach_no_log_no_user_and_no_third_party(
    bot: BotApp,
    telegram: TelegramEmulator,
    aiml: AimlApiEmulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # As in production (bot/wiring/logs.py): these two print every request URL, token included.
    caplog.set_level(logging.WARNING, logger="httpx")
    caplog.set_level(logging.WARNING, logger="httpcore")
    caplog.set_level(logging.DEBUG)  # last: set_level also sets the capturing handler's level
    telegram.reject_video_urls = True  # the bot downloads the video and uploads it
    await video_for(telegram, photo(telegram, chat=ANN_CHAT, sender=ANN, prompt="uploaded"))
    aiml.fail_next_job()
    photo(telegram, chat=ANN_CHAT, sender=ANN, prompt="fails")
    await status_says(telegram, 111, "could not make this video")
    aiml.inject("create", 401)
    photo(telegram, chat=ANN_CHAT, sender=ANN, prompt="bad key")
    await status_says(telegram, 111, "problem on the bot's side")
    telegram.fail(
        "getFile", 400, "Bad Request: wrong file_id or the file is temporarily unavailable"
    )
    photo(telegram, chat=ANN_CHAT, sender=ANN, prompt="no file")
    await status_says(telegram, 111, "could not download your photo")

    logged = caplog.text + "".join(r.exc_text or "" for r in caplog.records)
    assert any(record.levelno == logging.DEBUG for record in caplog.records)
    assert TOKEN not in logged and API_KEY not in logged
    for call in telegram.calls:
        assert API_KEY not in str(call.params)
        assert all(API_KEY.encode() not in data for data in call.files.values())
    for request in aiml.requests:
        seen = f"{request.path} {request.query} {request.body}"
        assert TOKEN not in seen and TOKEN not in str(request.headers)
        assert "/file/bot" not in seen  # never a Telegram file link: it holds the token
    assert aiml.video_requests
    for request in aiml.video_requests:
        assert request.header("Authorization") is None  # the CDN never sees the key
    replies = [
        plain(c) for c in telegram.calls_to("sendMessage") + telegram.calls_to("editMessageText")
    ]
    assert not any("Traceback" in text for text in replies)
    assert services(bot).settings.aimlapi_key.get_secret_value() == API_KEY


async def test_a_rejected_token_stops_the_bot_with_one_line_that_does_not_quote_it(
    tmp_path: Path, telegram: TelegramEmulator
) -> None:
    # Telegram's refusal quotes the token, and a mistyped token is nearly the real one.
    typo = TOKEN[:-1] + "X"
    environment = dict(
        os.environ,
        PYTHONPATH=str(PROJECT),
        TELEGRAM_BOT_TOKEN=typo,
        AIMLAPI_KEY=API_KEY,
        TELEGRAM_BASE_URL=telegram.base_url,
        TELEGRAM_BASE_FILE_URL=telegram.base_file_url,
        **database_of(tmp_path).environment,
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        cwd=tmp_path,  # no .env there
        env=environment,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    printed = (out + err).decode()
    assert process.returncode == 2
    assert "Configuration error: Telegram rejected TELEGRAM_BOT_TOKEN" in printed
    assert typo not in printed and typo.split(":")[1][:-1] not in printed
