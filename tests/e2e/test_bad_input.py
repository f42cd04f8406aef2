"""Images the video model cannot take: each gets a reply that says what is wrong and what
would work, and nothing reaches the paid API."""

from __future__ import annotations

import base64
import io

import pytest
from PIL import Image

from bot.image.firstframe import ImageProblem, ImageRejected
from bot.wiring.application import BotApp
from bot.words.texts import ENGLISH
from tests.conftest import send_photo
from tests.emulators.aimlapi_emulator import AimlApiEmulator
from tests.emulators.telegram_emulator import (
    RecordedCall,
    TelegramEmulator,
    document_message,
    message_update,
    private_chat,
    user,
)
from tests.images import make_image

ANN = user(111, "Ann")
ANN_CHAT = private_chat(111)
MB = 1024 * 1024


@pytest.fixture(autouse=True)
def ready_at_first_status_call(aiml: AimlApiEmulator) -> None:
    """Every job ends at its first status call, so a test takes a fraction of a second; the
    poll schedule itself is tested on its own."""
    aiml.queued_polls = 0
    aiml.generating_polls = 0


def is_news(call: RecordedCall) -> bool:
    """An edit of the acknowledgement into what came of the request."""
    return "Got it" not in str(call.params.get("text", ""))


async def refusal(telegram: TelegramEmulator) -> str:
    """The text the acknowledgement was turned into."""
    [ack] = await telegram.wait_for("sendMessage")
    assert "Got it" in ack.params["text"]
    [edit] = await telegram.wait_for("editMessageText", where=is_news)
    assert edit.params["chat_id"] == ack.params["chat_id"]
    return str(edit.params["text"])


def send_file(
    telegram: TelegramEmulator, data: bytes, *, file_name: str, mime_type: str, caption: str
) -> int:
    file_id = telegram.add_file(data)
    message = document_message(
        chat=ANN_CHAT,
        sender=ANN,
        file_id=file_id,
        file_name=file_name,
        mime_type=mime_type,
        file_size=len(data),
        caption=caption,
    )
    telegram.push_update(message_update(message))
    return int(message["message_id"])


def assert_nothing_charged(aiml: AimlApiEmulator) -> None:
    assert aiml.charged == 0
    assert aiml.creates == []


@pytest.mark.parametrize(
    ("size", "problem", "words"),
    [
        ((300, 600), ImageProblem.TOO_SMALL, ("too small", "300×600", "over 300 px")),
        ((600, 300), ImageProblem.TOO_SMALL, ("too small", "over 300 px")),
        ((400, 1000), ImageProblem.TOO_TALL, ("too tall", "400×1000", "2:5")),
        ((1000, 400), ImageProblem.TOO_WIDE, ("too wide", "1000×400", "5:2")),
    ],
    ids=["short-side-300-portrait", "short-side-300-landscape", "exactly-2-5", "exactly-5-2"],
)
async def test_photo_outside_the_size_rules_is_refused_with_what_would_work(
    bot: BotApp,
    telegram: TelegramEmulator,
    aiml: AimlApiEmulator,
    size: tuple[int, int],
    problem: ImageProblem,
    words: tuple[str, ...],
) -> None:
    send_photo(telegram, chat=ANN_CHAT, sender=ANN, caption="she waves", size=size)
    text = await refusal(telegram)
    width, height = size
    # Each of these can be fixed: the refusal says so, over its buttons (test_image_fixes.py).
    rejection = ImageRejected(problem, width=width, height=height)
    assert text == ENGLISH.image_refused(rejection, fixes=True)
    for word in words:
        assert word in text
    assert "Please" in text  # and what to send instead
    assert_nothing_charged(aiml)


@pytest.mark.parametrize("size", [(301, 752), (752, 301)], ids=["tall", "wide"])
async def test_photo_just_inside_the_size_rules_is_accepted(
    bot: BotApp, telegram: TelegramEmulator, aiml: AimlApiEmulator, size: tuple[int, int]
) -> None:
    send_photo(telegram, chat=ANN_CHAT, sender=ANN, caption="she waves", size=size)
    await telegram.wait_for("sendVideo", timeout=15)
    assert aiml.charged == 1
    [job] = aiml.jobs.values()
    assert job.image_size == size


async def test_declared_size_over_20_mb_is_refused_without_downloading(
    bot: BotApp, telegram: TelegramEmulator, aiml: AimlApiEmulator
) -> None:
    declared = 21 * MB
    send_photo(telegram, chat=ANN_CHAT, sender=ANN, caption="a wave", declared_size=declared)
    text = await refusal(telegram)
    assert text == ENGLISH.image_refused(ImageRejected(ImageProblem.TOO_LARGE, size_bytes=declared))
    assert "too large" in text and "21.0 MB" in text and "at most 20 MB" in text
    assert telegram.file_downloads == []
    assert telegram.calls_to("getFile") == []
    assert_nothing_charged(aiml)


async def test_actual_bytes_over_20_mb_behind_a_small_declared_size_are_refused(
    bot: BotApp, telegram: TelegramEmulator, aiml: AimlApiEmulator
) -> None:
    big = make_image(720, 1080) + bytes(21 * MB)
    send_photo(telegram, chat=ANN_CHAT, sender=ANN, caption="a wave", image=big, declared_size=900)
    text = await refusal(telegram)
    assert "too large" in text and "at most 20 MB" in text
    assert len(telegram.file_downloads) == 1  # the lie is found out only by downloading
    assert_nothing_charged(aiml)


async def test_truncated_jpeg_is_refused_as_damaged(
    bot: BotApp, telegram: TelegramEmulator, aiml: AimlApiEmulator
) -> None:
    whole = make_image(720, 1080)
    send_photo(
        telegram, chat=ANN_CHAT, sender=ANN, caption="a wave", image=whole[: len(whole) // 2]
    )
    text = await refusal(telegram)
    assert "damaged" in text
    assert "JPG or PNG" in text
    assert_nothing_charged(aiml)


@pytest.mark.parametrize(
    ("fmt", "file_name", "mime_type"),
    [("PCX", "scan.pcx", "image/x-pcx"), ("TGA", "render.tga", "image/x-tga")],
)
async def test_image_format_neither_sent_nor_converted_is_refused_naming_it(
    bot: BotApp,
    telegram: TelegramEmulator,
    aiml: AimlApiEmulator,
    fmt: str,
    file_name: str,
    mime_type: str,
) -> None:
    data = make_image(720, 1080, fmt)
    send_file(telegram, data, file_name=file_name, mime_type=mime_type, caption="it blinks")
    text = await refusal(telegram)
    assert f"{fmt} images are not supported" in text
    assert "JPG or PNG" in text
    assert_nothing_charged(aiml)


@pytest.mark.parametrize(
    ("fmt", "file_name", "mime_type"),
    [("GIF", "cat.gif", "image/gif"), ("WEBP", "cat.webp", "image/webp")],
)
async def test_gif_and_webp_sent_as_files_reach_the_api_only_as_jpeg(
    bot: BotApp,
    telegram: TelegramEmulator,
    aiml: AimlApiEmulator,
    fmt: str,
    file_name: str,
    mime_type: str,
) -> None:
    # The model takes JPG and PNG only: these are converted rather than refused.
    data = make_image(720, 1080, fmt)
    send_file(telegram, data, file_name=file_name, mime_type=mime_type, caption="it blinks")
    await telegram.wait_for("sendVideo", timeout=15)
    [create] = aiml.creates
    data_url = create.body["first_frame_image"]
    assert data_url.startswith("data:image/jpeg;base64,")
    sent = Image.open(io.BytesIO(base64.b64decode(data_url.split(",", 1)[1])))
    assert sent.format == "JPEG"
    assert sent.size == (720, 1080)
    assert aiml.charged == 1


async def test_non_image_file_with_caption_is_refused(
    bot: BotApp, telegram: TelegramEmulator, aiml: AimlApiEmulator
) -> None:
    pdf = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\ntrailer\n%%EOF\n"
    send_file(
        telegram, pdf, file_name="report.pdf", mime_type="application/pdf", caption="animate it"
    )
    text = await refusal(telegram)
    assert text == ENGLISH.image_refused(ImageRejected(ImageProblem.NOT_AN_IMAGE))
    assert "not an image" in text and "JPG or PNG" in text
    assert_nothing_charged(aiml)


async def test_cmyk_jpeg_is_accepted_and_sent_as_rgb(
    bot: BotApp, telegram: TelegramEmulator, aiml: AimlApiEmulator
) -> None:
    cmyk = make_image(720, 1080, "JPEG", mode="CMYK")
    assert Image.open(io.BytesIO(cmyk)).mode == "CMYK"
    send_file(telegram, cmyk, file_name="print.jpg", mime_type="image/jpeg", caption="it glows")

    await telegram.wait_for("sendVideo", timeout=15)
    assert aiml.charged == 1
    [create] = aiml.creates
    data_url = create.body["first_frame_image"]
    assert data_url.startswith("data:image/jpeg;base64,")
    sent = Image.open(io.BytesIO(base64.b64decode(data_url.split(",", 1)[1])))
    assert sent.format == "JPEG"
    assert sent.mode == "RGB"
    assert sent.size == (720, 1080)
