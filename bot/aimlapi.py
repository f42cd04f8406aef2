"""Client of the AI/ML API's MiniMax video endpoints. It knows nothing of Telegram.

Every path and field name of the API lives here, so that moving to another endpoint
(the generic `/video/generations`) is a change to this module alone.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Iterator
from enum import Enum
from typing import Any, Literal

import aiohttp
from pydantic import BaseModel, ConfigDict, ValidationError

log = logging.getLogger(__name__)

MODEL: Literal["video-01-live2d"] = "video-01-live2d"
GENERATION_PATH = "/generate/video/minimax/generation"
MAX_PROMPT_CHARS = 2000
#: A create body carries the image as base64: up to ~27 MB. One `json.dumps` of it holds the
#: event loop for ~50 ms, and one write of it copies it whole, twice. It is encoded in slices of
#: this many characters, ~1 ms each, with the event loop free between them, and sent slice by
#: slice. (Not in a worker thread: image checks run in one, and two threads after the GIL make
#: the event loop wait its turn.)
BODY_SLICE = 512 * 1024


class GenerationRequest(BaseModel):
    """The body of a create call."""

    model: Literal["video-01-live2d"] = MODEL
    prompt: str
    prompt_optimizer: bool
    first_frame_image: str  # a data URL; never a Telegram file link (it holds the bot token)


class GenerationCreated(BaseModel):
    """The answer to a create call. Only `generation_id` is sure to be there."""

    model_config = ConfigDict(extra="ignore")

    generation_id: str
    status: str | None = None


class GeneratedVideo(BaseModel):
    model_config = ConfigDict(extra="ignore")

    url: str
    duration: float | None = None


class GenerationStatus(BaseModel):
    """The answer to a status call."""

    model_config = ConfigDict(extra="ignore")

    id: str
    status: str
    video: GeneratedVideo | None = None
    error: Any = None


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


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_REASON_CHARS else text[: MAX_REASON_CHARS - 1] + "…"


def error_reason(error: Any) -> str | None:
    """A human-readable reason from any of the API's error shapes, at most MAX_REASON_CHARS
    long, or None when there is none."""
    reason = _reason(error)
    return _clip(reason) if reason else None


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
    """400/422: the request itself was refused (validation). Nothing was created."""

    surely_not_created = True


class ApiUnauthorized(AimlApiError):
    """401: the key is missing or wrong."""

    surely_not_created = True


class ApiOutOfCredits(AimlApiError):
    """403: the account has no credits left."""

    surely_not_created = True


class ApiNotFound(AimlApiError):
    """404: an unknown route, model or generation id."""

    surely_not_created = True


class ApiRateLimited(AimlApiError):
    """429: a rate or concurrency limit. `retry_after` is the server's hint in seconds, if any."""

    surely_not_created = True

    def __init__(
        self, message: str, *, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, status=status)
        self.retry_after = retry_after


class ApiUnavailable(AimlApiError):
    """502/503, or a connection that never reached the API: nothing was created."""

    surely_not_created = True


class ApiOutcomeUnknown(AimlApiError):
    """500/504, or a timeout after the request was sent: a job may or may not exist."""


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
            return _clip(message)
        reason = error_reason(body.get("error"))
        if reason:
            return reason
    return fallback


def _error_for(status: int, body: Any, headers: Any, *, created: bool) -> AimlApiError:
    message = _message_of(body, f"HTTP {status}")
    if status in (400, 422):
        return ApiRejected(message, status=status)
    if status == 401:
        return ApiUnauthorized(message, status=status)
    if status == 403:
        return ApiOutOfCredits(message, status=status)
    if status == 404:
        return ApiNotFound(message, status=status)
    if status == 429:
        return ApiRateLimited(message, status=status, retry_after=_retry_after(headers))
    if status in (502, 503):
        return ApiUnavailable(message, status=status)
    if created:
        return ApiOutcomeUnknown(message, status=status)
    return ApiUnavailable(message, status=status)


class AimlApiClient:
    """Creates generations and reads their status. One aiohttp session per client."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        create_timeout: float = 60.0,
        status_timeout: float = 20.0,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._api_key = api_key
        self._create_timeout = aiohttp.ClientTimeout(total=create_timeout, sock_connect=10)
        self._status_timeout = aiohttp.ClientTimeout(total=status_timeout, sock_connect=10)
        self._session = session or aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100))
        self._owns_session = session is None

    async def close(self) -> None:
        if self._owns_session:
            await self._session.close()

    @property
    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._api_key}", "Accept": "application/json"}

    async def create_generation(
        self, *, prompt: str, first_frame_image: str, prompt_optimizer: bool
    ) -> GenerationCreated:
        """Ask the API for one video. Each successful call is charged.

        Raises an AimlApiError subclass; `surely_not_created` on it says whether a retry is safe.
        """
        body = GenerationRequest(
            prompt=prompt, prompt_optimizer=prompt_optimizer, first_frame_image=first_frame_image
        )
        pieces = await _encoded(body.model_dump())
        data = await self._call(
            "POST",
            client_timeout=self._create_timeout,
            pieces=pieces,
            ambiguous_after_send=True,
        )
        try:
            return GenerationCreated.model_validate(data)
        except ValidationError as exc:
            raise ApiOutcomeUnknown("the API answered without a generation id") from exc

    async def get_generation(self, generation_id: str) -> GenerationStatus:
        """Read a generation's status. Raises an AimlApiError subclass."""
        data = await self._call(
            "GET",
            client_timeout=self._status_timeout,
            params={"generation_id": generation_id},
            ambiguous_after_send=False,
        )
        try:
            return GenerationStatus.model_validate(data)
        except ValidationError as exc:
            raise ApiBadResponse("the status answer has no id or status") from exc

    async def _call(
        self,
        method: str,
        *,
        client_timeout: aiohttp.ClientTimeout,
        ambiguous_after_send: bool,
        pieces: list[bytes] | None = None,
        params: dict[str, str] | None = None,
    ) -> Any:
        """Call the generation endpoint; `pieces` is a JSON body as `json_slices` makes it."""
        url = self._base_url + GENERATION_PATH
        request_headers = self._headers
        if pieces is not None:
            # With its length given, the body is streamed piece by piece yet not sent chunked.
            length = sum(len(piece) for piece in pieces)
            request_headers |= {"Content-Type": "application/json", "Content-Length": str(length)}
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
