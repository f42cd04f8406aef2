"""/stats' figures: the raw counts from storage, summarised for an admin."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from storage.counts import FailureCount, JobStats


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """The nearest-rank percentile (`fraction` in (0, 1]) of `values`; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


@dataclass(frozen=True, slots=True)
class StatsReport:
    """What /stats shows."""

    requests_today: int
    submitted_today: int
    requests_week: int
    submitted_week: int
    finished_week: int
    delivered_week: int
    success_rate: float | None  # delivered / finished, None when nothing finished
    median_seconds: float | None  # submission → delivery
    p95_seconds: float | None
    failures: list[FailureCount]
    in_flight: int
    in_flight_limit: int
    waiting: int
    usage_today: dict[str, float]  # the API's own count of today's cost, by unit ("credits")


def summarize(stats: JobStats, *, in_flight_limit: int) -> StatsReport:
    """Turn the stored counts into rates and percentiles."""
    return StatsReport(
        requests_today=stats.requests_today,
        submitted_today=stats.submitted_today,
        requests_week=stats.requests_week,
        submitted_week=stats.submitted_week,
        finished_week=stats.finished_week,
        delivered_week=stats.delivered_week,
        success_rate=(stats.delivered_week / stats.finished_week if stats.finished_week else None),
        median_seconds=(
            statistics.median(stats.delivery_seconds) if stats.delivery_seconds else None
        ),
        p95_seconds=percentile(stats.delivery_seconds, 0.95),
        failures=stats.failures,
        in_flight=stats.in_flight,
        in_flight_limit=in_flight_limit,
        waiting=stats.waiting,
        usage_today=stats.usage_today,
    )
