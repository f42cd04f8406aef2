"""When to look at a job next: status calls placed where a video is likely to be ready.

Every status call is a request to the paid API, and every one made before the video is ready
is wasted. The observed life of a `video-01-live2d` job (shared/reference/aimlapi.md) is about
20 s queued, then generating until about 180 s, give or take ~15 %. The schedule below is that
timeline written in poll intervals (the default interval is 10 s), so a shorter interval in
tests and benchmarks shrinks it whole and exercises the same code:

- one call at the usual end of the queue (2 intervals): an early refusal, such as content
  moderation, is told at once;
- two calls across the bulk of the rendering (8 and 13 intervals), for the odd fast job;
- a call every 3/4 interval while the video is likely to finish (15 to 21 intervals), so a
  finished video waits less than one interval, even after the tick's rounding;
- then one call per interval, as before the schedule existed, until the job's timeout.

A job ready within the window costs 5 to 12 status calls, against ~18 for a call every interval.
"""

from __future__ import annotations

import bisect

#: The planned status calls, in poll intervals since submission.
PLANNED_POLLS: tuple[float, ...] = (
    2.0,
    8.0,
    13.0,
    *(15.0 + 0.75 * step for step in range(9)),  # 15.0, 15.75, ..., 21.0
)
#: A tick runs this many times per poll interval, so a due job waits at most a fifth of one.
TICKS_PER_INTERVAL = 5
#: Two status calls of a job are never closer than this, in poll intervals: a call that ran
#: late (the tick rounds up) skips a planned one it has nearly reached instead of repeating it.
MIN_GAP = 0.25


def tick_interval(poll_interval: float) -> float:
    """Seconds between two runs of the poll tick, for a given poll interval."""
    return poll_interval / TICKS_PER_INTERVAL


def next_poll_delay(
    *,
    interval: float,
    age: float | None = None,
    failures: int = 0,
    ceiling: float = 300.0,
) -> float:
    """Seconds until a job's next status call.

    `interval` is the poll interval; `age` is the seconds since the job was submitted;
    `failures` counts the failed calls in a row. A failing job backs off exponentially
    (`interval` doubled per failure, capped at `ceiling`). Otherwise the next call is the next
    one of `PLANNED_POLLS` at least `MIN_GAP` after `age`, and one `interval` later once the
    plan is spent. Without an `age` the answer is `interval`. Never negative.
    """
    if failures > 0:
        return float(min(interval * 2.0**failures, max(ceiling, interval)))
    if age is None:
        return interval
    now = max(age, 0.0) / interval
    index = bisect.bisect_left(PLANNED_POLLS, now + MIN_GAP)
    if index == len(PLANNED_POLLS):
        return interval
    return (PLANNED_POLLS[index] - now) * interval
