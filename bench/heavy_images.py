"""Heavy images: ten 18 MiB noise PNGs sent as files at once, by ten users.

Measured: the bot process's peak RSS growth (VmRSS sampled every 5 ms from a thread, and VmHWM
after a reset) from just before the push until every image is checked and submitted, and the
event loop's worst lag over the same time.
Baseline: the same flow, just before, with ten 1-2 MB JPEG photos: the cost of the flow itself.

The emulators run in another process: their copies of the images are not the bot's memory.
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
    RssPeak,
    count_jobs,
    job_states,
    release_free_memory,
    rss_mib,
    run_module,
    wait_until,
)
from bench.sample_photos import heavy_pngs, photos
from bench.setup import clean_environment, running_app

IMAGES = 10
_SETTLED = "state NOT IN ('received', 'submitting', 'waiting')"


async def one_burst(
    host: EmulatorHost, database: Path, files: list[Path], *, first_user: int, batch: str
) -> dict[str, Any]:
    """Push `files` at once, as documents from as many users; wait until every one is checked
    and submitted (or refused). Returns the peak RSS growth, loop lag and time taken."""
    release_free_memory()
    await asyncio.sleep(0.5)

    async def all_settled() -> bool:
        return await asyncio.to_thread(
            count_jobs, database, f"user_id >= ? AND {_SETTLED}", (first_user,)
        ) >= len(files)

    with RssPeak(0.005) as rss:
        async with LoopLag(0.01) as lag:
            start = time.monotonic()
            await host.call(
                "push_photos",
                files=[str(path) for path in files],
                count=len(files),
                first_user=first_user,
                caption="the sea moves slowly",
                batch=batch,
                as_document=True,
            )
            await wait_until(all_settled, within=180, what=f"{batch}: every image submitted")
            elapsed = time.monotonic() - start
    return {
        "rss_start_mib": rss.start_mib,
        "rss_peak_mib": rss.peak_mib,
        "rss_growth_mib": rss.growth_mib,
        "hwm_reset": rss.hwm_reset,
        "loop_lag_worst_s": lag.worst,
        "seconds": elapsed,
    }


async def measure() -> Outcome:
    clean_environment()
    heavy = heavy_pngs(IMAGES)
    light = photos()[:IMAGES]
    async with EmulatorHost() as host:
        with tempfile.TemporaryDirectory(prefix="bench-heavy-") as folder:
            database = Path(folder) / "bot.sqlite3"
            async with running_app(host.settings(database)):
                idle_mib = rss_mib()
                baseline = await one_burst(host, database, light, first_user=700_000, batch="light")
                measured = await one_burst(host, database, heavy, first_user=800_000, batch="heavy")
                states = await asyncio.to_thread(job_states, database)
                counts = await host.call("counts")

    outcome = Outcome()
    outcome.figures += [
        Figure(
            name=f"peak RSS growth, {IMAGES} x 18 MiB PNG at once",
            unit="MiB",
            measured=measured["rss_growth_mib"],
            baseline=baseline["rss_growth_mib"],
            target="< 400 MiB",
            met=measured["rss_growth_mib"] < 400,
            note=(
                f"from {measured['rss_start_mib']:.0f} to {measured['rss_peak_mib']:.0f} MiB; "
                f"all {IMAGES} checked and submitted in {measured['seconds']:.1f} s "
                f"(baseline: {IMAGES} 1-2 MB JPEGs in {baseline['seconds']:.1f} s)"
            ),
        ),
        Figure(
            name="event loop worst lag during heavy images",
            unit="s",
            measured=measured["loop_lag_worst_s"],
            baseline=baseline["loop_lag_worst_s"],
            target="< 100 ms",
            met=measured["loop_lag_worst_s"] < 0.1,
        ),
    ]
    outcome.details = {
        "images": IMAGES,
        "png_bytes": [path.stat().st_size for path in heavy],
        "idle_rss_mib": idle_mib,
        "heavy": measured,
        "light": baseline,
        "states": states,
        "emulator_counts": counts,
    }
    return outcome


if __name__ == "__main__":
    run_module(measure)
