"""Poll tick at scale: one tick over 1,000 due jobs while every status call takes 50 ms.

Measured: `advance_due_jobs` as the product runs it, several times (the median counts).
Baseline: the seed's approach, the same jobs advanced one status call after another.
Floor: N x latency / POLL_CONCURRENCY, what the concurrency allows at best.
"""

from __future__ import annotations

import asyncio
import base64
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from bench.emulator_host import EmulatorHost
from bench.harness import Figure, Outcome, run_module
from bench.sample_photos import small_jpeg
from bench.setup import clean_environment, initialized_app
from bot.aimlapi.client import AimlApiClient
from bot.engine.tuning import Tuning
from bot.wiring.services import services_of
from bot.wiring.settings import Settings
from bot.wiring.steps import steps_of
from storage import JobState, JobStore, NewJob

JOBS = 1000
LATENCY = 0.05
RUNS = 3
PREVIOUS_DEFAULT_CONCURRENCY = 10


async def create_generations(api: AimlApiClient, count: int) -> list[str]:
    """Create `count` generations in the emulator, 50 at a time."""
    data_url = "data:image/jpeg;base64," + base64.b64encode(small_jpeg()).decode()
    slots = asyncio.Semaphore(50)

    async def one(index: int) -> str:
        async with slots:
            created = await api.create_generation(
                prompt=f"job {index}", first_frame_image=data_url, prompt_optimizer=True
            )
            return created.id

    return list(await asyncio.gather(*(one(index) for index in range(count))))


async def record_submitted_jobs(store: JobStore, generation_ids: list[str]) -> None:
    """One submitted job per generation, as intake and submission leave it."""
    now = time.time()
    for index, generation_id in enumerate(generation_ids):
        job = await store.record_request(
            NewJob(
                chat_id=100_000 + index,
                request_message_id=1,
                photo_message_id=1,
                thread_id=None,
                user_id=100_000 + index,
                prompt=f"job {index}",
                prompt_optimizer=True,
                file_id=f"file-{index}",
            ),
            now=now,
        )
        assert job is not None
        await store.update(
            job.id,
            now=now,
            state=JobState.QUEUED,
            generation_id=generation_id,
            api_status="queued",
            submitted_at=now,
            next_poll_at=now,
        )


def make_all_due(database: Path) -> None:
    with sqlite3.connect(database) as db:
        db.execute("UPDATE jobs SET next_poll_at = ?", (time.time() - 1,))


async def measure() -> Outcome:
    clean_environment()
    outcome = Outcome()
    # Every status call answers "queued" after 50 ms: each tick does the same work.
    async with EmulatorHost(aiml={"queued_polls": 10**9}) as host:
        with tempfile.TemporaryDirectory(prefix="bench-poll-") as folder:
            database = Path(folder) / "bot.sqlite3"
            async with initialized_app(host.settings(database)) as app:
                steps = steps_of(app.bot_data)
                poller = steps.poller
                concurrency = steps.settings.poll_concurrency
                ids = await create_generations(services_of(app.bot_data).api, JOBS)
                await record_submitted_jobs(steps.store, ids)
                await host.call("set_delay", endpoint="poll", seconds=LATENCY)

                async def timed(tick: str) -> float:
                    await asyncio.to_thread(make_all_due, database)
                    start = time.monotonic()
                    if tick == "concurrent":
                        advanced = await poller.advance_due_jobs()
                    else:
                        jobs = await steps.store.due_jobs(
                            now=steps.clock(), limit=Tuning().due_batch
                        )
                        for job in jobs:
                            await poller.advance_job(job)
                        advanced = len(jobs)
                    elapsed = time.monotonic() - start
                    assert advanced == JOBS, advanced
                    return elapsed

                ticks = [await timed("concurrent") for _ in range(RUNS)]
                previous: float | None = None
                if concurrency != PREVIOUS_DEFAULT_CONCURRENCY:
                    # The ticks share one semaphore sized from POLL_CONCURRENCY at start-up.
                    current = poller.poll_slots
                    poller.poll_slots = asyncio.Semaphore(PREVIOUS_DEFAULT_CONCURRENCY)
                    previous = await timed("concurrent")
                    poller.poll_slots = current
                sequential = await timed("sequential")
                counts = await host.call("counts")

    tick = statistics.median(ticks)
    floor = JOBS * LATENCY / concurrency
    default = Settings.model_fields["poll_concurrency"].default
    outcome.figures += [
        Figure(
            name=f"tick, {JOBS} due jobs, 50 ms API, concurrency {concurrency}",
            unit="s",
            measured=tick,
            baseline=sequential,
            target=">= 20x faster than baseline",
            met=sequential / tick >= 20,
            note=f"{sequential / tick:.1f}x faster than one status call after another",
        ),
        Figure(
            name=f"tick / floor ({JOBS} x 50 ms / {concurrency} = {floor:.2f} s)",
            unit="x",
            measured=tick / floor,
            baseline=None,
            target="<= 1.5",
            met=tick / floor <= 1.5,
        ),
    ]
    if previous is not None:
        outcome.figures.append(
            Figure(
                name=f"tick at concurrency {PREVIOUS_DEFAULT_CONCURRENCY} (former default)",
                unit="s",
                measured=previous,
                baseline=sequential,
                target="-",
                met=None,
                note=(
                    f"floor {JOBS * LATENCY / PREVIOUS_DEFAULT_CONCURRENCY:.1f} s; at most "
                    f"{sequential / (JOBS * LATENCY / PREVIOUS_DEFAULT_CONCURRENCY):.0f}x "
                    "faster than sequential"
                ),
            )
        )
    outcome.details = {
        "jobs": JOBS,
        "latency_s": LATENCY,
        "concurrency": concurrency,
        "concurrency_default": default,
        "ticks_s": ticks,
        "tick_at_previous_default_s": previous,
        "sequential_s": sequential,
        "floor_s": floor,
        "status_calls": counts["polls"],
    }
    return outcome


if __name__ == "__main__":
    run_module(measure)
