"""The check before submission over the chat port: the image is fetched by its file id, and a
refusal is told in the status message with its fixes as buttons."""

from __future__ import annotations

from bot.engine.chat_port import FileTooBig, Unreachable
from bot.wiring.steps import Steps
from bot.words.texts import ENGLISH
from storage import JobState, JobStore, Reason
from tests.conftest import TestClock
from tests.images import make_image
from tests.unit.engine.conftest import record_job
from tests.unit.engine.fakechat import FakeChat


async def test_an_image_too_narrow_is_refused_with_its_fixes_as_buttons(
    steps: Steps, chat: FakeChat, store: JobStore, clock: TestClock
) -> None:
    chat.files["photo-file"] = make_image(400, 2000)
    job = await record_job(store, clock)
    ended = await steps.pipeline.check_and_submit(job)
    assert ended.state is JobState.REJECTED and ended.reason is Reason.TOO_TALL
    [refusal] = chat.in_chat(111)
    assert refusal.reply_to == 11
    assert refusal.buttons and all(data.startswith(f"fix:{job.id}:") for _, data in refusal.buttons)
    assert chat.calls_to("fetch_image")[0].params["file_id"] == "photo-file"


async def test_an_image_too_big_to_fetch_is_refused_as_too_large(
    steps: Steps, chat: FakeChat, store: JobStore, clock: TestClock
) -> None:
    chat.fail("fetch_image", FileTooBig(25 * 1024 * 1024))
    ended = await steps.pipeline.check_and_submit(await record_job(store, clock))
    assert ended.state is JobState.REJECTED and ended.reason is Reason.TOO_LARGE


async def test_an_image_the_chat_will_not_hand_over_is_a_failed_download(
    steps: Steps, chat: FakeChat, store: JobStore, clock: TestClock
) -> None:
    chat.fail("fetch_image", Unreachable("Bad Gateway"))
    ended = await steps.pipeline.check_and_submit(await record_job(store, clock))
    assert ended.state is JobState.REJECTED and ended.reason is Reason.DOWNLOAD_FAILED
    assert chat.texts(111) == [ENGLISH.DOWNLOAD_FAILED]
