"""The AI/ML API's MiniMax video contract as a server enforces it: what a create call must
carry, what the API answers, and its error bodies.

The stand-in server (:mod:`bot.sandbox.standin`) enforces it for both stand-ins of the API,
the sandbox (``python -m bot.sandbox``) and the test emulator
(``tests/emulators/aimlapi_emulator.py``). It follows
``shared/seed/video-01-live2d.txt`` and ``shared/reference/aimlapi.md``, and deliberately
repeats the limits instead of importing them from ``bot.aimlapi.client`` or
``bot.image.firstframe``: the stand-ins must check the client against the API's rules,
not against the client's own idea of them.
"""

from __future__ import annotations

import base64
import binascii
import io
import re
import secrets
import uuid
from collections.abc import Container
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from aiohttp import web
from PIL import Image, UnidentifiedImageError

MODEL: Final = "video-01-live2d"
GENERATION_PATH: Final = "/v2/generate/video/minimax/generation"  # the vendor path ("legacy")
UNIVERSAL_PATH: Final = "/v2/video/generations"  # the API's universal video endpoint
VIDEO_PATH_PREFIX: Final = "/videos/"

MAX_PROMPT_CHARS: Final = 2000
MAX_IMAGE_BYTES: Final = 20 * 1024 * 1024
MIN_SHORT_SIDE_EXCLUSIVE: Final = 300
# A first frame given as a URL is not fetched; it is taken to be a picture of this kind.
URL_IMAGE_FORMAT: Final = "PNG"
URL_IMAGE_SIZE: Final = (720, 1072)

UNAUTHORIZED_MESSAGE: Final = "Unauthorized: invalid or missing API key"
MODERATION_FAILURE: Final = "Content moderation: the image was flagged"
VALIDATION_PREFIX: Final = "Body validation error! "

SUCCESS_STATUSES: Final = frozenset({"completed", "succeeded"})
FAILURE_STATUSES: Final = frozenset({"error", "failed"})

# Large enough for a 20 MB image as base64 inside JSON; beyond it aiohttp answers 413.
CLIENT_MAX_SIZE: Final = 40 * 1024 * 1024

_DATA_URL_RE = re.compile(r"^data:(image/[A-Za-z0-9.+-]+);base64,(.*)$", re.DOTALL)
_MIME_TO_FORMAT = {"image/jpeg": "JPEG", "image/jpg": "JPEG", "image/png": "PNG"}

DEFAULT_MESSAGES: Final[dict[int, str]] = {
    400: "Body validation error!",
    401: UNAUTHORIZED_MESSAGE,
    402: "Payment required",
    403: "Forbidden: not enough credits",
    404: "Not Found",
    408: "Request timeout",
    413: "Payload too large",
    422: "Unprocessable entity",
    429: "Too Many Requests: rate limit exceeded",
    500: "Internal server error",
    502: "Bad gateway",
    503: "Service unavailable",
    504: "Generation timeout",
}


@dataclass(frozen=True, slots=True)
class CreateRequest:
    """A create body that passed the field checks (the image is checked apart, and slower)."""

    prompt: str
    prompt_optimizer: bool | None  # None when the field was left out (the API defaults to true)
    first_frame_image: str


@dataclass(frozen=True, slots=True)
class FirstFrameImage:
    """What the API learnt about an accepted first frame."""

    image_format: str  # "JPEG" or "PNG"
    size: tuple[int, int]  # width, height
    mime: str | None = None  # the data URL's declared type; None for a URL
    nbytes: int = 0  # decoded size of a data URL's image
    url: str | None = None  # set when the first frame was an http(s) URL (never fetched)
    data: bytes | None = field(default=None, repr=False)  # the decoded image of a data URL


def now_iso() -> str:
    """The current UTC time as the API writes it: ``2025-01-31T12:00:00.000Z``."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_generation_id(taken: Container[str]) -> str:
    """A fresh 15-digit generation id, as the API hands out, not among ``taken``."""
    while True:
        generation_id = str(10**14 + secrets.randbelow(9 * 10**14))
        if generation_id not in taken:
            return generation_id


def bearer_token(authorization: str) -> str | None:
    """The key in an ``Authorization: Bearer <key>`` header value, or None when there is none."""
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def error_body(status: int, path: str, message: str | None = None) -> dict[str, Any]:
    """The API's error body; ``message`` defaults to the usual text for ``status``."""
    return {
        "requestId": str(uuid.uuid4()),
        "statusCode": status,
        "timestamp": now_iso(),
        "path": path,
        "message": message if message is not None else DEFAULT_MESSAGES.get(status, "Error"),
    }


def error_response(status: int, path: str, message: str | None = None) -> web.Response:
    """An HTTP answer with the API's error body."""
    return web.json_response(error_body(status, path, message), status=status)


def validation_error(path: str, what: str) -> web.Response:
    """A 400 answer for a refused body; ``what`` names the field and the rule."""
    return error_response(400, path, VALIDATION_PREFIX + what)


def cdn_error(status: int, code: str, message: str) -> web.Response:
    """An answer of the video link's host, which speaks XML, not the API's JSON error shape."""
    text = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    )
    return web.Response(status=status, text=text, content_type="application/xml")


def status_body(
    generation_id: str,
    status: str,
    *,
    video: dict[str, Any] | None = None,
    error: Any = None,
    usage: dict[str, float] | None = None,
) -> dict[str, Any]:
    """The answer to a status call. ``video`` is reported only on success, ``error`` (or a
    generic reason) only on failure; ``usage`` (``{"credits_used": N}`` or
    ``{"tokens_used": N}``) as ``meta.usage`` when given."""
    return {
        "id": generation_id,
        "status": status,
        "video": video if status in SUCCESS_STATUSES else None,
        "error": (error if error is not None else "Generation failed")
        if status in FAILURE_STATUSES
        else None,
        "meta": {"usage": usage} if usage else None,
    }


def universal_error(error: Any) -> Any:
    """A failure as the universal endpoint words it, ``{"name", "message"}``."""
    if isinstance(error, str):
        return {"name": "GenerationError", "message": error}
    return error


def check_create_body(body: Any, *, universal: bool = False) -> CreateRequest | str:
    """Check a create body's fields, in the API's order. The vendor path takes the first
    frame as ``first_frame_image`` and the optimizer as ``prompt_optimizer``; the universal
    endpoint (``universal``) names them ``image_url`` and ``enhance_prompt``.

    Returns the request, or what is wrong (the text after :data:`VALIDATION_PREFIX`).
    The first frame is only checked to be a string here: see :func:`check_first_frame`.
    """
    image_field, optimizer_field = (
        ("image_url", "enhance_prompt") if universal else ("first_frame_image", "prompt_optimizer")
    )
    if not isinstance(body, dict):
        return "Expected a JSON object body"
    model = body.get("model")
    if model != MODEL:
        return f"model: Invalid enum value. Expected '{MODEL}', received {model!r}"
    if "prompt" not in body:
        return "prompt: Required"
    prompt = body["prompt"]
    if not isinstance(prompt, str):
        return "prompt: Expected string"
    if not prompt:
        return "prompt: String must contain at least 1 character(s)"
    if len(prompt) > MAX_PROMPT_CHARS:
        return f"prompt: String must contain at most {MAX_PROMPT_CHARS} character(s)"
    optimizer: bool | None = None
    if optimizer_field in body:
        if not isinstance(body[optimizer_field], bool):
            return f"{optimizer_field}: Expected boolean"
        optimizer = body[optimizer_field]
    if image_field not in body:
        return f"{image_field}: Required"
    image = body[image_field]
    if not isinstance(image, str):
        return f"{image_field}: Expected string"
    return CreateRequest(prompt=prompt, prompt_optimizer=optimizer, first_frame_image=image)


def check_first_frame(image: str) -> FirstFrameImage | str:
    """Check a ``first_frame_image`` value against the model's image rules.

    An http(s) URL is accepted without being fetched. A data URL must be JPEG or PNG, decode
    fully, match its declared type, have an aspect ratio strictly between 2:5 and 5:2 and a
    shorter side over 300 px, and be at most 20 MB. Returns what was learnt about the image,
    or what is wrong with it (prefixed with ``first_frame_image: `` by the caller).
    Blocking (a full decode): call it from a worker thread.
    """
    if image.startswith(("http://", "https://")) and len(image) > len("https://"):
        return FirstFrameImage(URL_IMAGE_FORMAT, URL_IMAGE_SIZE, url=image)
    match = _DATA_URL_RE.match(image)
    if match is None:
        return "must be an http(s) URL or a data URL 'data:image/<jpeg|png>;base64,...'"
    mime = match.group(1).lower()
    declared = _MIME_TO_FORMAT.get(mime)
    if declared is None:
        return f"unsupported image type {mime!r}: format must be JPG, JPEG or PNG"
    try:
        data = base64.b64decode(match.group(2), validate=True)
    except (binascii.Error, ValueError):
        return "invalid base64 data"
    if not data:
        return "empty image data"
    if len(data) > MAX_IMAGE_BYTES:
        return f"image is {len(data)} bytes, the limit is 20MB ({MAX_IMAGE_BYTES} bytes)"
    opened = _decode_image(data)
    if isinstance(opened, str):
        return opened
    fmt, (width, height) = opened
    if fmt not in ("JPEG", "PNG"):
        return f"unsupported image format {fmt}: format must be JPG, JPEG or PNG"
    if fmt != declared:
        return f"declared type {mime} does not match the image data ({fmt})"
    if not (5 * width > 2 * height and 2 * width < 5 * height):
        return f"aspect ratio {width}x{height} must be greater than 2:5 and less than 5:2"
    if min(width, height) <= MIN_SHORT_SIDE_EXCLUSIVE:
        return (
            f"shorter side is {min(width, height)}px, it must exceed "
            f"{MIN_SHORT_SIDE_EXCLUSIVE} pixels"
        )
    return FirstFrameImage(fmt, (width, height), mime=mime, nbytes=len(data), data=data)


def _decode_image(data: bytes) -> str | tuple[str, tuple[int, int]]:
    """Fully decode an image with Pillow; return (format, size) or an error text."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            fmt = img.format or "unknown"
            size = img.size
            img.load()
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        return f"the image could not be decoded ({type(exc).__name__})"
    return fmt, (int(size[0]), int(size[1]))
