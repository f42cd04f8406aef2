"""What every step of the pipeline shares: settings, the store, the API client, the clock."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from bot.aimlapi.client import AimlApiClient
from bot.aimlapi.pacing import CreatePacer
from bot.engine.durations import GenerationTimes
from bot.policy.alerts import AdminAlerts
from bot.wiring.settings import Settings
from storage import JobStore

Clock = Callable[[], float]

SERVICES_KEY = "services"


@dataclass(frozen=True, slots=True)
class Tuning:
    """Timings that tests and benchmarks shorten; the defaults are the product's."""

    submit_backoff_seconds: float = 5.0  # first pause of a request the API was busy for,
    max_submit_pause_seconds: float = 300.0  # doubled at each busy answer, up to this
    busy_pause_seconds: float = 5.0  # every create waits this long after a busy answer
    paced_creates_per_minute: float = 20.0  # kept to once the API answered 429 (bot.aimlapi.pacing)
    max_backoff_seconds: float = 300.0  # ceiling of a job's poll or delivery backoff
    missing_generation_polls: int = 3  # 404s in a row before a generation counts as lost
    late_poll_seconds: float = 300.0  # how often a job past JOB_TIMEOUT_SECONDS is checked
    late_patience_seconds: float = 6 * 3600.0  # after submission; then it is given up
    due_batch: int = 1000  # most jobs one tick takes on
    create_timeout_seconds: float = 60.0  # a create call unanswered this long is ambiguous
    progress_edit_private: float = 10.0  # least seconds between progress edits, private chats
    progress_edit_group: float = 30.0  # the same in groups, where Telegram allows fewer edits
    images_at_once: int = 2  # images being downloaded and checked at once: each up to ~250 MB
    frames_at_once: int = 2  # encoded frames waiting for (or in) their create call: ~30 MB each


@dataclass(slots=True)
class Services:
    """The open resources of a running bot. Built in `post_init`, closed in `post_shutdown`."""

    settings: Settings
    store: JobStore
    api: AimlApiClient
    downloads: aiohttp.ClientSession  # video downloads: carries no API key
    clock: Clock = time.time
    tuning: Tuning = field(default_factory=Tuning)
    bot_username: str = ""
    image_slots: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(2))
    frame_slots: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(2))
    # Held while a request is judged against the budgets and recorded, and while the line
    # takes free slots, so that two at once cannot both take the last slot.
    admission_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    # Jobs a tick, or a check and submission (`bot.engine.pipeline`), is working on: each takes only
    # jobs no other has. Ticks overlap (one slow job must not hold up the next tick), and all
    # share POLL_CONCURRENCY slots.
    in_flight: set[int] = field(default_factory=set)
    # How long videos have recently taken at the API: what users are told to expect.
    generation_times: GenerationTimes = field(default_factory=GenerationTimes)
    # What the admins must hear of, waiting for the alerts tick.
    alerts: AdminAlerts = field(default_factory=AdminAlerts)
    # Held while the jobs in line are shown their places: one pass at a time, as each pass
    # may wait on Telegram's per-group limit of about 20 edits a minute.
    showing_places: asyncio.Lock = field(default_factory=asyncio.Lock)
    poll_slots: asyncio.Semaphore = field(init=False)
    # The pace of create calls, slowed down once the API said it is busy.
    pacer: CreatePacer = field(init=False)

    def __post_init__(self) -> None:
        self.poll_slots = asyncio.Semaphore(self.settings.poll_concurrency)
        self.pacer = CreatePacer(
            self.clock,
            pause_seconds=self.tuning.busy_pause_seconds,
            paced_rate=self.tuning.paced_creates_per_minute,
        )

    async def close(self) -> None:
        await self.api.close()
        await self.downloads.close()
        await self.store.close()


def services_of(bot_data: dict[Any, Any]) -> Services:
    """The running bot's services, from the application's `bot_data`."""
    services = bot_data[SERVICES_KEY]
    assert isinstance(services, Services)
    return services
