"""Validate a user's photo and encode it as the first frame for ``video-01-live2d``.

This is the "first frame" step of the pipeline. It knows nothing of Telegram or of
the HTTP API. It takes raw bytes and either returns a ready-to-send base64 data URL
or raises :class:`ImageRejected` with a machine-readable :class:`ImageProblem`.

The rules come from the model's documentation (``/work/shared/seed/video-01-live2d.txt``):
JPG/JPEG/PNG only, aspect ratio strictly between 2:5 and 5:2, shorter side strictly
above 300 px, at most 20 MB.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction
from typing import Any, Final

from PIL import Image, UnidentifiedImageError

__all__ = [
    "MAX_FILE_BYTES",
    "MAX_PIXELS",
    "MAX_RATIO",
    "MIN_RATIO",
    "MIN_SHORT_SIDE",
    "FirstFrame",
    "ImageProblem",
    "ImageRejected",
    "check_declared_size",
    "prepare_first_frame",
    "prepare_first_frame_async",
]

MAX_FILE_BYTES: Final[int] = 20 * 1024 * 1024
MIN_SHORT_SIDE: Final[int] = 300  # the shorter side must be strictly greater
MIN_RATIO: Final[Fraction] = Fraction(2, 5)  # width/height must be strictly greater
MAX_RATIO: Final[Fraction] = Fraction(5, 2)  # width/height must be strictly less
# Decompression-bomb guard. 60 MP rather than a round 50 MP so that full-size photos
# from common "50 MP" phone sensors (8192x6144 = 50.3 MP) still pass; a 60 MP decode
# still costs at most ~240 MB (4 bytes/pixel for CMYK) per image.
MAX_PIXELS: Final[int] = 60_000_000

# Pillow's guard is process-wide. Only ever tighten it, so that Pillow and this module
# agree on what is too big without loosening a stricter limit set elsewhere.
if Image.MAX_IMAGE_PIXELS is None or Image.MAX_IMAGE_PIXELS > MAX_PIXELS:
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS

_MIME_TYPES: Final[dict[str, str]] = {"JPEG": "image/jpeg", "PNG": "image/png"}
# Pillow reports a multi-picture JPEG (written by many cameras and phones) as "MPO".
# It is a JPEG file whose first picture is a plain JPEG, so it is sent as one.
_FORMAT_ALIASES: Final[dict[str, str]] = {"JPEG": "JPEG", "MPO": "JPEG", "PNG": "PNG"}
# Modes a JPEG can be sent in unchanged; anything else (CMYK from YCCK/Adobe files,
# ...) is re-encoded because the video model expects RGB.
_JPEG_MODES_KEPT: Final[frozenset[str]] = frozenset({"RGB", "L"})
# PNG modes that not every consumer decodes as expected (16-bit grayscale, 32-bit
# integer, float): re-encoded as 8-bit RGB.
_PNG_MODES_CONVERTED: Final[frozenset[str]] = frozenset(
    {"I", "I;16", "I;16B", "I;16L", "I;16N", "F"}
)
_REENCODE_JPEG_QUALITY: Final[int] = 95


class ImageProblem(StrEnum):
    """Why an image cannot be used as a first frame (stable values, safe to log)."""

    # The file (declared or actual) is bigger than MAX_FILE_BYTES.
    TOO_LARGE = "too_large"
    # Pillow cannot identify the bytes as any image (random bytes, a PDF, ...).
    NOT_AN_IMAGE = "not_an_image"
    # Identified as an image, but its header or data is broken (truncated, bad CRC).
    CORRUPT = "corrupt"
    # A real image, but not JPEG/PNG (GIF, WEBP, BMP, TIFF, ...).
    UNSUPPORTED_FORMAT = "unsupported_format"
    # The shorter side is MIN_SHORT_SIDE pixels or fewer.
    TOO_SMALL = "too_small"
    # width/height is MIN_RATIO (2:5) or narrower.
    TOO_TALL = "too_tall"
    # width/height is MAX_RATIO (5:2) or wider.
    TOO_WIDE = "too_wide"
    # More than MAX_PIXELS pixels: refused before decoding (decompression-bomb guard).
    TOO_MANY_PIXELS = "too_many_pixels"


class ImageRejected(Exception):
    """Raised when an image cannot be used as a first frame.

    ``problem`` says why; ``width``, ``height``, ``size_bytes`` and ``image_format``
    are filled in whenever they were known at the point of rejection, else ``None``.
    """

    def __init__(
        self,
        problem: ImageProblem,
        *,
        width: int | None = None,
        height: int | None = None,
        size_bytes: int | None = None,
        image_format: str | None = None,
    ) -> None:
        self.problem = problem
        self.width = width
        self.height = height
        self.size_bytes = size_bytes
        self.image_format = image_format
        details = ", ".join(
            f"{name}={value}"
            for name, value in (
                ("width", width),
                ("height", height),
                ("size_bytes", size_bytes),
                ("image_format", image_format),
            )
            if value is not None
        )
        message = f"image rejected: {problem.value}"
        super().__init__(f"{message} ({details})" if details else message)


@dataclass(frozen=True, slots=True)
class FirstFrame:
    """An image that passed every rule, ready to be sent as ``first_frame_image``.

    Every field describes the bytes actually sent, which may differ from the input
    when it had to be re-encoded (CMYK JPEG, 16-bit PNG).
    """

    data_url: str  # "data:image/jpeg;base64,..." or "data:image/png;base64,..."
    image_format: str  # "JPEG" or "PNG"
    width: int
    height: int
    size_bytes: int
    sha256: str  # hex digest; usable as an idempotency / deduplication key


def check_declared_size(size_bytes: int | None) -> None:
    """Refuse an image before downloading it when its declared size is over the limit.

    Input: the size the sender declared (e.g. Telegram's ``file_size``), or ``None``
    when unknown. Unknown is allowed: :func:`prepare_first_frame` checks the real size.
    Returns nothing. Raises :class:`ImageRejected` with ``TOO_LARGE`` (and
    ``size_bytes`` set) when ``size_bytes > MAX_FILE_BYTES``; exactly 20 MB is allowed.
    """
    if size_bytes is not None and size_bytes > MAX_FILE_BYTES:
        raise ImageRejected(ImageProblem.TOO_LARGE, size_bytes=size_bytes)


def prepare_first_frame(data: bytes) -> FirstFrame:
    """Validate an image and encode it as a base64 data URL for the video API.

    Input: the raw file bytes. The format is taken from the bytes themselves, never
    from a file name or a MIME type.

    Output: a :class:`FirstFrame`. The original bytes are sent unchanged, except that
    a JPEG in a non-RGB/non-grayscale mode (CMYK, ...) is re-encoded as an RGB JPEG
    (quality 95) and a 16-bit/32-bit/float PNG is re-encoded as an 8-bit RGB PNG.

    Raises :class:`ImageRejected`, checked in this order: ``TOO_LARGE`` (over
    MAX_FILE_BYTES, before any parsing), ``NOT_AN_IMAGE``, ``TOO_MANY_PIXELS`` (from the
    header, before any decode), ``UNSUPPORTED_FORMAT``, ``TOO_SMALL``, ``TOO_TALL``,
    ``TOO_WIDE``, ``CORRUPT`` (full decode fails), ``TOO_LARGE`` (re-encoded result
    over the limit). No Pillow exception or decompression-bomb error escapes.

    CPU-bound and blocking (a full decode of up to MAX_PIXELS pixels): from async
    code call :func:`prepare_first_frame_async` instead.
    """
    size_bytes = len(data)
    if size_bytes > MAX_FILE_BYTES:
        raise ImageRejected(ImageProblem.TOO_LARGE, size_bytes=size_bytes)

    img = _open_lazily(data)
    with img:
        width, height = img.size
        # Checked before the format so that nothing huge is ever decoded, whatever it is.
        if width * height > MAX_PIXELS:
            raise ImageRejected(
                ImageProblem.TOO_MANY_PIXELS,
                width=width,
                height=height,
                size_bytes=size_bytes,
                image_format=img.format,
            )
        image_format = _FORMAT_ALIASES.get(img.format or "")
        if image_format is None:
            raise ImageRejected(
                ImageProblem.UNSUPPORTED_FORMAT,
                width=width,
                height=height,
                size_bytes=size_bytes,
                image_format=img.format,
            )
        problem = _geometry_problem(width, height)
        if problem is not None:
            raise ImageRejected(
                problem,
                width=width,
                height=height,
                size_bytes=size_bytes,
                image_format=image_format,
            )
        _decode_fully(img, data, image_format, size_bytes)
        payload = _bytes_to_send(img, data, image_format)

    if len(payload) > MAX_FILE_BYTES:
        raise ImageRejected(
            ImageProblem.TOO_LARGE,
            width=width,
            height=height,
            size_bytes=len(payload),
            image_format=image_format,
        )
    encoded = base64.b64encode(payload).decode("ascii")
    return FirstFrame(
        data_url=f"data:{_MIME_TYPES[image_format]};base64,{encoded}",
        image_format=image_format,
        width=width,
        height=height,
        size_bytes=len(payload),
        sha256=hashlib.sha256(payload).hexdigest(),
    )


async def prepare_first_frame_async(data: bytes) -> FirstFrame:
    """Same promise, inputs, output and exceptions as :func:`prepare_first_frame`.

    Runs it in a worker thread via :func:`asyncio.to_thread` so that decoding a large
    photo never blocks the event loop. Cancelling the caller does not stop the thread;
    its result is simply discarded.
    """
    return await asyncio.to_thread(prepare_first_frame, data)


def _open_lazily(data: bytes) -> Image.Image:
    """Open the bytes reading only the header; translate Pillow's failures."""
    try:
        return Image.open(io.BytesIO(data))
    except UnidentifiedImageError as exc:
        raise ImageRejected(ImageProblem.NOT_AN_IMAGE, size_bytes=len(data)) from exc
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # The warning only arrives as an exception when warnings are turned into
        # errors (python -W error, pytest filterwarnings); otherwise it is merely
        # printed and the MAX_PIXELS check in the caller rejects the image.
        raise ImageRejected(ImageProblem.TOO_MANY_PIXELS, size_bytes=len(data)) from exc
    except MemoryError:
        raise
    except Exception as exc:
        # A plugin recognised the signature but choked on the header (a JPEG cut
        # after a few hundred bytes raises a bare OSError, a PNG with oversized text
        # chunks a ValueError, ...): the image exists but is broken.
        raise ImageRejected(ImageProblem.CORRUPT, size_bytes=len(data)) from exc


def _geometry_problem(width: int, height: int) -> ImageProblem | None:
    """Apply the size and aspect rules with exact arithmetic (2:5 and 5:2 are out)."""
    if min(width, height) <= MIN_SHORT_SIDE:
        return ImageProblem.TOO_SMALL
    # Fraction, not float: the limits themselves must be rejected exactly.
    ratio = Fraction(width, height)
    if ratio <= MIN_RATIO:
        return ImageProblem.TOO_TALL
    if ratio >= MAX_RATIO:
        return ImageProblem.TOO_WIDE
    return None


def _decode_fully(img: Image.Image, data: bytes, image_format: str, size_bytes: int) -> None:
    """Prove the whole file decodes, so the API is never sent a broken image."""
    try:
        if image_format == "PNG":
            # load() ignores chunk CRCs and a missing IEND, which stricter decoders
            # (libpng, Go's image/png) reject; verify() checks them without decoding.
            # verify() leaves its image unusable, hence a second, throwaway open.
            with Image.open(io.BytesIO(data)) as checker:
                checker.verify()
        img.load()
    except MemoryError:
        raise
    except Exception as exc:
        # Pillow signals broken data through many types (OSError "image file is
        # truncated", SyntaxError for bad CRCs, ValueError, EOFError, zlib.error...);
        # to the user they all mean the same thing.
        raise ImageRejected(
            ImageProblem.CORRUPT,
            width=img.width,
            height=img.height,
            size_bytes=size_bytes,
            image_format=image_format,
        ) from exc


def _bytes_to_send(img: Image.Image, data: bytes, image_format: str) -> bytes:
    """Return the original bytes, or a re-encoding when the mode is one to avoid."""
    if image_format == "JPEG":
        if img.mode in _JPEG_MODES_KEPT:
            return data
        options: dict[str, Any] = {"quality": _REENCODE_JPEG_QUALITY}
        # Keep EXIF so the orientation tag (and so the picture's rotation) survives.
        # The ICC profile is deliberately dropped: it describes the CMYK data.
        exif = img.info.get("exif")
        if isinstance(exif, bytes) and exif:
            options["exif"] = exif
        return _encode(_to_8bit(img).convert("RGB"), "JPEG", options)
    if img.mode in _PNG_MODES_CONVERTED:
        return _encode(_to_8bit(img).convert("RGB"), "PNG", {})
    return data


def _to_8bit(img: Image.Image) -> Image.Image:
    """Bring integer/float modes into 0..255 without clipping the whole image white."""
    if img.mode.startswith("I"):
        # JPEG/PNG samples are at most 16 bits; a plain convert() clips at 255 instead
        # of scaling, which would turn almost every 16-bit photo solid white.
        return img.convert("I").point(lambda value: value * (1 / 256)).convert("L")
    if img.mode == "F":
        return img.convert("L")
    return img


def _encode(img: Image.Image, image_format: str, options: dict[str, Any]) -> bytes:
    """Encode an in-memory image; failures here are bugs, not bad input, so they propagate."""
    out = io.BytesIO()
    img.save(out, format=image_format, **options)
    return out.getvalue()
