"""Fixtures shared by every test: the two emulators, the database (on each engine), and the
bot running against them."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from bot.engine.tuning import Tuning
from bot.wiring.application import BotApp, build_application, stop_http_server
from bot.wiring.settings import Settings
from bot.wiring.steps import Steps, steps_of
from tests.databases import (
    BY_FOLDER,
    ENGINES,
    NO_SERVER,
    POSTGRES,
    REQUIRED,
    TestDatabase,
    database_of,
)
from tests.emulators.aimlapi_emulator import AimlApiEmulator
from tests.emulators.telegram_emulator import (
    TelegramEmulator,
    message_update,
    photo_message,
    photo_sizes,
)
from tests.images import make_image

TOKEN = "7000001:AAH-test-token-Zx9q8w7e6r5t4y3u2i1o"
API_KEY = "aiml-test-key-5f4e3d2c1b0a"

FAST = Tuning(
    submit_backoff_seconds=0.05,
    max_backoff_seconds=0.5,
    create_timeout_seconds=2.0,
    busy_pause_seconds=0.05,
    paced_creates_per_minute=600.0,
)


@dataclass
class TestClock:
    """Real time plus an offset that tests move forward to skip waiting."""

    __test__ = False  # not a test class, despite its name

    offset: float = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


async def eventually(
    condition: Callable[[], bool], *, timeout: float = 10.0, what: str = "condition"
) -> None:
    """Wait until `condition()` holds; fail the test with `what` if it never does."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def eventually_async(
    condition: Callable[[], Awaitable[bool]], *, timeout: float = 10.0, what: str = "condition"
) -> None:
    """`eventually`, for a condition that must be awaited (one that reads the database)."""
    deadline = time.monotonic() + timeout
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def free_port() -> int:
    """A loopback port nothing listens on at the moment of asking."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "sqlite_only: checks a promise of SQLite's own (its file, WAL, its errors)"
    )
    config.addinivalue_line(
        "markers", "postgresql_only: checks a promise of PostgreSQL's own (its plans, locks)"
    )


def pytest_sessionstart(session: pytest.Session) -> None:
    if REQUIRED and not asyncio.run(POSTGRES.reachable()):
        pytest.exit(NO_SERVER.split(":", 1)[0] + ", and REQUIRE_POSTGRES=1", returncode=3)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    # Every test that touches a database runs on each engine: `test_x[sqlite]`,
    # `test_x[postgresql]`.
    if "database" in metafunc.fixturenames:
        engines = [
            engine
            for engine in ENGINES
            if not any(
                metafunc.definition.get_closest_marker(f"{other}_only")
                for other in ENGINES
                if other != engine
            )
        ]
        metafunc.parametrize("database", engines, indirect=True)


@pytest.fixture(scope="session")
def _postgres_template() -> Iterator[None]:
    yield
    asyncio.run(POSTGRES.close())


@pytest.fixture
async def database(
    request: pytest.FixtureRequest, tmp_path: Path, _postgres_template: None
) -> AsyncIterator[TestDatabase]:
    """This test's own database, empty, on the engine of its parameter; `make_settings` and
    `BotProcess` point the bot at it."""
    engine = getattr(request, "param", "sqlite")
    if engine == "sqlite":
        found = TestDatabase("sqlite", tmp_path / "data" / "bot.sqlite3")
    else:
        if not await POSTGRES.reachable():
            pytest.skip(NO_SERVER)
        found = TestDatabase("postgresql", await POSTGRES.create())
    BY_FOLDER[tmp_path] = found
    try:
        yield found
    finally:
        del BY_FOLDER[tmp_path]
        if found.engine == "postgresql":
            await POSTGRES.drop(str(found.where))


@pytest.fixture
async def telegram() -> AsyncIterator[TelegramEmulator]:
    async with TelegramEmulator(TOKEN) as emulator:
        yield emulator


@pytest.fixture
async def aiml() -> AsyncIterator[AimlApiEmulator]:
    async with AimlApiEmulator(API_KEY, queued_polls=1, generating_polls=2) as emulator:
        yield emulator


@pytest.fixture
def clock() -> TestClock:
    return TestClock()


def make_settings(
    tmp_path: Path, telegram: TelegramEmulator, aiml: AimlApiEmulator, **overrides: Any
) -> Settings:
    values: dict[str, Any] = {
        "telegram_bot_token": TOKEN,
        "aimlapi_key": API_KEY,
        "telegram_base_url": telegram.base_url,
        "telegram_base_file_url": telegram.base_file_url,
        "aimlapi_base_url": aiml.base_url,
        "database_path": tmp_path / "data" / "bot.sqlite3",
        **database_of(tmp_path).settings,  # the test's engine, when it asked for one
        "poll_interval_seconds": 0.1,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


@pytest.fixture
def settings(tmp_path: Path, telegram: TelegramEmulator, aiml: AimlApiEmulator) -> Settings:
    return make_settings(tmp_path, telegram, aiml)


@asynccontextmanager
async def running_bot(
    settings: Settings, clock: TestClock, tuning: Tuning = FAST
) -> AsyncIterator[BotApp]:
    """Run the real Application, as `python -m bot` builds it, until the block ends."""
    app = build_application(settings, clock=clock, tuning=tuning)
    await app.initialize()
    try:
        if app.post_init is not None:
            await app.post_init(app)
        await app.start()
        if app.updater is not None:  # else webhook mode: Telegram posts to the bot's server
            await app.updater.start_polling(poll_interval=0.0, timeout=1)
        yield app
    finally:
        if app.updater is not None and app.updater.running:
            await app.updater.stop()
        await stop_http_server(app)
        if app.running:
            await app.stop()
        await app.shutdown()
        if app.post_shutdown is not None:
            await app.post_shutdown(app)


@pytest.fixture
async def bot(settings: Settings, clock: TestClock) -> AsyncIterator[BotApp]:
    async with running_bot(settings, clock) as app:
        yield app


def services(app: BotApp) -> Steps:
    """The running bot's steps, and the store, clock and settings they share."""
    return steps_of(app.bot_data)


@dataclass
class Sent:
    """A user's message pushed into the Telegram emulator."""

    message: dict[str, Any]
    file_id: str = ""
    image: bytes = field(default=b"", repr=False)

    @property
    def message_id(self) -> int:
        return int(self.message["message_id"])

    @property
    def chat_id(self) -> int:
        return int(self.message["chat"]["id"])


def send_photo(
    telegram: TelegramEmulator,
    *,
    chat: dict[str, Any],
    sender: dict[str, Any],
    caption: str | None,
    image: bytes | None = None,
    size: tuple[int, int] = (720, 1080),
    declared_size: int | None = None,
    **extra: Any,
) -> Sent:
    """Push a photo message, as a user would send it, and return it."""
    data = image if image is not None else make_image(*size)
    file_id = telegram.add_file(data, file_size=declared_size)
    message = photo_message(
        chat=chat,
        sender=sender,
        photo=photo_sizes(file_id, size[0], size[1], declared_size or len(data)),
        caption=caption,
        **extra,
    )
    telegram.push_update(message_update(message))
    return Sent(message, file_id, data)


@pytest.fixture(autouse=True)
def _no_operator_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # A developer's real token or key in the environment must never reach a test.
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    monkeypatch.delenv("AIMLAPI_KEY", raising=False)
    yield
