"""Fixtures of the engine's unit tests: the real steps, as the wiring assembles them, over an
in-memory chat (`FakeChat`) and a real SQLite store in tmp_path."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bot.aimlapi.client import AimlApiClient
from bot.engine.durations import GenerationTimes
from bot.engine.meter import NO_METER
from bot.engine.tuning import Tuning
from bot.wiring.application import assemble
from bot.wiring.services import Services
from bot.wiring.settings import Settings
from bot.wiring.steps import Steps
from storage import Job, JobState, JobStore, NewJob
from tests.conftest import TestClock
from tests.unit.engine.fakechat import FakeChat

#: What the video server serves at /video.mp4 (not a real MP4: its shape is unknown).
VIDEO = b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 2048


@pytest.fixture
def chat() -> FakeChat:
    return FakeChat()


@pytest.fixture
def clock() -> TestClock:
    return TestClock()


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[JobStore]:
    opened = await JobStore.open(tmp_path / "bot.sqlite3")
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
async def steps(
    chat: FakeChat, store: JobStore, clock: TestClock, tmp_path: Path
) -> AsyncIterator[Steps]:
    """The bot's steps over `chat`; the API is never reached (nothing here submits)."""
    settings = Settings(
        _env_file=None,
        telegram_bot_token="1:test",
        aimlapi_key="test",
        aimlapi_base_url="http://127.0.0.1:9",
        database_path=tmp_path / "bot.sqlite3",
    )
    async with aiohttp.ClientSession() as downloads:
        api = AimlApiClient(settings.aimlapi_base_url, "test", session=downloads)
        yield assemble(
            chat,
            Services(store=store, api=api, downloads=downloads),
            settings,
            clock=clock,
            tuning=Tuning(),
            bot_username="animate_test_bot",
            generation_times=GenerationTimes(),
            meter=NO_METER,
        )


@pytest.fixture
async def video_server() -> AsyncIterator[str]:
    """A loopback server of videos: /video.mp4 serves VIDEO, anything else is gone (404).
    Yields its base URL."""

    async def video(request: web.Request) -> web.StreamResponse:
        return web.Response(body=VIDEO, content_type="video/mp4")

    app = web.Application()
    app.router.add_get("/video.mp4", video)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def record_job(
    store: JobStore,
    clock: TestClock,
    *,
    chat_id: int = 111,
    thread_id: int | None = None,
    state: JobState = JobState.RECEIVED,
    prompt: str = "she waves",
    **changes: Any,
) -> Job:
    """A job of user 111, its photo message 10 and request message 11, moved to `state` with
    `changes`."""
    job = await store.record_request(
        NewJob(
            chat_id=chat_id,
            request_message_id=11,
            photo_message_id=10,
            thread_id=thread_id,
            user_id=111,
            prompt=prompt,
            prompt_optimizer=True,
            file_id="photo-file",
        ),
        now=clock(),
        state=JobState.WAITING if state is JobState.WAITING else JobState.RECEIVED,
    )
    assert job is not None
    if state is JobState.WAITING and not changes:
        return job
    return await store.update(job.id, now=clock(), state=state, **changes)
