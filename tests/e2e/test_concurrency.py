"""One user's slow request never holds up anyone else."""

from __future__ import annotations

import dataclasses
import io
import os
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image

from bot.image import firstframe
from bot.wiring.application import BotApp
from tests.conftest import FAST, TestClock, eventually, make_settings, running_bot, send_photo
from tests.emulators.aimlapi_emulator import AimlApiEmulator
from tests.emulators.telegram_emulator import (
    TelegramEmulator,
    message_update,
    private_chat,
    text_message,
    user,
)

ANN, BOB = user(111, "Ann"), user(222, "Bob")


def _heavy_png() -> bytes:
    """A noise PNG just under 20 MB, stored sideways: it does not compress, and turning it
    upright means decoding and encoding it again, the heaviest check a PNG gets (over a
    second, where a user's /status takes a few milliseconds)."""
    side = 2550
    image = Image.frombytes("RGB", (side, side), os.urandom(side * side * 3))
    sideways = Image.Exif()
    sideways[0x0112] = 6  # Orientation: rotate 90° to show it upright
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1, exif=sideways.tobytes())
    return buffer.getvalue()


@dataclass
class _Span:
    """When the image check began and ended, on the clock of `RecordedCall.at`."""

    began: float | None = None
    ended: float | None = None


def _timed_check(monkeypatch: pytest.MonkeyPatch) -> _Span:
    """Record when `prepare_first_frame` (the check itself, wherever it runs) begins and ends."""
    span, check = _Span(), firstframe.prepare_first_frame

    def timed(data: bytes) -> firstframe.FirstFrame:
        span.began = time.monotonic()
        try:
            return check(data)
        finally:
            span.ended = time.monotonic()

    monkeypatch.setattr(firstframe, "prepare_first_frame", timed)
    return span


async def test_status_is_answered_while_another_users_submission_waits_on_the_api(
    bot: BotApp, telegram: TelegramEmulator, aiml: AimlApiEmulator
) -> None:
    aiml.set_delay("create", 3)
    send_photo(telegram, chat=private_chat(111), sender=ANN, caption="waves")
    await eventually(lambda: len(aiml.creates) == 1, what="Ann's create call")

    status = text_message(chat=private_chat(222), sender=BOB, text="/status")
    telegram.push_update(message_update(status))
    await telegram.wait_for("sendMessage", where=lambda c: c.params["chat_id"] == 222)
    assert not [c for c in telegram.calls_to("editMessageText") if "Queued" in c.params["text"]]


async def test_status_is_answered_while_a_20_mb_png_is_checked(
    bot: BotApp, telegram: TelegramEmulator, aiml: AimlApiEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    png = _heavy_png()
    assert len(png) <= 20 * 1024 * 1024
    check = _timed_check(monkeypatch)
    send_photo(
        telegram, chat=private_chat(111), sender=ANN, caption="waves", image=png, size=(2550, 2550)
    )
    # A check that held the event loop would hold this test too, until the check was over.
    await eventually(lambda: check.began is not None, what="Ann's image check")

    status = text_message(chat=private_chat(222), sender=BOB, text="/status")
    telegram.push_update(message_update(status))
    [reply] = await telegram.wait_for("sendMessage", where=lambda c: c.params["chat_id"] == 222)
    assert "no jobs" in reply.params["text"]
    await telegram.wait_for(
        "editMessageText", where=lambda c: "Queued" in c.params["text"], timeout=20
    )
    assert check.began is not None and check.ended is not None
    assert check.began < reply.at < check.ended, "/status was answered only after the check"
    assert aiml.charged == 1


async def test_slow_create_calls_never_hold_up_another_users_photo_check(
    tmp_path: Path, telegram: TelegramEmulator, aiml: AimlApiEmulator, clock: TestClock
) -> None:
    aiml.set_delay("create", 4.0)  # each create answered only after 4 s
    patient = dataclasses.replace(FAST, create_timeout_seconds=10.0)
    async with running_bot(make_settings(tmp_path, telegram, aiml), clock, patient):
        for uid in (301, 302):
            send_photo(telegram, chat=private_chat(uid), sender=user(uid, "U"), caption="slow")
        await eventually(lambda: len(aiml.creates) == 2, what="both creates at the API")
        # Both image slots are free again: a third user's photo is checked at once.
        carl = user(303, "Carl")
        send_photo(telegram, chat=private_chat(303), sender=carl, caption="tiny", size=(200, 200))
        await telegram.wait_for(
            "editMessageText", where=lambda c: "too small" in str(c.params.get("text"))
        )
        answered = [call for call in aiml.creates if call.response_status is not None]
        assert answered == [], "the refusal came only after a slow create was answered"
        await telegram.wait_for("sendVideo", 2, timeout=20)
