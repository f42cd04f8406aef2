"""Validate a user's photo and encode it as the first frame for ``video-01-live2d``.

This is the "first frame" step of the pipeline. It knows nothing of Telegram or of
the HTTP API. It takes raw bytes and either returns a ready-to-send base64 data URL
or raises :class:`ImageRejected` with a machine-readable :class:`ImageProblem`.

The rules come from the model's documentation (``/work/shared/seed/video-01-live2d.txt``):
JPG/JPEG/PNG only, aspect ratio strictly between 2:5 and 5:2, shorter side strictly
above 300 px, at most 20 MB. A photo is judged the way it is shown, upright after its
EXIF orientation; a WEBP, GIF, BMP, TIFF, AVIF, HEIF or JPEG 2000 image is converted to
PNG or JPEG rather than refused.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import logging
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction
from typing import Any, Final, NamedTuple

import pillow_heif
from PIL import ExifTags, Image, ImageOps, JpegImagePlugin, UnidentifiedImageError

# iPhones save photos as HEIC; sent "as a file" they arrive as such. pillow-heif teaches
# Pillow to read them, and they are converted to JPEG like the other formats.
pillow_heif.register_heif_opener()

log = logging.getLogger(__name__)

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
# Tried in turn when a re-encoded JPEG would be over MAX_FILE_BYTES, before giving up.
_FALLBACK_JPEG_QUALITIES: Final[tuple[int, ...]] = (90, 85, 80)
# Formats sent as PNG or JPEG after decoding: what phones, browsers and scanners save.
# The others Pillow identifies are refused without being decoded: EPS would run
# Ghostscript on the sender's bytes, and rarely used plugins are attack surface that
# no photo needs.
_CONVERTED_FORMATS: Final[frozenset[str]] = frozenset(
    {"AVIF", "BMP", "DIB", "GIF", "HEIF", "JPEG2000", "TIFF", "WEBP"}
)
_ALPHA_MODES: Final[frozenset[str]] = frozenset({"LA", "La", "PA", "RGBA", "RGBa"})
# EXIF orientation values 2..8 and the transposition that makes the picture upright;
# 5..8 swap width and height. 1 (or a missing or invalid tag) means "as stored".
_UPRIGHT_SWAPS_SIDES: Final[frozenset[int]] = frozenset({5, 6, 7, 8})
_ORIENTATIONS: Final[frozenset[int]] = frozenset(range(2, 9))


class ImageProblem(StrEnum):
    """Why an image cannot be used as a first frame (stable values, safe to log). Each value
    is also a `storage.reasons.Reason`, the code a refused job is stored with."""

    # The file (declared or actual) is bigger than MAX_FILE_BYTES.
    TOO_LARGE = "too_large"
    # Pillow cannot identify the bytes as any image (random bytes, a PDF, ...).
    NOT_AN_IMAGE = "not_an_image"
    # Identified as an image, but its header or data is broken (truncated, bad CRC).
    CORRUPT = "corrupt"
    # A real image in a format that is neither sent nor converted (PSD, EPS, TGA, ...),
    # or whose pixels cannot be converted to RGB.
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
    when it had to be re-encoded (turned upright, CMYK JPEG, 16-bit PNG) or converted
    (WEBP, GIF, ...).
    """

    data_url: str  # "data:image/jpeg;base64,..." or "data:image/png;base64,..."
    image_format: str  # "JPEG" or "PNG"
    width: int  # upright, as shown
    height: int
    size_bytes: int
    sha256: str  # hex digest; usable as an idempotency / deduplication key
    # The format received when it was converted to image_format ("WEBP", "GIF", ...);
    # None when the received format is the one sent.
    converted_from: str | None = None


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

    Output: a :class:`FirstFrame` describing the upright picture. A JPEG or PNG is sent
    as stored, its pixels byte for byte, keeping only the segments or chunks a decoder
    needs: no EXIF, XMP, IPTC, comment or PNG text goes, nor anything after the first
    image's end (such as an MPF depth map). It is re-encoded instead, its ICC profile kept,
    in its own format (JPEG quality 95, lowered step by step if needed to stay within
    MAX_FILE_BYTES), when:

    - its EXIF orientation rotates or flips it: it is sent upright, without the tag;
    - it is a JPEG in a non-RGB/non-grayscale mode (CMYK, ...): sent as an RGB JPEG; or
      a 16-bit/32-bit/float PNG: sent as an 8-bit RGB PNG;
    - its metadata cannot be cut out (failing closed): the cutter cannot walk the file,
      or what it cut, read back, still carries metadata.

    A WEBP, GIF (first frame), BMP, TIFF (first page), AVIF, HEIF/HEIC (via pillow-heif)
    or JPEG 2000 image is converted, upright: to PNG when it has alpha or a
    transparent palette entry, else to JPEG (quality 95); ``converted_from`` names it.

    Raises :class:`ImageRejected`, checked in this order: ``TOO_LARGE`` (over
    MAX_FILE_BYTES, before any parsing), ``NOT_AN_IMAGE``, ``TOO_MANY_PIXELS`` (from the
    header, before any decode), ``UNSUPPORTED_FORMAT`` (a format neither sent nor
    converted, before any decode), ``TOO_SMALL``, ``TOO_TALL``, ``TOO_WIDE`` (on the
    upright size, before any decode), ``CORRUPT`` (full decode fails),
    ``UNSUPPORTED_FORMAT`` (pixels that cannot be converted to RGB), ``TOO_LARGE``
    (re-encoded result over the limit). No Pillow exception or decompression-bomb error
    escapes. Whatever made them, the bytes to send are read back first: re-encoded bytes
    that carry metadata raise RuntimeError (an encoder writing what it was not given), and
    never leave.

    CPU-bound and blocking (a full decode of up to MAX_PIXELS pixels): from async
    code call :func:`prepare_first_frame_async` instead.
    """
    size_bytes = len(data)
    if size_bytes > MAX_FILE_BYTES:
        raise ImageRejected(ImageProblem.TOO_LARGE, size_bytes=size_bytes)

    with _open_checked(data) as img:
        received_format = img.format or ""
        native_format = _FORMAT_ALIASES.get(received_format)
        # Rejections name the format received: "JPEG" for a multi-picture JPEG, else
        # Pillow's name ("WEBP", ...), since that is what the sender has in hand.
        named_format = native_format or received_format
        orientation = _orientation(img)
        width, height = _upright_size(img.size, orientation)
        problem = _geometry_problem(width, height)
        if problem is not None:
            raise ImageRejected(
                problem,
                width=width,
                height=height,
                size_bytes=size_bytes,
                image_format=named_format,
            )
        _decode_fully(img, data, named_format, size_bytes)
        stored = _stored_without_metadata(img, data, native_format, orientation)
        if stored is not None:
            image_format, payload = stored
        else:
            upright = _upright(img, orientation)
            try:
                pixels = _pixels_to_send(upright, native_format)
            except (ValueError, OSError) as exc:
                raise ImageRejected(
                    ImageProblem.UNSUPPORTED_FORMAT,
                    width=width,
                    height=height,
                    size_bytes=size_bytes,
                    image_format=named_format,
                ) from exc
            image_format = native_format or ("PNG" if _has_alpha(pixels) else "JPEG")
            payload = _encode_within_limit(pixels, image_format, _metadata(upright, pixels))

    if len(payload) > MAX_FILE_BYTES:
        raise ImageRejected(
            ImageProblem.TOO_LARGE,
            width=width,
            height=height,
            size_bytes=len(payload),
            image_format=image_format,
        )
    # Cut bytes were read back in _stored_without_metadata(), which re-encodes what fails.
    if stored is None and not _free_of_metadata(payload, image_format):
        raise RuntimeError("the re-encoded first frame carries metadata")
    return FirstFrame(
        data_url=_data_url(_MIME_TYPES[image_format], payload),
        image_format=image_format,
        width=width,
        height=height,
        size_bytes=len(payload),
        sha256=hashlib.sha256(payload).hexdigest(),
        converted_from=None if native_format is not None else received_format,
    )


#: The one thread that checks images, shared by every event loop of the process.
_CHECKER: Final = ThreadPoolExecutor(max_workers=1, thread_name_prefix="first-frame")

#: Bytes base64-encoded per call (a multiple of 3, so the pieces join without padding). One
#: call over a 20 MB image holds the GIL for ~50 ms, and with it the event loop, although it
#: runs in a worker thread: between pieces the loop gets its turn.
_BASE64_PIECE: Final[int] = 3 * 256 * 1024


def _data_url(mime_type: str, payload: bytes) -> str:
    view = memoryview(payload)
    pieces = [f"data:{mime_type};base64,"]
    pieces += [
        base64.b64encode(view[start : start + _BASE64_PIECE]).decode("ascii")
        for start in range(0, len(view), _BASE64_PIECE)
    ]
    return "".join(pieces)


async def prepare_first_frame_async(data: bytes) -> FirstFrame:
    """Same promise, inputs, output and exceptions as :func:`prepare_first_frame`.

    Runs it in a worker thread so that decoding a large photo never blocks the event
    loop, one image at a time: parts of the work hold the GIL, and two checks at once
    took turns with the event loop for it, stalling the loop for up to ~100 ms. Cancelling
    the caller does not stop the thread; its result is simply discarded.
    """
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_CHECKER, prepare_first_frame, data)


def _open_checked(data: bytes) -> Image.Image:
    """Open the bytes reading only the header, and refuse what must never be decoded.

    Shared by every step that reads a user's image (this module and ``bot.image.fixes``).
    Returns the lazily opened, not yet decoded image; the caller closes it. Raises
    :class:`ImageRejected`: ``NOT_AN_IMAGE``, ``CORRUPT`` (broken header),
    ``TOO_MANY_PIXELS`` (decompression-bomb guard), ``UNSUPPORTED_FORMAT``.
    """
    img = _open_lazily(data)
    try:
        width, height = img.size
        # Checked before the format so that nothing huge is ever decoded, whatever it is.
        problem = None
        if width * height > MAX_PIXELS:
            problem = ImageProblem.TOO_MANY_PIXELS
        elif img.format not in _FORMAT_ALIASES and img.format not in _CONVERTED_FORMATS:
            problem = ImageProblem.UNSUPPORTED_FORMAT
        if problem is not None:
            raise ImageRejected(
                problem, width=width, height=height, size_bytes=len(data), image_format=img.format
            )
    except BaseException:
        img.close()
        raise
    return img


def _decode_checked(data: bytes) -> Image.Image:
    """Decode a user's image for editing: guarded, upright, in RGB, L, RGBA or LA.

    The entry point for code that changes pixels (``bot.image.fixes``): the same header
    checks as :func:`prepare_first_frame` (bomb guard first), then a full decode and
    the EXIF orientation applied. Byte size and geometry are not checked. Raises
    :class:`ImageRejected`: ``NOT_AN_IMAGE``, ``CORRUPT``, ``TOO_MANY_PIXELS``,
    ``UNSUPPORTED_FORMAT``.
    """
    img = _open_checked(data)
    try:
        named_format = _FORMAT_ALIASES.get(img.format or "") or img.format or ""
        orientation = _orientation(img)
        _decode_fully(img, data, named_format, len(data))
        try:
            return _normalised(_upright(img, orientation))
        except (ValueError, OSError) as exc:
            raise ImageRejected(
                ImageProblem.UNSUPPORTED_FORMAT,
                width=img.width,
                height=img.height,
                size_bytes=len(data),
                image_format=named_format,
            ) from exc
    except BaseException:
        img.close()
        raise


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


def _orientation(img: Image.Image) -> int:
    """The EXIF orientation (2..8), or 1 for "as stored", read without decoding pixels."""
    if img.format == "PNG" and "exif" not in img.info:
        # Pillow would decode the whole PNG looking for an eXIf chunk after the pixel
        # data; the PNG specification puts it before, where the header read found it.
        return 1
    try:
        value = img.getexif().get(ExifTags.Base.Orientation, 1)
    except MemoryError:
        raise
    except Exception:
        # Broken EXIF says nothing reliable about rotation; viewers show such a
        # picture as stored, and so is it judged and sent.
        return 1
    return value if isinstance(value, int) and value in _ORIENTATIONS else 1


def _upright_size(size: tuple[int, int], orientation: int) -> tuple[int, int]:
    """Width and height as shown once the orientation is applied."""
    width, height = size
    return (height, width) if orientation in _UPRIGHT_SWAPS_SIDES else (width, height)


def _upright(img: Image.Image, orientation: int) -> Image.Image:
    """The decoded picture turned upright, its orientation tag removed; as is when 1."""
    if orientation == 1:
        return img
    # The EXIF read by _orientation() is cached on the image, so this applies exactly
    # the orientation the checks used.
    return ImageOps.exif_transpose(img)


def _stored_without_metadata(
    img: Image.Image, data: bytes, native_format: str | None, orientation: int
) -> tuple[str, bytes] | None:
    """The format and the file's own bytes with their metadata cut out, for an upright JPEG
    or PNG in a mode it is sent in.

    None when the picture is to be re-encoded instead: it is in another format, turned or
    in a mode to avoid; or, failing closed, the cutter cannot walk the file or its cut is
    not proven free of metadata.
    """
    if native_format is None or orientation != 1 or not _mode_kept(img, native_format):
        return None
    cut = _without_metadata(data, native_format)
    if cut is None or not _free_of_metadata(cut, native_format):
        log.info("a %s whose metadata could not be cut out is re-encoded", native_format)
        return None
    return native_format, cut


def _mode_kept(img: Image.Image, native_format: str) -> bool:
    """Whether a JPEG or PNG in this mode is sent in it, as every consumer decodes it."""
    if native_format == "JPEG":
        return img.mode in _JPEG_MODES_KEPT
    return img.mode not in _PNG_MODES_CONVERTED


def _pixels_to_send(img: Image.Image, native_format: str | None) -> Image.Image:
    """The decoded, upright picture in a mode its output format holds as expected.

    Raises ValueError or OSError when Pillow cannot convert the mode.
    """
    if native_format is not None and _mode_kept(img, native_format):
        return img
    return _normalised(img)


def _has_alpha(img: Image.Image) -> bool:
    """Whether the picture has an alpha band or a transparent palette/colour entry."""
    return img.mode in _ALPHA_MODES or "transparency" in img.info


def _normalised(img: Image.Image) -> Image.Image:
    """The picture as RGB or L, or RGBA or LA when it has alpha: modes JPEG/PNG hold and
    every consumer decodes as expected. Raises ValueError or OSError when Pillow cannot
    convert the mode."""
    if img.mode in _PNG_MODES_CONVERTED:
        # First, as before alpha: a transparent 16-bit grey is rare, clipping is not.
        out = _to_8bit(img).convert("RGB")
    elif _has_alpha(img):
        if img.mode in ("RGBA", "LA") and "transparency" not in img.info:
            return img
        out = img.convert("RGBA")
    elif img.mode in ("RGB", "L"):
        return img
    elif img.mode == "1":
        out = img.convert("L")
    else:
        # P, CMYK (from YCCK/Adobe files), YCbCr, LAB, RGBX, ...
        out = img.convert("RGB")
    if _colour_family(out.mode) != _colour_family(img.mode):
        # The embedded profile describes the old colour space (CMYK, 16-bit grey).
        out.info.pop("icc_profile", None)
    out.info.pop("transparency", None)
    return out


def _colour_family(mode: str) -> str:
    """The colour space an ICC profile for this mode describes."""
    if mode in ("RGB", "RGBA", "RGBa", "RGBX", "P", "PA"):
        return "RGB"
    if mode in ("L", "LA", "La", "1"):
        return "L"
    return mode


# The cutter is written here rather than taken from a library: Exiv2 (pyexiv2,
# python-exiv2) keeps all that follows the end of the image and the PNG text chunks it has
# no key for, and gives up on a truncated EXIF block; piexif is unmaintained and JPEG-only.
# It stays small by keeping only what a decoder needs. It is not the guarantee:
# _free_of_metadata() reads back the bytes about to leave, and re-encoding is the fallback.


class _Unwalkable(ValueError):
    """The file's layout is not one the cutter can walk."""


class _Piece(NamedTuple):
    """A piece of a JPEG file: ``data[start:end]``."""

    marker: int | None  # the code after 0xFF; None for stray bytes between segments
    start: int
    end: int  # for a start of scan, past the entropy-coded data that follows it


class _Chunk(NamedTuple):
    """A chunk of a PNG file, its length, type, data and CRC: ``data[start:end]``."""

    kind: bytes
    start: int
    end: int


_SOI: Final[int] = 0xD8
_EOI: Final[int] = 0xD9
_SOS: Final[int] = 0xDA
#: Markers with no length after them: TEM, RST0..RST7, start and end of image.
_JPEG_STANDALONE_MARKERS: Final[frozenset[int]] = frozenset({0x01, *range(0xD0, 0xDA)})
#: Markers a decoder reads the pixels from, kept as they are (0xC0..0xDF): frame headers,
#: Huffman, arithmetic and quantisation tables, restarts, start and end of image, start of
#: scan, line count, hierarchical progression.
_JPEG_PIXEL_MARKERS: Final[frozenset[int]] = frozenset(range(0xC0, 0xE0))
#: The APP segments kept, by the identifier they open with: JFIF (APP0) and Adobe (APP14)
#: say how the colours decode, and APP2 holds the ICC profile. Every other APP segment goes
#: (EXIF and XMP in APP1, where a phone puts the GPS position; IPTC in APP13; MPF's index of
#: the pictures that followed; FlashPix; makers' own), and so does every comment.
_JPEG_KEPT_APPS: Final[dict[int, bytes]] = {
    0xE0: b"JFIF\x00",
    0xE2: b"ICC_PROFILE\x00",
    0xEE: b"Adobe",
}
#: The same, as Pillow names the segments it reads.
_PILLOW_KEPT_APPS: Final[dict[str, bytes]] = {
    f"APP{marker - 0xE0}": identifier for marker, identifier in _JPEG_KEPT_APPS.items()
}
#: The next marker: 0xFF, then a code that is neither 0 nor 0xFF. Bytes before it are
#: stray (fill bytes too), and libjpeg and Pillow alike skip them. (Written without
#: "\xff+", which would make the search ten times slower.)
_JPEG_MARKER: Final = re.compile(rb"\xff[^\x00\xff]")
#: The marker that ends a scan's entropy-coded data, in which 0xFF 0x00 stands for a 0xFF
#: byte and 0xFF 0xD0..0xD7 is a restart.
_JPEG_SCAN_END: Final = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")
#: PNG chunks kept: the picture (IHDR, PLTE, IDAT, IEND), how its colours and transparency
#: decode (tRNS, gAMA, cHRM, sRGB, iCCP, sBIT, cICP, mDCV, cLLI), its background and pixel
#: density, and an animated PNG's frames. Every other chunk goes: EXIF, text (tEXt, zTXt,
#: iTXt, which holds XMP too), time, and private chunks.
_PNG_KEPT_CHUNKS: Final[frozenset[bytes]] = frozenset(
    {
        *(b"IHDR", b"PLTE", b"IDAT", b"IEND"),
        *(b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"iCCP", b"sBIT", b"cICP", b"mDCV", b"cLLI"),
        *(b"bKGD", b"pHYs", b"acTL", b"fcTL", b"fdAT"),
    }
)
_PNG_SIGNATURE: Final[bytes] = b"\x89PNG\r\n\x1a\n"


def _without_metadata(data: bytes, image_format: str) -> bytes | None:
    """The same image with only the segments or chunks a decoder needs, pixels untouched
    (no re-encoding): the user's photo goes to a third party, and its EXIF may hold where
    it was taken. The orientation tag goes too, which is safe: only upright images are sent
    this way. Stray bytes between JPEG segments go, and so does all that follows the first
    image's end, such as a second picture (an MPF depth map) with an EXIF block of its own.

    Returns None when the file's layout is not one the cutter can walk: the caller then
    re-encodes the pixels, and the original bytes never leave.
    """
    view = memoryview(data)
    try:
        if image_format == "JPEG":
            return b"".join(
                view[piece.start : piece.end]
                for piece in _jpeg_pieces(data)
                if _jpeg_keeps(data, piece)
            )
        chunks = (view[c.start : c.end] for c in _png_chunks(data) if c.kind in _PNG_KEPT_CHUNKS)
        return b"".join([_PNG_SIGNATURE, *chunks])
    except _Unwalkable:
        return None


def _free_of_metadata(payload: bytes, image_format: str) -> bool:
    """Whether the bytes about to leave are proven free of metadata, read back whatever
    made them.

    A JPEG: every byte is in a segment a decoder needs (so no EXIF, XMP, IPTC or comment
    segment anywhere, not even between the scans of a progressive JPEG), none is stray,
    none follows the end of image, and Pillow's own reading of the header agrees. A PNG:
    only the chunks a decoder needs (so no eXIf, tEXt, iTXt or zTXt), nothing after IEND.
    """
    try:
        if image_format == "JPEG":
            pieces = list(_jpeg_pieces(payload))
            return (
                pieces[-1].end == len(payload)
                and all(_jpeg_keeps(payload, piece) for piece in pieces)
                and _pillow_reads_no_metadata(payload)
            )
        chunks = list(_png_chunks(payload))
    except _Unwalkable:
        return False
    return chunks[-1].end == len(payload) and all(c.kind in _PNG_KEPT_CHUNKS for c in chunks)


def _jpeg_pieces(data: bytes) -> Iterator[_Piece]:
    """Walk a JPEG the way decoders read it, from its start of image to its first end of
    image, yielding every piece on the way, stray bytes included. What follows the end of
    image is not walked: the last piece's end says where it starts.

    Raises _Unwalkable when there is no start of image, a segment's length is too short
    or runs past the end, or the bytes end before an end of image.
    """
    if not data.startswith(b"\xff\xd8"):
        raise _Unwalkable("no start of image")
    yield _Piece(_SOI, 0, 2)
    position = 2
    while True:
        found = _JPEG_MARKER.search(data, position)
        if found is None:
            raise _Unwalkable("no end of image")
        start = found.start()
        if start > position:
            yield _Piece(None, position, start)
        marker = data[start + 1]
        end = start + 2
        if marker not in _JPEG_STANDALONE_MARKERS:
            length = int.from_bytes(data[end : end + 2], "big")
            end += length
            if length < 2 or end > len(data):
                raise _Unwalkable("a segment's length is wrong")
            if marker == _SOS:
                scan_end = _JPEG_SCAN_END.search(data, end)
                if scan_end is None:
                    raise _Unwalkable("no end of image")
                end = scan_end.start()
        yield _Piece(marker, start, end)
        if marker == _EOI:
            return
        position = end


def _jpeg_keeps(data: bytes, piece: _Piece) -> bool:
    """Whether a decoder needs the piece (see _JPEG_PIXEL_MARKERS and _JPEG_KEPT_APPS)."""
    if piece.marker is None:
        return False
    if piece.marker in _JPEG_PIXEL_MARKERS:
        return True
    identifier = _JPEG_KEPT_APPS.get(piece.marker)
    return identifier is not None and data.startswith(identifier, piece.start + 4, piece.end)


def _pillow_reads_no_metadata(payload: bytes) -> bool:
    """Whether Pillow, reading the JPEG's header its own way, finds only the APP segments
    kept and no comment: a second reader, so that one walk's mistake does not let metadata
    through."""
    try:
        with Image.open(io.BytesIO(payload)) as img:
            if img.format != "JPEG" or not isinstance(img, JpegImagePlugin.JpegImageFile):
                return False
            segments = list(img.applist)
    except MemoryError:
        raise
    except Exception:
        return False
    return all(
        name in _PILLOW_KEPT_APPS and content.startswith(_PILLOW_KEPT_APPS[name])
        for name, content in segments
    )


def _png_chunks(data: bytes) -> Iterator[_Chunk]:
    """Walk a PNG from its signature to IEND, yielding every chunk. What follows IEND is
    not walked: the last chunk's end says where it starts.

    Raises _Unwalkable when there is no signature, or a chunk runs past the end of the
    bytes before IEND.
    """
    if not data.startswith(_PNG_SIGNATURE):
        raise _Unwalkable("no PNG signature")
    position = len(_PNG_SIGNATURE)
    while True:
        length = int.from_bytes(data[position : position + 4], "big")
        kind = data[position + 4 : position + 8]
        end = position + 12 + length  # length, type, data, CRC
        if end > len(data):
            raise _Unwalkable("truncated chunk")
        yield _Chunk(kind, position, end)
        if kind == b"IEND":
            return
        position = end


def _metadata(source: Image.Image, pixels: Image.Image) -> dict[str, Any]:
    """Encoder options for a re-encoded picture: its still-valid ICC profile, and no EXIF
    (the picture is already upright, and EXIF may hold where the photo was taken) nor
    comment."""
    # Pillow's JPEG encoder copies the source's comment (a JPEG's or a GIF's) unless told
    # otherwise; an empty one writes none.
    options: dict[str, Any] = {"comment": b""}
    # _normalised() dropped the profile when the colour space changed.
    icc = pixels.info.get("icc_profile")
    if isinstance(icc, bytes) and icc:
        options["icc_profile"] = icc
    return options


def _encode_within_limit(img: Image.Image, image_format: str, options: dict[str, Any]) -> bytes:
    """Encode as JPEG (quality 95, lower if needed to fit MAX_FILE_BYTES) or PNG.

    Returns the last attempt even when it is still over the limit: the caller refuses it.
    """
    if image_format == "PNG":
        return _encode(img, "PNG", options)
    payload = b""
    for quality in (_REENCODE_JPEG_QUALITY, *_FALLBACK_JPEG_QUALITIES):
        payload = _encode(img, "JPEG", {**options, "quality": quality})
        if len(payload) <= MAX_FILE_BYTES:
            break
    return payload


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
