"""Every answer the AI/ML API documents, on both of its endpoints, reaches the user as a video
or as an explanation, and is charged once."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.aimlapi.client import Endpoint
from storage import JobState, JobStore
from storage.counts import AccessStore
from tests.conftest import TestClock, make_settings, running_bot, services
from tests.e2e.conversation import command, created, photo, status_says, video_for
from tests.emulators.aimlapi_emulator import AimlApiEmulator, CreateShape
from tests.emulators.telegram_emulator import TelegramEmulator, private_chat, user

ANN = user(111, "Ann")
ANN_CHAT = private_chat(111)
ADMIN = user(999, "Olga")
ADMIN_CHAT = private_chat(999)
ENDPOINTS = [endpoint.value for endpoint in Endpoint]


@pytest.fixture(autouse=True)
def quick_jobs(aiml: AimlApiEmulator) -> None:
    aiml.queued_polls = 1
    aiml.generating_polls = 0


def assert_all_on(aiml: AimlApiEmulator, endpoint: str) -> None:
    """Every create and every status call went to `endpoint`."""
    assert {aiml.endpoint_of(call) for call in aiml.creates + aiml.polls} == {endpoint}


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("shape", ["seed", "schema", "universal", "both"])
async def test_every_create_answer_shape_reaches_its_video_charged_once(
    tmp_path: Path,
    telegram: TelegramEmulator,
    aiml: AimlApiEmulator,
    clock: TestClock,
    endpoint: str,
    shape: CreateShape,
) -> None:
    aiml.create_shapes[endpoint] = shape  # type: ignore[index]
    settings = make_settings(tmp_path, telegram, aiml, aimlapi_endpoint=endpoint)
    async with running_bot(settings, clock) as app:
        sent = photo(telegram, chat=ANN_CHAT, sender=ANN, prompt="she smiles")
        await video_for(telegram, sent)
        [job] = await services(app).store.jobs_for_user(111)
    assert aiml.charged == 1 and len(aiml.creates) == 1
    assert_all_on(aiml, endpoint)
    assert job.endpoint == endpoint and job.generation_id in aiml.jobs
    assert job.video_seconds == 6


@pytest.mark.parametrize("endpoint", ENDPOINTS)
async def test_a_create_refused_in_its_answer_is_explained_at_once_and_given_back(
    tmp_path: Path,
    telegram: TelegramEmulator,
    aiml: AimlApiEmulator,
    clock: TestClock,
    endpoint: str,
) -> None:
    aiml.finish_at_create("error", "Content moderation: the image was flagged")
    settings = make_settings(
        tmp_path, telegram, aiml, aimlapi_endpoint=endpoint, daily_jobs_per_user=1
    )
    async with running_bot(settings, clock) as app:
        photo(telegram, chat=ANN_CHAT, sender=ANN, prompt="flagged")
        await status_says(telegram, 111, "could not make this video: Content moderation")
        store = services(app).store
        [job] = await store.jobs_for_user(111)
        counts = await AccessStore.of(store).user_counts(111, since=0)
        # The day's one video is still there to be made.
        again = photo(telegram, chat=ANN_CHAT, sender=ANN, prompt="fine")
        await video_for(telegram, again)
    assert job.state is JobState.FAILED and job.endpoint == endpoint
    assert counts.today == 0 and counts.active == 0
    assert aiml.charged == 2
    # The refused job was never polled: the one status call belongs to the second job.
    assert [call.query["generation_id"] for call in aiml.polls] == [
        await created(aiml, "fine")
    ] * len(aiml.polls)
    assert_all_on(aiml, endpoint)


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("shape", ["seed", "schema", "universal"])
async def test_a_create_answered_with_the_finished_video_is_delivered_without_polling(
    tmp_path: Path,
    telegram: TelegramEmulator,
    aiml: AimlApiEmulator,
    clock: TestClock,
    endpoint: str,
    shape: CreateShape,
) -> None:
    aiml.create_shapes[endpoint] = shape  # type: ignore[index]
    aiml.finish_at_create("completed")
    settings = make_settings(tmp_path, telegram, aiml, aimlapi_endpoint=endpoint)
    async with running_bot(settings, clock):
        sent = photo(telegram, chat=ANN_CHAT, sender=ANN, prompt="quick")
        await video_for(telegram, sent)
    [video] = telegram.calls_to("sendVideo")
    assert video.params["video"] == aiml.video_url(next(iter(aiml.jobs)))
    assert aiml.charged == 1 and aiml.polls == []


@pytest.mark.parametrize(
    ("endpoint", "usage", "shown"),
    [
        ("universal", {"credits_used": 126}, "252 credits"),
        ("legacy", {"tokens_used": 58000}, "116,000 tokens"),
    ],
)
async def test_what_the_api_says_a_video_cost_is_kept_and_summed_in_stats(
    tmp_path: Path,
    telegram: TelegramEmulator,
    aiml: AimlApiEmulator,
    clock: TestClock,
    endpoint: str,
    usage: dict[str, float],
    shown: str,
) -> None:
    aiml.usage = usage
    aiml.duration_at_top = True
    settings = make_settings(
        tmp_path, telegram, aiml, aimlapi_endpoint=endpoint, admin_user_ids=[999]
    )
    async with running_bot(settings, clock) as app:
        for prompt in ("one", "two"):
            await video_for(telegram, photo(telegram, chat=ANN_CHAT, sender=ANN, prompt=prompt))
        stats = await command(telegram, chat=ADMIN_CHAT, sender=ADMIN, text="/stats")
        jobs = await services(app).store.jobs_for_user(111)
    assert f"Cost today, as the video service counts it: {shown}" in stats.splitlines()
    [(unit, amount)] = usage.items()
    assert {(job.usage_unit, job.usage_amount, job.video_seconds) for job in jobs} == {
        (unit.removesuffix("_used"), amount, 6)
    }


@pytest.mark.parametrize("configured", ENDPOINTS)
async def test_a_missing_endpoint_is_left_for_the_other_and_nothing_is_charged_twice(
    tmp_path: Path,
    telegram: TelegramEmulator,
    aiml: AimlApiEmulator,
    clock: TestClock,
    configured: str,
) -> None:
    other = Endpoint(configured).other.value
    aiml.missing_endpoints.add(configured)  # type: ignore[arg-type]
    settings = make_settings(tmp_path, telegram, aiml, aimlapi_endpoint=configured)
    async with running_bot(settings, clock) as app:
        for prompt in ("first", "second"):
            await video_for(telegram, photo(telegram, chat=ANN_CHAT, sender=ANN, prompt=prompt))
        jobs = await services(app).store.jobs_for_user(111)
    # One create met the missing route; every one after it went straight to the other.
    assert [aiml.endpoint_of(call) for call in aiml.creates] == [configured, other, other]
    assert aiml.charged == 2 and {job.endpoint for job in jobs} == {other}
    assert {aiml.endpoint_of(call) for call in aiml.polls} == {other}


async def test_a_404_that_names_the_model_is_explained_and_not_sent_elsewhere(
    bot: object, telegram: TelegramEmulator, aiml: AimlApiEmulator
) -> None:
    aiml.inject("create", 404, {"statusCode": 404, "message": "Model video-01-live2d not found"})
    photo(telegram, chat=ANN_CHAT, sender=ANN, prompt="deprecated")
    await status_says(telegram, 111, "problem on the bot's side")
    assert len(aiml.creates) == 1 and aiml.charged == 0


async def test_a_job_is_polled_where_it_was_made_even_after_the_setting_changes(
    tmp_path: Path, telegram: TelegramEmulator, aiml: AimlApiEmulator, clock: TestClock
) -> None:
    aiml.queued_polls = 10**6  # stays queued until the restart
    universal = make_settings(tmp_path, telegram, aiml, aimlapi_endpoint="universal")
    async with running_bot(universal, clock):
        sent = photo(telegram, chat=ANN_CHAT, sender=ANN, prompt="made on universal")
        generation_id = await created(aiml, "made on universal")
        await status_says(telegram, 111, "Queued")
    aiml.complete_now(generation_id)
    legacy = universal.model_copy(update={"aimlapi_endpoint": Endpoint.LEGACY})
    async with running_bot(legacy, clock):
        await video_for(telegram, sent)
    assert aiml.charged == 1
    assert {aiml.endpoint_of(call) for call in aiml.polls} == {"universal"}


async def test_jobs_of_an_older_version_are_polled_on_the_vendor_path(
    tmp_path: Path, telegram: TelegramEmulator, aiml: AimlApiEmulator, clock: TestClock
) -> None:
    settings = make_settings(tmp_path, telegram, aiml, aimlapi_endpoint="universal")
    aiml.queued_polls = 10**6
    async with running_bot(settings, clock) as app:
        sent = photo(telegram, chat=ANN_CHAT, sender=ANN, prompt="old")
        await status_says(telegram, 111, "Queued")
        store: JobStore = services(app).store
        [job] = await store.jobs_for_user(111)
    # As a job recorded before the endpoint was: made on the vendor path, no endpoint noted.
    aiml.jobs[str(job.generation_id)].endpoint = "legacy"
    aiml.complete_now(str(job.generation_id))
    reopened = await JobStore.open(settings.database)
    await reopened.update(job.id, now=clock(), endpoint=None)
    await reopened.close()
    async with running_bot(settings, clock):
        await video_for(telegram, sent)
    assert aiml.endpoint_of(aiml.polls[-1]) == "legacy"
