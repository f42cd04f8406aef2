"""GET /metrics: the real bot, with HTTP_PORT set, is scraped over HTTP after its work, and
its families have moved as that work did."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.wiring.application import BotApp
from bot.wiring.settings import Settings
from tests.conftest import (
    API_KEY,
    TOKEN,
    TestClock,
    free_port,
    make_settings,
    running_bot,
    send_photo,
)
from tests.e2e.taps import bot_message, saying
from tests.emulators.aimlapi_emulator import AimlApiEmulator
from tests.emulators.telegram_emulator import TelegramEmulator, private_chat, user

ANN, ANN_CHAT = user(111, "Ann"), private_chat(111)

#: A sample: its name and its labels, sorted.
Key = tuple[str, tuple[tuple[str, str], ...]]


@pytest.fixture
def metrics_settings(tmp_path: Path, telegram: TelegramEmulator, aiml: AimlApiEmulator) -> Settings:
    """Polling mode, with the HTTP server on a free port."""
    return make_settings(tmp_path, telegram, aiml, http_host="127.0.0.1", http_port=free_port())


@pytest.fixture
async def metrics_bot(metrics_settings: Settings, clock: TestClock) -> AsyncIterator[BotApp]:
    async with running_bot(metrics_settings, clock) as app:
        yield app


class Scrape:
    """One scrape of /metrics: its page, and its samples by name and labels."""

    def __init__(self, page: str, content_type: str) -> None:
        self.page, self.content_type = page, content_type
        self.samples: dict[Key, float] = {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(page)
            for sample in family.samples
        }

    def value(self, name: str, **labels: str) -> float:
        """The sample's value; the test fails when the page has no such sample."""
        key = (name, tuple(sorted(labels.items())))
        assert key in self.samples, f"no sample {name}{labels} on the page"
        return self.samples[key]

    def total(self, name: str) -> float:
        """The sum of the samples named `name`, over all their labels."""
        return sum(value for (sample, _), value in self.samples.items() if sample == name)


async def scrape(settings: Settings) -> Scrape:
    url = f"http://127.0.0.1:{settings.http_port}/metrics"
    async with aiohttp.ClientSession() as session, session.get(url) as answer:
        assert answer.status == 200
        return Scrape(await answer.text(), answer.headers["Content-Type"])


async def scrape_when(
    settings: Settings, name: str, value: float, *, timeout: float = 10.0, **labels: str
) -> Scrape:
    """Scrape until the sample has `value` (the database is read at each scrape)."""
    deadline = time.monotonic() + timeout
    while True:
        page = await scrape(settings)
        if page.samples.get((name, tuple(sorted(labels.items())))) == value:
            return page
        if time.monotonic() > deadline:
            raise AssertionError(f"{name}{labels} never reached {value}")
        await asyncio.sleep(0.05)


async def test_families_move_after_a_video(
    metrics_bot: BotApp,
    metrics_settings: Settings,
    telegram: TelegramEmulator,
    aiml: AimlApiEmulator,
) -> None:
    before = await scrape(metrics_settings)
    assert before.content_type.startswith("text/plain")
    assert before.value("animator_creates_total", outcome="accepted") == 0
    assert before.value("animator_videos_delivered_total", path="url") == 0
    assert before.value("animator_jobs", state="delivered") == 0

    send_photo(telegram, chat=ANN_CHAT, sender=ANN, caption="the cat waves")
    await bot_message(telegram, 111, lambda message: "video" in message, "the video")
    after = await scrape_when(metrics_settings, "animator_jobs", 1, state="delivered")

    assert after.value("animator_creates_total", outcome="accepted") == 1
    assert after.total("animator_creates_total") == 1
    assert after.value("animator_videos_delivered_total", path="url") == 1
    assert after.value("animator_videos_delivered_total", path="upload") == 0
    # One video, asked about until it was ready: every answered status call counted for it.
    assert after.value("animator_status_calls_per_video_count") == 1
    polls = len(aiml.polls)
    assert after.value("animator_status_calls_per_video_sum") == polls >= 1
    assert after.value("animator_api_request_seconds_count", call="create", endpoint="legacy") == 1
    assert (
        after.value("animator_api_request_seconds_count", call="status", endpoint="legacy") == polls
    )
    assert after.value("animator_telegram_request_seconds_count", method="sendVideo") == 1
    assert after.value("animator_telegram_request_seconds_count", method="getMe") >= 1
    assert after.value("animator_telegram_request_seconds_count", method="file download") == 1
    assert after.value("animator_poll_tick_lag_seconds_count") >= 1
    assert after.value("animator_line_length") == 0
    assert after.total("animator_quota_refunded_total") == 0
    assert after.total("animator_telegram_rate_limited_total") == 0
    # No label names more than a method: never the token in Telegram's URLs, nor the key.
    assert TOKEN not in after.page and TOKEN.split(":")[1] not in after.page
    assert API_KEY not in after.page


async def test_a_refused_photo_counts_its_reason_and_gives_the_day_back(
    metrics_bot: BotApp, metrics_settings: Settings, telegram: TelegramEmulator
) -> None:
    send_photo(telegram, chat=ANN_CHAT, sender=ANN, caption="too small", size=(300, 600))
    await bot_message(telegram, 111, saying("too small"), "the refusal")
    page = await scrape_when(metrics_settings, "animator_jobs", 1, state="rejected")

    assert page.value("animator_images_refused_total", reason="too_small") == 1
    assert page.total("animator_images_refused_total") == 1
    assert page.value("animator_quota_refunded_total", state="rejected", reason="too_small") == 1
    assert page.total("animator_creates_total") == 0


async def test_a_429_from_telegram_is_counted_and_the_video_still_arrives(
    metrics_bot: BotApp, metrics_settings: Settings, telegram: TelegramEmulator
) -> None:
    telegram.fail(
        "sendVideo",
        429,
        "Too Many Requests: retry after 1",
        parameters={"retry_after": 1},
    )
    send_photo(telegram, chat=ANN_CHAT, sender=ANN, caption="the dog runs")
    await bot_message(telegram, 111, lambda message: "video" in message, "the video")
    page = await scrape_when(metrics_settings, "animator_jobs", 1, state="delivered")

    assert page.value("animator_telegram_rate_limited_total", method="sendVideo") == 1
    # Each try is timed: the refused one and the one that went through.
    assert page.value("animator_telegram_request_seconds_count", method="sendVideo") == 2
    assert page.value("animator_videos_delivered_total", path="url") == 1
