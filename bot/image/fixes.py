"""Fix an image the video model would refuse, instead of refusing it.

The fixes a user can choose after a refusal (crop or pad to an allowed aspect ratio,
upscale a small picture), and a small preview of what would be sent. Like the first
frame step, this knows nothing of Telegram or of the HTTP API: bytes in, bytes out.

Every function decodes through the same guards as :mod:`bot.image.firstframe` (the
decompression-bomb check before any decode, the format allow-list), works on the
upright picture (EXIF orientation applied), and returns a new image that
:func:`bot.image.firstframe.prepare_first_frame` accepts: JPEG (quality 92), or PNG when the
source has alpha. A picture that is both too small and out of ratio comes out with
both fixed, whichever fix was chosen.
"""

from __future__ import annotations

import asyncio
import io
import math
from enum import StrEnum
from fractions import Fraction
from typing import Any, Final, assert_never

from PIL import Image, ImageFilter

from bot.image import firstframe
from bot.image.firstframe import MIN_SHORT_SIDE, ImageProblem, ImageRejected

__all__ = [
    "FIX_JPEG_QUALITY",
    "UPSCALE_SHORT_SIDE",
    "Fix",
    "apply_fix",
    "apply_fix_async",
    "crop_to_ratio",
    "fix_for",
    "pad_to_ratio",
    "preview",
    "preview_async",
    "upscale",
]

UPSCALE_SHORT_SIDE: Final[int] = 720  # a small picture's shorter side after any fix
FIX_JPEG_QUALITY: Final[int] = 92
_PREVIEW_JPEG_QUALITY: Final[int] = 85
# The pad background is blurred at this size and then enlarged: a Gaussian blur of a
# small copy looks the same once enlarged, and costs milliseconds instead of seconds on
# a 50 MP canvas.
_BACKDROP_LONG_SIDE: Final[int] = 256
_BACKDROP_BLUR: Final[float] = 0.05  # blur radius, as a share of the long side
_BACKDROP_BRIGHTNESS: Final[float] = 0.75  # darker, so the picture itself stands out
# Each retry shrinks a result over MAX_FILE_BYTES a little more than its excess.
_SHRINK_MARGIN: Final[float] = 0.9


class Fix(StrEnum):
    """A change a user can choose instead of a refusal (stable values, safe in callbacks)."""

    # Cut the edges around the centre down to the nearest allowed aspect ratio.
    CROP = "crop"
    # Extend to the nearest allowed aspect ratio with a blurred copy behind the picture.
    PAD = "pad"
    # Enlarge so the shorter side is UPSCALE_SHORT_SIDE pixels.
    UPSCALE = "upscale"


def fix_for(problem: ImageProblem) -> list[Fix]:
    """The fixes worth offering for a refusal, best first.

    Input: the :class:`ImageProblem` of an :class:`ImageRejected`. Output: ``[CROP, PAD]``
    for ``TOO_TALL``/``TOO_WIDE``, ``[UPSCALE]`` for ``TOO_SMALL``, else ``[]`` (nothing
    to fix in the picture: a broken file, too many pixels, ...). Raises nothing.
    """
    if problem in (ImageProblem.TOO_TALL, ImageProblem.TOO_WIDE):
        return [Fix.CROP, Fix.PAD]
    if problem is ImageProblem.TOO_SMALL:
        return [Fix.UPSCALE]
    return []


def apply_fix(data: bytes, fix: Fix) -> bytes:
    """Apply one fix: :func:`crop_to_ratio`, :func:`pad_to_ratio` or :func:`upscale`.

    Input: the raw bytes of the refused image and the chosen fix. Output and raises: those
    of the function applied (default arguments).
    """
    if fix is Fix.CROP:
        return crop_to_ratio(data)
    if fix is Fix.PAD:
        return pad_to_ratio(data)
    if fix is Fix.UPSCALE:
        return upscale(data)
    assert_never(fix)


def crop_to_ratio(data: bytes) -> bytes:
    """Crop around the centre to the nearest aspect ratio strictly inside (2:5, 5:2).

    Input: raw image bytes in any format :func:`~bot.image.firstframe.prepare_first_frame`
    accepts or converts. Output: new JPEG (quality 92) or PNG (alpha) bytes that pass
    ``prepare_first_frame``: the longer side is cut to just inside the limit (an image
    already inside keeps its size), then, if the shorter side is 300 px or less, it is
    upscaled (LANCZOS) to 720 px. Like every fix, a result encoded over MAX_FILE_BYTES
    is scaled down until it fits.

    Raises :class:`ImageRejected`: ``NOT_AN_IMAGE``, ``CORRUPT``, ``TOO_MANY_PIXELS``,
    ``UNSUPPORTED_FORMAT`` for input that cannot be decoded safely (the checks of
    ``prepare_first_frame``, the pixel guard before any decode); ``TOO_LARGE`` if the
    result could fit MAX_FILE_BYTES only with its shorter side at 300 px or less.
    CPU-bound: from async code use :func:`apply_fix_async`.
    """
    img, icc = _decode(data)
    box = _crop_box(img.width, img.height)
    crop_width, crop_height = box[2] - box[0], box[3] - box[1]
    size = _final_size(crop_width, crop_height, _grow_to(crop_width, crop_height))
    if size == (crop_width, crop_height):
        result = img.crop(box)
    else:
        result = img.resize(size, Image.Resampling.LANCZOS, box=box)
    return _encode(result, icc)


def pad_to_ratio(data: bytes) -> bytes:
    """Pad to the nearest aspect ratio strictly inside (2:5, 5:2), losing nothing.

    Input: as :func:`crop_to_ratio`. Output: new JPEG (quality 92) or PNG (alpha) bytes
    that pass ``prepare_first_frame``: the whole picture centred on a canvas of the
    nearest allowed ratio, whose bands show an enlarged, blurred (radius 5 % of the long
    side), darkened copy of it. The result is upscaled (LANCZOS) to a 720 px shorter side
    when 300 px or less, and scaled down when the canvas would exceed MAX_PIXELS.
    Raises: as :func:`crop_to_ratio`. CPU-bound: use :func:`apply_fix_async`.
    """
    img, icc = _decode(data)
    canvas = _padded_size(img.width, img.height)
    return _encode(_pad(img, canvas, _grow_to(*canvas)), icc)


def upscale(data: bytes, short_side: int = UPSCALE_SHORT_SIDE) -> bytes:
    """Enlarge (LANCZOS) so the shorter side is ``short_side`` pixels, keeping the ratio.

    Input: as :func:`crop_to_ratio`, and the shorter side wanted (over 300). A picture
    already that large is not shrunk; one out of ratio is also padded as by
    :func:`pad_to_ratio`, so nothing is cut. Output: new JPEG (quality 92) or PNG
    (alpha) bytes that pass ``prepare_first_frame``. Raises ValueError when
    ``short_side`` is 300 or less; :class:`ImageRejected` ``TOO_MANY_PIXELS`` (with the
    result's size) when the result would exceed MAX_PIXELS, or as :func:`crop_to_ratio`.
    CPU-bound: use :func:`apply_fix_async` (which upscales to
    UPSCALE_SHORT_SIDE).
    """
    if short_side <= MIN_SHORT_SIDE:
        raise ValueError(f"short_side must be over {MIN_SHORT_SIDE}, not {short_side}")
    img, icc = _decode(data)
    canvas = _padded_size(img.width, img.height)
    return _encode(_pad(img, canvas, short_side), icc)


def preview(data: bytes, max_side: int = 320) -> bytes:
    """A small JPEG to show the user what would be sent.

    Input: raw image bytes (typically a fix's result) and the longest side wanted (at
    least 1). Output: JPEG bytes (quality 85) of the upright picture, shrunk to fit
    ``max_side`` (never enlarged), transparency shown over white. Raises ValueError when
    ``max_side`` < 1, and the decoding refusals of :func:`crop_to_ratio` (never
    ``TOO_LARGE``). CPU-bound: use :func:`preview_async`.
    """
    if max_side < 1:
        raise ValueError(f"max_side must be at least 1, not {max_side}")
    img, icc = _decode(data)
    img.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    if img.mode == "RGBA":
        white = Image.new("RGBA", img.size, (255, 255, 255, 255))
        img = Image.alpha_composite(white, img).convert("RGB")
    return _save(img, "JPEG", _options(icc, _PREVIEW_JPEG_QUALITY))


async def apply_fix_async(data: bytes, fix: Fix) -> bytes:
    """:func:`apply_fix` in a worker thread, so the event loop is never blocked."""
    return await asyncio.to_thread(apply_fix, data, fix)


async def preview_async(data: bytes, max_side: int = 320) -> bytes:
    """:func:`preview` in a worker thread, so the event loop is never blocked."""
    return await asyncio.to_thread(preview, data, max_side)


# --- geometry: exact integer arithmetic, so the limits themselves are never reached ---


def _is_too_tall(width: int, height: int) -> bool:
    return 5 * width <= 2 * height  # width/height <= 2/5


def _is_too_wide(width: int, height: int) -> bool:
    return 2 * width >= 5 * height  # width/height >= 5/2


def _crop_box(width: int, height: int) -> tuple[int, int, int, int]:
    """The centred box of the largest size inside the allowed ratio."""
    if _is_too_tall(width, height):
        kept = (5 * width - 1) // 2  # the largest height with 5 * width > 2 * height
        top = (height - kept) // 2
        return (0, top, width, top + kept)
    if _is_too_wide(width, height):
        kept = (5 * height - 1) // 2
        left = (width - kept) // 2
        return (left, 0, left + kept, height)
    return (0, 0, width, height)


def _padded_size(width: int, height: int) -> tuple[int, int]:
    """The smallest canvas inside the allowed ratio that holds width x height."""
    if _is_too_tall(width, height):
        return (2 * height // 5 + 1, height)  # the smallest width with 5 * w > 2 * h
    if _is_too_wide(width, height):
        return (width, 2 * width // 5 + 1)
    return (width, height)


def _inside_ratio(width: int, height: int) -> tuple[int, int]:
    """Trim the longer side, if rounding pushed it to or past the limit."""
    if _is_too_wide(width, height):
        return ((5 * height - 1) // 2, height)
    if _is_too_tall(width, height):
        return (width, (5 * width - 1) // 2)
    return (width, height)


def _grow_to(width: int, height: int) -> int:
    """The shorter side a crop or pad result needs: 720 if it would be too small."""
    return UPSCALE_SHORT_SIDE if min(width, height) <= MIN_SHORT_SIDE else 0


def _final_size(width: int, height: int, short_side: int) -> tuple[int, int]:
    """The size to send a width x height picture (inside the ratio) at.

    Enlarged so the shorter side is ``short_side`` when it is smaller, else shrunk when
    over MAX_PIXELS; always strictly inside the ratio. Raises ImageRejected
    TOO_MANY_PIXELS when the enlargement asked for would exceed MAX_PIXELS.
    """
    short = min(width, height)
    if short < short_side:
        scale = Fraction(short_side, short)
        if width <= height:
            size = _inside_ratio(short_side, round(height * scale))
        else:
            size = _inside_ratio(round(width * scale), short_side)
        if size[0] * size[1] > firstframe.MAX_PIXELS:
            raise ImageRejected(ImageProblem.TOO_MANY_PIXELS, width=size[0], height=size[1])
        return size
    if width * height > firstframe.MAX_PIXELS:
        return _shrunk(width, height, firstframe.MAX_PIXELS / (width * height))
    return (width, height)


def _shrunk(width: int, height: int, area_share: float) -> tuple[int, int]:
    """Scale down to about ``area_share`` of the pixels, staying a valid first frame."""
    scale = math.sqrt(area_share)
    new_width, new_height = _inside_ratio(
        max(1, math.floor(width * scale)), max(1, math.floor(height * scale))
    )
    while new_width * new_height > firstframe.MAX_PIXELS:
        new_width, new_height = _inside_ratio(new_width - 1, new_height - 1)
    return (new_width, new_height)


# --- pixels --------------------------------------------------------------------------


def _decode(data: bytes) -> tuple[Image.Image, bytes | None]:
    """The upright picture in RGB or RGBA, and the ICC profile that still describes it."""
    img = firstframe._decode_checked(data)
    icc = img.info.get("icc_profile")
    if img.mode in ("L", "LA"):
        icc = None  # a grey profile does not describe the RGB copy
    mode = "RGBA" if img.mode in ("RGBA", "LA") else "RGB"
    work = img if img.mode == mode else img.convert(mode)
    return work, icc if isinstance(icc, bytes) and icc else None


def _pad(img: Image.Image, canvas: tuple[int, int], short_side: int) -> Image.Image:
    """The picture centred on a canvas of that shape, scaled to its final size."""
    final = _final_size(*canvas, short_side)
    scale = min(Fraction(final[0], canvas[0]), Fraction(final[1], canvas[1]))
    # The padded axis keeps its exact share; the other fills the canvas edge to edge.
    inner = (
        final[0] if canvas[0] == img.width else min(final[0], max(1, round(img.width * scale))),
        final[1] if canvas[1] == img.height else min(final[1], max(1, round(img.height * scale))),
    )
    picture = img if inner == img.size else img.resize(inner, Image.Resampling.LANCZOS)
    if inner == final:
        return picture
    result = _backdrop(img, final)
    result.paste(picture, ((final[0] - inner[0]) // 2, (final[1] - inner[1]) // 2))
    return result


def _backdrop(img: Image.Image, size: tuple[int, int]) -> Image.Image:
    """An enlarged, blurred, darkened copy of the picture covering ``size``."""
    shrink = min(1.0, _BACKDROP_LONG_SIDE / max(size))
    small = (max(1, round(size[0] * shrink)), max(1, round(size[1] * shrink)))
    # The centre of the picture at the canvas's shape, enlarged to cover it.
    scale = min(img.width / small[0], img.height / small[1])
    left, top = (img.width - small[0] * scale) / 2, (img.height - small[1] * scale) / 2
    box = (left, top, left + small[0] * scale, top + small[1] * scale)
    cover = img.resize(small, Image.Resampling.BILINEAR, box=box, reducing_gap=2.0)
    blurred = cover.filter(ImageFilter.GaussianBlur(_BACKDROP_BLUR * max(small)))
    dim = [round(value * _BACKDROP_BRIGHTNESS) for value in range(256)]
    keep = list(range(256))
    darkened = blurred.point(dim * 3 + (keep if img.mode == "RGBA" else []))
    # Bilinear is enough to enlarge a blur, and several times faster than bicubic.
    return darkened.resize(size, Image.Resampling.BILINEAR)


def _encode(img: Image.Image, icc: bytes | None) -> bytes:
    """JPEG (quality 92) or PNG (alpha) within MAX_FILE_BYTES, shrinking if need be."""
    image_format = "PNG" if img.mode == "RGBA" else "JPEG"
    options = _options(icc, FIX_JPEG_QUALITY if image_format == "JPEG" else None)
    while True:
        payload = _save(img, image_format, options)
        if len(payload) <= firstframe.MAX_FILE_BYTES:
            return payload
        # Rare (a huge, noisy picture): smaller is better than refused.
        size = _shrunk(
            img.width, img.height, _SHRINK_MARGIN * firstframe.MAX_FILE_BYTES / len(payload)
        )
        if min(size) <= MIN_SHORT_SIDE:
            raise ImageRejected(
                ImageProblem.TOO_LARGE, width=img.width, height=img.height, size_bytes=len(payload)
            )
        img = img.resize(size, Image.Resampling.LANCZOS)


def _options(icc: bytes | None, quality: int | None) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if quality is not None:
        options["quality"] = quality
    if icc is not None:
        options["icc_profile"] = icc
    return options


def _save(img: Image.Image, image_format: str, options: dict[str, Any]) -> bytes:
    out = io.BytesIO()
    img.save(out, format=image_format, **options)
    return out.getvalue()
