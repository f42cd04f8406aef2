"""One user's slow request never holds up anyone else."""

from __future__ import annotations

import io
import os

from PIL import Image

from bot.app import BotApp
from tests.conftest import eventually, send_photo
from tests.emulators.aimlapi import AimlApiEmulator
from tests.emulators.telegram import (
    TelegramEmulator,
    message_update,
    private_chat,
    text_message,
    user,
)

ANN, BOB = user(111, "Ann"), user(222, "Bob")


def _heavy_png() -> bytes:
    """A noise PNG just under 20 MB: it does not compress, so decoding it is real work."""
    side = 2550
    image = Image.frombytes("RGB", (side, side), os.urandom(side * side * 3))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


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
    bot: BotApp, telegram: TelegramEmulator, aiml: AimlApiEmulator
) -> None:
    png = _heavy_png()
    assert len(png) <= 20 * 1024 * 1024
    aiml.set_delay("create", 1)
    send_photo(
        telegram, chat=private_chat(111), sender=ANN, caption="waves", image=png, size=(2550, 2550)
    )
    await eventually(lambda: bool(telegram.file_downloads), what="Ann's download")

    status = text_message(chat=private_chat(222), sender=BOB, text="/status")
    telegram.push_update(message_update(status))
    [reply] = await telegram.wait_for("sendMessage", where=lambda c: c.params["chat_id"] == 222)
    assert "no jobs" in reply.params["text"]
    await telegram.wait_for(
        "editMessageText", where=lambda c: "Queued" in c.params["text"], timeout=20
    )
    assert aiml.charged == 1
