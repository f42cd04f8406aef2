"""A video's shape as Telegram needs it to show an uploaded video right: its width and height
on screen, and its length, read from the MP4's own header boxes with hachoir.

Without them some clients (iOS) show a vertical video as a square. Only the boxes are read
(`mvhd` for the length, a track's `tkhd` for its size and display matrix), never a frame.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hachoir.core.log import log as hachoir_log
from hachoir.parser.container.mp4 import MP4File
from hachoir.stream import InputIOStream

log = logging.getLogger(__name__)

# hachoir writes what it finds odd in a file straight to stderr, past the bot's logging.
hachoir_log.use_print = False


@dataclass(frozen=True, slots=True)
class VideoShape:
    """What a player shows: the picture's size in pixels, and the length in whole seconds.
    Each is None when the file does not say."""

    width: int | None = None
    height: int | None = None
    seconds: int | None = None


def read_video_shape(path: Path) -> VideoShape | None:
    """The shape of the MP4 at `path`: the first video track's size, turned as its matrix turns
    it on display (a phone often stores a vertical video landscape, with a 90° matrix), and the
    movie's length. None, logged at INFO, when the file holds neither or cannot be read.

    It reads the file: run it in a worker thread, never on the event loop.
    """
    try:
        with path.open("rb") as file:
            shape = _shape_of(MP4File(InputIOStream(file, source=str(path))))
    except Exception as error:  # a damaged file can fail in any of hachoir's parsers
        log.info("could not read the video's size and length: %r", error)
        return None
    if shape is None:
        log.info("the video does not say its size or length")
    return shape


def _shape_of(mp4: Any) -> VideoShape | None:
    size: tuple[int, int] | None = None
    seconds: int | None = None
    for atom in mp4:
        if "movie" not in atom:
            continue
        for box in atom["movie"]:
            if "movie_hdr" in box:
                seconds = _seconds(box["movie_hdr"])
            elif "track" in box and size is None:
                size = _display_size(box["track"])
        break  # only the first moov describes the movie
    if size is None and seconds is None:
        return None
    width, height = size or (None, None)
    return VideoShape(width, height, seconds)


def _seconds(header: Any) -> int | None:
    scale, duration = int(header["time_scale"].value), int(header["duration"].value)
    if not scale or not duration:  # a fragmented MP4 may leave its length to later boxes
        return None
    return max(1, round(duration / scale))


def _display_size(track: Any) -> tuple[int, int] | None:
    """(width, height) as shown, from the track's header; None for a track without a picture
    (sound, say)."""
    for box in track:
        if "track_hdr" not in box:
            continue
        header = box["track_hdr"]
        width = round(header["frame_size_width"].value)
        height = round(header["frame_size_height"].value)
        if width <= 0 or height <= 0:
            return None
        # The matrix's 2x2 part (a b / c d) is a rotation, scaled: a quarter turn (90° or
        # 270°) puts the picture's width upright, so the screen's width is its height.
        a, b = _fixed(header["geom_a"]), _fixed(header["geom_b"])
        return (height, width) if abs(b) > abs(a) else (width, height)
    return None


def _fixed(entry: Any) -> float:
    """A 16.16 fixed-point matrix entry. The format makes it signed; hachoir's value reads it
    unsigned (-1.0 as 65535.0), so it is taken from its raw bits."""
    raw = int(entry["int_part"].value) << 16 | int(entry["float_part"].value)
    if raw >= 1 << 31:
        raw -= 1 << 32
    return raw / (1 << 16)
