"""The bot's metrics (`bot.wiring.metrics`): each meter event moves its family, every bot
counts in a registry of its own, and /metrics serves the page with the store's counts."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from bot.aimlapi.client import Endpoint
from bot.engine.meter import NO_METER, DeliveryPath, Meter
from bot.engine.submission import SubmitOutcome
from bot.image.firstframe import ImageProblem
from bot.wiring.metrics import PREFIX, BotMetrics
from bot.wiring.webserver import WebServer
from storage import JobState, JobStore, NewJob, Reason
from storage.counts import AccessStore

DASHBOARD = Path(__file__).resolve().parents[3] / "deploy" / "grafana-dashboard.json"


def sample(metrics: BotMetrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


@pytest.fixture
def metrics() -> BotMetrics:
    return BotMetrics(poll_tick_every=1.0)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[JobStore]:
    opened = await JobStore.open(tmp_path / "bot.sqlite3")
    try:
        yield opened
    finally:
        await opened.close()


async def record(store: JobStore, message_id: int, state: JobState) -> None:
    job = await store.record_request(
        NewJob(
            chat_id=111,
            request_message_id=message_id,
            photo_message_id=message_id,
            thread_id=None,
            user_id=111,
            prompt="she waves",
            prompt_optimizer=True,
            file_id="photo-file",
        ),
        now=1000.0,
        state=JobState.WAITING if state is JobState.WAITING else JobState.RECEIVED,
    )
    assert job is not None
    if state not in (JobState.WAITING, JobState.RECEIVED):
        await store.update(job.id, now=1000.0, state=state)


def test_the_bot_metrics_are_a_meter_of_the_engine(metrics: BotMetrics) -> None:
    meters: list[Meter] = [metrics, NO_METER]  # checked by mypy: both keep the port
    for meter in meters:
        meter.create_ended(SubmitOutcome.ACCEPTED)
        meter.video_sent(DeliveryPath.URL)
    assert sample(metrics, "animator_creates_total", outcome="accepted") == 1


def test_every_family_has_the_prefix_and_a_help_text(metrics: BotMetrics) -> None:
    ours = [
        family for family in metrics.registry.collect() if not family.name.startswith("process_")
    ]
    assert len(ours) == 11
    for family in ours:
        assert family.name.startswith(PREFIX)
        assert len(family.documentation) > 30, family.name


def test_every_code_is_shown_at_zero_before_its_first_event(metrics: BotMetrics) -> None:
    for outcome in SubmitOutcome:
        assert sample(metrics, "animator_creates_total", outcome=outcome.value) == 0
    for problem in ImageProblem:
        assert sample(metrics, "animator_images_refused_total", reason=problem.value) == 0
    for path in DeliveryPath:
        assert sample(metrics, "animator_videos_delivered_total", path=path.value) == 0
    for state in JobState:
        assert sample(metrics, "animator_jobs", state=state.value) == 0


def test_each_bot_counts_in_a_registry_of_its_own(metrics: BotMetrics) -> None:
    other = BotMetrics(poll_tick_every=1.0)  # a second bot in the same process
    metrics.create_ended(SubmitOutcome.BUSY)
    metrics.create_ended(SubmitOutcome.BUSY)
    other.create_ended(SubmitOutcome.BUSY)

    assert sample(metrics, "animator_creates_total", outcome="busy") == 2
    assert sample(other, "animator_creates_total", outcome="busy") == 1
    assert REGISTRY.get_sample_value("animator_creates_total", {"outcome": "busy"}) is None


async def test_refunds_count_by_the_state_and_reason_the_job_ended_with(
    metrics: BotMetrics, store: JobStore
) -> None:
    await record(store, 1, JobState.RECEIVED)
    job = await store.update(1, now=1001.0, state=JobState.REJECTED, reason=Reason.TOO_SMALL)
    metrics.quota_refunded(job)
    cancelled = await store.update(1, now=1002.0, state=JobState.CANCELLED, reason=None)
    metrics.quota_refunded(cancelled)

    refunded = "animator_quota_refunded_total"
    assert sample(metrics, refunded, state="rejected", reason="too_small") == 1
    assert sample(metrics, refunded, state="cancelled", reason="none") == 1


def test_images_refused_and_videos_sent_count_by_their_codes(metrics: BotMetrics) -> None:
    metrics.image_refused(ImageProblem.TOO_WIDE)
    metrics.image_refused(ImageProblem.TOO_WIDE)
    metrics.video_sent(DeliveryPath.UPLOAD)

    assert sample(metrics, "animator_images_refused_total", reason="too_wide") == 2
    assert sample(metrics, "animator_videos_delivered_total", path="upload") == 1
    assert sample(metrics, "animator_videos_delivered_total", path="url") == 0


def test_status_calls_are_observed_once_per_video(metrics: BotMetrics) -> None:
    metrics.video_delivered(4)
    metrics.video_delivered(1)

    assert sample(metrics, "animator_status_calls_per_video_count") == 2
    assert sample(metrics, "animator_status_calls_per_video_sum") == 5
    assert sample(metrics, "animator_status_calls_per_video_bucket", le="3.0") == 1


def test_latencies_are_observed_by_call_and_by_method(metrics: BotMetrics) -> None:
    metrics.api_answered("create", Endpoint.UNIVERSAL, 3.0)
    metrics.api_answered("status", Endpoint.LEGACY, 0.2)
    metrics.telegram_answered("sendMessage", 0.04, 200)
    metrics.telegram_answered("sendMessage", 0.03, None)  # no answer: timed all the same

    api = "animator_api_request_seconds"
    assert sample(metrics, api + "_sum", call="create", endpoint="universal") == 3.0
    assert sample(metrics, api + "_count", call="status", endpoint="legacy") == 1
    assert sample(metrics, api + "_count", call="create", endpoint="legacy") is None
    assert sample(metrics, "animator_telegram_request_seconds_count", method="sendMessage") == 2
    assert sample(metrics, "animator_telegram_rate_limited_total", method="sendMessage") is None


def test_a_429_is_counted_by_its_method(metrics: BotMetrics) -> None:
    metrics.telegram_answered("editMessageText", 0.05, 429)
    metrics.telegram_answered("editMessageText", 0.05, 200)

    assert sample(metrics, "animator_telegram_rate_limited_total", method="editMessageText") == 1


def test_the_tick_lag_is_the_time_between_ticks_beyond_the_interval() -> None:
    now = [100.0]
    metrics = BotMetrics(poll_tick_every=1.0, monotonic=lambda: now[0])
    metrics.poll_tick_ran()  # the first tick: nothing to measure against
    assert sample(metrics, "animator_poll_tick_lag_seconds_count") == 0
    now[0] = 101.0  # on time
    metrics.poll_tick_ran()
    now[0] = 104.5  # 2.5 s late
    metrics.poll_tick_ran()

    assert sample(metrics, "animator_poll_tick_lag_seconds_count") == 2
    assert sample(metrics, "animator_poll_tick_lag_seconds_sum") == 2.5


async def test_the_page_counts_the_jobs_by_state_and_the_line(
    metrics: BotMetrics, store: JobStore
) -> None:
    for message_id, state in enumerate(
        [JobState.WAITING, JobState.WAITING, JobState.QUEUED, JobState.DELIVERED], start=1
    ):
        await record(store, message_id, state)

    body, content_type = await metrics.page(AccessStore.of(store))

    assert content_type.startswith("text/plain")
    values = {
        (s.name, tuple(s.labels.items())): s.value
        for family in text_string_to_metric_families(body.decode())
        for s in family.samples
    }
    assert values[("animator_jobs", (("state", "waiting"),))] == 2
    assert values[("animator_jobs", (("state", "queued"),))] == 1
    assert values[("animator_jobs", (("state", "delivered"),))] == 1
    assert values[("animator_jobs", (("state", "failed"),))] == 0
    assert values[("animator_line_length", ())] == 2


async def test_the_page_is_served_when_the_database_does_not_answer(
    metrics: BotMetrics, store: JobStore
) -> None:
    await record(store, 1, JobState.WAITING)
    await metrics.page(AccessStore.of(store))
    await store.close()
    metrics.create_ended(SubmitOutcome.ACCEPTED)

    body, _ = await metrics.page(AccessStore.of(store))

    assert b'animator_creates_total{outcome="accepted"} 1.0' in body
    assert b"animator_line_length 1.0" in body  # its last value


async def test_the_server_serves_metrics_only_when_given_a_page(
    metrics: BotMetrics, store: JobStore
) -> None:
    async def page() -> tuple[bytes, str]:
        return await metrics.page(AccessStore.of(store))

    with_metrics = WebServer(host="127.0.0.1", port=0, metrics=page)
    without = WebServer(host="127.0.0.1", port=0)
    await with_metrics.start()
    await without.start()
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.1:{with_metrics.port}/metrics") as answer:
                assert answer.status == 200
                assert answer.headers["Content-Type"].startswith("text/plain")
                assert "animator_jobs" in await answer.text()
            async with session.get(f"http://127.0.0.1:{without.port}/metrics") as answer:
                assert answer.status == 404
    finally:
        await with_metrics.stop()
        await without.stop()


async def test_the_sample_dashboard_charts_only_what_the_bot_serves(
    metrics: BotMetrics, store: JobStore
) -> None:
    await record(store, 1, JobState.REJECTED)
    metrics.create_ended(SubmitOutcome.ACCEPTED)
    metrics.quota_refunded(await store.get(1))
    metrics.video_delivered(3)
    metrics.api_answered("status", Endpoint.LEGACY, 0.1)
    metrics.telegram_answered("sendMessage", 0.1, 429)
    metrics.poll_tick_ran()
    body, _ = await metrics.page(AccessStore.of(store))
    served = {s.name for f in text_string_to_metric_families(body.decode()) for s in f.samples}

    panels = json.loads(DASHBOARD.read_text())["panels"]
    queries = [target["expr"] for panel in panels for target in panel.get("targets", [])]
    charted = {
        name for query in queries for name in re.findall(r"\b(?:animator|process)_\w+", query)
    }

    assert charted - served == set()
    # Every family of ours has a panel.
    ours = {f.name for f in metrics.registry.collect() if f.name.startswith(PREFIX)}
    assert {family for family in ours if not any(n.startswith(family) for n in charted)} == set()
