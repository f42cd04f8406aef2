"""A local emulator of the AI/ML API's MiniMax video endpoints (model ``video-01-live2d``).

It serves, on 127.0.0.1 and a free port:

* ``POST /v2/generate/video/minimax/generation`` - create a job (validated like the real API),
* ``GET  /v2/generate/video/minimax/generation?generation_id=...`` - poll a job,
* ``POST /v2/video/generations`` and ``GET /v2/video/generations?generation_id=...`` - the same
  on the universal endpoint, with its own field names (``image_url``, ``enhance_prompt``),
* ``GET  /videos/<id>.mp4?Expires=...&Signature=...`` - the signed "CDN" link of a finished video.

Every request is recorded in :attr:`AimlApiEmulator.requests` before it is answered, faults
included, so a test can assert exactly what the product sent (and how often: each create costs
money upstream). Behaviour follows ``shared/seed/video-01-live2d.txt`` and
``shared/reference/aimlapi.md``. The rules and answer shapes themselves live in
:mod:`bot.sandbox.contract`, shared with the sandbox (``python -m bot.sandbox``).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import hashlib
import hmac
import json
import random
import secrets
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal, Self

from aiohttp import web

from bot.sandbox.contract import (
    CLIENT_MAX_SIZE,
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
    VALIDATION_PREFIX,
    VIDEO_PATH_PREFIX,
    check_create_body,
    check_first_frame,
    error_response,
    new_generation_id,
    status_body,
    universal_error,
)
from bot.sandbox.contract import cdn_error as _cdn_error
from bot.sandbox.timeline import status_on_timeline

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

Endpoint = Literal["create", "poll", "video"]
#: The API's two endpoints for the model: the vendor path and the universal one.
ApiPath = Literal["legacy", "universal"]
#: How a create is answered. "seed": ``{generation_id, status}``, as the model's page shows;
#: "schema": the whole poll object with ``id``, as the API's OpenAPI schema documents;
#: "universal": ``{id, status}``, as the universal endpoint's page shows; "both": the
#: seed's answer with ``id`` as well.
CreateShape = Literal["seed", "schema", "universal", "both"]
_PATHS: dict[str, ApiPath] = {GENERATION_PATH: "legacy", UNIVERSAL_PATH: "universal"}

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
class EmulatedJob:
    """A video generation job created by the emulator (one charged create)."""

    generation_id: str
    prompt: str
    prompt_optimizer: bool | None
    image_format: str
    image_size: tuple[int, int]
    polls: int = 0  # status calls answered so far
    status: str = "queued"  # current status
    image_url: str | None = None  # set when first_frame_image was an http(s) URL
    image_mime: str | None = None  # declared mime of a data URL
    image_bytes: int = 0  # decoded size of a data URL image
    outcome: str = "completed"  # final status: "completed", or "error"/"failed"
    error: Any = None  # the error value reported when the outcome is a failure
    forced_status: str | None = None  # set_status() override
    complete_next: bool = False  # complete_now() was called
    created_at: float = 0.0  # time.monotonic() at creation
    queued_until: float | None = None  # timeline mode: end of "queued"
    ready_at: float | None = None  # timeline mode: end of "generating"
    completed_at: float | None = None  # monotonic time it became completed
    finished_at: float | None = None  # monotonic time it became completed or failed
    video_url: str | None = None  # the signed link reported once completed
    endpoint: ApiPath = "legacy"  # where it was made: only there is it known


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


class AimlApiEmulator:
    """An aiohttp server emulating the AI/ML API's MiniMax video endpoints.

    Job progression is by poll count by default (``queued_polls`` polls "queued", then
    ``generating_polls`` polls "generating", then "completed"), or by wall time when
    ``timeline=(queued_seconds, generating_seconds)`` is given (each jittered by ±``jitter``
    fraction from ``random.Random(seed)``).

    ``video_size`` pads the served MP4 to exactly that many bytes (streamed when large).
    ``video_dimensions`` is its track's (width, height) as stored, and ``video_rotation`` the
    degrees (0, 90, 180 or 270) its matrix turns the picture by on display.
    ``link_ttl`` is how long a video link stays valid (9 h upstream). ``port`` may be fixed so
    that the emulator can be closed and started again on the same address, keeping its state.
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
        if queued_polls < 0 or generating_polls < 0:
            raise ValueError("poll counts must be >= 0")
        if not 0.0 <= jitter < 1.0:
            raise ValueError("jitter must be in [0, 1)")
        self.api_key = api_key
        self.queued_polls = queued_polls
        self.generating_polls = generating_polls
        self.timeline = timeline
        self.jitter = jitter
        self.link_ttl = link_ttl
        self.unknown_id_status: int = 404
        self.video_downloads: int = 0
        self.requests: list[RecordedRequest] = []
        # Optional hooks to emulate documented response variants (201, missing status, meta...).
        self.create_response: Callable[[EmulatedJob], tuple[int, Any]] | None = None
        self.poll_response: Callable[[EmulatedJob, dict[str, Any]], tuple[int, Any]] | None = None
        #: How creates are answered on each endpoint (see CreateShape).
        self.create_shapes: dict[ApiPath, CreateShape] = {
            "legacy": "seed",
            "universal": "universal",
        }
        #: Endpoints this API does not have: their routes answer 404 "Cannot POST ...".
        self.missing_endpoints: set[ApiPath] = set()
        #: ``meta.usage`` reported by every status answer, e.g. ``{"credits_used": 20}``.
        self.usage: dict[str, float] | None = None
        #: Report the video's length at the top level of a status answer, not in ``video``.
        self.duration_at_top = False
        self._final_at_create: collections.deque[tuple[str, Any]] = collections.deque()

        #: The account's rate: more than this many creates within ``rate_window`` seconds are
        #: answered 429 with a ``Retry-After``, as upstream does (about 20 a minute on a paid
        #: account). None: no limit.
        self.creates_per_window = creates_per_window
        self.rate_window = rate_window
        self._accepted_at: collections.deque[float] = collections.deque()
        #: When each create was let through the account's rate (monotonic), all along.
        self.rate_passed: list[float] = []
        self._jobs: dict[str, EmulatedJob] = {}
        self._rng = random.Random(seed)
        self._faults: dict[str, collections.deque[_Fault]] = {
            "create": collections.deque(),
            "poll": collections.deque(),
            "video": collections.deque(),
        }
        self._delays: dict[str, float] = {"create": 0.0, "poll": 0.0, "video": 0.0}
        self._failures: collections.deque[tuple[str, Any]] = collections.deque()
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

        self._in_flight: dict[int, RecordedRequest] = {}
        self._port = port
        self._runner: web.AppRunner | None = None
        self._closing = asyncio.Event()

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Start serving on 127.0.0.1 (a free port unless one was given)."""
        if self._runner is not None:
            return
        self._closing = asyncio.Event()
        app = web.Application(client_max_size=CLIENT_MAX_SIZE, middlewares=[self._middleware])
        for path in _PATHS:
            app.router.add_post(path, self._on_create)
            app.router.add_get(path, self._on_poll)
        app.router.add_get(VIDEO_PATH_PREFIX + "{generation_id}.mp4", self._on_video)
        app.router.add_route("*", "/{tail:.*}", self._on_unknown_route)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", self._port, reuse_address=True)
        await site.start()
        self._port = int(runner.addresses[0][1])
        self._runner = runner

    async def close(self) -> None:
        """Stop serving; pending delayed answers are cut short. State is kept."""
        self._closing.set()
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

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

    # ------------------------------------------------------------------ inspection

    @property
    def port(self) -> int:
        if self._runner is None and self._port == 0:
            raise RuntimeError("emulator not started")
        return self._port

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.origin}/v2"

    @property
    def jobs(self) -> dict[str, EmulatedJob]:
        """Every created job by generation_id (statuses refreshed in timeline mode)."""
        now = time.monotonic()
        for job in self._jobs.values():
            if self.timeline is not None:
                self._advance(job, now)
        return self._jobs

    @property
    def creates(self) -> list[RecordedRequest]:
        """Every POST to a create endpoint (either), including rejected and faulted ones."""
        return [r for r in self.requests if r.method == "POST" and r.path in _PATHS]

    @property
    def polls(self) -> list[RecordedRequest]:
        """Every GET to a status endpoint (either), including rejected and faulted ones."""
        return [r for r in self.requests if r.method == "GET" and r.path in _PATHS]

    @staticmethod
    def endpoint_of(request: RecordedRequest) -> ApiPath | None:
        """Which of the API's endpoints a request went to; None for other paths."""
        return _PATHS.get(request.path)

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

    def fail_next_job(self, error: Any = DEFAULT_FAILURE, *, status: str = "error") -> None:
        """Make the next created job end in ``status`` with ``error`` instead of completing.

        Calls queue up: each applies to one further job, in order.
        """
        self._failures.append((status, error))

    def finish_at_create(self, status: str = "completed", error: Any = DEFAULT_FAILURE) -> None:
        """Make the next created job final in its create answer already: ``"completed"``
        with its video, or ``"error"`` with ``error`` (a refusal at submission). It is still
        made and charged. Calls queue up, one job each."""
        self._final_at_create.append((status, error))

    def set_status(self, generation_id: str, status: str) -> None:
        """Force a job's reported status from now on (any string, documented or not)."""
        job = self._jobs[generation_id]
        job.forced_status = status
        job.status = status

    def complete_now(self, generation_id: str) -> None:
        """Make a job answer "completed" from its next poll on (cancels a planned failure)."""
        job = self._jobs[generation_id]
        job.complete_next = True
        job.outcome = "completed"
        job.error = None
        job.forced_status = None
        if self.timeline is not None:
            now = time.monotonic()
            job.queued_until = min(job.queued_until or now, now)
            job.ready_at = min(job.ready_at or now, now)

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

    # ------------------------------------------------------------------ internals

    def _sign(self, generation_id: str, expires: int) -> str:
        message = f"{VIDEO_PATH_PREFIX}{generation_id}.mp4:{expires}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def _error_response(
        self, request: web.Request, status: int, message: str | None = None
    ) -> web.Response:
        return error_response(status, request.path, message)

    def _validation_error(self, request: web.Request, what: str) -> web.Response:
        return self._error_response(request, 400, VALIDATION_PREFIX + what)

    async def _sleep(self, seconds: float) -> None:
        if seconds <= 0:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), timeout=seconds)

    @web.middleware
    async def _middleware(
        self,
        request: web.Request,
        handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
    ) -> web.StreamResponse:
        record = RecordedRequest(
            method=request.method,
            path=request.path,
            query=dict(request.query),
            headers=dict(request.headers),
            body=None,
            at=time.monotonic(),
        )
        self.requests.append(record)
        # Lets handlers reuse the parsed body: a 28 MB JSON body is parsed only once.
        self._in_flight[id(request)] = record
        try:
            return await self._read_and_handle(request, handler, record)
        finally:
            del self._in_flight[id(request)]

    async def _read_and_handle(
        self,
        request: web.Request,
        handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
        record: RecordedRequest,
    ) -> web.StreamResponse:
        try:
            raw = await request.read()
        except web.HTTPRequestEntityTooLarge:
            record.response_status = 413
            return self._error_response(request, 413)
        if raw:
            text = raw.decode("utf-8", errors="replace")
            try:
                record.body = json.loads(text)
                record.parsed_json = True
            except ValueError:
                record.body = text
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            response = self._error_response(request, exc.status, exc.reason)
        record.response_status = response.status
        return response

    def _take_fault(self, endpoint: str) -> _Fault | None:
        queue = self._faults[endpoint]
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
            response = self._error_response(request, fault.status)
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

    def _authorized(self, request: web.Request) -> bool:
        scheme, _, token = request.headers.get("Authorization", "").strip().partition(" ")
        return scheme.lower() == "bearer" and token.strip() == self.api_key

    async def _with_faults(
        self,
        endpoint: str,
        request: web.Request,
        process: Callable[[web.Request], Awaitable[web.Response]],
    ) -> web.Response:
        fault = self._take_fault(endpoint)
        delay = self._delays[endpoint]
        if fault is None:
            response = await process(request)
            await self._sleep(delay)
            return response
        if fault.create_job:
            await process(request)
        await self._sleep(delay + fault.delay)
        return self._fault_response(request, fault)

    # ------------------------------------------------------------------ create

    async def _on_create(self, request: web.Request) -> web.StreamResponse:
        if _PATHS[request.path] in self.missing_endpoints:
            return await self._on_unknown_route(request)
        limited = self._over_the_rate(request.path)
        if limited is not None:
            return limited
        return await self._with_faults("create", request, self._process_create)

    def _over_the_rate(self, path: str) -> web.Response | None:
        """A 429 when the account's rate is spent; else counts this create against it."""
        if self.creates_per_window is None:
            return None
        now = time.monotonic()
        while self._accepted_at and now - self._accepted_at[0] >= self.rate_window:
            self._accepted_at.popleft()
        if len(self._accepted_at) >= self.creates_per_window:
            wait = self.rate_window - (now - self._accepted_at[0])
            response = error_response(
                429, GENERATION_PATH, "Too Many Requests: rate limit exceeded"
            )
            response.headers["Retry-After"] = f"{max(wait, 0.001):.3f}"
            return response
        self._accepted_at.append(now)
        self.rate_passed.append(now)
        return None

    async def _process_create(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._error_response(request, 401, UNAUTHORIZED_MESSAGE)
        endpoint = _PATHS[request.path]
        universal = endpoint == "universal"
        # NestJS-style: only an application/json body is parsed; anything else is no object.
        record = self._in_flight[id(request)]
        body = (
            record.body
            if record.parsed_json and request.content_type == "application/json"
            else None
        )
        checked = check_create_body(body, universal=universal)
        if isinstance(checked, str):
            return self._validation_error(request, checked)
        image = await asyncio.to_thread(check_first_frame, checked.first_frame_image)
        if isinstance(image, str):
            field = "image_url" if universal else "first_frame_image"
            return self._validation_error(request, f"{field}: {image}")
        job = self._create_job(
            checked.prompt,
            checked.prompt_optimizer,
            image.image_format,
            image.size,
            image_url=image.url,
            image_mime=image.mime,
            image_bytes=image.nbytes,
            endpoint=endpoint,
        )
        if self._final_at_create:
            status, error = self._final_at_create.popleft()
            job.forced_status = job.status = status
            if status in SUCCESS_STATUSES:
                job.outcome, job.error = status, None
            else:
                job.outcome, job.error = status, error
            self._advance(job, time.monotonic())

        if self.create_response is not None:
            code, payload = self.create_response(job)
            return web.json_response(payload, status=code)
        return web.json_response(self._created_body(job))

    def _created_body(self, job: EmulatedJob) -> dict[str, Any]:
        shape = self.create_shapes[job.endpoint]
        if shape == "schema" or job.status != "queued":
            # A final answer has a video or an error to carry: the whole object.
            full = self._status_payload(job)
            if shape in ("seed", "both"):
                full["generation_id"] = job.generation_id
            if shape == "seed":
                del full["id"]
            return full
        if shape == "seed":
            return {"generation_id": job.generation_id, "status": job.status}
        if shape == "both":
            return {"generation_id": job.generation_id, "id": job.generation_id, "status": "queued"}
        return {"id": job.generation_id, "status": job.status}

    def _create_job(
        self,
        prompt: str,
        optimizer: bool | None,
        image_format: str,
        image_size: tuple[int, int],
        *,
        image_url: str | None = None,
        image_mime: str | None = None,
        image_bytes: int = 0,
        endpoint: ApiPath = "legacy",
    ) -> EmulatedJob:
        generation_id = new_generation_id(self._jobs)
        now = time.monotonic()
        job = EmulatedJob(
            generation_id=generation_id,
            prompt=prompt,
            prompt_optimizer=optimizer,
            image_format=image_format,
            image_size=image_size,
            image_url=image_url,
            image_mime=image_mime,
            image_bytes=image_bytes,
            created_at=now,
            endpoint=endpoint,
        )
        if self._failures:
            job.outcome, job.error = self._failures.popleft()
        if self.timeline is not None:
            queued_s, generating_s = self.timeline
            queued_s *= 1.0 + self._rng.uniform(-self.jitter, self.jitter)
            generating_s *= 1.0 + self._rng.uniform(-self.jitter, self.jitter)
            job.queued_until = now + queued_s
            job.ready_at = now + queued_s + generating_s
        self._jobs[generation_id] = job
        return job

    # ------------------------------------------------------------------ poll

    async def _on_poll(self, request: web.Request) -> web.StreamResponse:
        if _PATHS[request.path] in self.missing_endpoints:
            return await self._on_unknown_route(request)
        return await self._with_faults("poll", request, self._process_poll)

    async def _process_poll(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._error_response(request, 401, UNAUTHORIZED_MESSAGE)
        generation_id = request.query.get("generation_id", "")
        if not generation_id:
            return self._validation_error(request, "generation_id: Required")
        job = self._jobs.get(generation_id)
        if job is None or job.endpoint != _PATHS[request.path]:
            # A generation is known only on the endpoint that made it.
            message = (
                f"Generation {generation_id} not found" if self.unknown_id_status == 404 else None
            )
            return self._error_response(request, self.unknown_id_status, message)
        job.polls += 1
        self._advance(job, time.monotonic())
        payload = self._status_payload(job)
        if self.poll_response is not None:
            status, body = self.poll_response(job, payload)
            return web.json_response(body, status=status)
        return web.json_response(payload)

    def _status_payload(self, job: EmulatedJob) -> dict[str, Any]:
        """What a status call answers about ``job`` now, in its endpoint's words."""
        video: dict[str, Any] | None = None
        if job.status in SUCCESS_STATUSES:
            video = {"url": self.video_url(job.generation_id)}
            if not self.duration_at_top:
                video["duration"] = VIDEO_DURATION_SECONDS
        error = universal_error(job.error) if job.endpoint == "universal" else job.error
        payload = status_body(
            job.generation_id, job.status, video=video, error=error, usage=self.usage
        )
        if self.duration_at_top and video is not None:
            payload["duration"] = VIDEO_DURATION_SECONDS
        return payload

    def _advance(self, job: EmulatedJob, now: float) -> None:
        """Recompute a job's status (poll count or wall time) and stamp completion times."""
        if job.forced_status is not None:
            status = job.forced_status
        elif job.complete_next:
            status = "completed"
        elif job.ready_at is not None and job.queued_until is not None:
            status = status_on_timeline(
                now, queued_until=job.queued_until, ready_at=job.ready_at, outcome=job.outcome
            )
        elif job.polls <= self.queued_polls:
            status = "queued"
        elif job.polls <= self.queued_polls + self.generating_polls:
            status = "generating"
        else:
            status = job.outcome
        job.status = status
        if status in SUCCESS_STATUSES or status in FAILURE_STATUSES:
            # In timeline mode the job became final at its planned time, not at this poll.
            stamp = job.ready_at if job.ready_at is not None and now >= job.ready_at else now
            if job.finished_at is None:
                job.finished_at = stamp
            if status in SUCCESS_STATUSES and job.completed_at is None:
                job.completed_at = stamp

    # ------------------------------------------------------------------ video

    async def _on_video(self, request: web.Request) -> web.StreamResponse:
        fault = self._take_fault("video")
        delay = self._delays["video"] + (fault.delay if fault is not None else 0.0)
        await self._sleep(delay)
        if fault is not None:
            return self._fault_response(request, fault)

        generation_id = request.match_info["generation_id"]
        if generation_id not in self._jobs:
            return _cdn_error(404, "NoSuchKey", "The specified key does not exist.")
        try:
            expires = int(request.query.get("Expires", ""))
        except ValueError:
            return _cdn_error(403, "AccessDenied", "Missing or invalid Expires")
        signature = request.query.get("Signature", "")
        if not hmac.compare_digest(signature, self._sign(generation_id, expires)):
            return _cdn_error(403, "AccessDenied", "Invalid signature")
        if (generation_id, expires) in self._revoked or time.time() >= expires:
            return _cdn_error(403, "AccessDenied", "Request has expired")

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

    async def _on_unknown_route(self, request: web.Request) -> web.Response:
        return self._error_response(request, 404, f"Cannot {request.method} {request.path}")
