"""Things that are started and closed, and aiohttp applications served on 127.0.0.1.

The sandbox, the test suite's emulators and the benchmarks' helpers all start something,
use it, and close it again: :class:`Lifecycle` makes each an async context manager, and
:class:`LoopbackServer` is the one way they serve an aiohttp application, on loopback unless
told another address (the sandbox in a container, reached from the bot's container).
"""

from __future__ import annotations

from types import TracebackType
from typing import Final, Self

from aiohttp import web

LOOPBACK: Final = "127.0.0.1"
#: Addresses that mean every interface: a server on one of them is reached here on loopback.
EVERY_INTERFACE: Final = frozenset({"0.0.0.0", "::"})  # noqa: S104 (only compared with)


class Lifecycle:
    """Something with :meth:`start` and :meth:`close`; ``async with`` starts and closes it."""

    async def start(self) -> None:
        """Get ready for use."""
        raise NotImplementedError

    async def close(self) -> None:
        """Let go of what :meth:`start` took; calling it again does nothing."""
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


class LoopbackServer(Lifecycle):
    """An aiohttp application on ``host`` (127.0.0.1), built by :meth:`make_app` at each start.

    ``port`` 0 picks a free one. The port a first start got is kept, so that the server can
    be closed and started again on the same address (a client then sees a restart, not a
    move).
    """

    #: Seconds :meth:`close` lets answers in flight finish.
    shutdown_timeout: float = 1.0

    def __init__(self, port: int = 0, host: str = LOOPBACK) -> None:
        self._port = port
        self._host = host
        self._runner: web.AppRunner | None = None

    def make_app(self) -> web.Application:
        """The application to serve: its routes and middlewares."""
        raise NotImplementedError

    async def start(self) -> None:
        """Start serving; nothing when already serving. Raises OSError when the port is taken."""
        if self._runner is not None:
            return
        runner = web.AppRunner(
            self.make_app(), access_log=None, shutdown_timeout=self.shutdown_timeout
        )
        await runner.setup()
        try:
            site = web.TCPSite(runner, self._host, self._port, reuse_address=True)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._port = int(runner.addresses[0][1])
        self._runner = runner

    async def close(self) -> None:
        """Stop serving; the port is kept for a later :meth:`start`."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    @property
    def serving(self) -> bool:
        """Whether the server is started."""
        return self._runner is not None

    @property
    def port(self) -> int:
        """The TCP port; RuntimeError before a free one was picked by a start."""
        if self._port == 0:
            raise RuntimeError(f"{type(self).__name__} is not started")
        return self._port

    @property
    def host(self) -> str:
        """The address it listens on."""
        return self._host

    @property
    def origin(self) -> str:
        """``http://<host>:<port>``, where this machine reaches it: on 127.0.0.1 when it
        listens on every interface."""
        host = LOOPBACK if self._host in EVERY_INTERFACE else self._host
        return f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"
