"""The one server of the API's contract, as both stand-ins configure it: the same refusals."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bot.sandbox import contract
from bot.sandbox.render import VideoSpec
from bot.sandbox.server import SandboxConfig, SandboxServer
from bot.sandbox.serving import LoopbackServer
from bot.sandbox.standin import ApiStandIn, StandInJob
from tests.emulators.aimlapi_emulator import AimlApiEmulator
from tests.images import make_image

KEY = "the-key"
AnyStandIn = ApiStandIn[Any]
QUICK_SANDBOX = SandboxConfig(
    port=0, queued_seconds=0, generating_seconds=0, video=VideoSpec(0.25, 4, 64)
)
STAND_INS: dict[str, Callable[[], AnyStandIn]] = {
    "sandbox": lambda: SandboxServer(QUICK_SANDBOX),
    "emulator": lambda: AimlApiEmulator(KEY),
}


def frame(width: int = 640, height: int = 960) -> str:
    return "data:image/png;base64," + base64.b64encode(make_image(width, height, "PNG")).decode()


@pytest.fixture(params=sorted(STAND_INS))
async def stand_in(request: pytest.FixtureRequest) -> AsyncIterator[AnyStandIn]:
    async with STAND_INS[request.param]() as server:
        yield server


async def post(
    stand_in: AnyStandIn, body: Any, *, key: str | None = KEY, path: str = contract.GENERATION_PATH
) -> tuple[int, Any]:
    headers = {} if key is None else {"Authorization": f"Bearer {key}"}
    async with (
        aiohttp.ClientSession() as session,
        session.post(stand_in.origin + path, json=body, headers=headers) as response,
    ):
        return response.status, await response.json(content_type=None)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"model": "video-01", "prompt": "p", "first_frame_image": "x"}, "model: Invalid enum"),
        ({"model": contract.MODEL, "first_frame_image": "x"}, "prompt: Required"),
        ({"model": contract.MODEL, "prompt": "p"}, "first_frame_image: Required"),
        (
            {"model": contract.MODEL, "prompt": "p", "first_frame_image": frame(400, 1000)},
            "first_frame_image: aspect ratio 400x1000",
        ),
    ],
)
async def test_both_stand_ins_refuse_a_broken_create_in_the_apis_words(
    stand_in: AnyStandIn, body: dict[str, Any], message: str
) -> None:
    status, answer = await post(stand_in, body)
    assert status == 400
    assert set(answer) == {"requestId", "statusCode", "timestamp", "path", "message"}
    assert answer["message"].startswith(contract.VALIDATION_PREFIX + message)
    assert stand_in.jobs == {}


async def test_both_stand_ins_refuse_a_create_without_a_key(stand_in: AnyStandIn) -> None:
    body = {"model": contract.MODEL, "prompt": "p", "first_frame_image": frame()}
    status, answer = await post(stand_in, body, key=None)
    assert (status, answer["message"]) == (401, contract.UNAUTHORIZED_MESSAGE)
    assert stand_in.jobs == {}


async def test_the_universal_endpoint_names_its_own_fields_in_both(stand_in: AnyStandIn) -> None:
    body = {"model": contract.MODEL, "prompt": "p", "first_frame_image": frame()}
    status, answer = await post(stand_in, body, path=contract.UNIVERSAL_PATH)
    assert status == 400 and "image_url: Required" in answer["message"]


async def test_the_emulator_takes_only_its_key_and_the_sandbox_any() -> None:
    body = {"model": contract.MODEL, "prompt": "p", "first_frame_image": frame()}
    async with AimlApiEmulator(KEY) as emulator, SandboxServer(QUICK_SANDBOX) as sandbox:
        assert (await post(emulator, body, key="another"))[0] == 401
        status, answer = await post(sandbox, body, key="another")
    assert status == 200 and list(sandbox.jobs) == [answer["generation_id"]]


async def test_creates_over_the_accounts_rate_are_answered_429_with_retry_after() -> None:
    body = {"model": contract.MODEL, "prompt": "p", "first_frame_image": "https://a.example/1.png"}
    async with AimlApiEmulator(KEY, creates_per_window=2, rate_window=60.0) as emulator:
        statuses = [(await post(emulator, body))[0] for _ in range(3)]
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                emulator.origin + contract.UNIVERSAL_PATH,
                json=body,
                headers={"Authorization": f"Bearer {KEY}"},
            ) as response,
        ):
            refused = response.status, response.headers["Retry-After"], await response.json()
    assert statuses == [200, 200, 429] and emulator.charged == 2
    assert refused[0] == 429 and 59 < float(refused[1]) <= 60
    assert refused[2]["path"] == contract.UNIVERSAL_PATH


class Hello(LoopbackServer):
    def make_app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/", self._hello)
        return app

    async def _hello(self, request: web.Request) -> web.Response:
        return web.Response(text="hello")


async def test_a_loopback_server_started_again_serves_on_the_same_port() -> None:
    server = Hello()
    with pytest.raises(RuntimeError, match="not started"):
        _ = server.port
    async with server:
        port = server.port
    assert not server.serving
    async with server, aiohttp.ClientSession() as session, session.get(server.origin) as response:
        assert server.port == port and await response.text() == "hello"


def test_a_stand_in_job_reports_what_was_learnt_of_its_first_frame() -> None:
    image = contract.FirstFrameImage("PNG", (640, 960), mime="image/png", nbytes=12)
    job = StandInJob("1", 1, "p", None, image)
    assert (job.image_format, job.image_size, job.image_mime, job.image_bytes) == (
        "PNG",
        (640, 960),
        "image/png",
        12,
    )
    assert job.image_url is None and job.queued_until is None and job.ready_at is None
