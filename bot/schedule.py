"""When to look at a job next."""

from __future__ import annotations


def next_poll_delay(*, interval: float, failures: int = 0, ceiling: float = 300.0) -> float:
    """Seconds until the next status call: the tick interval, doubled per failure in a row."""
    if failures <= 0:
        return interval
    return float(min(interval * 2.0**failures, max(ceiling, interval)))
