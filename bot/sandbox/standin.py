"""The AI/ML API's MiniMax video endpoints as one server, which each stand-in configures.

:class:`ApiStandIn` serves both endpoints of the contract (:mod:`bot.sandbox.contract`): the
routes, the create and status calls, the key check, the account's rate, the error bodies and
each job's life (by status calls, or on a clock). It refuses what the API refuses. Two
stand-ins configure it:

* the sandbox (:mod:`bot.sandbox.server`), for people: any key, a job's life on a clock,
  real MP4s rendered from the first frame;
* the test suite's emulator (``tests/emulators/aimlapi_emulator.py``), for tests: one key,
  a life counted in status calls, signed links, every request recorded and faults injected.

What differs between them is a constructor argument, an attribute, or one of the hooks
that start with ``_`` and say what they decide (:meth:`ApiStandIn._guarded`,
:meth:`ApiStandIn._ready`, ...).
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final, Generic, Literal, TypeVar

from aiohttp import web
from aiohttp.typedefs import Middleware

from bot.sandbox.contract import (
    CLIENT_MAX_SIZE,
    FAILURE_STATUSES,
    GENERATION_PATH,
    MODERATION_FAILURE,
    SUCCESS_STATUSES,
    UNAUTHORIZED_MESSAGE,
    UNIVERSAL_PATH,
    VIDEO_PATH_PREFIX,
    FirstFrameImage,
    bearer_token,
    cdn_error,
    check_create_body,
    check_first_frame,
    error_response,
    new_generation_id,
    status_body,
    universal_error,
    validation_error,
)
from bot.sandbox.serving import LOOPBACK, LoopbackServer
from bot.sandbox.timeline import JobStatus, Timeline

#: The API's two endpoints for the model: the vendor path ("legacy") and the universal one.
ApiPath = Literal["legacy", "universal"]
#: The calls a client makes: create a job, ask its status, fetch its video.
Route = Literal["create", "poll", "video"]
#: How a create is answered. "seed": ``{generation_id, status}``, as the model's page shows;
#: "schema": the whole status object with ``id``, as the API's OpenAPI schema documents;
#: "universal": ``{id, status}``, as the universal endpoint's page shows; "both": the
#: seed's answer with ``id`` as well.
CreateShape = Literal["seed", "schema", "universal", "both"]

PATHS: Final[dict[str, ApiPath]] = {GENERATION_PATH: "legacy", UNIVERSAL_PATH: "universal"}

_BODY: Final = web.RequestKey("standin_body", object)


@dataclass(frozen=True, slots=True)
class RequestBody:
    """A request's body, read once however many layers look at it."""

    value: Any  # the parsed JSON; the text when it is not JSON; None when empty
    is_json: bool  # it parsed as JSON (a JSON string is a str too)
    too_large: bool = False  # over CLIENT_MAX_SIZE: nothing was kept


async def read_body(request: web.Request) -> RequestBody:
    """The body of ``request``, read and parsed at the first call and kept for the next."""
    kept = request.get(_BODY)
    if isinstance(kept, RequestBody):
        return kept
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        body = RequestBody(None, is_json=False, too_large=True)
    else:
        body = RequestBody(None, is_json=False)
        if raw:
            text = raw.decode("utf-8", errors="replace")
            try:
                body = RequestBody(json.loads(text), is_json=True)
            except ValueError:
                body = RequestBody(text, is_json=False)
    request[_BODY] = body
    return body


@dataclass
class StandInJob:
    """A video job a stand-in accepted: one charged create upstream."""

    generation_id: str
    number: int  # 1 for the first job since start, and so on
    prompt: str
    prompt_optimizer: bool | None  # None when the create left it out
    image: FirstFrameImage
    endpoint: ApiPath = "legacy"  # where it was made: only there is it known
    created_at: float = 0.0  # time.monotonic() at creation
    timeline: Timeline | None = None  # its clock; None: it moves on by status calls
    polls: int = 0  # status calls answered so far
    status: str = "queued"  # current status
    reported: str = "queued"  # the status last answered to a status call
    outcome: str = "completed"  # final status: "completed", or "error"/"failed"
    error: Any = None  # the error value reported when the outcome is a failure
    forced_status: str | None = None  # set_status() override
    complete_next: bool = False  # complete_now() was called
    completed_at: float | None = None  # monotonic time it became completed
    finished_at: float | None = None  # monotonic time it became completed or failed
    video_url: str | None = None  # the link reported once completed

    @property
    def image_format(self) -> str:
        return self.image.image_format

    @property
    def image_size(self) -> tuple[int, int]:
        return self.image.size

    @property
    def image_url(self) -> str | None:
        """The first frame's http(s) URL, when it was given as one (never fetched)."""
        return self.image.url

    @property
    def image_mime(self) -> str | None:
        """The declared type of a data URL's image."""
        return self.image.mime

    @property
    def image_bytes(self) -> int:
        """The decoded size of a data URL's image."""
        return self.image.nbytes

    @property
    def queued_until(self) -> float | None:
        return None if self.timeline is None else self.timeline.queued_until

    @property
    def ready_at(self) -> float | None:
        return None if self.timeline is None else self.timeline.ready_at


JobT = TypeVar("JobT", bound=StandInJob)
Answer = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ApiStandIn(LoopbackServer, Generic[JobT]):
    """A server of the API's MiniMax video endpoints; jobs are kept as ``job_type``.

    ``api_key``: the one key it takes, or None for any non-empty Bearer key. It listens on
    ``host``:``port`` (see :class:`LoopbackServer`). A job's life: ``queued_polls`` status
    calls "queued", then ``generating_polls`` "generating", then its outcome; or, with
    ``timeline=(queued_seconds, generating_seconds)``, on the clock, each span jittered by
    ±``jitter`` (a fraction) from ``random.Random(seed)``. ``fail_every`` N makes jobs N,
    2N, ... fail with a moderation error. More than ``creates_per_window`` creates within
    ``rate_window`` seconds are answered 429 with a ``Retry-After``, as upstream does; None:
    no limit.
    ``log``: where to tell what happens, for people watching; None tells nothing.
    """

    def __init__(
        self,
        job_type: type[JobT],
        *,
        api_key: str | None,
        port: int = 0,
        host: str = LOOPBACK,
        queued_polls: int = 1,
        generating_polls: int = 2,
        timeline: tuple[float, float] | None = None,
        jitter: float = 0.0,
        seed: int = 0,
        fail_every: int = 0,
        creates_per_window: int | None = None,
        rate_window: float = 60.0,
        log: logging.Logger | None = None,
    ) -> None:
        if queued_polls < 0 or generating_polls < 0:
            raise ValueError("poll counts must be >= 0")
        if not 0.0 <= jitter < 1.0:
            raise ValueError("jitter must be in [0, 1)")
        super().__init__(port, host)
        self._job_type = job_type
        self.api_key = api_key
        self.queued_polls = queued_polls
        self.generating_polls = generating_polls
        self.timeline = timeline
        self.jitter = jitter
        self.fail_every = fail_every
        self.creates_per_window = creates_per_window
        self.rate_window = rate_window
        self._log = log
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
        #: What a status call for an id this endpoint never made answers.
        self.unknown_id_status = 404
        #: When each create was let through the account's rate (monotonic), all along.
        self.rate_passed: list[float] = []
        self._accepted_at: collections.deque[float] = collections.deque()
        self._jobs: dict[str, JobT] = {}
        self._rng = random.Random(seed)
        self._failures: collections.deque[tuple[str, Any]] = collections.deque()
        self._final_at_create: collections.deque[tuple[str, Any]] = collections.deque()

    # ------------------------------------------------------------------ serving

    def make_app(self) -> web.Application:
        app = web.Application(
            client_max_size=CLIENT_MAX_SIZE,
            middlewares=[*self._middlewares(), self._read_first],
        )
        for path in PATHS:
            app.router.add_post(path, self._on_create)
            app.router.add_get(path, self._on_poll)
        app.router.add_get(VIDEO_PATH_PREFIX + "{generation_id}.mp4", self._on_video)
        app.router.add_route("*", "/{tail:.*}", self._on_unknown_route)
        return app

    @property
    def base_url(self) -> str:
        """What the bot's ``AIMLAPI_BASE_URL`` should be."""
        return f"{self.origin}/v2"

    @property
    def jobs(self) -> dict[str, JobT]:
        """Every job accepted since start by generation id, oldest first; the statuses of
        jobs on a clock are brought up to now."""
        now = time.monotonic()
        for job in self._jobs.values():
            if job.timeline is not None:
                self._advance(job, now)
        return self._jobs

    # ------------------------------------------------------------------ control

    def fail_next_job(self, error: Any = MODERATION_FAILURE, *, status: str = "error") -> None:
        """Make the next created job end in ``status`` with ``error`` instead of completing.

        Calls queue up: each applies to one further job, in order.
        """
        self._failures.append((status, error))

    def finish_at_create(self, status: str = "completed", error: Any = MODERATION_FAILURE) -> None:
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
        if job.timeline is not None:
            now = time.monotonic()
            job.timeline = Timeline(
                min(job.timeline.queued_until, now), min(job.timeline.ready_at, now)
            )

    # ------------------------------------------------------------------ hooks

    def video_url(self, generation_id: str) -> str:
        """The link a completed job reports."""
        raise NotImplementedError

    def _video_seconds(self, job: JobT) -> float:
        """The length a status answer gives for ``job``'s video."""
        raise NotImplementedError

    async def _serve_video(self, request: web.Request, job: JobT) -> web.StreamResponse:
        """The answer to a request for the video of ``job``, a job this server made."""
        raise NotImplementedError

    def _middlewares(self) -> list[Middleware]:
        """Middlewares around every request, before its body is read."""
        return []

    async def _guarded(
        self, route: Route, request: web.Request, answer: Answer
    ) -> web.StreamResponse:
        """How a call of ``route`` that reached its endpoint is answered: by ``answer``."""
        return await answer(request)

    def _ready(self, job: JobT) -> bool:
        """Whether ``job``'s video can be fetched: until then it stays "generating"."""
        return True

    def _accepted(self, job: JobT) -> None:
        """Told of each job made, after it is recorded and before its create is answered."""

    def _usage_of(self, job: JobT) -> dict[str, float] | None:
        """The ``meta.usage`` of ``job``'s status answers."""
        return self.usage

    def _created_response(self, job: JobT) -> web.Response:
        """The answer to the create that made ``job``."""
        return web.json_response(self._created_body(job))

    def _poll_response(self, job: JobT, payload: dict[str, Any]) -> web.Response:
        """The answer to a status call, whose body would be ``payload``."""
        return web.json_response(payload)

    def _say(self, message: str, *args: object) -> None:
        if self._log is not None:
            self._log.info(message, *args)

    # ------------------------------------------------------------------ every request

    @web.middleware
    async def _read_first(self, request: web.Request, handler: Answer) -> web.StreamResponse:
        # Read before anything else: a body over the limit is refused whatever the route.
        if (await read_body(request)).too_large:
            self._say("%s refused (413): body over %d bytes", request.path, CLIENT_MAX_SIZE)
            return error_response(413, request.path)
        try:
            return await handler(request)
        except web.HTTPException as exc:
            return error_response(exc.status, request.path, exc.reason)

    def _authorized(self, request: web.Request) -> bool:
        key = bearer_token(request.headers.get("Authorization", ""))
        return key is not None and (self.api_key is None or key == self.api_key)

    async def _on_unknown_route(self, request: web.Request) -> web.Response:
        return error_response(404, request.path, f"Cannot {request.method} {request.path}")

    # ------------------------------------------------------------------ create

    async def _on_create(self, request: web.Request) -> web.StreamResponse:
        if PATHS[request.path] in self.missing_endpoints:
            return await self._on_unknown_route(request)
        limited = self._over_the_rate(request.path)
        if limited is not None:
            return limited
        return await self._guarded("create", request, self._create)

    def _over_the_rate(self, path: str) -> web.Response | None:
        """A 429 when the account's rate is spent; else counts this create against it."""
        if self.creates_per_window is None:
            return None
        now = time.monotonic()
        while self._accepted_at and now - self._accepted_at[0] >= self.rate_window:
            self._accepted_at.popleft()
        if len(self._accepted_at) >= self.creates_per_window:
            wait = self.rate_window - (now - self._accepted_at[0])
            self._say("create refused (429): over %d a window", self.creates_per_window)
            response = error_response(429, path)
            response.headers["Retry-After"] = f"{max(wait, 0.001):.3f}"
            return response
        self._accepted_at.append(now)
        self.rate_passed.append(now)
        return None

    async def _create(self, request: web.Request) -> web.Response:
        path = request.path
        if not self._authorized(request):
            self._say("create refused (401): no Bearer key, or not the right one")
            return error_response(401, path, UNAUTHORIZED_MESSAGE)
        endpoint = PATHS[path]
        universal = endpoint == "universal"
        body = await read_body(request)
        # Like the API (NestJS), only an application/json body is read; else it is no object.
        value = body.value if body.is_json and request.content_type == "application/json" else None
        checked = check_create_body(value, universal=universal)
        if isinstance(checked, str):
            return self._refuse(path, checked)
        image = await asyncio.to_thread(check_first_frame, checked.first_frame_image)
        if isinstance(image, str):
            field = "image_url" if universal else "first_frame_image"
            return self._refuse(path, f"{field}: {image}")
        job = self._make_job(checked.prompt, checked.prompt_optimizer, image, endpoint)
        return self._created_response(job)

    def _refuse(self, path: str, what: str) -> web.Response:
        self._say("create refused (400): %s", what)
        return validation_error(path, what)

    def _make_job(
        self, prompt: str, optimizer: bool | None, image: FirstFrameImage, endpoint: ApiPath
    ) -> JobT:
        now = time.monotonic()
        number = len(self._jobs) + 1
        job = self._job_type(
            generation_id=new_generation_id(self._jobs),
            number=number,
            prompt=prompt,
            prompt_optimizer=optimizer,
            image=image,
            endpoint=endpoint,
            created_at=now,
        )
        if self._failures:
            job.outcome, job.error = self._failures.popleft()
        elif self.fail_every > 0 and number % self.fail_every == 0:
            job.outcome, job.error = JobStatus.ERROR.value, MODERATION_FAILURE
        if self.timeline is not None:
            queued, generating = self.timeline
            queued *= 1.0 + self._rng.uniform(-self.jitter, self.jitter)
            generating *= 1.0 + self._rng.uniform(-self.jitter, self.jitter)
            job.timeline = Timeline.starting(now, queued, generating)
        self._jobs[job.generation_id] = job
        if self._final_at_create:
            status, error = self._final_at_create.popleft()
            job.forced_status = job.status = job.outcome = status
            job.error = None if status in SUCCESS_STATUSES else error
            self._advance(job, now)
        self._accepted(job)
        return job

    def _created_body(self, job: JobT) -> dict[str, Any]:
        shape = self.create_shapes[job.endpoint]
        if shape == "schema" or job.status != JobStatus.QUEUED:
            # A final answer has a video or an error to carry: the whole object.
            full = self.status_payload(job)
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

    # ------------------------------------------------------------------ status

    async def _on_poll(self, request: web.Request) -> web.StreamResponse:
        if PATHS[request.path] in self.missing_endpoints:
            return await self._on_unknown_route(request)
        return await self._guarded("poll", request, self._poll)

    async def _poll(self, request: web.Request) -> web.Response:
        path = request.path
        if not self._authorized(request):
            return error_response(401, path, UNAUTHORIZED_MESSAGE)
        generation_id = request.query.get("generation_id", "")
        if not generation_id:
            return validation_error(path, "generation_id: Required")
        job = self._jobs.get(generation_id)
        if job is None or job.endpoint != PATHS[path]:
            # A generation is known only on the endpoint that made it.
            status = self.unknown_id_status
            message = f"Generation {generation_id} not found" if status == 404 else None
            return error_response(status, path, message)
        job.polls += 1
        self._advance(job, time.monotonic())
        if job.status != job.reported:
            job.reported = job.status
            self._say("job %s: %s", generation_id, job.status)
        return self._poll_response(job, self.status_payload(job))

    def status_payload(self, job: JobT) -> dict[str, Any]:
        """What a status call answers about ``job`` now, in its endpoint's words."""
        video: dict[str, Any] | None = None
        seconds = 0.0
        if job.status in SUCCESS_STATUSES:
            video = {"url": self.video_url(job.generation_id)}
            seconds = self._video_seconds(job)
            if not self.duration_at_top:
                video["duration"] = seconds
        error = universal_error(job.error) if job.endpoint == "universal" else job.error
        payload = status_body(
            job.generation_id, job.status, video=video, error=error, usage=self._usage_of(job)
        )
        if self.duration_at_top and video is not None:
            payload["duration"] = seconds
        return payload

    def _advance(self, job: JobT, now: float) -> None:
        """Bring a job's status up to ``now`` and stamp when it became final."""
        if job.forced_status is not None:
            status = job.forced_status
        elif job.complete_next:
            status = JobStatus.COMPLETED.value
        elif job.timeline is not None:
            status = job.timeline.status_at(now, job.outcome)
        elif job.polls <= self.queued_polls:
            status = JobStatus.QUEUED.value
        elif job.polls <= self.queued_polls + self.generating_polls:
            status = JobStatus.GENERATING.value
        else:
            status = job.outcome
        if status in SUCCESS_STATUSES and not self._ready(job):
            status = JobStatus.GENERATING.value
        job.status = status
        if status in SUCCESS_STATUSES or status in FAILURE_STATUSES:
            # On a clock the job became final at its planned time, not at this call.
            ready_at = job.ready_at
            stamp = ready_at if ready_at is not None and now >= ready_at else now
            if job.finished_at is None:
                job.finished_at = stamp
            if status in SUCCESS_STATUSES and job.completed_at is None:
                job.completed_at = stamp

    # ------------------------------------------------------------------ video

    async def _on_video(self, request: web.Request) -> web.StreamResponse:
        return await self._guarded("video", request, self._video)

    async def _video(self, request: web.Request) -> web.StreamResponse:
        job = self._jobs.get(request.match_info["generation_id"])
        if job is None:
            return cdn_error(404, "NoSuchKey", "The specified key does not exist.")
        return await self._serve_video(request, job)
