"""Checks that the AI/ML API emulator behaves as the seed page and the reference notes say."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from PIL import Image

from tests.emulators.aimlapi_emulator import (
    GENERATION_PATH,
    MAX_IMAGE_BYTES,
    MODEL,
    AimlApiEmulator,
)

pytestmark = pytest.mark.asyncio

API_KEY = "test-aiml-key"
AUTH = {"Authorization": f"Bearer {API_KEY}"}
PROMPT = "Mona Lisa puts on glasses with her hands."


def image_bytes(size: tuple[int, int], fmt: str = "JPEG") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (200, 120, 40)).save(buf, format=fmt)
    return buf.getvalue()


def data_url(data: bytes, mime: str = "image/jpeg") -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


GOOD_IMAGE = data_url(image_bytes((720, 1072)))


def create_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": MODEL,
        "prompt": PROMPT,
        "prompt_optimizer": True,
        "first_frame_image": GOOD_IMAGE,
    }
    body.update(overrides)
    return body


@pytest_asyncio.fixture
async def emu() -> AsyncIterator[AimlApiEmulator]:
    async with AimlApiEmulator(API_KEY) as emulator:
        yield emulator


@pytest_asyncio.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


async def create(
    session: aiohttp.ClientSession,
    emu: AimlApiEmulator,
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    async with session.post(
        f"{emu.base_url}/generate/video/minimax/generation",
        json=create_body() if body is None else body,
        headers=AUTH if headers is None else headers,
    ) as resp:
        text = await resp.text()
        try:
            return resp.status, await resp.json(content_type=None)
        except ValueError:
            return resp.status, text


async def poll(
    session: aiohttp.ClientSession,
    emu: AimlApiEmulator,
    generation_id: str | None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    params = {} if generation_id is None else {"generation_id": generation_id}
    async with session.get(
        f"{emu.base_url}/generate/video/minimax/generation",
        params=params,
        headers=AUTH if headers is None else headers,
    ) as resp:
        return resp.status, await resp.json(content_type=None)


def assert_standard_error(body: Any, status: int) -> None:
    assert set(body) == {"requestId", "statusCode", "timestamp", "path", "message"}
    assert body["statusCode"] == status
    assert body["path"] == GENERATION_PATH
    assert isinstance(body["message"], str) and body["message"]


def parse_boxes(data: bytes) -> list[bytes]:
    kinds = []
    offset = 0
    while offset < len(data):
        size = int.from_bytes(data[offset : offset + 4], "big")
        kind = data[offset + 4 : offset + 8]
        if size == 1:
            size = int.from_bytes(data[offset + 8 : offset + 16], "big")
        assert size >= 8
        kinds.append(kind)
        offset += size
    assert offset == len(data)
    return kinds


async def test_job_progresses_queued_generating_completed_and_video_downloads(
    emu: AimlApiEmulator, session: aiohttp.ClientSession
) -> None:
    status, body = await create(session, emu)
    assert status == 200
    gen_id = body["generation_id"]
    assert body == {"generation_id": gen_id, "status": "queued"}
    assert len(gen_id) == 15 and gen_id.isdigit()

    job = emu.jobs[gen_id]
    assert (job.image_format, job.image_size) == ("JPEG", (720, 1072))
    assert job.prompt == PROMPT and job.prompt_optimizer is True
    assert emu.charged == 1 and len(emu.creates) == 1
    assert emu.creates[0].body["model"] == MODEL
    assert emu.creates[0].header("authorization") == f"Bearer {API_KEY}"

    seen = []
    for _ in range(4):
        status, body = await poll(session, emu, gen_id)
        assert status == 200
        seen.append(body["status"])
    assert seen == ["queued", "generating", "generating", "completed"]
    assert body["id"] == gen_id and body["error"] is None and body["meta"] is None
    assert body["video"] == {"url": emu.video_url(gen_id), "duration": 6}
    assert job.polls == 4 and job.status == "completed" and job.completed_at is not None
    assert len(emu.polls) == 4

    async with session.get(body["video"]["url"]) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"] == "video/mp4"
        video = await resp.read()
    assert video == emu.video_bytes
    assert video[4:12] == b"ftypisom"
    assert parse_boxes(video) == [b"ftyp", b"moov", b"mdat"]
    assert emu.video_downloads == 1
    assert "Authorization" not in emu.requests[-1].headers


async def test_url_image_is_accepted_as_png_720x1072(
    emu: AimlApiEmulator, session: aiohttp.ClientSession
) -> None:
    body = create_body(first_frame_image="https://example.com/cat.png")
    del body["prompt_optimizer"]
    status, answer = await create(session, emu, body)
    assert status == 200
    job = emu.jobs[answer["generation_id"]]
    assert job.image_url == "https://example.com/cat.png"
    assert (job.image_format, job.image_size) == ("PNG", (720, 1072))
    assert job.prompt_optimizer is None


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        pytest.param(create_body(model="video-01"), "model", id="wrong-model"),
        pytest.param(
            {k: v for k, v in create_body().items() if k != "prompt"}, "prompt", id="no-prompt"
        ),
        pytest.param(create_body(prompt=""), "prompt", id="empty-prompt"),
        pytest.param(create_body(prompt=42), "prompt", id="prompt-not-string"),
        pytest.param(create_body(prompt="x" * 2001), "2000", id="prompt-2001-chars"),
        pytest.param(create_body(prompt_optimizer="yes"), "prompt_optimizer", id="optimizer"),
        pytest.param(
            {k: v for k, v in create_body().items() if k != "first_frame_image"},
            "first_frame_image",
            id="no-image",
        ),
        pytest.param(create_body(first_frame_image=123), "first_frame_image", id="image-int"),
        pytest.param(["not", "an", "object"], "object", id="body-list"),
        pytest.param(
            create_body(first_frame_image=base64.b64encode(image_bytes((720, 1072))).decode()),
            "data URL",
            id="raw-base64",
        ),
        pytest.param(
            create_body(first_frame_image="data:image/jpeg;base64,@@not-base64@@"),
            "base64",
            id="bad-base64",
        ),
        pytest.param(
            create_body(first_frame_image=data_url(b"definitely not an image")),
            "decoded",
            id="undecodable",
        ),
        pytest.param(
            create_body(first_frame_image=data_url(image_bytes((400, 1000)))),
            "aspect ratio",
            id="ratio-2:5-exact",
        ),
        pytest.param(
            create_body(first_frame_image=data_url(image_bytes((1000, 400)))),
            "aspect ratio",
            id="ratio-5:2-exact",
        ),
        pytest.param(
            create_body(first_frame_image=data_url(image_bytes((300, 600)))),
            "shorter side",
            id="short-side-300",
        ),
        pytest.param(
            create_body(first_frame_image=data_url(image_bytes((720, 1072), "GIF"), "image/gif")),
            "JPG",
            id="gif-declared",
        ),
        pytest.param(
            create_body(first_frame_image=data_url(image_bytes((720, 1072), "GIF"), "image/png")),
            "GIF",
            id="gif-as-png",
        ),
        pytest.param(
            create_body(first_frame_image=data_url(image_bytes((720, 1072), "PNG"), "image/jpeg")),
            "does not match",
            id="png-labelled-jpeg",
        ),
    ],
)
async def test_invalid_create_is_rejected_with_400_and_no_job(
    emu: AimlApiEmulator, session: aiohttp.ClientSession, body: Any, fragment: str
) -> None:
    status, answer = await create(session, emu, body)
    assert status == 400
    assert_standard_error(answer, 400)
    assert answer["message"].startswith("Body validation error! ")
    assert fragment in answer["message"]
    assert emu.charged == 0 and emu.jobs == {}
    assert len(emu.creates) == 1 and emu.creates[0].response_status == 400


async def test_image_over_20mb_is_rejected(
    emu: AimlApiEmulator, session: aiohttp.ClientSession
) -> None:
    big = data_url(b"\xff" * (MAX_IMAGE_BYTES + 1))
    payload = io.BytesIO(json.dumps(create_body(first_frame_image=big)).encode())
    async with session.post(
        f"{emu.base_url}/generate/video/minimax/generation",
        data=payload,
        headers={**AUTH, "Content-Type": "application/json"},
    ) as resp:
        status, answer = resp.status, await resp.json()
    assert status == 400 and "20MB" in answer["message"]
    assert emu.charged == 0


async def test_non_json_body_is_rejected(
    emu: AimlApiEmulator, session: aiohttp.ClientSession
) -> None:
    async with session.post(
        f"{emu.base_url}/generate/video/minimax/generation", data="{oops", headers=AUTH
    ) as resp:
        assert resp.status == 400
    assert emu.creates[0].body == "{oops"
    assert emu.charged == 0


@pytest.mark.parametrize(
    ("size", "fmt", "mime"),
    [
        ((301, 602), "JPEG", "image/jpeg"),
        ((401, 1000), "PNG", "image/png"),
        ((1000, 401), "JPEG", "image/jpg"),
    ],
)
async def test_boundary_images_just_inside_the_rules_are_accepted(
    emu: AimlApiEmulator,
    session: aiohttp.ClientSession,
    size: tuple[int, int],
    fmt: str,
    mime: str,
) -> None:
    body = create_body(first_frame_image=data_url(image_bytes(size, fmt), mime))
    status, answer = await create(session, emu, body)
    assert status == 200, answer
    job = emu.jobs[answer["generation_id"]]
    assert (job.image_format, job.image_size, job.image_mime) == (fmt, size, mime)


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": API_KEY}]
)
async def test_missing_or_wrong_key_is_401_and_creates_nothing(
    emu: AimlApiEmulator, session: aiohttp.ClientSession, headers: dict[str, str]
) -> None:
    status, answer = await create(session, emu, headers=headers)
    assert status == 401
    assert_standard_error(answer, 401)
    assert answer["message"] == "Unauthorized: invalid or missing API key"
    assert emu.charged == 0 and len(emu.creates) == 1

    status, answer = await poll(session, emu, "123456789012345", headers=headers)
    assert status == 401


async def test_injected_faults_answer_in_order_then_recover(
    emu: AimlApiEmulator, session: aiohttp.ClientSession
) -> None:
    emu.inject("create", 429, headers={"Retry-After": "3"})
    emu.inject("create", 500, times=2)
    emu.inject("create", 503, {"message": "Service unavailable"})
    emu.inject("create", 502, "{not json")

    async with session.post(
        f"{emu.base_url}/generate/video/minimax/generation", json=create_body(), headers=AUTH
    ) as resp:
        assert resp.status == 429 and resp.headers["Retry-After"] == "3"
        assert_standard_error(await resp.json(), 429)
    for _ in range(2):
        status, answer = await create(session, emu)
        assert status == 500
        assert_standard_error(answer, 500)
    assert await create(session, emu) == (503, {"message": "Service unavailable"})
    assert await create(session, emu) == (502, "{not json")
    assert emu.charged == 0

    status, answer = await create(session, emu)
    assert status == 200
    assert emu.charged == 1
    assert [r.response_status for r in emu.creates] == [429, 500, 500, 503, 502, 200]


async def test_injected_poll_and_video_faults(
    emu: AimlApiEmulator, session: aiohttp.ClientSession
) -> None:
    _, answer = await create(session, emu)
    gen_id = answer["generation_id"]
    emu.inject("poll", 503)
    status, _ = await poll(session, emu, gen_id)
    assert status == 503
    assert emu.jobs[gen_id].polls == 0  # a faulted poll is not answered with a status

    emu.complete_now(gen_id)
    status, answer = await poll(session, emu, gen_id)
    assert answer["status"] == "completed"
    emu.inject("video", 500)
    async with session.get(answer["video"]["url"]) as resp:
        assert resp.status == 500
    async with session.get(answer["video"]["url"]) as resp:
        assert resp.status == 200
    assert emu.video_downloads == 1


async def test_injected_delay_makes_client_time_out(
    emu: AimlApiEmulator, session: aiohttp.ClientSession
) -> None:
    emu.inject("create", 503, delay=1.0)
    with pytest.raises(asyncio.TimeoutError):
        async with session.post(
            f"{emu.base_url}/generate/video/minimax/generation",
            json=create_body(),
            headers=AUTH,
            timeout=aiohttp.ClientTimeout(total=0.2),
        ):
            pass
    assert emu.charged == 0 and len(emu.creates) == 1


async def test_set_delay_slows_every_answer(
    emu: AimlApiEmulator, session: aiohttp.ClientSession
) -> None:
    emu.set_delay("poll", 0.2)
    _, answer = await create(session, emu)
    started = time.monotonic()
    await poll(session, emu, answer["generation_id"])
    await poll(session, emu, answer["generation_id"])
    assert time.monotonic() - started >= 0.4


async def test_create_job_fault_charges_despite_500(
    emu: AimlApiEmulator, session: aiohttp.ClientSession
) -> None:
    emu.inject("create", 500, create_job=True)
    status, answer = await create(session, emu)
    assert status == 500
    assert_standard_error(answer, 500)
    assert emu.charged == 1
    (job,) = emu.jobs.values()
    status, answer = await poll(session, emu, job.generation_id)
    assert status == 200 and answer["status"] == "queued"


async def test_slow_create_that_times_out_still_creates_a_job(
    emu: AimlApiEmulator, session: aiohttp.ClientSession
) -> None:
    emu.set_delay("create", 1.0)
    with pytest.raises(asyncio.TimeoutError):
        async with session.post(
            f"{emu.base_url}/generate/video/minimax/generation",
            json=create_body(),
            headers=AUTH,
            timeout=aiohttp.ClientTimeout(total=0.2),
        ):
            pass
    assert emu.charged == 1


@pytest.mark.parametrize(
    ("error", "status"),
    [
        ("Content moderation: the image was flagged", "error"),
        ({"name": "ModerationError", "message": "The image was flagged"}, "error"),
        (
            {"detail": [{"loc": ["body", "prompt"], "msg": "too long", "type": "value_error"}]},
            "failed",
        ),
    ],
)
async def test_failed_job_reports_its_error_shape(
    emu: AimlApiEmulator, session: aiohttp.ClientSession, error: Any, status: str
) -> None:
    emu.fail_next_job(error, status=status)
    _, answer = await create(session, emu)
    gen_id = answer["generation_id"]
    statuses = [(await poll(session, emu, gen_id))[1] for _ in range(4)]
    assert [s["status"] for s in statuses] == ["queued", "generating", "generating", status]
    assert statuses[-1]["error"] == error and statuses[-1]["video"] is None
    assert emu.jobs[gen_id].completed_at is None and emu.jobs[gen_id].finished_at is not None

    # Only the next job fails.
    _, answer = await create(session, emu)
    assert emu.jobs[answer["generation_id"]].outcome == "completed"


async def test_set_status_is_reported_as_is(
    emu: AimlApiEmulator, session: aiohttp.ClientSession
) -> None:
    _, answer = await create(session, emu)
    gen_id = answer["generation_id"]
    emu.set_status(gen_id, "mystery")
    for _ in range(5):
        _, body = await poll(session, emu, gen_id)
        assert body["status"] == "mystery" and body["video"] is None
    emu.set_status(gen_id, "succeeded")
    _, body = await poll(session, emu, gen_id)
    assert body["status"] == "succeeded"
    assert body["video"]["url"] == emu.video_url(gen_id)


async def test_unknown_or_missing_generation_id(
    emu: AimlApiEmulator, session: aiohttp.ClientSession
) -> None:
    status, body = await poll(session, emu, "999999999999999")
    assert status == 404
    assert_standard_error(body, 404)
    status, body = await poll(session, emu, None)
    assert status == 400
    assert_standard_error(body, 400)
    emu.unknown_id_status = 400
    status, body = await poll(session, emu, "999999999999999")
    assert status == 400


async def test_expired_or_tampered_video_link_is_403(
    emu: AimlApiEmulator, session: aiohttp.ClientSession
) -> None:
    _, answer = await create(session, emu)
    gen_id = answer["generation_id"]
    url = emu.video_url(gen_id)
    expires = int(url.split("Expires=")[1].split("&")[0])
    assert 9 * 3600 - 5 <= expires - time.time() <= 9 * 3600
    assert url.startswith(f"http://127.0.0.1:{emu.port}/videos/{gen_id}.mp4?")

    async with session.get(url.replace("Signature=", "Signature=0")) as resp:
        assert resp.status == 403
    async with session.get(url) as resp:
        assert resp.status == 200
    emu.expire_videos()
    async with session.get(url) as resp:
        assert resp.status == 403
    assert emu.video_downloads == 1
    async with session.get(f"{emu.origin}/videos/111111111111111.mp4") as resp:
        assert resp.status == 404


async def test_link_ttl_expires_by_wall_time(session: aiohttp.ClientSession) -> None:
    async with AimlApiEmulator(API_KEY, link_ttl=-1) as emu:
        _, answer = await create(session, emu)
        async with session.get(emu.video_url(answer["generation_id"])) as resp:
            assert resp.status == 403


async def test_unknown_route_is_404_and_recorded(
    emu: AimlApiEmulator, session: aiohttp.ClientSession
) -> None:
    async with session.post(f"{emu.base_url}/images/generations", json={}, headers=AUTH) as resp:
        assert resp.status == 404
    assert emu.requests[0].path == "/v2/images/generations"


async def test_timeline_mode_follows_wall_time(session: aiohttp.ClientSession) -> None:
    async with AimlApiEmulator(API_KEY, timeline=(0.05, 0.1)) as emu:
        _, answer = await create(session, emu)
        gen_id = answer["generation_id"]
        job = emu.jobs[gen_id]
        assert (await poll(session, emu, gen_id))[1]["status"] == "queued"
        await asyncio.sleep(0.08)
        assert (await poll(session, emu, gen_id))[1]["status"] == "generating"
        assert job.completed_at is None
        await asyncio.sleep(0.1)
        assert emu.jobs[gen_id].status == "completed"  # refreshed without a poll
        assert job.completed_at == pytest.approx(job.created_at + 0.15)
        _, body = await poll(session, emu, gen_id)
        assert body["status"] == "completed" and body["video"]["url"]
        assert job.polls == 3


async def test_timeline_jitter_is_seeded(session: aiohttp.ClientSession) -> None:
    plans = []
    for _ in range(2):
        async with AimlApiEmulator(API_KEY, timeline=(1.0, 2.0), jitter=0.5, seed=7) as emu:
            for _ in range(3):
                await create(session, emu)
            plans.append(
                [
                    (round(j.queued_until - j.created_at, 9), round(j.ready_at - j.created_at, 9))
                    for j in emu.jobs.values()
                    if j.queued_until is not None and j.ready_at is not None
                ]
            )
    assert plans[0] == plans[1]
    assert len(set(plans[0])) == 3
    for queued, ready in plans[0]:
        assert 0.5 <= queued <= 1.5 and 0.5 + 1.0 <= ready <= 1.5 + 3.0


async def test_large_video_is_streamed_with_exact_size(session: aiohttp.ClientSession) -> None:
    size = 8 * 1024 * 1024 + 3
    async with AimlApiEmulator(API_KEY, video_size=size) as emu:
        _, answer = await create(session, emu)
        emu.complete_now(answer["generation_id"])
        _, body = await poll(session, emu, answer["generation_id"])
        digest = hashlib.sha256()
        total = 0
        async with session.get(body["video"]["url"]) as resp:
            assert resp.content_length == size
            async for chunk in resp.content.iter_chunked(1 << 16):
                digest.update(chunk)
                total += len(chunk)
        assert total == size
        assert digest.hexdigest() == emu.video_sha256
