"""Intake under load: 200 photo messages (1-2 MB JPEGs) from 200 users, pushed at once
through the real Application and the Bot API emulator.

Measured: how long until every request is recorded; acknowledgement latency (push -> the
emulator receiving the reply), p50 and p95; the event loop's worst lag while the burst is
handled (a heartbeat sleeping 10 ms records its lateness).
Baseline: 200 `/help` messages, pushed at once to the same bot just before: the latency of a
reply that costs no work, through the same framework and the same flood limiter.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.emulator_host import EmulatorHost
from bench.harness import (
    Figure,
    LoopLag,
    Outcome,
    count_jobs,
    job_states,
    percentile,
    run_module,
    wait_until,
)
from bench.sample_photos import photos
from bench.setup import clean_environment, running_app

MESSAGES = 200
FLOOD_LIMIT_PER_SECOND = 30  # AIORateLimiter's default overall rate, Telegram's documented one
#: States a request passes through on its way to the paid API or to the line.
_IN_INTAKE = ("received", "submitting")


async def jobs_where(database: Path, where: str = "1") -> int:
    return await asyncio.to_thread(count_jobs, database, where)


async def ack_latencies(host: EmulatorHost, batch: str, *, within: float) -> list[float]:
    """Wait until every message of `batch` has its reply; the seconds each waited."""
    latencies: list[Any] = []

    async def all_answered() -> bool:
        nonlocal latencies
        latencies = (await host.call("acks", batch=batch))["latencies"]
        return all(latency is not None for latency in latencies)

    await wait_until(all_answered, within=within, period=0.05, what=f"replies to {batch}")
    return [float(latency) for latency in latencies]


def flood_floor_p95(count: int) -> float:
    """The p95 acknowledgement latency the flood limit alone imposes on `count` replies sent
    at once: a burst of 30 passes, the rest drain at 30 per second."""
    rank = max(1, round(0.95 * count))
    return max(0.0, (rank - FLOOD_LIMIT_PER_SECOND) / FLOOD_LIMIT_PER_SECOND)


async def measure() -> Outcome:
    clean_environment()
    files = [str(path) for path in photos()]
    async with EmulatorHost() as host:
        with tempfile.TemporaryDirectory(prefix="bench-intake-") as folder:
            database = Path(folder) / "bot.sqlite3"
            async with running_app(host.settings(database)):
                await host.call(
                    "push_texts", count=MESSAGES, first_user=500_000, text="/help", batch="help"
                )
                baseline = await ack_latencies(host, "help", within=60)
                await asyncio.sleep(2.0)  # the flood limiter's bucket drains

                async with LoopLag(0.01) as lag:
                    start = time.monotonic()
                    await host.call(
                        "push_photos",
                        files=files,
                        count=MESSAGES,
                        first_user=600_000,
                        caption="the leaves tremble in the wind",
                        batch="photos",
                    )

                    async def all_recorded() -> bool:
                        return await jobs_where(database) >= MESSAGES

                    await wait_until(all_recorded, within=120, what="every request recorded")
                    recorded = time.monotonic() - start
                    acks = await ack_latencies(host, "photos", within=120)
                    in_intake = ", ".join(f"'{state}'" for state in _IN_INTAKE)

                    async def intake_done() -> bool:
                        return await jobs_where(database, f"state IN ({in_intake})") == 0

                    await wait_until(intake_done, within=120, what="every request settled")
                    settled = time.monotonic() - start
                states = await asyncio.to_thread(job_states, database)
                counts = await host.call("counts")

    p50, p95 = percentile(acks, 0.5), percentile(acks, 0.95)
    base50, base95 = percentile(baseline, 0.5), percentile(baseline, 0.95)
    floor95 = flood_floor_p95(MESSAGES)
    outcome = Outcome()
    outcome.figures += [
        Figure(
            name=f"every one of {MESSAGES} requests recorded",
            unit="s",
            measured=recorded,
            baseline=None,
            target="-",
            met=None,
            note=(
                f"every request checked and submitted or in the line after {settled:.2f} s; "
                f"states then: {states}"
            ),
        ),
        Figure(
            name="acknowledgement p50",
            unit="s",
            measured=p50,
            baseline=base50,
            target="-",
            met=None,
        ),
        Figure(
            name="acknowledgement p95",
            unit="s",
            measured=p95,
            baseline=base95,
            target="< 1 s",
            met=p95 < 1.0,
            note=(
                f"the flood limit (AIORateLimiter, {FLOOD_LIMIT_PER_SECOND} messages/s overall) "
                f"alone puts the p95 of {MESSAGES} replies sent at once at {floor95:.2f} s; "
                f"p95 / baseline p95 = {p95 / base95:.2f}"
            ),
        ),
        Figure(
            name="event loop worst lag (10 ms heartbeat)",
            unit="s",
            measured=lag.worst,
            baseline=None,
            target="< 100 ms",
            met=lag.worst < 0.1,
            note=f"p99 lag {percentile(lag.lags, 0.99) * 1000:.1f} ms over {len(lag.lags)} beats",
        ),
    ]
    outcome.details = {
        "messages": MESSAGES,
        "image_bytes": await asyncio.to_thread(_sizes, files),
        "recorded_s": recorded,
        "settled_s": settled,
        "ack_p50_s": p50,
        "ack_p95_s": p95,
        "ack_max_s": max(acks),
        "help_p50_s": base50,
        "help_p95_s": base95,
        "flood_floor_p95_s": floor95,
        "loop_lag_worst_s": lag.worst,
        "states": states,
        "emulator_counts": counts,
    }
    return outcome


def _sizes(files: list[str]) -> list[int]:
    return sorted(Path(name).stat().st_size for name in files)


if __name__ == "__main__":
    run_module(measure)
