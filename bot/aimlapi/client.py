"""Client of the AI/ML API's MiniMax video endpoints. It knows nothing of Telegram.

The API serves `video-01-live2d` on two endpoints, and this module is the only place that
knows either: the seed's vendor path (`legacy`, the default) and the universal
`/video/generations` (`universal`). Every path and field name of both lives here, and every
answer shape their documents show is read into one `Generation`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from enum import Enum, StrEnum
from typing import Any, Literal

import aiohttp

from bot.plaintext import shorten

log = logging.getLogger(__name__)

MODEL: Literal["video-01-live2d"] = "video-01-live2d"
MAX_PROMPT_CHARS = 2000


class Endpoint(StrEnum):
    """Where the API takes and reports a generation. A job is polled where it was made."""

    LEGACY = "legacy"  # the vendor path of the model's own page
    UNIVERSAL = "universal"  # `/video/generations`, shared by the API's video models

    @property
    def path(self) -> str:
        return _PATHS[self]

    @property
    def other(self) -> Endpoint:
        return Endpoint.UNIVERSAL if self is Endpoint.LEGACY else Endpoint.LEGACY


_PATHS = {
    Endpoint.LEGACY: "/generate/video/minimax/generation",
    Endpoint.UNIVERSAL: "/video/generations",
}
#: What each HTTP method is, of the calls this client makes.
_CALLS = {"POST": "create", "GET": "status"}

#: Told of every call the client made, answered or not: which call ("create" or "status"), on
#: which endpoint, and how many seconds it took. It must return at once and never raise.
ApiTiming = Callable[[str, Endpoint, float], None]
#: A create body carries the image as base64: up to ~27 MB. One `json.dumps` of it holds the
#: event loop for ~50 ms, and one write of it copies it whole, twice. It is encoded in slices of
#: this many characters, ~1 ms each, with the event loop free between them, and sent slice by
#: slice. (Not in a worker thread: image checks run in one, and two threads after the GIL make
#: the event loop wait its turn.)
BODY_SLICE = 512 * 1024


def create_body(
    endpoint: Endpoint, *, prompt: str, first_frame_image: str, prompt_optimizer: bool
) -> dict[str, Any]:
    """The body of a create call on `endpoint`. `first_frame_image` is a data URL, never a
    Telegram file link (it holds the bot token)."""
    if endpoint is Endpoint.UNIVERSAL:
        return {
            "model": MODEL,
            "prompt": prompt,
            "enhance_prompt": prompt_optimizer,
            "image_url": first_frame_image,
        }
    return {
        "model": MODEL,
        "prompt": prompt,
        "prompt_optimizer": prompt_optimizer,
        "first_frame_image": first_frame_image,
    }


class UsageUnit(StrEnum):
    """What the API counts a generation's cost in. The two are not convertible."""

    CREDITS = "credits"  # `meta.usage.credits_used`, in the universal endpoint's documents
    TOKENS = "tokens"  # `meta.usage.tokens_used`, in the vendor path's schema


@dataclass(frozen=True, slots=True)
class Usage:
    """What a generation cost, as the API reports it."""

    amount: float
    unit: UsageUnit


@dataclass(frozen=True, slots=True)
class Generation:
    """A generation as the API last described it: the answer to a create or a status call."""

    id: str
    endpoint: Endpoint  # where it was made, and where it is polled
    status: str | None  # None when a create answer left it out
    video_url: str | None = None
    duration: float | None = None  # of the video, in seconds
    error: Any = None  # the API's failure, in whichever shape it came
    usage: Usage | None = None


# Answers are read field by field, not validated as a whole: the API documents few fields as
# sure, and one odd optional field (a video given as a bare link or a list, a duration as
# "6s") must never hide a paid generation's id or its video.


def _text(value: Any) -> str | None:
    """A non-empty string, or a number written as one (ids come both ways)."""
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def _seconds(value: Any) -> float | None:
    """A positive length in seconds, from a number or a numeric string."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip().removesuffix("s"))
        except ValueError:
            return None
    if isinstance(value, int | float) and math.isfinite(value) and value > 0:
        return float(value)
    return None


def _video_of(value: Any) -> tuple[str | None, float | None]:
    """The video's link and length, from `{"url", "duration"}`, a list of those, or a link."""
    if isinstance(value, list) and value:
        value = value[0]
    if isinstance(value, str):
        url = _text(value)
        return (url if url and url.startswith(("http://", "https://")) else None), None
    if isinstance(value, dict):
        return _text(value.get("url")), _seconds(value.get("duration"))
    return None, None


def _usage_of(meta: Any) -> Usage | None:
    """`meta.usage` as credits or tokens; None when absent or unreadable (it never matters
    more than the video it came with)."""
    usage = meta.get("usage") if isinstance(meta, dict) else None
    if not isinstance(usage, dict):
        return None
    for key, unit in (("credits_used", UsageUnit.CREDITS), ("tokens_used", UsageUnit.TOKENS)):
        amount = usage.get(key)
        if isinstance(amount, int | float) and not isinstance(amount, bool) and amount >= 0:
            return Usage(float(amount), unit)
    return None


def _generation_of(data: dict[str, Any], generation_id: str, endpoint: Endpoint) -> Generation:
    url, duration = _video_of(data.get("video"))
    return Generation(
        id=generation_id,
        endpoint=endpoint,
        status=_text(data.get("status")),
        video_url=url,
        duration=duration if duration is not None else _seconds(data.get("duration")),
        error=data.get("error"),
        usage=_usage_of(data.get("meta")),
    )


def _read_created(data: Any, endpoint: Endpoint) -> Generation:
    """A create answer: the seed's `{generation_id, status}`, or the schema's and universal
    endpoint's poll object with `id`. Raises ApiOutcomeUnknown when no id can be read: the
    job was most likely made, and must not be asked for again."""
    if not isinstance(data, dict):
        raise ApiOutcomeUnknown("the API accepted the request with an unreadable answer")
    named, plain = _text(data.get("generation_id")), _text(data.get("id"))
    if named is not None and plain is not None and named != plain:
        log.warning(
            "the API's create answer names two ids, generation_id %s and id %s; "
            "following generation_id",
            named,
            plain,
        )
    found = named if named is not None else plain
    if found is None:
        raise ApiOutcomeUnknown("the API answered without a generation id")
    return _generation_of(data, found, endpoint)


def _read_status(data: Any, generation_id: str, endpoint: Endpoint) -> Generation:
    """A status answer; raises ApiBadResponse when it has no status."""
    if not isinstance(data, dict) or _text(data.get("status")) is None:
        raise ApiBadResponse("the status answer has no status")
    return _generation_of(data, generation_id, endpoint)


class Progress(Enum):
    """What a reported status means for the job."""

    WAITING = "waiting"  # accepted, not rendering yet
    RENDERING = "rendering"  # the model is at work
    SUCCEEDED = "succeeded"  # the video is ready
    FAILED = "failed"  # the API gave up on the job
    UNKNOWN = "unknown"  # a status the API never documented


_PROGRESS = {
    "queued": Progress.WAITING,
    "waiting": Progress.WAITING,
    "generating": Progress.RENDERING,
    "active": Progress.RENDERING,
    "processing": Progress.RENDERING,
    "completed": Progress.SUCCEEDED,
    "succeeded": Progress.SUCCEEDED,
    "success": Progress.SUCCEEDED,
    "error": Progress.FAILED,
    "failed": Progress.FAILED,
}


def progress_of(status: str) -> Progress:
    """Map an API status to what it means; undocumented ones are UNKNOWN."""
    return _PROGRESS.get(status.strip().lower(), Progress.UNKNOWN)


#: The most of an API message the bot keeps. Its words reach users and logs, and an API that
#: echoes a field back could otherwise quote megabytes of base64.
MAX_REASON_CHARS = 300


def error_reason(error: Any) -> str | None:
    """A human-readable reason from any of the API's error shapes, at most MAX_REASON_CHARS
    long, or None when there is none."""
    reason = _reason(error)
    return shorten(reason, MAX_REASON_CHARS) if reason else None


def _reason(error: Any) -> str | None:
    if error is None:
        return None
    if isinstance(error, str):
        return error.strip() or None
    if isinstance(error, dict):
        detail = error.get("detail")
        if isinstance(detail, list):
            parts = [item.get("msg") for item in detail if isinstance(item, dict)]
            joined = "; ".join(str(part) for part in parts if part)
            if joined:
                return joined
        if isinstance(detail, str) and detail.strip():
            return detail.strip()
        for key in ("message", "msg", "reason", "name"):
            value = error.get(key)
            if isinstance(value, str) and value.strip():
                return value.strip()
    if isinstance(error, list):
        reasons = [_reason(item) for item in error]
        joined = "; ".join(reason for reason in reasons if reason)
        return joined or None
    return None


class AimlApiError(Exception):
    """The API did not do what was asked. `message` is the API's own words, when it gave any."""

    #: True when the API surely created no job, so asking again cannot charge twice.
    surely_not_created: bool = False

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class ApiRejected(AimlApiError):
    """A 4xx that refuses the request itself (400, 413, 422, ...). Nothing was created, and
    the same request would be refused again."""

    surely_not_created = True


class ApiUnauthorized(AimlApiError):
    """401: the key is missing or wrong."""

    surely_not_created = True


class ApiOutOfCredits(AimlApiError):
    """402/403: the account has no credits left."""

    surely_not_created = True


class ApiNotFound(AimlApiError):
    """404: an unknown route, model or generation id."""

    surely_not_created = True


class ApiBusy(AimlApiError):
    """Nothing was created, and the same request may be sent again after a wait.
    `retry_after` is the server's hint in seconds, if it gave one."""

    surely_not_created = True

    def __init__(
        self, message: str, *, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, status=status)
        self.retry_after = retry_after


class ApiRateLimited(ApiBusy):
    """429: a rate or concurrency limit."""


class ApiUnavailable(ApiBusy):
    """408 or 503, or a connection that never opened (status None). For a status call, also
    any answer or failure that says nothing about the job."""


class ApiOutcomeUnknown(AimlApiError):
    """500, 502, 504 or another 5xx to a create, a timeout or reset after its body was sent,
    or a 2xx without a readable id: a job may or may not exist, and must not be asked for
    again."""


class ApiBadResponse(AimlApiError):
    """A 2xx answer that is not the documented JSON."""


def json_slices(value: dict[str, Any]) -> Iterator[bytes]:
    """`json.dumps(value).encode()`, in pieces of at most ~`BODY_SLICE` characters: a long
    string is escaped a slice at a time, so that making one piece never takes long."""
    for index, (key, item) in enumerate(value.items()):
        head = ("{" if index == 0 else ", ") + json.dumps(key) + ": "
        if isinstance(item, str) and len(item) > BODY_SLICE:
            yield (head + '"').encode()
            for start in range(0, len(item), BODY_SLICE):
                yield json.dumps(item[start : start + BODY_SLICE])[1:-1].encode()
            yield b'"'
        else:
            yield (head + json.dumps(item)).encode()
    yield b"}" if value else b"{}"


async def _encoded(value: dict[str, Any]) -> list[bytes]:
    """`json_slices(value)`, made with the event loop free between the pieces."""
    pieces = []
    for piece in json_slices(value):
        pieces.append(piece)
        await asyncio.sleep(0)
    return pieces


async def _sent_piece_by_piece(pieces: list[bytes]) -> AsyncIterator[bytes]:
    """Yield the pieces in order, letting go of each once it is sent."""
    pieces.reverse()
    while pieces:
        yield pieces.pop()
        # A fast socket takes a piece at once and never makes the writer wait: give the other
        # tasks their turn between pieces all the same.
        await asyncio.sleep(0)


def _retry_after(headers: Any) -> float | None:
    raw = headers.get("Retry-After")
    if raw is None:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        return None


def _message_of(body: Any, fallback: str) -> str:
    if isinstance(body, dict):
        message = body.get("message")
        if isinstance(message, list):
            message = "; ".join(str(item) for item in message)
        if isinstance(message, str) and message.strip():
            return shorten(message, MAX_REASON_CHARS)
        reason = error_reason(body.get("error"))
        if reason:
            return reason
    return fallback


def _error_for(status: int, body: Any, headers: Any, *, created: bool) -> AimlApiError:
    """The error for a non-2xx answer. `created`: the call was a create, so an answer that
    may come after the service took it (500, 502, 504, ...) may hide a job that was made.

    Which answers prove that nothing was made, after the API's reference: every 4xx, and 503
    (no backend took it). Of those, only 408, 429 and 503 may be sent again, after a wait.
    """
    message = _message_of(body, f"HTTP {status}")
    if status == 401:
        return ApiUnauthorized(message, status=status)
    if status in (402, 403):
        return ApiOutOfCredits(message, status=status)
    if status == 404:
        return ApiNotFound(message, status=status)
    if status == 429:
        return ApiRateLimited(message, status=status, retry_after=_retry_after(headers))
    if status in (408, 503):
        return ApiUnavailable(message, status=status, retry_after=_retry_after(headers))
    if 400 <= status < 500:
        return ApiRejected(message, status=status)
    if created:
        return ApiOutcomeUnknown(message, status=status)
    return ApiUnavailable(message, status=status)


def _route_unknown(error: AimlApiError) -> bool:
    """Whether a 404 says the path itself does not exist ("Cannot POST /v2/..."), which made
    nothing, rather than that the model is unknown or deprecated, which another path would
    not mend."""
    words = error.message.lower()
    return isinstance(error, ApiNotFound) and "model" not in words and MODEL not in words


class AimlApiClient:
    """Creates generations and reads their status. One aiohttp session per client.

    Creates go to `endpoint`. When it answers that the route does not exist, the client moves
    to the other endpoint, once, says so in the log, and stays there. Each generation is
    polled on the endpoint that made it. `on_timing`, when given, is told how long each
    call took.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        endpoint: Endpoint = Endpoint.LEGACY,
        create_timeout: float = 60.0,
        status_timeout: float = 20.0,
        session: aiohttp.ClientSession | None = None,
        on_timing: ApiTiming | None = None,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._on_timing = on_timing
        self._api_key = api_key
        self._endpoint = endpoint
        self._moved = False
        self._create_timeout = aiohttp.ClientTimeout(total=create_timeout, sock_connect=10)
        self._status_timeout = aiohttp.ClientTimeout(total=status_timeout, sock_connect=10)
        self._session = session or aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100))
        self._owns_session = session is None

    @property
    def endpoint(self) -> Endpoint:
        """Where the next create goes."""
        return self._endpoint

    async def close(self) -> None:
        if self._owns_session:
            await self._session.close()

    @property
    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._api_key}", "Accept": "application/json"}

    async def create_generation(
        self, *, prompt: str, first_frame_image: str, prompt_optimizer: bool
    ) -> Generation:
        """Ask the API for one video. Each successful call is charged.

        The answer may already be final (`error`, or `completed` with its video). Raises an
        AimlApiError subclass; `surely_not_created` on it says whether a retry is safe.
        """
        endpoint = self._endpoint
        try:
            data = await self._create_on(endpoint, prompt, first_frame_image, prompt_optimizer)
        except ApiNotFound as error:
            if not _route_unknown(error):
                raise
            if self._endpoint is endpoint:
                if self._moved:
                    raise  # neither endpoint exists here: the base URL is wrong
                # Nothing was made on a route that does not exist: the other one may be asked.
                self._endpoint, self._moved = endpoint.other, True
                log.warning(
                    "the AI/ML API has no %s endpoint here (%s); using the %s endpoint from now on",
                    endpoint,
                    error.message,
                    endpoint.other,
                )
            # Else another create moved while this one was out: follow it.
            endpoint = self._endpoint
            data = await self._create_on(endpoint, prompt, first_frame_image, prompt_optimizer)
        return _read_created(data, endpoint)

    async def _create_on(
        self, endpoint: Endpoint, prompt: str, first_frame_image: str, prompt_optimizer: bool
    ) -> Any:
        body = create_body(
            endpoint,
            prompt=prompt,
            first_frame_image=first_frame_image,
            prompt_optimizer=prompt_optimizer,
        )
        return await self._call(
            "POST",
            endpoint,
            client_timeout=self._create_timeout,
            pieces=await _encoded(body),
            ambiguous_after_send=True,
        )

    async def get_generation(
        self, generation_id: str, endpoint: Endpoint = Endpoint.LEGACY
    ) -> Generation:
        """Read a generation's status on the endpoint that made it. Raises an AimlApiError
        subclass."""
        data = await self._call(
            "GET",
            endpoint,
            client_timeout=self._status_timeout,
            params={"generation_id": generation_id},
            ambiguous_after_send=False,
        )
        return _read_status(data, generation_id, endpoint)

    async def _call(
        self,
        method: str,
        endpoint: Endpoint,
        *,
        client_timeout: aiohttp.ClientTimeout,
        ambiguous_after_send: bool,
        pieces: list[bytes] | None = None,
        params: dict[str, str] | None = None,
    ) -> Any:
        """Call `endpoint`; `pieces` is a JSON body as `json_slices` makes it."""
        url = self._base_url + endpoint.path
        request_headers = self._headers
        if pieces is not None:
            # With its length given, the body is streamed piece by piece yet not sent chunked.
            length = sum(len(piece) for piece in pieces)
            request_headers |= {"Content-Type": "application/json", "Content-Length": str(length)}
        started = time.monotonic()
        try:
            async with self._session.request(
                method,
                url,
                data=None if pieces is None else _sent_piece_by_piece(pieces),
                params=params,
                headers=request_headers,
                timeout=client_timeout,
            ) as response:
                text = await response.text()
                status = response.status
                headers = response.headers
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
            raise ApiUnavailable(f"could not connect to the API ({type(exc).__name__})") from exc
        except (TimeoutError, aiohttp.ClientError) as exc:
            error_type = ApiOutcomeUnknown if ambiguous_after_send else ApiUnavailable
            raise error_type(f"no complete answer from the API ({type(exc).__name__})") from exc
        finally:
            if self._on_timing is not None:
                self._on_timing(_CALLS[method], endpoint, time.monotonic() - started)

        body: Any
        try:
            body = json.loads(text) if text else None
        except ValueError:
            body = None
        if 200 <= status < 300:
            if not isinstance(body, dict):
                if ambiguous_after_send:
                    raise ApiOutcomeUnknown(
                        "the API accepted the request with an unreadable answer"
                    )
                raise ApiBadResponse("the API answered with malformed JSON", status=status)
            return body
        error = _error_for(status, body, headers, created=ambiguous_after_send)
        log.warning("AI/ML API %s answered %s: %s", method, status, error.message)
        raise error
