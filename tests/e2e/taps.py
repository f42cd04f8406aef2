"""Helpers for button tests: find the bot's messages and their buttons, and tap them."""

from __future__ import annotations

import base64
import copy
import io
from collections.abc import Callable
from typing import Any

from PIL import Image

from bot.engine.chat_port import Keyboard
from tests.conftest import eventually
from tests.emulators.aimlapi_emulator import RecordedRequest
from tests.emulators.telegram_emulator import RecordedCall, TelegramEmulator, callback_update


def bot_messages(
    telegram: TelegramEmulator, chat_id: int, where: Callable[[dict[str, Any]], bool]
) -> list[dict[str, Any]]:
    """The bot's messages in a chat (as they are now) that match `where`, oldest first."""
    return [
        message
        for (chat, _), message in sorted(telegram.messages.items())
        if chat == chat_id and where(message)
    ]


async def bot_message(
    telegram: TelegramEmulator, chat_id: int, where: Callable[[dict[str, Any]], bool], what: str
) -> dict[str, Any]:
    """Wait for the bot's first message in the chat that matches `where`, and return it as it
    is then (a copy: later edits do not change it)."""
    await eventually(lambda: bool(bot_messages(telegram, chat_id, where)), what=what)
    return copy.deepcopy(bot_messages(telegram, chat_id, where)[0])


def saying(words: str) -> Callable[[dict[str, Any]], bool]:
    """A `where` for a message whose text or caption contains `words`."""
    return lambda message: words in str(message.get("text") or message.get("caption") or "")


def buttons(message: dict[str, Any]) -> list[tuple[str, str]]:
    """The (label, callback data) of every inline button under a message, row by row."""
    rows = message.get("reply_markup", {}).get("inline_keyboard", [])
    return [(button["text"], button["callback_data"]) for row in rows for button in row]


def button_data(message: dict[str, Any], expected: Keyboard) -> str:
    """The callback data of the one button under `message`, which must be the one
    `expected` describes: the user can only press what the bot put there."""
    [want] = [(b.text, b.data) for row in expected for b in row]
    assert buttons(message) == [want]
    return want[1]


async def tap(
    telegram: TelegramEmulator, *, sender: dict[str, Any], message: dict[str, Any], data: str
) -> RecordedCall:
    """Press a button with `data` under the bot's `message` as `sender`; return the bot's
    answer to the callback query once it came."""
    update = callback_update(sender=sender, message=copy.deepcopy(message), data=data)
    query_id = update["callback_query"]["id"]
    telegram.push_update(update)
    [answer] = await telegram.wait_for(
        "answerCallbackQuery", where=lambda call: call.params["callback_query_id"] == query_id
    )
    return answer


def first_frame(create: RecordedRequest) -> bytes:
    """The image bytes a create call sent as its data URL."""
    data_url = str(create.body["first_frame_image"])
    return base64.b64decode(data_url.split(",", 1)[1])


def image_size(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as image:
        return image.size
