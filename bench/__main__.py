"""`python -m bench [NAME ...]`: run the benchmarks, print the table, write the results.

Each benchmark runs in a process of its own, so that one's memory, threads and allocator state
never colour another's figures. Results go to bench/results/latest.json with the machine's
description; a benchmark that fails is reported and the others still run.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.harness import Outcome, outcome_from_json
from bench.report import table

BENCHMARKS = (
    "poll_tick",
    "photo_intake",
    "heavy_images",
    "store_load",
    "poll_schedule",
    "burst",
    "lease_claims",
    "two_instances",
    "scale_out",
)
ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "latest.json"


def machine() -> dict[str, Any]:
    meminfo = Path("/proc/meminfo").read_text().split("\n", 1)[0].split()
    return {
        "nproc": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)),
        "memory_gib": round(int(meminfo[1]) / 1024 / 1024, 1),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "load_average_at_start": os.getloadavg(),
    }


def run_one(name: str) -> Outcome | str:
    """Run `bench.<name>` in a child process; its outcome, or why it failed."""
    with tempfile.TemporaryDirectory(prefix="bench-") as folder:
        path = Path(folder) / "outcome.json"
        finished = subprocess.run(  # noqa: S603 (this interpreter, one of BENCHMARKS)
            [sys.executable, "-m", f"bench.{name}", "--json", str(path)],
            cwd=ROOT,
            check=False,
        )
        if finished.returncode != 0 or not path.exists():
            return f"exited with status {finished.returncode}"
        return outcome_from_json(json.loads(path.read_text()))


def main(names: list[str]) -> int:
    unknown = sorted(set(names) - set(BENCHMARKS))
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
        return 2
    chosen = [name for name in BENCHMARKS if not names or name in names]
    started = datetime.now(UTC)
    start = time.monotonic()
    outcomes: list[tuple[str, Outcome]] = []
    failures: dict[str, str] = {}
    for name in chosen:
        print(f"== {name} ...", file=sys.stderr, flush=True)
        result = run_one(name)
        if isinstance(result, str):
            failures[name] = result
            print(f"== {name}: FAILED ({result})", file=sys.stderr, flush=True)
        else:
            outcomes.append((name, result))
            print(f"== {name}: {result.seconds:.0f} s", file=sys.stderr, flush=True)
    total = time.monotonic() - start

    print(table(outcomes))
    for name, reason in failures.items():
        print(f"{name}: FAILED, {reason}")
    print(f"\ntotal: {total:.0f} s on {os.cpu_count()} CPUs, Python {platform.python_version()}")

    results = {
        "machine": machine(),
        "started_at": started.isoformat(timespec="seconds"),
        "total_seconds": total,
        "figures": [
            {"benchmark": name, **dataclasses.asdict(figure)}
            for name, outcome in outcomes
            for figure in outcome.figures
        ],
        "benchmarks": {
            name: {"seconds": outcome.seconds, "details": outcome.details}
            for name, outcome in outcomes
        },
        "failures": failures,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written: {RESULTS.relative_to(ROOT)}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
