"""API calls per video and delivery delay, at 1/100 of real time.

The AI/ML emulator replays the observed timeline of a `video-01-live2d` job: queued ~20 s, then
generating until ~180 s, each part jittered by +-15 %, all scaled down 100x (POLL_INTERVAL 0.1 s
stands for 10 s). Jobs arrive one every 15 s (scaled), each from its own user, through the real
Application, and run to delivery.

Measured: status calls per job, and the delay from the moment the video was ready (the
emulator's `completed_at`) to the bot's `sendVideo`, with the product's adaptive schedule.
Baseline: the seed's schedule in the same process, a status call every poll interval and the
tick once per interval. Figures are given in real-time seconds (measured x 100).
"""

from __future__ import annotations

import asyncio
import sqlite3
import statistics
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from unittest.mock import patch

from bench.emulator_host import EmulatorHost
from bench.harness import Figure, Outcome, percentile, run_module
from bench.sample_photos import small_photo
from bench.setup import clean_environment, running_app
from bot.engine.schedule import next_poll_delay

SCALE = 100.0
INTERVAL = 10.0 / SCALE
TIMELINE = (20.0 / SCALE, 160.0 / SCALE)
JITTER = 0.15
SEED = 7
JOBS = 60
SPACING = 15.0 / SCALE  # keeps replies well under Telegram's 30 messages/s at 1/100 time


def _every_interval(
    *, interval: float, age: float | None = None, failures: int = 0, ceiling: float = 300.0
) -> float:
    return next_poll_delay(interval=interval, failures=failures, ceiling=ceiling)


@contextmanager
def fixed_schedule(*, seed_tick: bool) -> Iterator[None]:
    """The seed's polling: a status call every interval whatever the job's age; with
    `seed_tick`, the tick once per interval too, as in the seed."""
    with (
        patch("bot.engine.poller.next_poll_delay", _every_interval),
        patch("bot.engine.submission.next_poll_delay", _every_interval),
    ):
        if not seed_tick:
            yield
            return
        with patch("bot.wiring.application.tick_interval", lambda poll_interval: poll_interval):
            yield


def _generations(database: Path) -> dict[str, int]:
    with sqlite3.connect(database) as db:
        rows = db.execute("SELECT generation_id, chat_id FROM jobs WHERE generation_id IS NOT NULL")
        return {str(generation): int(chat) for generation, chat in rows}


async def one_run(label: str) -> dict[str, Any]:
    """Run JOBS jobs to delivery; per job, its status calls and its delivery delay."""
    photo = str(small_photo())
    aiml = {"timeline": list(TIMELINE), "jitter": JITTER, "seed": SEED}
    async with EmulatorHost(aiml=aiml) as host:
        with tempfile.TemporaryDirectory(prefix=f"bench-schedule-{label}-") as folder:
            database = Path(folder) / "bot.sqlite3"
            settings = host.settings(
                database, poll_interval_seconds=INTERVAL, job_timeout_seconds=900 / SCALE
            )
            async with running_app(settings):
                for index in range(JOBS):
                    await host.call(
                        "push_photos",
                        files=[photo],
                        count=1,
                        first_user=900_000 + index,
                        caption="the clouds drift by",
                        batch=label,
                    )
                    await asyncio.sleep(SPACING)
                waited = await host.call("wait", method="sendVideo", count=JOBS, within=60)
                if not waited["ok"]:
                    raise RuntimeError(f"{label}: {waited['error']}")
                jobs = (await host.call("jobs"))["jobs"]
                videos = (await host.call("calls", method="sendVideo"))["calls"]
                chats = await asyncio.to_thread(_generations, database)
    sent_at = {int(call["chat_id"]): float(call["at"]) for call in videos}
    calls, delays = [], []
    for generation, job in jobs.items():
        calls.append(int(job["polls"]))
        delays.append((sent_at[chats[generation]] - float(job["completed_at"])) * SCALE)
    return {"calls": calls, "delays_s": delays}


async def measure() -> Outcome:
    clean_environment()
    adaptive = await one_run("adaptive")
    with fixed_schedule(seed_tick=True):
        seed = await one_run("seed")
    with fixed_schedule(seed_tick=False):
        fixed = await one_run("fixed")

    def mean(values: list[int] | list[float]) -> float:
        return float(statistics.fmean(values))

    outcome = Outcome()
    outcome.figures += [
        Figure(
            name="status calls per job, mean",
            unit="",
            measured=mean(adaptive["calls"]),
            baseline=mean(seed["calls"]),
            target="-",
            met=None,
        ),
        Figure(
            name="status calls per job, max",
            unit="",
            measured=max(adaptive["calls"]),
            baseline=max(seed["calls"]),
            target="<= 12",
            met=max(adaptive["calls"]) <= 12,
        ),
        Figure(
            name="delivery delay p95 (ready -> sendVideo), real-time s",
            unit="s",
            measured=percentile(adaptive["delays_s"], 0.95),
            baseline=percentile(seed["delays_s"], 0.95),
            target="<= 10 s",
            met=percentile(adaptive["delays_s"], 0.95) <= 10.0,
            note=(
                f"{JOBS} jobs per schedule at 1/{SCALE:.0f} time, timeline {TIMELINE[0]:g} s "
                f"queued + {TIMELINE[1]:g} s generating, +-{JITTER:.0%} jitter; delays x{SCALE:.0f}"
            ),
        ),
        Figure(
            name="delivery delay mean, real-time s",
            unit="s",
            measured=mean(adaptive["delays_s"]),
            baseline=mean(seed["delays_s"]),
            target="-",
            met=None,
            note=(
                "the seed's tick runs once per interval, and a poll made a few ms into a tick "
                "is due a few ms after the next one: each job is polled every other tick"
            ),
        ),
        Figure(
            name="fixed polling every interval, fast tick: calls per job, mean",
            unit="",
            measured=mean(fixed["calls"]),
            baseline=mean(seed["calls"]),
            target="-",
            met=None,
            note="the seed's per-job schedule with the product's new tick (5 per interval)",
        ),
        Figure(
            name="fixed polling every interval, fast tick: delivery delay p95, real-time s",
            unit="s",
            measured=percentile(fixed["delays_s"], 0.95),
            baseline=percentile(seed["delays_s"], 0.95),
            target="-",
            met=None,
        ),
    ]
    outcome.details = {
        "scale": SCALE,
        "interval_s": INTERVAL,
        "timeline_s": TIMELINE,
        "jitter": JITTER,
        "jobs": JOBS,
        "adaptive": adaptive,
        "seed": seed,
        "fixed_fast_tick": fixed,
    }
    return outcome


if __name__ == "__main__":
    run_module(measure)
