"""Make the sandbox's video: a slow zoom and pan (Ken Burns) over the first frame, as an MP4.

PyAV comes from the optional ``sandbox`` extra. Without it :func:`render_video` returns a
fixed placeholder clip, so the sandbox runs on a bare install too.
"""

from __future__ import annotations

import functools
import io
import math
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image, ImageOps

from bot.sandbox.placeholder import PLACEHOLDER_MP4, PLACEHOLDER_SECONDS, PLACEHOLDER_SIZE

if TYPE_CHECKING:
    from av.container import OutputContainer

# Tried in order: H.264 is what Telegram streams best; MPEG-4 part 2 ships with every FFmpeg.
ENCODERS = ("libx264", "mpeg4")

_ZOOM = 1.18  # the crop at the tight end of the move is 1/1.18 of the picture
# Where the tight end of the move sits, as the crop's relative left/top within the picture.
_PAN_TARGETS = ((0.5, 0.3), (0.25, 0.35), (0.75, 0.35), (0.3, 0.7), (0.7, 0.65), (0.5, 0.5))
# Frames are cut from a copy at most this much larger than the output: sharp, and cheap.
_SOURCE_OVERSAMPLE = 1.5
_URL_CARD_SIZE = (720, 1072)  # the first frame was a URL the sandbox does not fetch


@dataclass(frozen=True, slots=True)
class VideoSpec:
    """What to render: length, frame rate and the output's shorter side in pixels."""

    seconds: float = 4.0
    fps: int = 24
    short_side: int = 480

    @property
    def frames(self) -> int:
        return max(1, round(self.seconds * self.fps))


@dataclass(frozen=True, slots=True)
class Clip:
    """A rendered MP4 and what it holds."""

    data: bytes = field(repr=False)
    seconds: float
    size: tuple[int, int]  # width, height
    encoder: str  # "libx264", "mpeg4", or "placeholder" when PyAV is missing


PLACEHOLDER = Clip(PLACEHOLDER_MP4, PLACEHOLDER_SECONDS, PLACEHOLDER_SIZE, "placeholder")


@functools.cache
def pyav_version() -> str | None:
    """PyAV's version, or None when the optional ``sandbox`` extra is not installed."""
    try:
        import av
    except ImportError:
        return None
    return str(av.__version__)


@functools.cache
def encoder() -> str | None:
    """The encoder videos are made with (``libx264`` or ``mpeg4``), or None without PyAV."""
    if pyav_version() is None:
        return None
    import av

    for name in ENCODERS:
        try:
            av.codec.Codec(name, "w")
        except Exception:  # noqa: S112 - an FFmpeg build without this encoder: try the next
            continue
        return name
    return None


def output_size(width: int, height: int, short_side: int) -> tuple[int, int]:
    """The video's size for a picture of ``width`` x ``height``: same aspect ratio, the shorter
    side ``short_side`` (rounded down to even), both sides even as yuv420p requires."""
    even_short = max(2, short_side - short_side % 2)
    scale = even_short / min(width, height)
    long_side = max(2, round(max(width, height) * scale / 2) * 2)
    return (even_short, long_side) if width <= height else (long_side, even_short)


def render_video(image_data: bytes | None, spec: VideoSpec, *, seed: int = 0) -> Clip:
    """Render the Ken Burns MP4 of a first frame.

    ``image_data`` is a JPEG or PNG already checked by the sandbox (None when the first frame
    was a URL: a plain card is animated instead). ``seed`` picks the direction of the move.
    Without PyAV, returns :data:`PLACEHOLDER`. Blocking and CPU-bound: run it in a worker
    thread. Raises whatever Pillow or PyAV raise on a failure.
    """
    codec = encoder()
    if codec is None:
        return PLACEHOLDER
    picture = _first_frame(image_data, spec.short_side)
    size = output_size(picture.width, picture.height, spec.short_side)
    data = _encode(ken_burns(picture, size, spec, seed=seed), size, spec, codec)
    return Clip(data, spec.frames / spec.fps, size, codec)


def ken_burns(
    picture: Image.Image, size: tuple[int, int], spec: VideoSpec, *, seed: int = 0
) -> Iterator[Image.Image]:
    """Yield ``spec.frames`` RGB frames of ``size``: an eased zoom towards (or, for odd seeds,
    away from) one of a few points of the picture."""
    source = _downscaled(picture, size)
    width, height = source.size
    target_left, target_top = _PAN_TARGETS[(seed // 2) % len(_PAN_TARGETS)]
    zoom_in = seed % 2 == 0
    last = max(1, spec.frames - 1)
    for index in range(spec.frames):
        t = index / last
        if not zoom_in:
            t = 1.0 - t
        eased = 0.5 - 0.5 * math.cos(math.pi * t)
        zoom = 1.0 + (_ZOOM - 1.0) * eased
        crop_w, crop_h = width / zoom, height / zoom
        rel_left = 0.5 + (target_left - 0.5) * eased
        rel_top = 0.5 + (target_top - 0.5) * eased
        left = (width - crop_w) * rel_left
        top = (height - crop_h) * rel_top
        box = (left, top, left + crop_w, top + crop_h)
        yield source.resize(size, Image.Resampling.BILINEAR, box=box)


def _first_frame(image_data: bytes | None, short_side: int) -> Image.Image:
    """Decode the first frame upright, in RGB, transparency flattened onto white, at no more
    than about the size frames are cut from for a video of ``short_side``."""
    if image_data is None:
        card = Image.linear_gradient("L").resize(_URL_CARD_SIZE)
        return ImageOps.colorize(card, black="#1d3557", white="#f1c27d")
    with Image.open(io.BytesIO(image_data)) as opened:
        # A JPEG decodes straight at 1/2, 1/4 or 1/8 of its size: a 50 MP photo stays cheap.
        scale = _SOURCE_OVERSAMPLE * _ZOOM * short_side / min(opened.size)
        if scale < 1.0:
            opened.draft(None, (math.ceil(opened.width * scale), math.ceil(opened.height * scale)))
        picture = ImageOps.exif_transpose(opened)
    if picture.mode in ("RGBA", "LA", "PA") or "transparency" in picture.info:
        rgba = picture.convert("RGBA")
        background = Image.new("RGBA", rgba.size, "white")
        picture = Image.alpha_composite(background, rgba)
    return picture.convert("RGB")


def _downscaled(picture: Image.Image, size: tuple[int, int]) -> Image.Image:
    limit = _SOURCE_OVERSAMPLE * _ZOOM * max(size) / max(picture.size)
    if limit >= 1.0:
        return picture
    target = (max(1, round(picture.width * limit)), max(1, round(picture.height * limit)))
    return picture.resize(target, Image.Resampling.LANCZOS, reducing_gap=2.0)


def _encode(
    frames: Iterator[Image.Image], size: tuple[int, int], spec: VideoSpec, codec: str
) -> bytes:
    import av

    # faststart puts the index first, so that a player (Telegram's too) can start before the
    # end; FFmpeg does it by re-reading the file by name, hence a file rather than a buffer.
    with tempfile.TemporaryDirectory(prefix="sandbox-video-") as folder:
        path = Path(folder) / "video.mp4"
        with av.open(str(path), mode="w", options={"movflags": "+faststart"}) as container:
            _write(container, frames, size, spec, codec)
        return path.read_bytes()


def _write(
    container: OutputContainer,
    frames: Iterator[Image.Image],
    size: tuple[int, int],
    spec: VideoSpec,
    codec: str,
) -> None:
    import av

    options = {"preset": "veryfast", "crf": "23"} if codec == "libx264" else {}
    stream = container.add_stream(codec, rate=spec.fps, options=options)
    assert isinstance(stream, av.VideoStream)
    stream.width, stream.height = size
    stream.pix_fmt = "yuv420p"
    stream.time_base = Fraction(1, spec.fps)
    if codec != "libx264":
        # MPEG-4 part 2 has no quality target; its default bit rate is a blur.
        stream.bit_rate = 2_000_000
    for index, picture in enumerate(frames):
        # PyAV's stubs leave from_image untyped; it takes a PIL image and returns a VideoFrame.
        frame: av.VideoFrame = av.VideoFrame.from_image(picture)  # type: ignore[no-untyped-call]
        frame.pts = index
        container.mux(stream.encode(frame))
    container.mux(stream.encode(None))
