"""Several instances of the bot, as an operator scales it out: N `python -m bot` processes in
webhook mode, one token and one PostgreSQL database between them, behind one webhook URL.

- `RoundRobinProxy`: the load balancer in front of them, written for the tests. It forwards
  each webhook post, headers and body as they came (the secret header with them), to the next
  instance in turn, and answers 502 when that instance does not answer, as a load balancer
  does for a dead backend; Telegram then posts the update again. Chosen updates are posted
  to the next instance as well, at the same time, as when Telegram resends an update whose
  200 was lost and the balancer sends it elsewhere.
- `Instances`: the processes (`tests.process.BotProcess`), each with its own HTTP_PORT and
  INSTANCE_NAME, all with the proxy's URL as TELEGRAM_WEBHOOK_URL, the same DATABASE_URL and
  short leases; one can be killed with SIGKILL and started again.
- `SharedRows`: what the database says of jobs, their leases and the kept updates, read
  directly (a test judges the bot by its rows, never by its clock).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
from aiohttp import web

from bot.sandbox.serving import Lifecycle, LoopbackServer
from tests.conftest import free_port
from tests.emulators.aimlapi_emulator import AimlApiEmulator
from tests.emulators.telegram_emulator import TelegramEmulator
from tests.process import BotProcess

#: The path of the webhook, on the proxy and on every instance.
WEBHOOK_PATH = "/telegram/updates"
#: The webhook's secret, which Telegram sends with every post and each instance checks.
WEBHOOK_SECRET = "several-instances_42"
#: Headers that belong to one connection, never forwarded (RFC 9110, 7.6.1), and those the
#: client library sets again for the forwarded request.
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)


@dataclass(frozen=True)
class Forward:
    """One post the proxy forwarded: the update, the instance it went to, how it answered."""

    update_id: int | None
    upstream: int  # the instance's index
    status: int | None  # None: no answer (refused, reset, timed out): the proxy said 502
    duplicate: bool  # the second copy of a post, sent to the next instance as well


class RoundRobinProxy(LoopbackServer):
    """An HTTP proxy on 127.0.0.1 that forwards each POST to the next of `upstreams` (their
    origins, `http://127.0.0.1:PORT`), in turn, with the same path, headers and body, and
    answers with that upstream's answer, or 502 when it gives none within `timeout`."""

    def __init__(self, *, timeout: float = 10.0) -> None:
        super().__init__()
        self.upstreams: list[str] = []
        self.forwards: list[Forward] = []
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._turn = 0
        self._twice: set[int] = set()
        self._session: aiohttp.ClientSession | None = None

    @property
    def url(self) -> str:
        """The webhook URL Telegram is given."""
        return f"{self.origin}{WEBHOOK_PATH}"

    def post_twice(self, update_id: int) -> None:
        """Post the next post of this update to two instances at once: the one whose turn it
        is, and the next."""
        self._twice.add(update_id)

    @property
    def duplicates_posted(self) -> int:
        """Second copies of a post an instance answered (with any status)."""
        return sum(1 for forward in self.forwards if forward.duplicate and forward.status)

    def make_app(self) -> web.Application:
        app = web.Application(client_max_size=16 * 1024 * 1024)
        app.router.add_post("/{tail:.*}", self._forward)
        return app

    async def start(self) -> None:
        """Start serving, with one client session for every forward."""
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        await super().start()

    async def close(self) -> None:
        """Stop serving and close the client session."""
        await super().close()
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        if not self.upstreams:
            return web.Response(status=502, text="no upstream\n")
        body = await request.read()
        headers = {
            name: value
            for name, value in request.headers.items()
            if name.lower() not in _HOP_BY_HOP
        }
        index = self._turn % len(self.upstreams)
        self._turn += 1
        update_id = _update_id_of(body)
        second: asyncio.Task[tuple[int | None, bytes, str]] | None = None
        if update_id in self._twice and len(self.upstreams) > 1:
            self._twice.discard(update_id)
            other = (index + 1) % len(self.upstreams)
            second = asyncio.create_task(
                self._send(other, request.path_qs, body, headers, update_id, duplicate=True)
            )
        status, answer, content_type = await self._send(
            index, request.path_qs, body, headers, update_id, duplicate=False
        )
        if second is not None:
            await second  # both copies reach their instance before Telegram hears back
        if status is None:
            return web.Response(status=502, text="bad gateway: the instance did not answer\n")
        return web.Response(status=status, body=answer, headers={"Content-Type": content_type})

    async def _send(
        self,
        index: int,
        path: str,
        body: bytes,
        headers: dict[str, str],
        update_id: int | None,
        *,
        duplicate: bool,
    ) -> tuple[int | None, bytes, str]:
        assert self._session is not None
        status: int | None = None
        answer, content_type = b"", "text/plain"
        try:
            async with self._session.post(
                self.upstreams[index] + path, data=body, headers=headers, allow_redirects=False
            ) as response:
                answer = await response.read()
                status = response.status
                content_type = response.headers.get("Content-Type", content_type)
        except (aiohttp.ClientError, TimeoutError):
            status = None
        self.forwards.append(Forward(update_id, index, status, duplicate))
        return status, answer, content_type


def _update_id_of(body: bytes) -> int | None:
    try:
        update = json.loads(body)
    except ValueError:
        return None
    value = update.get("update_id") if isinstance(update, dict) else None
    return value if isinstance(value, int) else None


class Instance:
    """One instance: its name, its port, and its runs of `python -m bot` (one per start)."""

    def __init__(self, name: str, port: int, run: BotProcess) -> None:
        self.name, self.port, self.run = name, port, run
        self.pids: list[int] = []  # the process id of each start, oldest first

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        """The process id of the current (or last) run."""
        return self.run.process.pid

    @property
    def alive(self) -> bool:
        return self.run.process.returncode is None

    def owner_prefix(self, pid: int | None = None) -> str:
        """How the lease owner of a run begins (`INSTANCE_NAME/pid/`, then 4 hex digits):
        of the current run, or of the run with process id `pid`."""
        return f"{self.name}/{self.pid if pid is None else pid}/"

    def owns(self, owner: str | None, pid: int | None = None) -> bool:
        """Whether a lease owner is this instance's current run (or the run `pid`)."""
        return owner is not None and owner.startswith(self.owner_prefix(pid))

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.run.log().splitlines()[-lines:])


class Instances(Lifecycle):
    """`count` instances of `python -m bot` in webhook mode behind a `RoundRobinProxy`, with
    one DATABASE_URL, LEASE_SECONDS=`lease_seconds` and the given `settings` (environment
    variables) on top. Each logs to `workdir/<name>/bot.log`. `start` returns once every
    instance answers /readyz."""

    def __init__(
        self,
        workdir: Path,
        telegram: TelegramEmulator,
        aiml: AimlApiEmulator,
        count: int,
        *,
        database_url: str,
        lease_seconds: float = 3.0,
        poll_interval_seconds: float = 0.2,
        start_within: float = 60.0,
        **settings: str,
    ) -> None:
        self.proxy = RoundRobinProxy()
        self._workdir, self._telegram, self._aiml = workdir, telegram, aiml
        self._count, self._start_within = count, start_within
        self._settings = {
            "DATABASE_URL": database_url,
            "LEASE_SECONDS": str(lease_seconds),
            "POLL_INTERVAL_SECONDS": str(poll_interval_seconds),
            "TELEGRAM_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "HTTP_HOST": "127.0.0.1",
            **settings,
        }
        self.instances: list[Instance] = []

    def __getitem__(self, index: int) -> Instance:
        return self.instances[index]

    async def start(self) -> None:
        """Start the proxy and every instance, all at once; wait until each is ready."""
        await self.proxy.start()
        for index in range(self._count):
            name = f"bot-{index}"
            port = free_port()
            folder = self._workdir / name
            folder.mkdir(parents=True, exist_ok=True)
            run = BotProcess(
                folder,
                self._telegram,
                self._aiml,
                **self._settings,
                TELEGRAM_WEBHOOK_URL=self.proxy.url,
                HTTP_PORT=str(port),
                INSTANCE_NAME=name,
            )
            self.instances.append(Instance(name, port, run))
        self.proxy.upstreams = [instance.origin for instance in self.instances]
        await asyncio.gather(*(self._launch(instance) for instance in self.instances))

    async def _launch(self, instance: Instance) -> None:
        await instance.run.start()
        instance.pids.append(instance.pid)
        await self._ready(instance)

    async def _ready(self, instance: Instance) -> None:
        """Wait until the instance answers /readyz 200; fail with its log if it exits or
        never does."""
        deadline = time.monotonic() + self._start_within
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
            while True:
                if not instance.alive:
                    raise AssertionError(
                        f"{instance.name} exited with {instance.run.process.returncode} "
                        f"before it was ready; its log ends:\n{instance.log_tail()}"
                    )
                with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                    async with session.get(instance.origin + "/readyz") as answer:
                        if answer.status == 200:
                            return
                if time.monotonic() > deadline:
                    raise AssertionError(
                        f"{instance.name} not ready after {self._start_within:.0f} s; "
                        f"its log ends:\n{instance.log_tail()}"
                    )
                await asyncio.sleep(0.1)

    async def kill(self, index: int) -> None:
        """SIGKILL one instance: no chance to release anything. The proxy keeps it in turn,
        and answers 502 for it."""
        await self.instances[index].run.kill()

    async def restart(self, index: int) -> None:
        """Start a killed (or stopped) instance again, on its port and with its name; returns
        once it is ready."""
        instance = self.instances[index]
        assert not instance.alive, f"{instance.name} is still running"
        await self._launch(instance)

    async def close(self) -> None:
        """Stop every instance still running with SIGTERM, as a service manager would (SIGKILL
        after 30 s), then the proxy."""

        async def stop(instance: Instance) -> None:
            if not instance.pids or not instance.alive:
                return
            try:
                await instance.run.terminate(timeout=30)
            except TimeoutError:
                await instance.run.kill()

        await asyncio.gather(*(stop(instance) for instance in self.instances))
        for instance in self.instances:
            if instance.pids:
                await instance.run.close()
        await self.proxy.close()

    def owner_name(self, owner: str | None) -> str:
        """`bot-1 (run 2)`: whose a lease owner is, for messages; the owner itself if no
        instance's."""
        for instance in self.instances:
            for run, pid in enumerate(instance.pids, start=1):
                if instance.owns(owner, pid):
                    return f"{instance.name} (run {run})"
        return str(owner)


@dataclass(frozen=True)
class JobRow:
    """A job as the shared database holds it: what the checks of several instances read."""

    id: int
    chat_id: int
    request_message_id: int
    prompt: str
    state: str
    reason: str | None
    generation_id: str | None
    next_poll_at: float | None
    lease_owner: str | None
    lease_until: float | None
    taken_over_from: str | None


class SharedRows(Lifecycle):
    """Reads the instances' PostgreSQL database directly, on one connection of its own."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._connection: asyncpg.Connection | None = None

    async def start(self) -> None:
        self._connection = await asyncpg.connect(self._url, timeout=10)

    async def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            await connection.close()

    async def _fetch(self, query: str, *arguments: Any) -> list[asyncpg.Record]:
        assert self._connection is not None, "not started"
        rows: list[asyncpg.Record] = await self._connection.fetch(query, *arguments)
        return rows

    async def jobs(self) -> list[JobRow]:
        """Every job, oldest first."""
        rows = await self._fetch(
            "SELECT id, chat_id, request_message_id, prompt, state, reason, generation_id,"
            " next_poll_at, lease_owner, lease_until, taken_over_from FROM jobs ORDER BY id"
        )
        return [JobRow(**dict(row)) for row in rows]

    async def unhandled_updates(self) -> list[int]:
        """The ids of the updates kept but not handled to the end."""
        rows = await self._fetch(
            "SELECT update_id FROM updates WHERE handled_at IS NULL ORDER BY update_id"
        )
        return [int(row["update_id"]) for row in rows]

    async def held_update_leases(self) -> list[tuple[int, str]]:
        """The updates whose lease is held now: (update id, owner)."""
        rows = await self._fetch(
            "SELECT update_id, lease_owner FROM updates WHERE lease_until IS NOT NULL"
        )
        return [(int(row["update_id"]), str(row["lease_owner"])) for row in rows]
