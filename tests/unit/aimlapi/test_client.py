"""Tests for bot.aimlapi.client: the client against the AI/ML API emulator, and the readings of the
API's statuses and error shapes."""

from __future__ import annotations

import asyncio
import base64
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.aimlapi.client import (
    AimlApiClient,
    AimlApiError,
    ApiBadResponse,
    ApiNotFound,
    ApiOutcomeUnknown,
    ApiOutOfCredits,
    ApiRateLimited,
    ApiRejected,
    ApiUnauthorized,
    ApiUnavailable,
    Endpoint,
    Progress,
    Usage,
    UsageUnit,
    error_reason,
    progress_of,
)
from bot.plaintext import shorten
from tests.conftest import API_KEY
from tests.emulators.aimlapi_emulator import AimlApiEmulator, CreateShape, EmulatedJob
from tests.images import make_image


def data_url(image: bytes) -> str:
    return "data:image/jpeg;base64," + base64.b64encode(image).decode()


FRAME = data_url(make_image(720, 1080))


@pytest.fixture
async def client(aiml: AimlApiEmulator) -> AsyncIterator[AimlApiClient]:
    api = AimlApiClient(aiml.base_url, API_KEY, create_timeout=2.0, status_timeout=2.0)
    try:
        yield api
    finally:
        await api.close()


async def create(client: AimlApiClient, prompt: str = "she waves") -> str:
    created = await client.create_generation(
        prompt=prompt, first_frame_image=FRAME, prompt_optimizer=False
    )
    return created.id


def api_error_body(status: int | str, message: Any) -> dict[str, Any]:
    return {
        "requestId": "req-1",
        "statusCode": status,
        "timestamp": "2025-01-01T00:00:00.000Z",
        "path": "/v2/generate/video/minimax/generation",
        "message": message,
    }


# --------------------------------------------------------------------------- success


async def test_create_sends_the_documented_body_with_the_key(
    client: AimlApiClient, aiml: AimlApiEmulator
) -> None:
    generation_id = await create(client, "the cat turns its head")
    assert generation_id in aiml.jobs
    [request] = aiml.creates
    assert request.header("Authorization") == f"Bearer {API_KEY}"
    assert request.body == {
        "model": "video-01-live2d",
        "prompt": "the cat turns its head",
        "prompt_optimizer": False,
        "first_frame_image": FRAME,
    }
    assert aiml.charged == 1


async def test_status_follows_the_job_to_its_video(
    client: AimlApiClient, aiml: AimlApiEmulator
) -> None:
    generation_id = await create(client)
    seen = []
    for _ in range(4):
        status = await client.get_generation(generation_id)
        assert status.id == generation_id
        seen.append(status.status)
    assert seen == ["queued", "generating", "generating", "completed"]
    assert status.video_url == aiml.video_url(generation_id)
    assert status.duration == 6
    assert aiml.polls[-1].query == {"generation_id": generation_id}


async def test_create_answer_with_201_and_no_status_is_accepted(
    client: AimlApiClient, aiml: AimlApiEmulator
) -> None:
    def answer(job: EmulatedJob) -> tuple[int, Any]:
        return 201, {"generation_id": job.generation_id, "meta": {"usage": {"tokens": 1}}}

    aiml.create_response = answer
    created = await client.create_generation(
        prompt="x", first_frame_image=FRAME, prompt_optimizer=True
    )
    assert created.id in aiml.jobs
    assert created.status is None


# --------------------------------------------------------------------------- errors

#: Every documented status and the exception a create call raises for it.
CREATE_ERRORS: list[tuple[int, type[AimlApiError]]] = [
    (400, ApiRejected),
    (401, ApiUnauthorized),
    (403, ApiOutOfCredits),
    (402, ApiOutOfCredits),
    (404, ApiNotFound),
    (408, ApiUnavailable),
    (409, ApiRejected),
    (413, ApiRejected),
    (422, ApiRejected),
    (429, ApiRateLimited),
    (500, ApiOutcomeUnknown),
    (502, ApiOutcomeUnknown),
    (503, ApiUnavailable),
    (504, ApiOutcomeUnknown),
    (507, ApiOutcomeUnknown),
]


@pytest.mark.parametrize(("status", "expected"), CREATE_ERRORS)
async def test_create_error_status_maps_to_its_exception_with_the_apis_words(
    client: AimlApiClient, aiml: AimlApiEmulator, status: int, expected: type[AimlApiError]
) -> None:
    # Words about the model: a 404 that names no model is an unknown route (see the tests of
    # the endpoint switch).
    words = f"the model's words for {status}"
    aiml.inject("create", status, api_error_body(status, words))
    with pytest.raises(expected) as caught:
        await create(client)
    assert type(caught.value) is expected
    assert caught.value.message == words
    assert caught.value.status == status
    # A 5xx other than 503 may come after the service took the request: it may hide a job.
    assert caught.value.surely_not_created is (expected is not ApiOutcomeUnknown)


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (400, ApiRejected),
        (401, ApiUnauthorized),
        (403, ApiOutOfCredits),
        (404, ApiNotFound),
        (429, ApiRateLimited),
        (500, ApiUnavailable),
        (502, ApiUnavailable),
        (503, ApiUnavailable),
        (504, ApiUnavailable),
    ],
)
async def test_status_call_error_maps_to_its_exception(
    client: AimlApiClient, aiml: AimlApiEmulator, status: int, expected: type[AimlApiError]
) -> None:
    aiml.inject("poll", status, api_error_body(str(status), "it went wrong"))
    with pytest.raises(expected) as caught:
        await client.get_generation("123")
    assert type(caught.value) is expected
    assert caught.value.message == "it went wrong"


async def test_standard_error_bodies_of_the_emulator_carry_their_message(
    client: AimlApiClient, aiml: AimlApiEmulator
) -> None:
    aiml.inject("create", 503)
    with pytest.raises(ApiUnavailable, match="Service unavailable"):
        await create(client)


async def test_wrong_key_is_unauthorized_and_creates_nothing(aiml: AimlApiEmulator) -> None:
    api = AimlApiClient(aiml.base_url, "not-the-key")
    try:
        with pytest.raises(ApiUnauthorized) as caught:
            await create(api)
    finally:
        await api.close()
    assert "key" in caught.value.message.lower()
    assert aiml.charged == 0


async def test_unknown_generation_is_not_found_with_the_apis_words(
    client: AimlApiClient,
) -> None:
    with pytest.raises(ApiNotFound, match="Generation 999 not found"):
        await client.get_generation("999")


async def test_body_validation_error_is_rejected_with_the_reason(
    client: AimlApiClient, aiml: AimlApiEmulator
) -> None:
    small = data_url(make_image(200, 400))
    with pytest.raises(ApiRejected) as caught:
        await client.create_generation(prompt="x", first_frame_image=small, prompt_optimizer=True)
    assert caught.value.message.startswith("Body validation error!")
    assert "300" in caught.value.message
    assert aiml.charged == 0


async def test_message_given_as_a_list_is_joined(
    client: AimlApiClient, aiml: AimlApiEmulator
) -> None:
    aiml.inject("create", 400, api_error_body(400, ["prompt: Required", "model: Invalid"]))
    with pytest.raises(ApiRejected) as caught:
        await create(client)
    assert "prompt: Required" in caught.value.message
    assert "model: Invalid" in caught.value.message


async def test_error_without_message_uses_the_error_field(
    client: AimlApiClient, aiml: AimlApiEmulator
) -> None:
    aiml.inject("create", 400, {"error": {"name": "Bad", "message": "prompt is unsafe"}})
    with pytest.raises(ApiRejected, match="prompt is unsafe"):
        await create(client)


async def test_error_page_that_is_not_json_names_the_status(
    client: AimlApiClient, aiml: AimlApiEmulator
) -> None:
    aiml.inject("create", 502, "<html>Bad Gateway</html>", headers={"Content-Type": "text/html"})
    with pytest.raises(ApiOutcomeUnknown) as caught:
        await create(client)
    assert caught.value.message == "HTTP 502"


@pytest.mark.parametrize(
    ("header", "expected"),
    [("7", 7.0), ("1.5", 1.5), ("0", 0.0), ("-3", 0.0), ("Wed, 21 Oct 2015 07:28:00 GMT", None)],
)
async def test_rate_limit_reads_retry_after(
    client: AimlApiClient, aiml: AimlApiEmulator, header: str, expected: float | None
) -> None:
    aiml.inject("create", 429, headers={"Retry-After": header})
    with pytest.raises(ApiRateLimited) as caught:
        await create(client)
    assert caught.value.retry_after == expected


async def test_rate_limit_without_retry_after_has_no_hint(
    client: AimlApiClient, aiml: AimlApiEmulator
) -> None:
    aiml.inject("poll", 429)
    with pytest.raises(ApiRateLimited) as caught:
        await client.get_generation("1")
    assert caught.value.retry_after is None
    assert "Too Many Requests" in caught.value.message


async def test_malformed_json_status_answer_is_a_bad_response(
    client: AimlApiClient, aiml: AimlApiEmulator
) -> None:
    aiml.inject("poll", 200, '{"id": "1", "status": ')
    with pytest.raises(ApiBadResponse):
        await client.get_generation("1")


async def test_status_answer_without_a_status_is_a_bad_response(
    client: AimlApiClient, aiml: AimlApiEmulator
) -> None:
    aiml.inject("poll", 200, {"id": "1"})
    with pytest.raises(ApiBadResponse):
        await client.get_generation("1")


@pytest.mark.parametrize(
    "body", ['{"generation_id": ', "[1, 2]", {"status": "queued"}], ids=["cut", "list", "no-id"]
)
async def test_unreadable_create_answer_is_an_unknown_outcome(
    client: AimlApiClient, aiml: AimlApiEmulator, body: Any
) -> None:
    # The request went through: a job may exist and be charged, so it must not be resent.
    aiml.inject("create", 200, body, create_job=True)
    with pytest.raises(ApiOutcomeUnknown) as caught:
        await create(client)
    assert caught.value.surely_not_created is False
    assert aiml.charged == 1


async def test_create_that_times_out_after_sending_is_an_unknown_outcome(
    aiml: AimlApiEmulator,
) -> None:
    aiml.set_delay("create", 2.0)
    api = AimlApiClient(aiml.base_url, API_KEY, create_timeout=0.2)
    try:
        with pytest.raises(ApiOutcomeUnknown):
            await create(api)
    finally:
        await api.close()
    assert aiml.charged == 1  # the emulator, like the API, made the job anyway


async def test_status_call_that_times_out_is_unavailable(aiml: AimlApiEmulator) -> None:
    aiml.set_delay("poll", 2.0)
    api = AimlApiClient(aiml.base_url, API_KEY, status_timeout=0.2)
    try:
        with pytest.raises(ApiUnavailable):
            await api.get_generation("1")
    finally:
        await api.close()


async def test_unreachable_api_is_unavailable_and_safe_to_retry() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    api = AimlApiClient(f"http://127.0.0.1:{port}/v2", API_KEY)
    try:
        with pytest.raises(ApiUnavailable) as caught:
            await create(api)
    finally:
        await api.close()
    assert caught.value.surely_not_created is True


# --------------------------------------------------------------------------- readings


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        ("Content moderation: the image was flagged", "Content moderation: the image was flagged"),
        ("  padded  ", "padded"),
        ({"name": "ModerationError", "message": "The prompt is unsafe"}, "The prompt is unsafe"),
        ({"name": "GenerationTimeout"}, "GenerationTimeout"),
        (
            {
                "detail": [
                    {"loc": ["body", "prompt"], "msg": "prompt is unsafe", "type": "value_error"},
                    {"loc": ["body", "image"], "msg": "no face", "type": "value_error"},
                ]
            },
            "prompt is unsafe; no face",
        ),
        ({"detail": "quota exceeded"}, "quota exceeded"),
        ({"detail": [], "message": "fallback words"}, "fallback words"),
        (["first reason", {"message": "second reason"}], "first reason; second reason"),
    ],
    ids=[
        "string",
        "padded-string",
        "name-message",
        "name-only",
        "detail-list",
        "detail-string",
        "empty-detail",
        "list",
    ],
)
def test_error_reason_reads_every_error_shape(error: Any, reason: str) -> None:
    assert error_reason(error) == reason


@pytest.mark.parametrize(
    "error", [None, "", "   ", {}, {"detail": [{"loc": []}]}, [], 42], ids=repr
)
def test_error_reason_is_none_when_there_is_no_reason(error: Any) -> None:
    assert error_reason(error) is None


@pytest.mark.parametrize(
    ("status", "progress"),
    [
        ("queued", Progress.WAITING),
        ("waiting", Progress.WAITING),
        ("generating", Progress.RENDERING),
        ("active", Progress.RENDERING),
        ("processing", Progress.RENDERING),
        ("completed", Progress.SUCCEEDED),
        ("succeeded", Progress.SUCCEEDED),
        ("success", Progress.SUCCEEDED),
        ("error", Progress.FAILED),
        ("failed", Progress.FAILED),
        (" Completed ", Progress.SUCCEEDED),
        ("GENERATING", Progress.RENDERING),
        ("paused_for_review", Progress.UNKNOWN),
        ("", Progress.UNKNOWN),
    ],
)
def test_progress_of_reads_every_documented_status(status: str, progress: Progress) -> None:
    assert progress_of(status) is progress


def test_a_huge_api_message_is_clipped_before_it_reaches_users_or_logs() -> None:
    from bot.aimlapi.client import MAX_REASON_CHARS

    echoed = "Body validation error! first_frame_image: " + "A" * 100_000
    reason = error_reason({"message": echoed})
    assert reason is not None and len(reason) == MAX_REASON_CHARS
    assert reason.startswith("Body validation error!")
    assert error_reason({"detail": [{"msg": echoed}]}) == reason
    assert reason == shorten(echoed, MAX_REASON_CHARS)  # cut as the words cut a prompt


async def test_a_refusal_that_echoes_the_image_is_clipped(
    client: AimlApiClient, aiml: AimlApiEmulator
) -> None:
    from bot.aimlapi.client import MAX_REASON_CHARS

    aiml.inject("create", 400, api_error_body(400, "Body validation error! " + "QUJD" * 50_000))
    with pytest.raises(ApiRejected) as caught:
        await create(client)
    assert len(caught.value.message) == MAX_REASON_CHARS


# --------------------------------------------------------------------------- answer shapes


@pytest.mark.parametrize("endpoint", list(Endpoint))
@pytest.mark.parametrize("shape", ["seed", "schema", "universal", "both"])
async def test_every_documented_create_answer_gives_the_generation_id(
    aiml: AimlApiEmulator, endpoint: Endpoint, shape: CreateShape
) -> None:
    aiml.create_shapes[endpoint.value] = shape
    api = AimlApiClient(aiml.base_url, API_KEY, endpoint=endpoint)
    try:
        created = await api.create_generation(
            prompt="p", first_frame_image=FRAME, prompt_optimizer=True
        )
    finally:
        await api.close()
    assert created.id in aiml.jobs and created.endpoint is endpoint
    assert created.status == "queued"
    assert aiml.endpoint_of(aiml.creates[0]) == endpoint.value


async def test_two_ids_that_disagree_are_logged_and_generation_id_wins(
    client: AimlApiClient, aiml: AimlApiEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    aiml.create_response = lambda job: (200, {"generation_id": job.generation_id, "id": "x-1"})
    created = await client.create_generation(
        prompt="p", first_frame_image=FRAME, prompt_optimizer=True
    )
    assert created.id in aiml.jobs
    assert "generation_id" in caplog.text and "x-1" in caplog.text


async def test_a_create_answer_with_an_empty_id_is_an_unknown_outcome(
    client: AimlApiClient, aiml: AimlApiEmulator
) -> None:
    aiml.create_response = lambda job: (200, {"id": "", "status": "queued"})
    with pytest.raises(ApiOutcomeUnknown):
        await create(client)
    assert aiml.charged == 1


async def test_a_create_answer_that_is_already_final_carries_its_video_or_its_error(
    client: AimlApiClient, aiml: AimlApiEmulator
) -> None:
    aiml.create_shapes["legacy"] = "schema"
    aiml.finish_at_create("completed")
    aiml.finish_at_create("error", {"name": "ModerationError", "message": "flagged"})
    done = await client.create_generation(
        prompt="p", first_frame_image=FRAME, prompt_optimizer=True
    )
    failed = await client.create_generation(
        prompt="p", first_frame_image=FRAME, prompt_optimizer=True
    )
    assert done.status == "completed" and done.video_url == aiml.video_url(done.id)
    assert failed.status == "error" and error_reason(failed.error) == "flagged"
    assert failed.video_url is None


@pytest.mark.parametrize("at_top", [False, True], ids=["in-video", "top-level"])
@pytest.mark.parametrize(
    ("usage", "expected"),
    [
        ({"credits_used": 126}, Usage(126.0, UsageUnit.CREDITS)),
        ({"tokens_used": 58000.5}, Usage(58000.5, UsageUnit.TOKENS)),
        ({"credits_used": "lots"}, None),
        (None, None),
    ],
)
async def test_a_status_answer_gives_the_videos_length_and_its_cost(
    client: AimlApiClient,
    aiml: AimlApiEmulator,
    at_top: bool,
    usage: dict[str, Any] | None,
    expected: Usage | None,
) -> None:
    aiml.usage, aiml.duration_at_top = usage, at_top
    aiml.queued_polls = aiml.generating_polls = 0
    generation = await client.get_generation(await create(client))
    assert generation.status == "completed" and generation.duration == 6
    assert generation.usage == expected


async def test_unknown_fields_and_unreadable_meta_never_hide_the_video(
    client: AimlApiClient, aiml: AimlApiEmulator
) -> None:
    aiml.poll_response = lambda job, body: (
        200,
        body | {"meta": ["odd"], "model": "video-01-live2d", "extra": {"a": 1}},
    )
    aiml.queued_polls = aiml.generating_polls = 0
    generation = await client.get_generation(await create(client))
    assert generation.video_url is not None and generation.usage is None


# --------------------------------------------------------------------------- endpoints


@pytest.mark.parametrize("endpoint", list(Endpoint))
async def test_each_endpoint_gets_its_own_field_names_and_is_polled_there(
    aiml: AimlApiEmulator, endpoint: Endpoint
) -> None:
    api = AimlApiClient(aiml.base_url, API_KEY, endpoint=endpoint)
    try:
        created = await api.create_generation(
            prompt="p", first_frame_image=FRAME, prompt_optimizer=False
        )
        status = await api.get_generation(created.id, endpoint)
        with pytest.raises(ApiNotFound):  # a generation is known where it was made
            await api.get_generation(created.id, endpoint.other)
    finally:
        await api.close()
    body = aiml.creates[0].body
    image, optimizer = (
        ("image_url", "enhance_prompt")
        if endpoint is Endpoint.UNIVERSAL
        else ("first_frame_image", "prompt_optimizer")
    )
    assert set(body) == {"model", "prompt", image, optimizer}
    assert body[optimizer] is False and body[image] == FRAME
    assert status.status == "queued" and status.endpoint is endpoint


@pytest.mark.parametrize("configured", list(Endpoint))
async def test_a_missing_route_moves_creates_to_the_other_endpoint_once(
    aiml: AimlApiEmulator, configured: Endpoint, caplog: pytest.LogCaptureFixture
) -> None:
    aiml.missing_endpoints.add(configured.value)
    api = AimlApiClient(aiml.base_url, API_KEY, endpoint=configured)
    try:
        first = await create(api)
        second = await create(api)
    finally:
        await api.close()
    assert api.endpoint is configured.other
    assert [aiml.endpoint_of(c) for c in aiml.creates] == [
        configured.value,
        configured.other.value,
        configured.other.value,
    ]
    assert aiml.charged == 2 and {first, second} <= set(aiml.jobs)
    assert caplog.text.count("from now on") == 1


async def test_a_404_about_the_model_is_not_a_reason_to_move(aiml: AimlApiEmulator) -> None:
    aiml.inject("create", 404, api_error_body(404, "Model video-01-live2d is deprecated"))
    api = AimlApiClient(aiml.base_url, API_KEY)
    try:
        with pytest.raises(ApiNotFound):
            await create(api)
    finally:
        await api.close()
    assert len(aiml.creates) == 1 and api.endpoint is Endpoint.LEGACY


async def test_when_neither_endpoint_exists_the_client_stops_after_one_move(
    aiml: AimlApiEmulator,
) -> None:
    aiml.missing_endpoints.update({"legacy", "universal"})
    api = AimlApiClient(aiml.base_url, API_KEY)
    try:
        for _ in range(2):
            with pytest.raises(ApiNotFound):
                await create(api)
    finally:
        await api.close()
    assert len(aiml.creates) == 3 and aiml.charged == 0


@pytest.mark.parametrize(
    "odd",
    [
        {"video": "https://cdn.example/v.mp4"},
        {"video": [{"url": "https://cdn.example/v.mp4"}]},
        {"duration": "6s"},
        {"video": {"url": 7}},
        {"meta": {"usage": {"credits_used": "x"}}},
    ],
    ids=["video-as-link", "video-as-list", "duration-as-text", "url-as-number", "odd-usage"],
)
async def test_one_odd_optional_field_never_hides_the_id_or_the_video(
    client: AimlApiClient, aiml: AimlApiEmulator, odd: dict[str, Any]
) -> None:
    aiml.create_response = lambda job: (200, {"id": job.generation_id, "status": "queued"} | odd)
    created = await client.create_generation(
        prompt="p", first_frame_image=FRAME, prompt_optimizer=True
    )
    assert created.id in aiml.jobs  # read, and so followed: never a lost paid job
    aiml.poll_response = lambda job, body: (200, body | {"status": "completed"} | odd)
    status = await client.get_generation(created.id)
    assert status.status == "completed"
    if "video" in odd and odd["video"] != {"url": 7}:
        assert status.video_url == "https://cdn.example/v.mp4"
    if "duration" in odd:
        assert status.duration == 6.0


async def test_creates_out_together_when_the_route_is_missing_all_follow_the_move(
    aiml: AimlApiEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    aiml.missing_endpoints.add("legacy")
    aiml.set_delay("create", 0.2)  # both are out before either is answered
    api = AimlApiClient(aiml.base_url, API_KEY)
    try:
        made = await asyncio.gather(create(api, "one"), create(api, "two"))
    finally:
        await api.close()
    assert set(made) <= set(aiml.jobs) and aiml.charged == 2
    assert caplog.text.count("from now on") == 1
