"""The create call's body: encoded in slices and streamed, yet the very JSON `json.dumps` makes."""

from __future__ import annotations

import base64
import io
import json
import os
from collections.abc import AsyncIterator
from typing import Any

import pytest
from PIL import Image

from bot.aimlapi.client import BODY_SLICE, AimlApiClient, json_slices
from tests.conftest import API_KEY
from tests.emulators.aimlapi_emulator import AimlApiEmulator


@pytest.mark.parametrize(
    "value",
    [
        {},
        {"prompt_optimizer": True, "note": None, "count": 3},
        {"prompt": 'quotes " and \\ backslashes,\nnew lines, accents é and emoji 😀' * 20_000},
        {"first_frame_image": "data:image/png;base64," + "QUJD+/9=" * (BODY_SLICE // 2)},
        {"lone_surrogate": "\ud800" + "x" * BODY_SLICE + "\udfff", "tail": "end"},
    ],
)
def test_slices_join_into_exactly_what_json_dumps_makes(value: dict[str, Any]) -> None:
    assert b"".join(json_slices(value)) == json.dumps(value).encode()


def test_a_long_string_comes_in_bounded_slices() -> None:
    pieces = list(json_slices({"image": "A" * (5 * BODY_SLICE + 7)}))
    assert len(pieces) >= 6
    assert max(len(piece) for piece in pieces) <= BODY_SLICE + 64


@pytest.fixture
async def client(aiml: AimlApiEmulator) -> AsyncIterator[AimlApiClient]:
    api = AimlApiClient(aiml.base_url, API_KEY, create_timeout=5.0)
    try:
        yield api
    finally:
        await api.close()


async def test_a_large_create_is_sent_with_its_length_not_chunked(
    client: AimlApiClient, aiml: AimlApiEmulator
) -> None:
    buffer = io.BytesIO()
    Image.frombytes("RGB", (600, 800), os.urandom(600 * 800 * 3)).save(buffer, "PNG")
    frame = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
    assert len(frame) > 2 * BODY_SLICE

    await client.create_generation(prompt="waves", first_frame_image=frame, prompt_optimizer=True)

    [create] = aiml.creates
    assert create.header("Transfer-Encoding") is None
    expected = {
        "model": "video-01-live2d",
        "prompt": "waves",
        "prompt_optimizer": True,
        "first_frame_image": frame,
    }
    assert create.header("Content-Length") == str(len(json.dumps(expected).encode()))
    assert create.header("Content-Type") == "application/json"
    assert create.body == expected
    assert aiml.charged == 1
