"""The bot's HTTP server over real HTTP on 127.0.0.1: the webhook's secret, keeping an update
before the 200, and the health checks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from bot.wiring.webserver import SECRET_HEADER, NotNow, WebServer

SECRET = "s3cret_token-1"
PATH = "/telegram/hook"


class Sink:
    """Keeps updates, or fails to, as told."""

    def __init__(self) -> None:
        self.kept: list[dict[str, Any]] = []
        self.failing = False
        self.not_now = False

    async def __call__(self, update: dict[str, Any]) -> None:
        if self.not_now:
            raise NotNow("the bot is starting")
        if self.failing:
            raise RuntimeError("database unavailable")
        self.kept.append(update)


class Ready:
    def __init__(self) -> None:
        self.problem: str | None = None

    async def __call__(self) -> str | None:
        if self.problem == "raise":
            raise ConnectionError("no database")
        return self.problem


@pytest.fixture
def sink() -> Sink:
    return Sink()


@pytest.fixture
def ready() -> Ready:
    return Ready()


@pytest.fixture
async def server(sink: Sink, ready: Ready) -> AsyncIterator[str]:
    web = WebServer(
        host="127.0.0.1", port=0, on_update=sink, webhook_path=PATH, secret=SECRET, readiness=ready
    )
    await web.start()
    try:
        yield f"http://127.0.0.1:{web.port}"
    finally:
        await web.stop()


async def _post(url: str, body: object, headers: dict[str, str]) -> tuple[int, str]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, json=body, headers=headers) as response,
    ):
        return response.status, await response.text()


async def _get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.text()


async def test_update_with_the_secret_is_kept_before_it_is_answered(
    server: str, sink: Sink
) -> None:
    status, _ = await _post(server + PATH, {"update_id": 7}, {SECRET_HEADER: SECRET})
    assert status == 200
    assert sink.kept == [{"update_id": 7}]


@pytest.mark.parametrize("headers", [{}, {SECRET_HEADER: "wrong"}, {SECRET_HEADER: ""}])
async def test_update_without_the_right_secret_gets_401_and_does_nothing(
    server: str, sink: Sink, headers: dict[str, str]
) -> None:
    status, _ = await _post(server + PATH, {"update_id": 7}, headers)
    assert status == 401
    assert sink.kept == []


async def test_update_that_cannot_be_kept_is_refused_so_that_telegram_resends_it(
    server: str, sink: Sink
) -> None:
    sink.failing = True
    status, _ = await _post(server + PATH, {"update_id": 8}, {SECRET_HEADER: SECRET})
    assert status == 500
    sink.failing = False
    status, _ = await _post(server + PATH, {"update_id": 8}, {SECRET_HEADER: SECRET})
    assert (status, sink.kept) == (200, [{"update_id": 8}])


@pytest.mark.parametrize("body", [[1, 2], {"message": {}}, {"update_id": "7"}])
async def test_post_that_is_not_an_update_gets_400(server: str, sink: Sink, body: object) -> None:
    status, _ = await _post(server + PATH, body, {SECRET_HEADER: SECRET})
    assert status == 400
    assert sink.kept == []


async def test_healthz_answers_while_the_process_serves(server: str) -> None:
    assert await _get(server + "/healthz") == (200, "ok\n")


async def test_readyz_says_why_it_is_not_ready(server: str, ready: Ready) -> None:
    assert await _get(server + "/readyz") == (200, "ready\n")
    ready.problem = "the poll tick has not run for 95 s"
    assert await _get(server + "/readyz") == (
        503,
        "not ready: the poll tick has not run for 95 s\n",
    )
    ready.problem = "raise"
    status, text = await _get(server + "/readyz")
    assert status == 503
    assert "ConnectionError" in text


async def test_without_a_webhook_path_only_the_health_checks_are_served() -> None:
    web = WebServer(host="127.0.0.1", port=0)
    await web.start()
    try:
        base = f"http://127.0.0.1:{web.port}"
        assert (await _get(base + "/healthz"))[0] == 200
        assert (await _post(base + PATH, {"update_id": 1}, {SECRET_HEADER: SECRET}))[0] == 404
    finally:
        await web.stop()


def test_a_webhook_route_needs_a_secret() -> None:
    with pytest.raises(ValueError, match="secret"):
        WebServer(host="127.0.0.1", port=0, on_update=Sink(), webhook_path=PATH, secret="")


async def test_an_update_the_bot_cannot_take_yet_gets_503_so_that_telegram_resends_it(
    server: str, sink: Sink
) -> None:
    sink.not_now = True
    status, _ = await _post(server + PATH, {"update_id": 9}, {SECRET_HEADER: SECRET})
    assert (status, sink.kept) == (503, [])
