"""The sandbox: a local stand-in of the AI/ML API's MiniMax video endpoints, spending nothing.

It serves on 127.0.0.1:

* ``POST /v2/generate/video/minimax/generation`` - create a job, validated like the real API;
* ``GET  /v2/generate/video/minimax/generation?generation_id=...`` - its status, on a clock;
* ``POST/GET /v2/video/generations`` - the same on the universal endpoint, in its own words
  (``image_url``, ``enhance_prompt``; failures as ``{name, message}``; ``meta.usage``);
* ``GET  /videos/<id>.mp4`` - the finished video, rendered here from the first frame.

Any non-empty Bearer key is accepted and none is ever logged: the bot may well send its real
key, and the sandbox must not make it worth less.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
import textwrap
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal, Self

from aiohttp import web

from bot.sandbox import contract
from bot.sandbox.contract import FirstFrameImage
from bot.sandbox.render import PLACEHOLDER, Clip, VideoSpec, render_video
from bot.sandbox.timeline import JobStatus, Timeline

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
DEFAULT_PORT = 8787
#: Finished videos kept in memory; an older job's link then answers 403, like an expired one.
MAX_KEPT_VIDEOS = 100
#: Videos rendered at once; each holds a decoded picture and a frame or two in memory.
RENDER_CONCURRENCY = 2


@dataclass(frozen=True, slots=True)
class SandboxConfig:
    """How the sandbox behaves: its port, its jobs' clock, failures and videos."""

    port: int = DEFAULT_PORT  # 0 picks a free one
    queued_seconds: float = 3.0
    generating_seconds: float = 12.0
    fail_every: int = 0  # every Nth job fails with a moderation error; 0: none does
    # How the vendor path answers a create: the model page's `{generation_id, status}`
    # ("seed"), or the whole status object with `id`, as the API's schema documents ("schema").
    create_answer: Literal["seed", "schema"] = "seed"
    video: VideoSpec = field(default_factory=VideoSpec)


@dataclass
class SandboxJob:
    """One job the sandbox accepted."""

    generation_id: str
    number: int  # 1 for the first job since start, and so on
    prompt: str
    image: FirstFrameImage
    timeline: Timeline
    fails: bool  # chosen by --fail-every: ends in "error" instead of "completed"
    universal: bool  # made on the universal endpoint, and known only there
    render: asyncio.Task[Clip] | None = None  # None for a failing job, or once evicted
    expired: bool = False  # its video was dropped from memory
    reported: str = ""  # the status last answered, to log each change once

    def status(self, now: float) -> str:
        """The status at ``now``. Completion waits for the video, so a link never 404s."""
        outcome = JobStatus.ERROR if self.fails else JobStatus.COMPLETED
        status = self.timeline.status_at(now, outcome.value)
        if status == JobStatus.COMPLETED and self.render is not None and not self.render.done():
            return JobStatus.GENERATING.value
        return status


class SandboxServer:
    """The sandbox's aiohttp server. Use ``async with SandboxServer(config) as sandbox:``."""

    def __init__(self, config: SandboxConfig | None = None) -> None:
        self.config = config or SandboxConfig()
        self._jobs: dict[str, SandboxJob] = {}
        self._kept: collections.deque[SandboxJob] = collections.deque()
        self._render_slots = asyncio.Semaphore(RENDER_CONCURRENCY)
        self._port = self.config.port
        self._runner: web.AppRunner | None = None

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Start serving on 127.0.0.1. Raises OSError when the port is taken."""
        if self._runner is not None:
            return
        app = web.Application(client_max_size=contract.CLIENT_MAX_SIZE)
        for path in (contract.GENERATION_PATH, contract.UNIVERSAL_PATH):
            app.router.add_post(path, self._on_create)
            app.router.add_get(path, self._on_poll)
        app.router.add_get(contract.VIDEO_PATH_PREFIX + "{generation_id}.mp4", self._on_video)
        app.router.add_route("*", "/{tail:.*}", self._on_unknown_route)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        try:
            site = web.TCPSite(runner, HOST, self._port)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._port = int(runner.addresses[0][1])
        self._runner = runner

    async def close(self) -> None:
        """Stop serving and drop renders still waiting for their turn."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
        pending = [
            job.render for job in self._jobs.values() if job.render and not job.render.done()
        ]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

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
        return self._port

    @property
    def origin(self) -> str:
        return f"http://{HOST}:{self._port}"

    @property
    def base_url(self) -> str:
        """What the bot's ``AIMLAPI_BASE_URL`` should be."""
        return f"{self.origin}/v2"

    @property
    def jobs(self) -> Mapping[str, SandboxJob]:
        """Every job accepted since start, by generation id, oldest first."""
        return self._jobs

    def video_url(self, generation_id: str) -> str:
        return f"{self.origin}{contract.VIDEO_PATH_PREFIX}{generation_id}.mp4"

    # ------------------------------------------------------------------ create

    async def _on_create(self, request: web.Request) -> web.Response:
        path = request.path
        if contract.bearer_token(request.headers.get("Authorization", "")) is None:
            log.info("create refused (401): no Bearer key")
            return contract.error_response(401, path, contract.UNAUTHORIZED_MESSAGE)
        try:
            raw = await request.read()
        except web.HTTPRequestEntityTooLarge:
            log.info("create refused (413): body over %d bytes", contract.CLIENT_MAX_SIZE)
            return contract.error_response(413, path)
        body: Any = None
        # Like the API, only a JSON body is read; anything else is "no object".
        if request.content_type == "application/json":
            with contextlib.suppress(ValueError):
                body = json.loads(raw)
        universal = path == contract.UNIVERSAL_PATH
        checked = contract.check_create_body(body, universal=universal)
        if isinstance(checked, str):
            return self._refuse(path, checked)
        image = await asyncio.to_thread(contract.check_first_frame, checked.first_frame_image)
        if isinstance(image, str):
            field = "image_url" if universal else "first_frame_image"
            return self._refuse(path, f"{field}: {image}")
        job = self._accept(checked.prompt, image, universal=universal)
        if universal:
            return web.json_response({"id": job.generation_id, "status": "queued"})
        if self.config.create_answer == "schema":
            return web.json_response(self._status_of(job, JobStatus.QUEUED.value))
        return web.json_response({"generation_id": job.generation_id, "status": "queued"})

    def _refuse(self, path: str, what: str) -> web.Response:
        log.info("create refused (400): %s", what)
        return contract.validation_error(path, what)

    def _accept(self, prompt: str, image: FirstFrameImage, *, universal: bool) -> SandboxJob:
        config = self.config
        generation_id = contract.new_generation_id(self._jobs)
        number = len(self._jobs) + 1
        job = SandboxJob(
            generation_id=generation_id,
            number=number,
            prompt=prompt,
            image=image,
            timeline=Timeline.starting(
                time.monotonic(), config.queued_seconds, config.generating_seconds
            ),
            fails=config.fail_every > 0 and number % config.fail_every == 0,
            universal=universal,
            reported=JobStatus.QUEUED.value,
        )
        if not job.fails:
            # Rendering starts now, so that the video is ready when the clock says so.
            job.render = asyncio.create_task(self._render(job), name=f"render-{generation_id}")
            self._keep(job)
        self._jobs[generation_id] = job
        width, height = image.size
        source = "a URL (not fetched)" if image.url is not None else f"{image.image_format}"
        log.info(
            "job %s created on the %s endpoint: %s %dx%d, prompt %r%s",
            generation_id,
            "universal" if universal else "legacy",
            source,
            width,
            height,
            textwrap.shorten(prompt, 60, placeholder="..."),
            "; it will fail (--fail-every)" if job.fails else "",
        )
        return job

    def _keep(self, job: SandboxJob) -> None:
        self._kept.append(job)
        while len(self._kept) > MAX_KEPT_VIDEOS:
            oldest = self._kept.popleft()
            if oldest.render is not None:
                oldest.render.cancel()
            oldest.render, oldest.expired = None, True

    async def _render(self, job: SandboxJob) -> Clip:
        async with self._render_slots:
            started = time.monotonic()
            try:
                clip = await asyncio.to_thread(
                    render_video, job.image.data, self.config.video, seed=int(job.generation_id)
                )
            except Exception:
                log.exception(
                    "job %s: rendering failed, serving the placeholder", job.generation_id
                )
                return PLACEHOLDER
        log.info(
            "job %s: video rendered in %.1f s (%dx%d, %d KB, %s)",
            job.generation_id,
            time.monotonic() - started,
            clip.size[0],
            clip.size[1],
            len(clip.data) // 1024,
            clip.encoder,
        )
        return clip

    # ------------------------------------------------------------------ poll

    async def _on_poll(self, request: web.Request) -> web.Response:
        path = request.path
        if contract.bearer_token(request.headers.get("Authorization", "")) is None:
            return contract.error_response(401, path, contract.UNAUTHORIZED_MESSAGE)
        generation_id = request.query.get("generation_id", "")
        if not generation_id:
            return contract.validation_error(path, "generation_id: Required")
        job = self._jobs.get(generation_id)
        if job is None or job.universal != (path == contract.UNIVERSAL_PATH):
            return contract.error_response(404, path, f"Generation {generation_id} not found")
        status = job.status(time.monotonic())
        if status != job.reported:
            job.reported = status
            log.info("job %s: %s", generation_id, status)
        return web.json_response(self._status_of(job, status))

    def _status_of(self, job: SandboxJob, status: str) -> dict[str, Any]:
        """The status answer for ``job``, in the words of the endpoint that made it."""
        video: dict[str, Any] | None = None
        if status == JobStatus.COMPLETED:
            seconds = self.config.video.seconds
            if job.render is not None and job.render.done() and not job.render.cancelled():
                seconds = job.render.result().seconds
            video = {"url": self.video_url(job.generation_id), "duration": seconds}
        error: Any = contract.MODERATION_FAILURE if job.fails else None
        if not job.universal:
            return contract.status_body(job.generation_id, status, video=video, error=error)
        # The universal endpoint reports what a job cost: nothing, here.
        return contract.status_body(
            job.generation_id,
            status,
            video=video,
            error=contract.universal_error(error) if error is not None else None,
            usage={"credits_used": 0},
        )

    # ------------------------------------------------------------------ video

    async def _on_video(self, request: web.Request) -> web.Response:
        generation_id = request.match_info["generation_id"]
        job = self._jobs.get(generation_id)
        if job is None or job.status(time.monotonic()) != JobStatus.COMPLETED:
            return contract.cdn_error(404, "NoSuchKey", "The specified key does not exist.")
        if job.render is None or job.render.cancelled():
            return contract.cdn_error(403, "AccessDenied", "Request has expired")
        clip = await asyncio.shield(job.render)
        if request.method == "GET":
            log.info("job %s: video downloaded", generation_id)
        return web.Response(body=clip.data, content_type="video/mp4")

    async def _on_unknown_route(self, request: web.Request) -> web.Response:
        return contract.error_response(404, request.path, f"Cannot {request.method} {request.path}")
