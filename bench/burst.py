"""A burst over the account's rate: 60 photos from 30 users at once, against an API that
takes 20 creates a minute and answers 429 beyond that, with MAX_ACTIVE_JOBS=60.

The whole time-line runs 10x faster than life, so that it takes under a minute: the API takes
20 creates in any 6 s, a generation takes 18 s (3 min in life), and the bot's poll interval,
pauses and pace are scaled alike. Figures are reported in life's minutes.

Measured: how many photos got their video, and how many users were told to send again; the
creates the API took per (life's) minute, against its limit; the time from the burst to the
last video, against the floor of 60 creates at 20 a minute (3 min) plus one generation.
"""

from __future__ import annotations

import asyncio
import dataclasses
import tempfile
import time
from pathlib import Path

from bench.emulator_host import EmulatorHost
from bench.harness import Figure, Outcome, job_states, run_module, wait_until
from bench.sample_photos import photos
from bench.setup import clean_environment, running_app
from bot.engine.tuning import Tuning

SCALE = 10.0  # life's seconds per benchmark second
USERS = 30
PER_USER = 2
PHOTOS = USERS * PER_USER
RATE_PER_MINUTE = 20
GENERATION_SECONDS = 180.0 / SCALE
#: The product's own timings, scaled with the time-line.
TUNING = dataclasses.replace(
    Tuning(),
    submit_backoff_seconds=5.0 / SCALE,
    max_submit_pause_seconds=300.0 / SCALE,
    busy_pause_seconds=5.0 / SCALE,
    paced_creates_per_minute=RATE_PER_MINUTE * SCALE,
    late_poll_seconds=300.0 / SCALE,
)


async def measure() -> Outcome:
    clean_environment()
    files = [str(path) for path in photos(4)]
    window = 60.0 / SCALE
    async with EmulatorHost(
        aiml={
            "creates_per_window": RATE_PER_MINUTE,
            "rate_window": window,
            "timeline": [20.0 / SCALE, GENERATION_SECONDS - 20.0 / SCALE],
        }
    ) as host:
        with tempfile.TemporaryDirectory(prefix="bench-burst-") as folder:
            database = Path(folder) / "bot.sqlite3"
            settings = host.settings(
                database,
                max_active_jobs=PHOTOS,
                poll_interval_seconds=10.0 / SCALE,
                job_timeout_seconds=900.0 / SCALE,
            )
            async with running_app(settings, TUNING):
                start = time.monotonic()
                for round_ in range(PER_USER):
                    await host.call(
                        "push_photos",
                        files=files,
                        count=USERS,
                        first_user=700_000,
                        caption=f"the leaves tremble, take {round_ + 1}",
                        batch=f"round-{round_}",
                    )

                async def every_video() -> bool:
                    calls = (await host.call("calls", method="sendVideo"))["calls"]
                    return len(calls) >= PHOTOS

                await wait_until(every_video, within=600, period=0.2, what="every video")
                videos = (await host.call("calls", method="sendVideo"))["calls"]
                last_video = max(call["at"] for call in videos) - start
                created = sorted((await host.call("create_times"))["at"])
                counts = await host.call("counts")
                told_to_resend = (
                    await host.call(
                        "saying", methods=["sendMessage", "editMessageText"], words="again"
                    )
                )["count"]
            states = await asyncio.to_thread(job_states, database)

    # The most creates the API took in any one of its windows: a rate a minute in life.
    busiest = max(sum(1 for at in created if first <= at < first + window) for first in created)
    refused = int(counts["creates"]) - int(counts["charged"])
    span = (created[-1] - created[0]) * SCALE / 60
    taken_rate = (len(created) - 1) / span if span else 0.0
    life = last_video * SCALE / 60
    floor = PHOTOS / RATE_PER_MINUTE + 3.0
    outcome = Outcome()
    outcome.figures += [
        Figure(
            name=f"burst of {PHOTOS} photos over a 20/min account: videos delivered",
            unit="videos",
            measured=float(len(videos)),
            baseline=float(PHOTOS),
            target=f"all {PHOTOS}, none told to resend",
            met=len(videos) == PHOTOS and told_to_resend == 0,
            note=(
                f"{told_to_resend} told to send again; states: {states}; "
                f"{refused} creates answered 429, none charged"
            ),
        ),
        Figure(
            name="creates taken per minute, busiest window",
            unit="/min",
            measured=float(busiest),
            baseline=float(RATE_PER_MINUTE),
            target=f"<= {RATE_PER_MINUTE}",
            met=busiest <= RATE_PER_MINUTE,
            note=(
                f"{counts['charged']} taken over {span:.1f} life's minutes "
                f"({taken_rate:.1f}/min); {refused} of {counts['creates']} sent were refused"
            ),
        ),
        Figure(
            name="burst to last video (life's minutes, replayed 10x faster)",
            unit="min",
            measured=life,
            baseline=floor,
            target="<= 1.5x the floor",
            met=life <= 1.5 * floor,
            note=f"floor: {PHOTOS} creates at {RATE_PER_MINUTE}/min, then one 3 min generation",
        ),
    ]
    outcome.details = {
        "photos": PHOTOS,
        "videos": len(videos),
        "creates": counts["creates"],
        "charged": counts["charged"],
        "refused_429": refused,
        "told_to_resend": told_to_resend,
        "last_video_s": last_video,
        "states": states,
    }
    return outcome


if __name__ == "__main__":
    run_module(measure)
