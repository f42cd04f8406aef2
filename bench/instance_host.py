"""One instance of the bot in a process of its own, driven with JSON lines over stdin and stdout,
as `bench.emulator_host` drives the emulators.

Several instances on one database are several processes in life: each its own event loop, CPU
and pool of connections. Were they all in the benchmark's process, they would take turns on one
event loop, and their time would tell of that loop rather than of how they share the work.

`python -m bench.instance_host SETTINGS` is the child (SETTINGS: the values of its Settings, as
JSON); `InstanceHost` is the parent's handle. The child's Application is open as `post_init`
opens it, neither taking updates nor running the tick (`bench.setup.initialized_app`): the
parent says when to tick.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from pathlib import Path
from typing import Any

from bench.harness import quiet_logging
from bench.setup import clean_environment, initialized_app
from bot.sandbox.serving import Lifecycle
from bot.wiring.settings import Settings
from bot.wiring.steps import Steps, steps_of

ROOT = Path(__file__).resolve().parents[1]


def _write(answer: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(answer) + "\n")
    sys.stdout.flush()


async def renew_leases(steps: Steps) -> None:
    """The heartbeat's renewal, as `keep_leases_tick` does it every third of LEASE_SECONDS
    (the Application's job queue, which would run it, is not started here)."""
    while True:
        await asyncio.sleep(steps.settings.lease_seconds / 3)
        await steps.leases.renew()


async def tick_until_idle(steps: Steps) -> dict[str, Any]:
    """Run the poll tick's work back to back, the leases renewed meanwhile, until a tick finds
    nothing to take: how many jobs this instance took, in how many ticks, and when it began
    and ended (monotonic, the clock every process on the machine shares)."""
    poller = steps.poller
    heartbeat = asyncio.create_task(renew_leases(steps))
    started, cpu = time.monotonic(), time.process_time()
    taken = ticks = 0
    try:
        while advanced := await poller.advance_due_jobs():
            taken += advanced
            ticks += 1
    finally:
        ended = time.monotonic()
        heartbeat.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await heartbeat
    return {
        "owner": steps.leases.owner,
        "jobs": taken,
        "ticks": ticks,
        "started_at": started,
        "ended_at": ended,
        "cpu_s": time.process_time() - cpu,
    }


async def _serve(values: dict[str, Any]) -> None:
    clean_environment()
    settings = Settings(_env_file=None, **values)
    async with initialized_app(settings) as app:
        steps = steps_of(app.bot_data)
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        _write({"ready": True})
        while line := await reader.readline():
            request = json.loads(line)
            if request["op"] == "quit":
                break
            try:
                if request["op"] != "tick_until_idle":
                    raise ValueError(f"unknown op {request['op']!r}")
                _write(await tick_until_idle(steps))
            except Exception as error:
                _write({"error": f"{type(error).__name__}: {error}"})


class InstanceHost(Lifecycle):
    """The parent's handle on a child process that runs one instance of the bot, with the
    Settings `values` (the database, the emulators, INSTANCE_NAME)."""

    def __init__(self, values: dict[str, Any]) -> None:
        self._values = values
        self._process: asyncio.subprocess.Process | None = None
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        """Start the child and wait until its instance is open."""
        self._process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.instance_host",
            json.dumps(self._values, default=str),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            cwd=ROOT,
        )
        await self._read()

    async def close(self) -> None:
        """Ask the child to close its instance and quit; kill it when it does not within 20 s."""
        process, self._process = self._process, None
        if process is None:
            return
        assert process.stdin is not None
        with contextlib.suppress(Exception):
            process.stdin.write(b'{"op": "quit"}\n')
            await process.stdin.drain()
            process.stdin.close()
        try:
            await asyncio.wait_for(process.wait(), timeout=20)
        except TimeoutError:
            process.kill()
            await process.wait()

    async def _read(self) -> dict[str, Any]:
        assert self._process is not None and self._process.stdout is not None
        line = await self._process.stdout.readline()
        if not line:
            raise RuntimeError("the instance's process ended")
        answer: dict[str, Any] = json.loads(line)
        if "error" in answer:
            raise RuntimeError(f"instance host: {answer['error']}")
        return answer

    async def tick_until_idle(self) -> dict[str, Any]:
        """Tick in the child until it finds nothing to take (see `tick_until_idle`)."""
        assert self._process is not None and self._process.stdin is not None
        async with self._lock:
            self._process.stdin.write(b'{"op": "tick_until_idle"}\n')
            await self._process.stdin.drain()
            return await self._read()


def main() -> None:
    quiet_logging()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(json.loads(sys.argv[1])))


if __name__ == "__main__":
    main()
