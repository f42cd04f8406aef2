"""The bot's own HTTP server: Telegram's webhook posts, the health checks, and the metrics.

One `aiohttp.web` server inside the bot's process, as python-telegram-bot's custom-webhook
example does: the library's own webhook server (tornado) could not share its port with the
health checks, nor keep an update before answering it.

- `POST <webhook path>`: an update from Telegram. A post without the secret header Telegram was
  given (`TELEGRAM_WEBHOOK_SECRET`) gets 401 and does nothing. An update is answered 200 only
  once `on_update` has taken it (Telegram never resends an update it got a 200 for); when it
  cannot take it now, the answer is 503 and Telegram sends it again later.
- `GET /healthz`: 200 while the process serves.
- `GET /readyz`: 200 when `readiness` finds nothing wrong, else 503 with its reason.
- `GET /metrics`: the page `metrics` makes (Prometheus' text format, `bot.wiring.metrics`).
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

log = logging.getLogger(__name__)

#: The header Telegram sends the webhook's secret in.
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 (a header name, not a secret)
#: Largest update body taken: an update is a few KB; Telegram's are far below this.
MAX_UPDATE_BYTES = 1024 * 1024

#: Takes one update (Telegram's JSON object) to be handled. Raises NotNow, or any error, to
#: have Telegram send it again later.
UpdateSink = Callable[[dict[str, Any]], Awaitable[None]]


class NotNow(Exception):
    """The sink cannot take updates at the moment (the bot is starting or stopping)."""


#: Why the bot is not ready (for /readyz), or None when it is.
Readiness = Callable[[], Awaitable[str | None]]
#: The metrics page: its body, and its content type.
MetricsPage = Callable[[], Awaitable[tuple[bytes, str]]]


async def always_ready() -> str | None:
    """A readiness check that finds nothing wrong."""
    return None


class WebServer:
    """The HTTP server, started and stopped with the bot. `webhook_path` None: no webhook
    route (polling mode with the health checks alone); `metrics` None: no /metrics."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        on_update: UpdateSink | None = None,
        webhook_path: str | None = None,
        secret: str | None = None,
        readiness: Readiness = always_ready,
        metrics: MetricsPage | None = None,
    ) -> None:
        if webhook_path is not None and (on_update is None or not secret):
            raise ValueError("a webhook route needs an update sink and a secret")
        self._host, self._port = host, port
        self._on_update, self._secret = on_update, secret or ""
        self._readiness, self._metrics = readiness, metrics
        self.app = web.Application(client_max_size=MAX_UPDATE_BYTES)
        self.app.router.add_get("/healthz", self._healthz)
        self.app.router.add_get("/readyz", self._readyz)
        if metrics is not None:
            self.app.router.add_get("/metrics", self._metrics_page)
        if webhook_path is not None:
            self.app.router.add_post(webhook_path, self._update)
        self._runner: web.AppRunner | None = None
        self.port: int | None = None  # the port it listens on, once started (0: a free one)

    async def start(self) -> None:
        """Listen on the host and port. Raises OSError when the port cannot be taken."""
        runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, self._host, self._port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self.port = int(runner.addresses[0][1])
        log.debug("HTTP server listening on %s:%s", self._host, self.port)

    async def stop(self) -> None:
        """Stop listening; requests in progress are answered first."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _healthz(self, request: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def _readyz(self, request: web.Request) -> web.Response:
        try:
            problem = await self._readiness()
        except Exception as error:  # a check that breaks is itself a reason not to be ready
            log.warning("readiness check failed: %s", error)
            problem = f"readiness check failed: {type(error).__name__}"
        if problem is None:
            return web.Response(text="ready\n")
        return web.Response(status=503, text=f"not ready: {problem}\n")

    async def _metrics_page(self, request: web.Request) -> web.Response:
        assert self._metrics is not None
        body, content_type = await self._metrics()
        # Set as a header: aiohttp's `content_type` takes no parameters (version, charset).
        return web.Response(body=body, headers={"Content-Type": content_type})

    async def _update(self, request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), self._secret.encode()):
            log.warning("webhook post without the right secret header, from %s", request.remote)
            return web.Response(status=401, text="unauthorized\n")
        try:
            update = await request.json(loads=json.loads)
        except (json.JSONDecodeError, UnicodeDecodeError):
            return web.Response(status=400, text="not JSON\n")
        if not isinstance(update, dict) or not isinstance(update.get("update_id"), int):
            return web.Response(status=400, text="not an update\n")
        assert self._on_update is not None
        try:
            await self._on_update(update)
        except NotNow as error:
            log.info("%s; Telegram will resend it", error)
            return web.Response(status=503, text="not now\n")
        except Exception:
            # Not kept: Telegram sends it again after a non-2xx answer.
            log.exception(
                "update %s could not be kept; Telegram will resend it", update["update_id"]
            )
            return web.Response(status=500, text="try again\n")
        return web.Response(text="ok\n")
