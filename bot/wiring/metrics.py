"""The bot's metrics, with prometheus-client, served at `GET /metrics` (`bot.wiring.webserver`).

One `BotMetrics` per running application, each in a registry of its own (never the process's
default one), so that many bots in one process (the tests) never share a count. It is the job
engine's meter (`bot.engine.meter.Meter`), the API client's timing callback, and Telegram's
(`chat.telegram_chat.TimedRequest`); the jobs by state and the line's length are read from the
store at each scrape. Every family's name starts with `animator_`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)

from bot.aimlapi.client import Endpoint
from bot.engine.meter import DeliveryPath
from bot.engine.submission import SubmitOutcome
from bot.image.firstframe import ImageProblem
from storage import Job, JobState
from storage.counts import AccessStore

log = logging.getLogger(__name__)

METRICS_KEY = "metrics"
PREFIX = "animator_"

#: Seconds: from a quick status call to a create that carries a 20 MB image.
_API_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
#: Seconds: from a quick edit to a video upload (`SEND_VIDEO_SECONDS`).
_TELEGRAM_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
#: Seconds a poll tick ran later than its interval.
_LAG_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
#: Answered status calls per video: about one per poll interval while it renders.
_STATUS_CALL_BUCKETS = (1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144)


class BotMetrics:
    """The metrics of one running bot. `poll_tick_every`: the poll tick's interval, in
    seconds, that its lag is measured against, on `monotonic` (real time, never the bot's
    clock: a tick is late in real seconds)."""

    def __init__(
        self, *, poll_tick_every: float, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self.registry = CollectorRegistry()
        self._tick_every, self._monotonic = poll_tick_every, monotonic
        self._last_tick: float | None = None
        own: dict[str, Any] = {"registry": self.registry}  # never the default registry
        # CPU, memory and open files of the bot's process, as every Prometheus client shows.
        ProcessCollector(registry=self.registry)
        self.jobs = Gauge(
            PREFIX + "jobs",
            "Jobs recorded in the database, by state. The states in progress are the ones to "
            "watch; the finished ones only grow.",
            ["state"],
            **own,
        )
        self.line_length = Gauge(
            PREFIX + "line_length",
            "Requests waiting in the bot's own line for a free slot at the paid API "
            "(MAX_ACTIVE_JOBS).",
            **own,
        )
        self.creates = Counter(
            PREFIX + "creates",
            "Create calls to the paid API, by how each ended: accepted (polling starts), ready "
            "(finished at once), failed (failed at once), refused (the request itself), busy "
            "(tried again later), stayed_busy (given up, uncharged), out_of_credits, "
            "misconfigured (key or route), unknown (a video may or may not have been made).",
            ["outcome"],
            **own,
        )
        self.refunds = Counter(
            PREFIX + "quota_refunded",
            "Jobs that gave their place in the day's count back (DAILY_JOBS_TOTAL and "
            "DAILY_JOBS_PER_USER), by how they ended: the state and the reason code.",
            ["state", "reason"],
            **own,
        )
        self.status_calls = Histogram(
            PREFIX + "status_calls_per_video",
            "Answered status calls to the paid API for each video delivered.",
            buckets=_STATUS_CALL_BUCKETS,
            **own,
        )
        self.api_seconds = Histogram(
            PREFIX + "api_request_seconds",
            "How long calls to the AI/ML API took, answered or not, by call (create, status) "
            "and endpoint (legacy, universal).",
            ["call", "endpoint"],
            buckets=_API_BUCKETS,
            **own,
        )
        self.telegram_seconds = Histogram(
            PREFIX + "telegram_request_seconds",
            "How long requests to Telegram took, answered or not, by Bot API method "
            "('file download': fetching a photo). Each try counts.",
            ["method"],
            buckets=_TELEGRAM_BUCKETS,
            **own,
        )
        self.telegram_rate_limited = Counter(
            PREFIX + "telegram_rate_limited",
            "Requests Telegram answered 429 (too many requests), by Bot API method. The bot "
            "waits as told and tries again; many of them mean it posts too much.",
            ["method"],
            **own,
        )
        self.tick_lag = Histogram(
            PREFIX + "poll_tick_lag_seconds",
            "How much longer than its interval the time between two poll ticks was. Seconds "
            "here mean a busy event loop: videos are checked and sent late.",
            buckets=_LAG_BUCKETS,
            **own,
        )
        self.images_refused = Counter(
            PREFIX + "images_refused",
            "Photos refused as a video's first frame, by reason (too_small, too_wide, ...).",
            ["reason"],
            **own,
        )
        self.videos_delivered = Counter(
            PREFIX + "videos_delivered",
            "Videos that reached their chat, by path: url (Telegram fetched the API's link), "
            "upload (the bot downloaded and uploaded the file), link (sent as a link: too "
            "large, or the chat takes no video).",
            ["path"],
            **own,
        )
        # Every code shows from the start, at 0: a rate over a series that appears only with
        # its first event misses that event.
        for state in JobState:
            self.jobs.labels(state.value).set(0)
        for outcome in SubmitOutcome:
            self.creates.labels(outcome.value)
        for problem in ImageProblem:
            self.images_refused.labels(problem.value)
        for path in DeliveryPath:
            self.videos_delivered.labels(path.value)

    # --- The job engine's meter (`bot.engine.meter.Meter`) ----------------------------------

    def create_ended(self, outcome: SubmitOutcome) -> None:
        self.creates.labels(outcome.value).inc()

    def quota_refunded(self, job: Job) -> None:
        reason = job.reason.value if job.reason is not None else "none"
        self.refunds.labels(job.state.value, reason).inc()

    def image_refused(self, problem: ImageProblem) -> None:
        self.images_refused.labels(problem.value).inc()

    def video_sent(self, path: DeliveryPath) -> None:
        self.videos_delivered.labels(path.value).inc()

    def video_delivered(self, status_calls: int) -> None:
        self.status_calls.observe(status_calls)

    # --- The timing callbacks of the API client and of Telegram's transport -----------------

    def api_answered(self, call: str, endpoint: Endpoint, seconds: float) -> None:
        """`bot.aimlapi.client.ApiTiming`."""
        self.api_seconds.labels(call, endpoint.value).observe(seconds)

    def telegram_answered(self, method: str, seconds: float, status: int | None) -> None:
        """`chat.telegram_chat.TelegramTiming`."""
        self.telegram_seconds.labels(method).observe(seconds)
        if status == 429:
            self.telegram_rate_limited.labels(method).inc()

    # --- The wiring's own ---------------------------------------------------------------------

    def poll_tick_ran(self) -> None:
        """Note that the poll tick runs now: the time since the last one, beyond the tick's
        interval, is its lag."""
        now = self._monotonic()
        if self._last_tick is not None:
            self.tick_lag.observe(max(0.0, now - self._last_tick - self._tick_every))
        self._last_tick = now

    async def page(self, counts: AccessStore) -> tuple[bytes, str]:
        """Every family in Prometheus' text format, and its content type. The jobs by state
        and the line's length are read from `counts` first; when the database does not
        answer, they keep their last values and the rest is served all the same."""
        try:
            by_state = await counts.jobs_by_state()
        except Exception as error:
            log.warning("metrics: the jobs could not be counted (%s)", type(error).__name__)
        else:
            for state in JobState:
                self.jobs.labels(state.value).set(by_state.get(state, 0))
            # The line is its WAITING jobs (`bot.engine.line`).
            self.line_length.set(by_state.get(JobState.WAITING, 0))
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


def metrics_of(bot_data: dict[Any, Any]) -> BotMetrics:
    """The running bot's metrics, from the application's `bot_data`."""
    metrics = bot_data[METRICS_KEY]
    assert isinstance(metrics, BotMetrics)
    return metrics
