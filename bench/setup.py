"""The bot as benchmarks run it: the product's own wiring, pointed at the emulators."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from bot.engine.tuning import Tuning
from bot.wiring.application import BotApp, build_application
from bot.wiring.settings import Settings
from tests.conftest import TestClock, running_bot


def clean_environment() -> None:
    """Forget the operator's settings: a benchmark measures the product's defaults."""
    for name in Settings.model_fields:
        os.environ.pop(name.upper(), None)


@asynccontextmanager
async def initialized_app(settings: Settings) -> AsyncIterator[BotApp]:
    """The Application with its services open, as `post_init` opens them, but neither taking
    updates nor running the tick: the benchmark drives the pipeline's steps itself."""
    app = build_application(settings, clock=time.time, tuning=Tuning())
    await app.initialize()
    try:
        assert app.post_init is not None
        await app.post_init(app)
        yield app
    finally:
        await app.shutdown()
        if app.post_shutdown is not None:
            await app.post_shutdown(app)


@asynccontextmanager
async def running_app(settings: Settings, tuning: Tuning | None = None) -> AsyncIterator[BotApp]:
    """The whole Application as `python -m bot` runs it: updates, handlers and the tick."""
    async with running_bot(settings, TestClock(), tuning or Tuning()) as app:
        yield app
