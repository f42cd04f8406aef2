"""A photo's metadata never reaches the API, whatever the layout of its file: the user gets
the video, paid for once, and the first frame the API got carries no EXIF, GPS position,
XMP, IPTC, comment or PNG text."""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest
from PIL import Image

from bot.wiring.application import BotApp
from tests.conftest import send_photo
from tests.e2e.taps import first_frame
from tests.emulators.aimlapi_emulator import AimlApiEmulator
from tests.emulators.telegram_emulator import (
    TelegramEmulator,
    document_message,
    message_update,
    private_chat,
    user,
)
from tests.images import METADATA_LAYOUTS, metadata_found

ANN, ANN_CHAT = user(111, "Ann"), private_chat(111)
SIZE = (720, 1080)


@pytest.fixture(autouse=True)
def ready_at_first_status_call(aiml: AimlApiEmulator) -> None:
    aiml.queued_polls = 0
    aiml.generating_polls = 0


def send_as_photo(telegram: TelegramEmulator, data: bytes) -> None:
    send_photo(telegram, chat=ANN_CHAT, sender=ANN, caption="she waves", image=data, size=SIZE)


def send_as_file(telegram: TelegramEmulator, data: bytes) -> None:
    """A photo sent as a file: Telegram hands over its bytes as they are, metadata and all."""
    is_png = data.startswith(b"\x89PNG")
    message = document_message(
        chat=ANN_CHAT,
        sender=ANN,
        file_id=telegram.add_file(data),
        file_name="IMG_0001.png" if is_png else "IMG_0001.jpg",
        mime_type="image/png" if is_png else "image/jpeg",
        file_size=len(data),
        caption="she waves",
    )
    telegram.push_update(message_update(message))


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data")  # the truncated EXIF layout
@pytest.mark.parametrize("send", [send_as_photo, send_as_file], ids=["as a photo", "as a file"])
@pytest.mark.parametrize("layout", METADATA_LAYOUTS.values(), ids=METADATA_LAYOUTS.keys())
async def test_first_frame_reaches_the_api_without_the_photos_metadata(
    bot: BotApp,
    telegram: TelegramEmulator,
    aiml: AimlApiEmulator,
    layout: Callable[[int, int], bytes],
    send: Callable[[TelegramEmulator, bytes], None],
) -> None:
    data = layout(*SIZE)
    assert "a GPS position" in metadata_found(data)
    send(telegram, data)

    [video] = await telegram.wait_for("sendVideo", timeout=15)
    assert video.params["chat_id"] == ANN_CHAT["id"]
    assert aiml.charged == 1
    [create] = aiml.creates
    sent = first_frame(create)
    assert metadata_found(sent) == []
    with Image.open(io.BytesIO(data)) as before, Image.open(io.BytesIO(sent)) as after:
        assert after.size == SIZE
        assert after.tobytes() == before.tobytes()  # the same picture, not re-encoded
