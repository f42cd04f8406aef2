"""The sandbox as an operator uses it: the product's client and the real bot against it."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import io
import os
import re
import signal
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from bot.aimlapi.client import (
    AimlApiClient,
    ApiNotFound,
    ApiRejected,
    Endpoint,
    Generation,
    Usage,
    UsageUnit,
    error_reason,
)
from bot.sandbox import contract, render
from bot.sandbox.placeholder import PLACEHOLDER_MP4
from bot.sandbox.render import VideoSpec, output_size
from bot.sandbox.server import SandboxConfig, SandboxServer
from tests.conftest import TestClock, make_settings, running_bot, send_photo
from tests.emulators.aimlapi_emulator import AimlApiEmulator
from tests.emulators.telegram_emulator import TelegramEmulator, private_chat, user
from tests.images import make_image

REPO = Path(__file__).resolve().parents[2]
ANN = user(111, "Ann")
ANN_CHAT = private_chat(111)
SPEC = VideoSpec(seconds=1.0, fps=24, short_side=240)
QUICK = SandboxConfig(port=0, queued_seconds=0.3, generating_seconds=0.2, video=SPEC)


def png_data_url(width: int = 640, height: int = 960) -> str:
    return "data:image/png;base64," + base64.b64encode(make_image(width, height, "PNG")).decode()


@pytest.fixture
async def sandbox() -> AsyncIterator[SandboxServer]:
    async with SandboxServer(QUICK) as server:
        yield server


@pytest.fixture
async def client(sandbox: SandboxServer) -> AsyncIterator[AimlApiClient]:
    api = AimlApiClient(sandbox.base_url, "any-key-at-all")
    yield api
    await api.close()


async def poll_until_final(
    client: AimlApiClient, generation_id: str, endpoint: Endpoint = Endpoint.LEGACY
) -> list[Generation]:
    answers: list[Generation] = []
    deadline = time.monotonic() + 10
    while not answers or answers[-1].status in ("queued", "generating"):
        assert time.monotonic() < deadline, f"still {answers[-1].status}"
        answers.append(await client.get_generation(generation_id, endpoint))
        await asyncio.sleep(0.05)
    return answers


async def test_job_goes_queued_generating_completed_and_its_video_is_a_real_mp4(
    sandbox: SandboxServer, client: AimlApiClient
) -> None:
    created = await client.create_generation(
        prompt="she smiles", first_frame_image=png_data_url(), prompt_optimizer=True
    )
    assert created.status == "queued" and re.fullmatch(r"\d{15}", created.id)

    answers = await poll_until_final(client, created.id)
    statuses = [str(answer.status) for answer in answers]
    assert statuses[0] == "queued" and "generating" in statuses and statuses[-1] == "completed"
    assert statuses == sorted(statuses, key=["queued", "generating", "completed"].index)
    video = answers[-1]
    assert video.video_url is not None and video.duration == SPEC.seconds
    assert video.video_url == f"{sandbox.origin}/videos/{created.id}.mp4"

    async with aiohttp.ClientSession() as session, session.get(video.video_url) as response:
        assert response.status == 200 and response.content_type == "video/mp4"
        data = await response.read()

    av = pytest.importorskip("av")
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        assert stream.codec_context.name in ("h264", "mpeg4")
        assert (stream.width, stream.height) == output_size(640, 960, SPEC.short_side)
        assert frames == SPEC.frames
        assert container.duration is not None
        assert container.duration / av.time_base == pytest.approx(SPEC.seconds, abs=0.1)


async def test_requests_are_checked_like_the_real_api(
    sandbox: SandboxServer, client: AimlApiClient
) -> None:
    with pytest.raises(ApiRejected, match="aspect ratio"):
        await client.create_generation(
            prompt="p", first_frame_image=png_data_url(400, 1000), prompt_optimizer=True
        )
    with pytest.raises(ApiRejected, match="at most 2000"):
        await client.create_generation(
            prompt="x" * 2001, first_frame_image=png_data_url(), prompt_optimizer=True
        )
    with pytest.raises(ApiNotFound):
        await client.get_generation("123456789012345")

    async with aiohttp.ClientSession() as session:
        url = sandbox.base_url + "/generate/video/minimax/generation"
        async with session.post(url, json={"model": contract.MODEL}) as response:
            assert response.status == 401
            answer = await response.json()
        async with session.get(f"{sandbox.origin}/videos/123456789012345.mp4") as response:
            assert response.status == 404
    assert answer["statusCode"] == 401 and answer["path"] == contract.GENERATION_PATH
    assert answer["message"] == contract.UNAUTHORIZED_MESSAGE
    assert sandbox.jobs == {}


async def test_fail_every_makes_every_nth_job_fail_with_a_moderation_error() -> None:
    config = SandboxConfig(
        port=0, queued_seconds=0, generating_seconds=0.05, fail_every=2, video=SPEC
    )
    async with SandboxServer(config) as sandbox:
        client = AimlApiClient(sandbox.base_url, "k")
        try:
            outcomes = []
            for _ in range(4):
                created = await client.create_generation(
                    prompt="p",
                    first_frame_image="https://example.com/cat.png",
                    prompt_optimizer=True,
                )
                outcomes.append((await poll_until_final(client, created.id))[-1])
        finally:
            await client.close()
    assert [answer.status for answer in outcomes] == ["completed", "error"] * 2
    assert error_reason(outcomes[1].error) == contract.MODERATION_FAILURE
    assert outcomes[1].video_url is None


async def test_without_pyav_the_placeholder_clip_is_served_with_its_own_length(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(render, "encoder", lambda: None)
    async with SandboxServer(QUICK) as sandbox:
        client = AimlApiClient(sandbox.base_url, "k")
        try:
            created = await client.create_generation(
                prompt="p", first_frame_image=png_data_url(), prompt_optimizer=False
            )
            video = (await poll_until_final(client, created.id))[-1]
        finally:
            await client.close()
        assert video.video_url is not None and video.duration == render.PLACEHOLDER.seconds
        async with aiohttp.ClientSession() as session, session.get(video.video_url) as response:
            assert await response.read() == PLACEHOLDER_MP4


async def test_bot_delivers_the_sandbox_video_end_to_end(
    tmp_path: Path, telegram: TelegramEmulator, aiml: AimlApiEmulator, clock: TestClock
) -> None:
    # Real Telegram cannot fetch a 127.0.0.1 link: the bot downloads the video and uploads it.
    telegram.reject_video_urls = True
    async with SandboxServer(QUICK) as sandbox:
        settings = make_settings(tmp_path, telegram, aiml, aimlapi_base_url=sandbox.base_url)
        async with running_bot(settings, clock):
            send_photo(telegram, chat=ANN_CHAT, sender=ANN, caption="she smiles and waves")
            [upload] = await telegram.wait_for(
                "sendVideo", where=lambda call: "video" in call.files, timeout=8
            )
        [job] = sandbox.jobs.values()
        assert job.render is not None
        clip = job.render.result()
    assert upload.files["video"] == clip.data
    assert "she smiles and waves" in upload.params["caption"]
    assert job.prompt == "she smiles and waves" and job.image.size == (720, 1080)
    assert aiml.charged == 0  # the paid API's stand-in was never asked


async def test_python_m_bot_sandbox_starts_with_one_line_and_stops_on_ctrl_c() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "bot.sandbox", "--port", "0", "--fail-every", "3"),
        cwd=REPO,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stderr is not None
        line = (await asyncio.wait_for(process.stderr.readline(), timeout=10)).decode()
        assert re.search(r"AI/ML API sandbox at http://127\.0\.0\.1:\d+/v2", line), line
        assert "jobs 3, 6, ... fail" in line
        assert any(codec in line for codec in ("libx264", "mpeg4", "placeholder")), line
        process.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(process.wait(), timeout=5) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_python_m_bot_sandbox_listens_on_the_host_it_is_told() -> None:
    # 127.0.0.2 is loopback too, yet another address than the default: the server is there.
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "bot.sandbox", "--host", "127.0.0.2", "--port", "0"),
        *("--public-url", "http://sandbox:8787"),
        cwd=REPO,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stderr is not None
        line = (await asyncio.wait_for(process.stderr.readline(), timeout=10)).decode()
        found = re.search(
            r"sandbox at http://sandbox:8787/v2, listening on 127\.0\.0\.2:(\d+): "
            r"set AIMLAPI_BASE_URL to http://sandbox:8787/v2;",
            line,
        )
        assert found, line
        api = AimlApiClient(f"http://127.0.0.2:{found[1]}/v2", "any-key-at-all")
        try:
            created = await api.create_generation(
                prompt="she waves", first_frame_image=png_data_url(), prompt_optimizer=False
            )
        finally:
            await api.close()
        assert created.status == "queued"
        process.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(process.wait(), timeout=5) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_links_point_at_the_public_url_the_bot_reaches_the_sandbox_at() -> None:
    config = dataclasses.replace(QUICK, host="127.0.0.2", public_url="http://sandbox:8787")
    async with SandboxServer(config) as sandbox:
        assert sandbox.origin == f"http://127.0.0.2:{sandbox.port}"
        api = AimlApiClient(f"{sandbox.origin}/v2", "any-key-at-all")
        try:
            created = await api.create_generation(
                prompt="she waves", first_frame_image=png_data_url(), prompt_optimizer=False
            )
            answers = await poll_until_final(api, created.id)
        finally:
            await api.close()
    assert answers[-1].video_url == f"http://sandbox:8787/videos/{created.id}.mp4"


async def test_the_universal_endpoint_speaks_its_own_words_and_knows_only_its_jobs() -> None:
    config = SandboxConfig(
        port=0, queued_seconds=0.1, generating_seconds=0.1, fail_every=2, video=SPEC
    )
    async with SandboxServer(config) as sandbox:
        client = AimlApiClient(sandbox.base_url, "k", endpoint=Endpoint.UNIVERSAL)
        try:
            made = [
                await client.create_generation(
                    prompt="p", first_frame_image=png_data_url(), prompt_optimizer=False
                )
                for _ in range(2)
            ]
            done, failed = [
                (await poll_until_final(client, job.id, Endpoint.UNIVERSAL))[-1] for job in made
            ]
            with pytest.raises(ApiNotFound):
                await client.get_generation(made[0].id, Endpoint.LEGACY)
        finally:
            await client.close()
    assert done.status == "completed" and done.video_url is not None
    assert done.usage == Usage(0.0, UsageUnit.CREDITS)
    assert failed.status == "error" and failed.error == {
        "name": "GenerationError",
        "message": contract.MODERATION_FAILURE,
    }


async def test_the_vendor_path_can_answer_a_create_as_the_apis_schema_documents() -> None:
    config = dataclasses.replace(QUICK, create_answer="schema")
    body = {"model": "video-01-live2d", "prompt": "p", "first_frame_image": png_data_url()}
    async with (
        SandboxServer(config) as sandbox,
        aiohttp.ClientSession() as session,
        session.post(
            sandbox.base_url + "/generate/video/minimax/generation",
            json=body,
            headers={"Authorization": "Bearer k"},
        ) as response,
    ):
        answer = await response.json()
    assert set(answer) == {"id", "status", "video", "error", "meta"}
    assert answer["status"] == "queued" and re.fullmatch(r"\d{15}", answer["id"])
