"""A local emulator of the AI/ML API's MiniMax video endpoints (model ``video-01-live2d``).

It serves, on 127.0.0.1 and a free port:

* ``POST /v2/generate/video/minimax/generation`` - create a job (validated like the real API),
* ``GET  /v2/generate/video/minimax/generation?generation_id=...`` - poll a job,
* ``POST /v2/video/generations`` and ``GET /v2/video/generations?generation_id=...`` - the same
  on the universal endpoint, with its own field names (``image_url``, ``enhance_prompt``),
* ``GET  /videos/<id>.mp4?Expires=...&Signature=...`` - the signed "CDN" link of a finished video.

The endpoints themselves are :class:`bot.sandbox.standin.ApiStandIn`'s, shared with the
sandbox (``python -m bot.sandbox``), so that both refuse what the API refuses. This module
configures them for tests: one key, a job's life counted in status calls, the account's rate,
signed links to a fixed MP4, and what a test needs to see and steer. Every request is recorded
in :attr:`AimlApiEmulator.requests` before it is answered, faults included, so a test can
assert exactly what the product sent (and how often: each create costs money upstream).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import secrets
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Middleware

from bot.sandbox.contract import (
    FAILURE_STATUSES,
    GENERATION_PATH,
    MAX_IMAGE_BYTES,
    MAX_PROMPT_CHARS,
    MIN_SHORT_SIDE_EXCLUSIVE,
    MODEL,
    MODERATION_FAILURE,
    SUCCESS_STATUSES,
    UNAUTHORIZED_MESSAGE,
    UNIVERSAL_PATH,
    URL_IMAGE_FORMAT,
    URL_IMAGE_SIZE,
    VIDEO_PATH_PREFIX,
    cdn_error,
    error_response,
)
from bot.sandbox.standin import (
    PATHS,
    Answer,
    ApiPath,
    ApiStandIn,
    CreateShape,
    Route,
    StandInJob,
    read_body,
)

__all__ = [
    "DEFAULT_FAILURE",
    "DEFAULT_LINK_TTL_SECONDS",
    "FAILURE_STATUSES",
    "GENERATION_PATH",
    "MAX_IMAGE_BYTES",
    "MAX_PROMPT_CHARS",
    "MIN_SHORT_SIDE_EXCLUSIVE",
    "MODEL",
    "SUCCESS_STATUSES",
    "UNAUTHORIZED_MESSAGE",
    "UNIVERSAL_PATH",
    "URL_IMAGE_FORMAT",
    "URL_IMAGE_SIZE",
    "VIDEO_DURATION_SECONDS",
    "VIDEO_PATH_PREFIX",
    "AimlApiEmulator",
    "ApiPath",
    "CreateShape",
    "EmulatedJob",
    "Endpoint",
    "RecordedRequest",
]

#: The calls a fault or a delay applies to.
Endpoint = Route
#: A job as the emulator made it (one charged create).
EmulatedJob = StandInJob

VIDEO_DURATION_SECONDS = 6
DEFAULT_LINK_TTL_SECONDS = 9 * 3600.0
DEFAULT_FAILURE = MODERATION_FAILURE

# Videos above this size are streamed in chunks instead of being held in memory whole.
_STREAM_THRESHOLD = 1024 * 1024
_CHUNK_SIZE = 256 * 1024


@dataclass
class RecordedRequest:
    """One HTTP request the emulator received, recorded before it was answered."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    at: float = 0.0  # time.monotonic() when it arrived
    response_status: int | None = None  # filled in once answered
    parsed_json: bool = False  # body was valid JSON (a JSON string body is a str too)

    def header(self, name: str) -> str | None:
        """Return a header's value, looked up case-insensitively, or None."""
        wanted = name.lower()
        for key, value in self.headers.items():
            if key.lower() == wanted:
                return value
        return None


@dataclass
class _Fault:
    status: int
    body: Any
    times: int
    delay: float
    headers: dict[str, str]
    create_job: bool


def _box(kind: bytes, payload: bytes) -> bytes:
    return (8 + len(payload)).to_bytes(4, "big") + kind + payload


#: The 2x2 part (a, b, c, d) of a track matrix that turns the picture by this many degrees.
_ROTATIONS = {0: (1, 0, 0, 1), 90: (0, 1, -1, 0), 180: (-1, 0, 0, -1), 270: (0, -1, 1, 0)}


def _matrix(a: int, b: int, c: int, d: int) -> bytes:
    """An ISO BMFF transformation matrix: a, b, c, d in 16.16 fixed point, w in 2.30."""
    values = (a << 16, b << 16, 0, c << 16, d << 16, 0, 0, 0, 1 << 30)
    return b"".join(v.to_bytes(4, "big", signed=True) for v in values)


def _mp4_head(dimensions: tuple[int, int] = (720, 1280), rotation: int = 0) -> bytes:
    """ftyp + moov(mvhd, trak(tkhd)) of a 6 s movie: well-formed ISO BMFF boxes, no real
    samples. The track is `dimensions` (width, height) as stored, turned by `rotation` degrees
    on display, as a phone stores a vertical video landscape with a 90° matrix."""
    ftyp = _box(b"ftyp", b"isom" + (512).to_bytes(4, "big") + b"isomiso2avc1mp41")
    mvhd = _box(
        b"mvhd",
        bytes(4)  # version 0, flags 0
        + bytes(8)  # creation / modification time
        + (1000).to_bytes(4, "big")  # timescale
        + (VIDEO_DURATION_SECONDS * 1000).to_bytes(4, "big")  # duration
        + (0x00010000).to_bytes(4, "big")  # rate 1.0
        + (0x0100).to_bytes(2, "big")  # volume 1.0
        + bytes(10)  # reserved
        + _matrix(*_ROTATIONS[0])
        + bytes(24)  # pre_defined
        + (2).to_bytes(4, "big"),  # next_track_ID
    )
    width, height = dimensions
    tkhd = _box(
        b"tkhd",
        bytes(1)  # version 0
        + (3).to_bytes(3, "big")  # flags: enabled, in the movie
        + bytes(8)  # creation / modification time
        + (1).to_bytes(4, "big")  # track_ID
        + bytes(4)  # reserved
        + (VIDEO_DURATION_SECONDS * 1000).to_bytes(4, "big")  # duration, in the movie's scale
        + bytes(8)  # reserved
        + bytes(4)  # layer, alternate group
        + bytes(2)  # volume: 0 for a video track
        + bytes(2)  # reserved
        + _matrix(*_ROTATIONS[rotation])
        + (width << 16).to_bytes(4, "big")  # 16.16 fixed point
        + (height << 16).to_bytes(4, "big"),
    )
    return ftyp + _box(b"moov", mvhd + _box(b"trak", tkhd))


def _mdat_header(payload_len: int) -> bytes:
    if payload_len + 8 <= 0xFFFFFFFF:
        return (payload_len + 8).to_bytes(4, "big") + b"mdat"
    return (1).to_bytes(4, "big") + b"mdat" + (payload_len + 16).to_bytes(8, "big")


class AimlApiEmulator(ApiStandIn[EmulatedJob]):
    """The AI/ML API's MiniMax video endpoints as tests need them.

    Job progression is by poll count by default (``queued_polls`` polls "queued", then
    ``generating_polls`` polls "generating", then "completed"), or by wall time when
    ``timeline=(queued_seconds, generating_seconds)`` is given (each jittered by ±``jitter``
    fraction from ``random.Random(seed)``).

    ``video_size`` pads the served MP4 to exactly that many bytes (streamed when large).
    ``video_dimensions`` is its track's (width, height) as stored, and ``video_rotation`` the
    degrees (0, 90, 180 or 270) its matrix turns the picture by on display.
    ``link_ttl`` is how long a video link stays valid (9 h upstream). ``port`` may be fixed so
    that the emulator can be closed and started again on the same address, keeping its state.
    More than ``creates_per_window`` creates within ``rate_window`` seconds are answered 429
    with a ``Retry-After``, as upstream does (about 20 a minute on a paid account); None: no
    limit.
    """

    def __init__(
        self,
        api_key: str = "test-aiml-key",
        *,
        queued_polls: int = 1,
        generating_polls: int = 2,
        video_size: int | None = None,
        video_dimensions: tuple[int, int] = (720, 1280),
        video_rotation: int = 0,
        timeline: tuple[float, float] | None = None,
        jitter: float = 0.0,
        seed: int = 0,
        link_ttl: float = DEFAULT_LINK_TTL_SECONDS,
        port: int = 0,
        creates_per_window: int | None = 20,
        rate_window: float = 60.0,
    ) -> None:
        super().__init__(
            EmulatedJob,
            api_key=api_key,
            port=port,
            queued_polls=queued_polls,
            generating_polls=generating_polls,
            timeline=timeline,
            jitter=jitter,
            seed=seed,
            creates_per_window=creates_per_window,
            rate_window=rate_window,
        )
        self.link_ttl = link_ttl
        self.video_downloads: int = 0
        self.requests: list[RecordedRequest] = []
        # Optional hooks to emulate documented response variants (201, missing status, meta...).
        self.create_response: Callable[[EmulatedJob], tuple[int, Any]] | None = None
        self.poll_response: Callable[[EmulatedJob, dict[str, Any]], tuple[int, Any]] | None = None
        self._faults: dict[Route, deque[_Fault]] = {
            "create": deque(),
            "poll": deque(),
            "video": deque(),
        }
        self._delays: dict[Route, float] = {"create": 0.0, "poll": 0.0, "video": 0.0}
        self._secret = secrets.token_bytes(32)
        self._revoked: set[tuple[str, int]] = set()
        self._issued: set[tuple[str, int]] = set()

        self._video_head = _mp4_head(video_dimensions, video_rotation)
        minimal = len(self._video_head) + 8
        if video_size is None:
            self._mdat_payload = 256
        else:
            if video_size < minimal + 1:
                raise ValueError(f"video_size must be > {minimal} bytes")
            self._mdat_payload = video_size - minimal
            if video_size - minimal + 8 > 0xFFFFFFFF:
                self._mdat_payload = video_size - minimal - 8  # 64-bit mdat header
        self._video_cache: bytes | None = None
        self._video_sha: str | None = None
        self._closing = asyncio.Event()

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Start serving on 127.0.0.1 (a free port unless one was given)."""
        if not self.serving:
            self._closing = asyncio.Event()
        await super().start()

    async def close(self) -> None:
        """Stop serving; pending delayed answers are cut short. State is kept."""
        self._closing.set()
        await super().close()

    # ------------------------------------------------------------------ inspection

    @property
    def creates(self) -> list[RecordedRequest]:
        """Every POST to a create endpoint (either), including rejected and faulted ones."""
        return [r for r in self.requests if r.method == "POST" and r.path in PATHS]

    @property
    def polls(self) -> list[RecordedRequest]:
        """Every GET to a status endpoint (either), including rejected and faulted ones."""
        return [r for r in self.requests if r.method == "GET" and r.path in PATHS]

    @staticmethod
    def endpoint_of(request: RecordedRequest) -> ApiPath | None:
        """Which of the API's endpoints a request went to; None for other paths."""
        return PATHS.get(request.path)

    @property
    def video_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.startswith(VIDEO_PATH_PREFIX)]

    @property
    def charged(self) -> int:
        """Jobs created so far: each create is charged upstream."""
        return len(self._jobs)

    @property
    def video_size(self) -> int:
        return len(self._video_head) + len(_mdat_header(self._mdat_payload)) + self._mdat_payload

    @property
    def video_bytes(self) -> bytes:
        """The MP4 served for every job. Built on each access when the video is large."""
        if self._video_cache is not None:
            return self._video_cache
        data = b"".join(self._video_chunks())
        if len(data) <= _STREAM_THRESHOLD:
            self._video_cache = data
        return data

    @property
    def video_sha256(self) -> str:
        """Hex SHA-256 of the served MP4, computed without holding it whole."""
        if self._video_sha is None:
            digest = hashlib.sha256()
            for chunk in self._video_chunks():
                digest.update(chunk)
            self._video_sha = digest.hexdigest()
        return self._video_sha

    def _video_chunks(self) -> Iterator[bytes]:
        yield self._video_head + _mdat_header(self._mdat_payload)
        remaining = self._mdat_payload
        zeros = bytes(min(_CHUNK_SIZE, remaining))
        while remaining > 0:
            n = min(len(zeros), remaining)
            yield zeros if n == len(zeros) else zeros[:n]
            remaining -= n

    # ------------------------------------------------------------------ control

    def inject(
        self,
        endpoint: Endpoint,
        status: int,
        body: Any = None,
        *,
        times: int = 1,
        delay: float = 0.0,
        headers: dict[str, str] | None = None,
        create_job: bool = False,
    ) -> None:
        """Answer the next ``times`` calls of ``endpoint`` with HTTP ``status`` and ``body``.

        ``body``: dict/list -> JSON; str -> sent raw (as application/json unless ``headers``
        set a Content-Type); bytes -> sent raw; None -> the standard error body. The answer
        waits ``delay`` seconds (on top of :meth:`set_delay`). With ``create_job`` (create
        only) a valid request still creates and charges the job before the fault is sent.
        Faults queue in order and take precedence over auth and validation.
        """
        if endpoint not in self._faults:
            raise ValueError(f"unknown endpoint {endpoint!r}")
        if create_job and endpoint != "create":
            raise ValueError("create_job only applies to the create endpoint")
        if times < 1:
            raise ValueError("times must be >= 1")
        self._faults[endpoint].append(
            _Fault(status, body, times, delay, dict(headers or {}), create_job)
        )

    def set_delay(self, endpoint: Endpoint, seconds: float) -> None:
        """Delay every answer of ``endpoint`` by ``seconds``.

        Create and poll are processed first, then delayed: a create that the client gives up on
        still creates (and charges) its job, as upstream does.
        """
        if endpoint not in self._delays:
            raise ValueError(f"unknown endpoint {endpoint!r}")
        self._delays[endpoint] = max(0.0, seconds)

    def video_url(self, generation_id: str) -> str:
        """The signed link a completed job reports (stable once issued)."""
        job = self._jobs.get(generation_id)
        if job is not None and job.video_url is not None:
            return job.video_url
        expires = int(time.time() + self.link_ttl)
        self._issued.add((generation_id, expires))
        url = (
            f"{self.origin}{VIDEO_PATH_PREFIX}{generation_id}.mp4"
            f"?Expires={expires}&Signature={self._sign(generation_id, expires)}"
        )
        if job is not None:
            job.video_url = url
        return url

    def expire_videos(self) -> None:
        """Make every link issued so far expired: fetching it answers 403 from now on."""
        self._revoked |= self._issued

    # ------------------------------------------------------------------ the stand-in's hooks

    def _middlewares(self) -> list[Middleware]:
        return [self._record]

    @web.middleware
    async def _record(self, request: web.Request, handler: Answer) -> web.StreamResponse:
        record = RecordedRequest(
            method=request.method,
            path=request.path,
            query=dict(request.query),
            headers=dict(request.headers),
            body=None,
            at=time.monotonic(),
        )
        self.requests.append(record)
        body = await read_body(request)
        record.body, record.parsed_json = body.value, body.is_json
        response = await handler(request)
        record.response_status = response.status
        return response

    async def _guarded(
        self, route: Route, request: web.Request, answer: Answer
    ) -> web.StreamResponse:
        fault = self._take_fault(route)
        delay = self._delays[route] + (fault.delay if fault is not None else 0.0)
        if route == "video":
            # A video's answer streams out as it is made: the delay comes first.
            await self._sleep(delay)
            return await answer(request) if fault is None else self._fault_response(request, fault)
        if fault is None:
            response = await answer(request)
            await self._sleep(delay)
            return response
        if fault.create_job:
            await answer(request)
        await self._sleep(delay)
        return self._fault_response(request, fault)

    def _created_response(self, job: EmulatedJob) -> web.Response:
        if self.create_response is None:
            return super()._created_response(job)
        status, payload = self.create_response(job)
        return web.json_response(payload, status=status)

    def _poll_response(self, job: EmulatedJob, payload: dict[str, Any]) -> web.Response:
        if self.poll_response is None:
            return super()._poll_response(job, payload)
        status, body = self.poll_response(job, payload)
        return web.json_response(body, status=status)

    def _video_seconds(self, job: EmulatedJob) -> float:
        return VIDEO_DURATION_SECONDS

    async def _serve_video(self, request: web.Request, job: EmulatedJob) -> web.StreamResponse:
        generation_id = job.generation_id
        try:
            expires = int(request.query.get("Expires", ""))
        except ValueError:
            return cdn_error(403, "AccessDenied", "Missing or invalid Expires")
        signature = request.query.get("Signature", "")
        if not hmac.compare_digest(signature, self._sign(generation_id, expires)):
            return cdn_error(403, "AccessDenied", "Invalid signature")
        if (generation_id, expires) in self._revoked or time.time() >= expires:
            return cdn_error(403, "AccessDenied", "Request has expired")

        response = web.StreamResponse(
            status=200, headers={"Content-Type": "video/mp4", "Accept-Ranges": "none"}
        )
        response.content_length = self.video_size
        await response.prepare(request)
        if request.method == "HEAD":
            return response
        if self.video_size <= _STREAM_THRESHOLD:
            await response.write(self.video_bytes)
        else:
            for chunk in self._video_chunks():
                await response.write(chunk)
        await response.write_eof()
        self.video_downloads += 1
        return response

    # ------------------------------------------------------------------ internals

    def _sign(self, generation_id: str, expires: int) -> str:
        message = f"{VIDEO_PATH_PREFIX}{generation_id}.mp4:{expires}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    async def _sleep(self, seconds: float) -> None:
        if seconds <= 0:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), timeout=seconds)

    def _take_fault(self, route: Route) -> _Fault | None:
        queue = self._faults[route]
        if not queue:
            return None
        fault = queue[0]
        fault.times -= 1
        if fault.times <= 0:
            queue.popleft()
        return fault

    def _fault_response(self, request: web.Request, fault: _Fault) -> web.Response:
        headers = dict(fault.headers)
        has_type = any(k.lower() == "content-type" for k in headers)
        if fault.body is None:
            response = error_response(fault.status, request.path)
            response.headers.update(headers)
            return response
        if isinstance(fault.body, bytes):
            if not has_type:
                headers["Content-Type"] = "application/octet-stream"
            return web.Response(status=fault.status, body=fault.body, headers=headers)
        if isinstance(fault.body, str):
            if not has_type:
                headers["Content-Type"] = "application/json; charset=utf-8"
            return web.Response(status=fault.status, body=fault.body.encode(), headers=headers)
        if not has_type:
            headers["Content-Type"] = "application/json; charset=utf-8"
        return web.Response(status=fault.status, text=json.dumps(fault.body), headers=headers)
