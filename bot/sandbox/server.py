"""The sandbox: a local stand-in of the AI/ML API's MiniMax video endpoints, spending nothing.

It serves on 127.0.0.1 (or the host it is told, as in a container):

* ``POST /v2/generate/video/minimax/generation`` - create a job, validated like the real API;
* ``GET  /v2/generate/video/minimax/generation?generation_id=...`` - its status, on a clock;
* ``POST/GET /v2/video/generations`` - the same on the universal endpoint, in its own words
  (``image_url``, ``enhance_prompt``; failures as ``{name, message}``; ``meta.usage``);
* ``GET  /videos/<id>.mp4`` - the finished video, rendered here from the first frame.

The endpoints are :class:`bot.sandbox.standin.ApiStandIn`'s, shared with the test suite's
emulator; this module configures them for people. Any non-empty Bearer key is accepted and
none is ever logged: the bot may well send its real key, and the sandbox must not make it
worth less.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import textwrap
import time
from dataclasses import dataclass, field
from typing import Literal

from aiohttp import web

from bot.sandbox.contract import VIDEO_PATH_PREFIX, cdn_error
from bot.sandbox.render import PLACEHOLDER, Clip, VideoSpec, render_video
from bot.sandbox.serving import LOOPBACK
from bot.sandbox.standin import ApiStandIn, StandInJob
from bot.sandbox.timeline import JobStatus

log = logging.getLogger(__name__)

DEFAULT_PORT = 8787
#: Finished videos kept in memory; an older job's link then answers 403, like an expired one.
MAX_KEPT_VIDEOS = 100
#: Videos rendered at once; each holds a decoded picture and a frame or two in memory.
RENDER_CONCURRENCY = 2


@dataclass(frozen=True, slots=True)
class SandboxConfig:
    """How the sandbox behaves: its address, its jobs' clock, failures and videos."""

    port: int = DEFAULT_PORT  # 0 picks a free one
    host: str = LOOPBACK  # "0.0.0.0" in a container, so that the bot's container reaches it
    # The origin the bot reaches it at ("http://sandbox:8787"), for the links it reports;
    # None: its own origin, on this machine.
    public_url: str | None = None
    queued_seconds: float = 3.0
    generating_seconds: float = 12.0
    fail_every: int = 0  # every Nth job fails with a moderation error; 0: none does
    # How the vendor path answers a create: the model page's `{generation_id, status}`
    # ("seed"), or the whole status object with `id`, as the API's schema documents ("schema").
    create_answer: Literal["seed", "schema"] = "seed"
    video: VideoSpec = field(default_factory=VideoSpec)


@dataclass
class SandboxJob(StandInJob):
    """One job the sandbox accepted, with its video."""

    render: asyncio.Task[Clip] | None = None  # None for a failing job, or once evicted
    expired: bool = False  # its video was dropped from memory


class SandboxServer(ApiStandIn[SandboxJob]):
    """The sandbox's server. Use ``async with SandboxServer(config) as sandbox:``."""

    def __init__(self, config: SandboxConfig | None = None) -> None:
        self.config = config or SandboxConfig()
        super().__init__(
            SandboxJob,
            api_key=None,
            port=self.config.port,
            host=self.config.host,
            timeline=(self.config.queued_seconds, self.config.generating_seconds),
            fail_every=self.config.fail_every,
            log=log,
        )
        self.create_shapes["legacy"] = self.config.create_answer
        self._kept: collections.deque[SandboxJob] = collections.deque()
        self._render_slots = asyncio.Semaphore(RENDER_CONCURRENCY)

    async def close(self) -> None:
        """Stop serving and drop renders still waiting for their turn."""
        await super().close()
        pending = [
            job.render for job in self._jobs.values() if job.render and not job.render.done()
        ]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    @property
    def public_origin(self) -> str:
        """Where the bot reaches the sandbox: the configured public URL, else its origin."""
        return self.config.public_url or self.origin

    @property
    def base_url(self) -> str:
        """What the bot's ``AIMLAPI_BASE_URL`` should be, at the public origin."""
        return f"{self.public_origin}/v2"

    def video_url(self, generation_id: str) -> str:
        return f"{self.public_origin}{VIDEO_PATH_PREFIX}{generation_id}.mp4"

    # ------------------------------------------------------------------ jobs

    def _accepted(self, job: SandboxJob) -> None:
        fails = job.outcome != JobStatus.COMPLETED
        if not fails:
            # Rendering starts now, so that the video is ready when the clock says so.
            job.render = asyncio.create_task(self._render(job), name=f"render-{job.generation_id}")
            self._keep(job)
        width, height = job.image.size
        source = "a URL (not fetched)" if job.image.url is not None else job.image.image_format
        log.info(
            "job %s created on the %s endpoint: %s %dx%d, prompt %r%s",
            job.generation_id,
            job.endpoint,
            source,
            width,
            height,
            textwrap.shorten(job.prompt, 60, placeholder="..."),
            "; it will fail (--fail-every)" if fails else "",
        )

    def _ready(self, job: SandboxJob) -> bool:
        # Completion waits for the video, so that a link never answers 404.
        return job.render is None or job.render.done()

    def _usage_of(self, job: SandboxJob) -> dict[str, float] | None:
        # The universal endpoint reports what a job cost: nothing, here.
        return {"credits_used": 0} if job.endpoint == "universal" else None

    def _video_seconds(self, job: SandboxJob) -> float:
        if job.render is not None and job.render.done() and not job.render.cancelled():
            return job.render.result().seconds
        return self.config.video.seconds

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

    # ------------------------------------------------------------------ video

    async def _serve_video(self, request: web.Request, job: SandboxJob) -> web.StreamResponse:
        self._advance(job, time.monotonic())
        if job.status != JobStatus.COMPLETED:
            return cdn_error(404, "NoSuchKey", "The specified key does not exist.")
        if job.render is None or job.render.cancelled():
            return cdn_error(403, "AccessDenied", "Request has expired")
        clip = await asyncio.shield(job.render)
        if request.method == "GET":
            log.info("job %s: video downloaded", job.generation_id)
        return web.Response(body=clip.data, content_type="video/mp4")
