"""The Telegram emulator's webhook side: setWebhook refuses what Telegram refuses, posts each
update with the secret header, posts again what got no 2xx, and getUpdates is refused while a
webhook is set."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from telegram import Bot
from telegram.error import BadRequest, Conflict

from bot.sandbox.serving import LoopbackServer
from tests.conftest import eventually
from tests.emulators.conftest import TOKEN
from tests.emulators.telegram_emulator import (
    SECRET_HEADER,
    TelegramEmulator,
    message_update,
    private_chat,
    text_message,
    user,
)


class Receiver(LoopbackServer):
    """A bot's webhook: keeps each post, answering with the statuses it is told, then 200."""

    def __init__(self) -> None:
        super().__init__()
        self.posts: list[tuple[dict[str, Any], str | None]] = []
        self.statuses: list[int] = []
        self.arrived = asyncio.Event()

    def make_app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/hook", self._post)
        return app

    async def _post(self, request: web.Request) -> web.Response:
        self.posts.append((await request.json(), request.headers.get(SECRET_HEADER)))
        self.arrived.set()
        return web.Response(status=self.statuses.pop(0) if self.statuses else 200)

    @property
    def url(self) -> str:
        return f"{self.origin}/hook"

    async def wait_for_posts(self, count: int) -> None:
        async with asyncio.timeout(5):
            while len(self.posts) < count:
                self.arrived.clear()
                await self.arrived.wait()


@pytest.fixture
async def local() -> AsyncIterator[TelegramEmulator]:
    async with TelegramEmulator(TOKEN, local_server=True, webhook_retry_seconds=0.05) as emulator:
        yield emulator


@pytest.fixture
async def local_bot(local: TelegramEmulator) -> AsyncIterator[Bot]:
    async with Bot(TOKEN, base_url=local.base_url, base_file_url=local.base_file_url) as the_bot:
        yield the_bot


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with Receiver() as server:
        yield server


def _hello() -> dict[str, Any]:
    return message_update(text_message(chat=private_chat(), sender=user(), text="hello"))


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://bot.example.org/hook", "An HTTPS URL must be provided"),
        ("https://bot.example.org:8080/hook", "only on ports 80, 88, 443 or 8443"),
    ],
)
async def test_telegram_takes_a_webhook_only_on_https_and_its_four_ports(
    bot: Bot, url: str, words: str
) -> None:
    with pytest.raises(BadRequest, match=f"(?i){words}"):
        await bot.set_webhook(url, secret_token="s3cret")


@pytest.mark.parametrize("secret", ["has space", "x" * 257, "ünïcode"])
async def test_a_secret_token_outside_its_alphabet_or_length_is_refused(
    local_bot: Bot, receiver: Receiver, secret: str
) -> None:
    with pytest.raises(BadRequest, match=r"(?i)secret token"):
        await local_bot.set_webhook(receiver.url, secret_token=secret)


async def test_updates_are_posted_with_the_secret_and_get_updates_is_refused(
    local: TelegramEmulator, local_bot: Bot, receiver: Receiver
) -> None:
    first = local.push_update(_hello())
    await local_bot.set_webhook(receiver.url, secret_token="s3cret_-1")
    second = local.push_update(_hello())
    await receiver.wait_for_posts(2)

    assert [(body["update_id"], secret) for body, secret in receiver.posts] == [
        (first, "s3cret_-1"),
        (second, "s3cret_-1"),
    ]
    with pytest.raises(Conflict, match="webhook is active"):
        await local_bot.get_updates()
    info = await local_bot.get_webhook_info()
    assert (info.url, info.pending_update_count) == (receiver.url, 0)


async def test_a_post_without_a_2xx_is_posted_again_until_it_is_taken(
    local: TelegramEmulator, local_bot: Bot, receiver: Receiver
) -> None:
    receiver.statuses = [500, 401]
    await local_bot.set_webhook(receiver.url, secret_token="s3cret")
    update_id = local.push_update(_hello())
    await receiver.wait_for_posts(3)

    assert [body["update_id"] for body, _ in receiver.posts] == [update_id] * 3
    # The emulator notes each answer once it has read it.
    await eventually(lambda: len(local.webhook_posts) == 3, what="the third answer noted")
    assert [post.status for post in local.webhook_posts] == [500, 401, 200]


async def test_an_update_can_be_delivered_twice_as_after_a_lost_answer(
    local: TelegramEmulator, local_bot: Bot, receiver: Receiver
) -> None:
    await local_bot.set_webhook(receiver.url, secret_token="s3cret")
    update_id = local.push_update(_hello())
    await receiver.wait_for_posts(1)
    local.deliver_again(update_id)
    await receiver.wait_for_posts(2)

    assert [body["update_id"] for body, _ in receiver.posts] == [update_id, update_id]


async def test_after_delete_webhook_updates_wait_for_get_updates_again(
    local: TelegramEmulator, local_bot: Bot, receiver: Receiver
) -> None:
    await local_bot.set_webhook(receiver.url, secret_token="s3cret")
    await local_bot.delete_webhook()
    update_id = local.push_update(_hello())

    [update] = await local_bot.get_updates()
    assert update.update_id == update_id
    assert receiver.posts == []
