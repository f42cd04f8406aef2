"""What every benchmark shares: figures, percentiles, the event loop's lag, the RSS peak and
the jobs the bot under measurement has stored."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import dataclasses
import json
import logging
import sqlite3
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from bot.policy import stats
from bot.sandbox.serving import Lifecycle


@dataclass(frozen=True, slots=True)
class Figure:
    """One measured figure, its baseline from the same run, and its target."""

    name: str
    unit: str
    measured: float
    baseline: float | None
    target: str
    met: bool | None  # None: informative, no target
    note: str = ""


@dataclass(slots=True)
class Outcome:
    """What one benchmark module reports."""

    figures: list[Figure] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0


def percentile(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile (`fraction` in 0..1), as /stats reports it, of a sample;
    ValueError when it is empty."""
    value = stats.percentile(values, fraction)
    if value is None:
        raise ValueError("a percentile of no values")
    return value


def job_states(database: Path) -> dict[str, int]:
    """How many of the bot's stored jobs are in each state."""
    with sqlite3.connect(database) as db:
        rows = db.execute("SELECT state, count(*) FROM jobs GROUP BY state").fetchall()
    return {str(state): int(count) for state, count in rows}


def count_jobs(database: Path, where: str = "1", params: Sequence[object] = ()) -> int:
    """How many of the bot's stored jobs match the SQL condition `where`."""
    with sqlite3.connect(database) as db:
        (count,) = db.execute(f"SELECT count(*) FROM jobs WHERE {where}", params).fetchone()
    return int(count)


class LoopLag(Lifecycle):
    """A heartbeat that sleeps `period` seconds and records how late each wake-up is.

    `worst` is the longest stall of the event loop seen while the block ran.
    """

    def __init__(self, period: float = 0.01) -> None:
        self.period = period
        self.lags: list[float] = []
        self._task: asyncio.Task[None] | None = None

    @property
    def worst(self) -> float:
        return max(self.lags, default=0.0)

    async def _beat(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            start = loop.time()
            await asyncio.sleep(self.period)
            self.lags.append(max(0.0, loop.time() - start - self.period))

    async def start(self) -> None:
        """Start the heartbeat."""
        self._task = asyncio.create_task(self._beat())
        await asyncio.sleep(0)

    async def close(self) -> None:
        """Stop the heartbeat; `lags` keeps what it saw."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def _status_kib(name: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1])
    raise KeyError(name)


def rss_mib() -> float:
    """The process's resident set size now, in MiB."""
    return _status_kib("VmRSS") / 1024


def release_free_memory() -> None:
    """Give freed heap back to the OS, so an RSS baseline is not inflated by earlier work."""
    import gc

    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


class RssPeak:
    """The peak RSS growth over a block: VmRSS sampled every `period` seconds from a thread
    (so a stalled event loop cannot hide a peak), and VmHWM after resetting it."""

    def __init__(self, period: float = 0.005) -> None:
        self.period = period
        self.start_mib = 0.0
        self.peak_mib = 0.0
        self.hwm_reset = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="rss-sampler", daemon=True)

    @property
    def growth_mib(self) -> float:
        return self.peak_mib - self.start_mib

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak_mib = max(self.peak_mib, rss_mib())
            time.sleep(self.period)

    def __enter__(self) -> Self:
        try:
            # "5" resets the peak RSS (VmHWM) to the current RSS (Linux >= 4.0).
            Path("/proc/self/clear_refs").write_text("5")
            self.hwm_reset = True
        except OSError:
            self.hwm_reset = False
        self.start_mib = self.peak_mib = rss_mib()
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()
        if self.hwm_reset:
            self.peak_mib = max(self.peak_mib, _status_kib("VmHWM") / 1024)


async def wait_until(
    condition: Callable[[], Awaitable[bool]], *, within: float, period: float = 0.01, what: str
) -> float:
    """Wait for `condition` to hold; returns the seconds waited. Raises TimeoutError after
    `within` seconds."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    while not await condition():
        if loop.time() - start > within:
            raise TimeoutError(f"{what}: not reached after {within:.0f}s")
        await asyncio.sleep(period)
    return loop.time() - start


def quiet_logging() -> None:
    """Warnings and errors only: a benchmark's output is its figures."""
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    for name in ("httpx", "httpcore", "apscheduler", "aiohttp.access"):
        logging.getLogger(name).setLevel(logging.ERROR)


def outcome_to_json(outcome: Outcome) -> dict[str, Any]:
    return {
        "figures": [dataclasses.asdict(figure) for figure in outcome.figures],
        "details": outcome.details,
        "seconds": outcome.seconds,
    }


def outcome_from_json(data: dict[str, Any]) -> Outcome:
    return Outcome(
        figures=[Figure(**item) for item in data["figures"]],
        details=dict(data["details"]),
        seconds=float(data["seconds"]),
    )


def run_module(measure: Callable[[], Coroutine[Any, Any, Outcome]]) -> None:
    """The command line of one benchmark module: `--json PATH` writes its outcome there;
    without it, its figures are printed."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--json", type=Path, help="write the outcome to this file")
    args = parser.parse_args()
    quiet_logging()
    start = time.monotonic()
    outcome = asyncio.run(measure())
    outcome.seconds = time.monotonic() - start
    if args.json is not None:
        args.json.write_text(json.dumps(outcome_to_json(outcome), indent=2))
    else:
        from bench.report import table

        print(table([(Path(sys.argv[0]).stem, outcome)]))
