"""Delivery: the video reaches the chat in the shape it has, sent by URL or uploaded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.wiring.application import BotApp
from tests.conftest import API_KEY, TestClock, make_settings, running_bot, send_photo
from tests.emulators.aimlapi_emulator import VIDEO_DURATION_SECONDS, AimlApiEmulator
from tests.emulators.telegram_emulator import RecordedCall, TelegramEmulator, private_chat, user

ANN = user(111, "Ann")
ANN_CHAT = private_chat(111)


def shape(call: RecordedCall) -> tuple[Any, ...]:
    """The width, height and duration a sendVideo call carried (None where it sent none)."""
    return tuple(call.params.get(name) for name in ("width", "height", "duration"))


async def upload_of(telegram: TelegramEmulator) -> tuple[RecordedCall, RecordedCall]:
    """Send a photo, with Telegram refusing the video's URL; the send by URL and the upload."""
    telegram.reject_video_urls = True
    send_photo(telegram, chat=ANN_CHAT, sender=ANN, caption="waves")
    by_url, upload = await telegram.wait_for("sendVideo", 2, timeout=15)
    assert isinstance(by_url.params["video"], str)
    assert "video" in upload.files
    return by_url, upload


async def test_uploaded_video_carries_the_width_height_and_length_read_from_the_file(
    bot: BotApp, telegram: TelegramEmulator, aiml: AimlApiEmulator
) -> None:
    by_url, upload = await upload_of(telegram)
    assert shape(upload) == (720, 1280, VIDEO_DURATION_SECONDS)
    # By URL the file is not at hand: only the length the API reported goes along.
    assert shape(by_url) == (None, None, VIDEO_DURATION_SECONDS)


@pytest.mark.parametrize(
    ("stored", "rotation", "shown"),
    [
        ((1280, 720), 90, (720, 1280)),
        ((1280, 720), 270, (720, 1280)),
        ((720, 1280), 180, (720, 1280)),
    ],
    ids=["quarter-turn", "three-quarter-turn", "half-turn"],
)
async def test_uploaded_video_stored_turned_carries_its_size_as_shown(
    tmp_path: Path,
    telegram: TelegramEmulator,
    clock: TestClock,
    stored: tuple[int, int],
    rotation: int,
    shown: tuple[int, int],
) -> None:
    # A phone stores a vertical video landscape, with a matrix that turns it upright.
    async with AimlApiEmulator(API_KEY, video_dimensions=stored, video_rotation=rotation) as aiml:
        settings = make_settings(tmp_path, telegram, aiml)
        async with running_bot(settings, clock):
            _, upload = await upload_of(telegram)
    assert shape(upload) == (*shown, VIDEO_DURATION_SECONDS)


async def test_uploaded_video_whose_file_gives_no_size_goes_without_one(
    tmp_path: Path, telegram: TelegramEmulator, clock: TestClock
) -> None:
    async with AimlApiEmulator(API_KEY, video_dimensions=(0, 0)) as aiml:  # a track of no size
        settings = make_settings(tmp_path, telegram, aiml)
        async with running_bot(settings, clock):
            _, upload = await upload_of(telegram)
    assert shape(upload) == (None, None, VIDEO_DURATION_SECONDS)
