"""Webhook mode: Telegram posts updates to the bot's own server, which checks the secret,
takes each update once, and serves the health checks beside it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.wiring.application import BotApp
from bot.wiring.settings import Settings
from storage import JobStore
from storage.inbox import UpdateInbox
from storage.jobs import Lease
from tests.conftest import (
    TOKEN,
    TestClock,
    eventually,
    eventually_async,
    free_port,
    make_settings,
    running_bot,
    services,
)
from tests.e2e.taps import bot_message
from tests.emulators.aimlapi_emulator import AimlApiEmulator
from tests.emulators.telegram_emulator import (
    SECRET_HEADER,
    TelegramEmulator,
    message_update,
    photo_message,
    photo_sizes,
    private_chat,
    text_message,
    user,
)
from tests.images import make_image
from tests.process import BotProcess

ANN, ANN_CHAT = user(111, "Ann"), private_chat(111)
SECRET = "webhook-secret_42"


@pytest.fixture
async def local_telegram() -> AsyncIterator[TelegramEmulator]:
    """Telegram as a local Bot API server: it posts to a plain-http webhook on any port."""
    async with TelegramEmulator(TOKEN, local_server=True, webhook_retry_seconds=0.05) as emulator:
        yield emulator


@pytest.fixture
def webhook_settings(
    tmp_path: Path, local_telegram: TelegramEmulator, aiml: AimlApiEmulator
) -> Settings:
    port = free_port()
    return make_settings(
        tmp_path,
        local_telegram,
        aiml,
        telegram_webhook_url=f"http://127.0.0.1:{port}/telegram/updates",
        telegram_webhook_secret=SECRET,
        http_host="127.0.0.1",
        http_port=port,
    )


@pytest.fixture
async def webhook_bot(webhook_settings: Settings, clock: TestClock) -> AsyncIterator[BotApp]:
    async with running_bot(webhook_settings, clock) as app:
        yield app


def _photo_update(telegram: TelegramEmulator, caption: str) -> dict[str, Any]:
    data = make_image(720, 1080)
    file_id = telegram.add_file(data)
    message = photo_message(
        chat=ANN_CHAT,
        sender=ANN,
        photo=photo_sizes(file_id, 720, 1080, len(data)),
        caption=caption,
    )
    return message_update(message)


def _is_video(message: dict[str, Any]) -> bool:
    return "video" in message


async def test_photo_posted_to_the_webhook_gets_its_video(
    webhook_bot: BotApp,
    webhook_settings: Settings,
    local_telegram: TelegramEmulator,
    aiml: AimlApiEmulator,
) -> None:
    local_telegram.push_update(_photo_update(local_telegram, "the cat waves"))
    video = await bot_message(local_telegram, 111, _is_video, "the video")

    assert video["caption"].startswith("🎬 the cat waves")
    assert aiml.charged == 1
    [hook] = local_telegram.calls_to("setWebhook")
    assert hook.params["url"] == webhook_settings.telegram_webhook_url
    assert hook.params["secret_token"] == SECRET
    assert hook.params["allowed_updates"] == ["message", "callback_query", "pre_checkout_query"]
    assert local_telegram.calls_to("getUpdates") == []  # Telegram answers those 409 now
    assert [post.status for post in local_telegram.webhook_posts] == [200]


async def test_a_post_without_the_secret_is_refused_and_makes_nothing(
    webhook_bot: BotApp,
    webhook_settings: Settings,
    local_telegram: TelegramEmulator,
    aiml: AimlApiEmulator,
) -> None:
    update = _photo_update(local_telegram, "a stranger's photo")
    update["update_id"] = 9001
    async with aiohttp.ClientSession() as session:
        for headers in ({}, {SECRET_HEADER: "guessed"}):
            url = webhook_settings.telegram_webhook_url
            async with session.post(url, json=update, headers=headers) as answer:
                assert answer.status == 401

    # A real update after it still goes through, so the refused ones were not just slow.
    local_telegram.push_update(_photo_update(local_telegram, "Ann's photo"))
    await bot_message(local_telegram, 111, _is_video, "the video")
    assert aiml.charged == 1
    assert all("stranger" not in str(call.params) for call in local_telegram.calls)


async def test_an_update_posted_twice_is_handled_once(
    webhook_bot: BotApp, local_telegram: TelegramEmulator, aiml: AimlApiEmulator
) -> None:
    update_id = local_telegram.push_update(_photo_update(local_telegram, "twice"))
    await eventually(lambda: len(local_telegram.webhook_posts) == 1, what="the first post")
    local_telegram.deliver_again(update_id)  # its 200 lost on the way, say
    await bot_message(local_telegram, 111, _is_video, "the video")
    await eventually(lambda: len(local_telegram.webhook_posts) == 2, what="the second post")

    assert [post.status for post in local_telegram.webhook_posts] == [200, 200]
    assert aiml.charged == 1
    assert len(local_telegram.calls_to("sendVideo")) == 1
    acknowledgements = [
        call for call in local_telegram.calls_to("sendMessage") if call.params["chat_id"] == 111
    ]
    assert len(acknowledgements) == 1


async def test_a_command_posted_twice_is_answered_once(
    webhook_bot: BotApp, local_telegram: TelegramEmulator
) -> None:
    # Unlike a photo, which the database keeps once, a command is deduplicated by the webhook.
    asked = text_message(chat=ANN_CHAT, sender=ANN, text="/status")
    update_id = local_telegram.push_update(message_update(asked))
    await eventually(lambda: len(local_telegram.calls_to("sendMessage")) == 1, what="a reply")
    local_telegram.deliver_again(update_id)
    await eventually(lambda: len(local_telegram.webhook_posts) == 2, what="the second post")
    await asyncio.sleep(0.3)  # time for a second reply, were there to be one
    assert [post.status for post in local_telegram.webhook_posts] == [200, 200]
    assert len(local_telegram.calls_to("sendMessage")) == 1


async def test_health_checks_are_served_beside_the_webhook(
    webhook_bot: BotApp, webhook_settings: Settings
) -> None:
    base = f"http://127.0.0.1:{webhook_settings.http_port}"
    async with aiohttp.ClientSession() as session:
        async with session.get(base + "/healthz") as answer:
            assert (answer.status, await answer.text()) == (200, "ok\n")
        await eventually(lambda: "last_tick_at" in webhook_bot.bot_data, what="a poll tick")
        async with session.get(base + "/readyz") as answer:
            assert (answer.status, await answer.text()) == (200, "ready\n")
        await services(webhook_bot).store.close()  # the database goes away
        async with session.get(base + "/readyz") as answer:
            assert answer.status == 503
            assert "database" in await answer.text()


async def test_polling_mode_serves_the_health_checks_only_when_http_port_is_set(
    tmp_path: Path, telegram: TelegramEmulator, aiml: AimlApiEmulator, clock: TestClock
) -> None:
    port = free_port()
    settings = make_settings(tmp_path, telegram, aiml, http_host="127.0.0.1", http_port=port)
    async with running_bot(settings, clock), aiohttp.ClientSession() as session:
        async with session.get(f"http://127.0.0.1:{port}/healthz") as answer:
            assert answer.status == 200
        async with session.post(f"http://127.0.0.1:{port}/telegram/updates", json={}) as answer:
            assert answer.status == 404  # no webhook route in polling mode
    assert telegram.calls_to("setWebhook") == []
    assert telegram.calls_to("getUpdates")


async def test_python_m_bot_in_webhook_mode_serves_and_stops_cleanly_leaving_the_webhook(
    tmp_path: Path, local_telegram: TelegramEmulator, aiml: AimlApiEmulator
) -> None:
    port = free_port()
    run = BotProcess(
        tmp_path,
        local_telegram,
        aiml,
        TELEGRAM_WEBHOOK_URL=f"http://127.0.0.1:{port}/hook",
        TELEGRAM_WEBHOOK_SECRET=SECRET,
        HTTP_HOST="127.0.0.1",
        HTTP_PORT=str(port),
    )
    await run.start()
    try:
        await local_telegram.wait_for("setWebhook", timeout=30)
        local_telegram.push_update(_photo_update(local_telegram, "as a process"))
        await local_telegram.wait_for("sendVideo", timeout=30)
        assert await run.terminate() == 0
    finally:
        await run.close()

    log = run.log()
    assert "plain http" in log  # the warning: Telegram itself needs https
    assert TOKEN not in log and SECRET not in log
    # Other instances may still be serving the same URL: stopping never removes the webhook.
    assert local_telegram.calls_to("deleteWebhook") == []
    assert local_telegram.calls_to("getUpdates") == []


async def test_an_update_kept_but_not_handled_before_a_crash_is_handled_at_the_next_start(
    webhook_settings: Settings,
    local_telegram: TelegramEmulator,
    aiml: AimlApiEmulator,
    clock: TestClock,
) -> None:
    # As a process killed after answering 200 leaves it: kept, never handled.
    update = _photo_update(local_telegram, "kept through a crash")
    update["update_id"] = 4242
    store = await JobStore.open(webhook_settings.database)
    try:
        lease = Lease("crashed/1/dead", clock() - 1)  # its instance died holding it
        assert await UpdateInbox.of(store).keep(update, now=clock(), lease=lease)
    finally:
        await store.close()

    async with running_bot(webhook_settings, clock) as app:
        video = await bot_message(local_telegram, 111, _is_video, "the video")
        inbox = UpdateInbox.of(services(app).store)

        async def handled() -> bool:  # marked once its handlers are done
            return not await inbox.unhandled_ids()

        await eventually_async(handled, what="the replayed update marked handled")
    assert video["caption"].startswith("🎬 kept through a crash")
    assert aiml.charged == 1


async def test_an_update_posted_again_after_a_restart_is_not_taken_again(
    webhook_settings: Settings, local_telegram: TelegramEmulator, clock: TestClock
) -> None:
    asked = text_message(chat=ANN_CHAT, sender=ANN, text="/status")
    async with running_bot(webhook_settings, clock):
        update_id = local_telegram.push_update(message_update(asked))
        await eventually(lambda: len(local_telegram.calls_to("sendMessage")) == 1, what="a reply")
    async with running_bot(webhook_settings, clock):
        local_telegram.deliver_again(update_id)  # another instance, or this one after a restart
        await eventually(
            lambda: (
                [post.status for post in local_telegram.webhook_posts][-1:] == [200]
                and len(local_telegram.webhook_posts) >= 2
            ),
            what="the second post answered",
        )
        await asyncio.sleep(0.3)  # time for a second reply, were there to be one
    assert len(local_telegram.calls_to("sendMessage")) == 1
