"""A video's shape, read from its MP4 boxes: what Telegram is told of an uploaded video."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot.engine.videoshape import VideoShape, read_video_shape
from bot.sandbox.placeholder import PLACEHOLDER_MP4
from bot.sandbox.render import VideoSpec, render_video


def test_encoded_video_reads_as_its_size_and_length(tmp_path: Path) -> None:
    # A real MP4 (PyAV's, or the placeholder clip on a bare install), moov after the media.
    clip = render_video(None, VideoSpec(seconds=2, fps=8, short_side=96))
    path = tmp_path / "video.mp4"
    path.write_bytes(clip.data)
    assert read_video_shape(path) == VideoShape(*clip.size, round(clip.seconds))


@pytest.mark.parametrize(
    "data",
    [b"", b"not a video at all, only words", PLACEHOLDER_MP4[:60]],
    ids=["empty", "words", "cut-off"],
)
def test_file_that_says_nothing_reads_as_none_logged_at_info(
    tmp_path: Path,
    data: bytes,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.INFO, logger="bot.engine.videoshape")
    path = tmp_path / "video.mp4"
    path.write_bytes(data)
    assert read_video_shape(path) is None
    [record] = caplog.records
    assert record.levelno == logging.INFO
    assert capsys.readouterr().err == ""  # nothing written past the bot's logging


def test_missing_file_reads_as_none(tmp_path: Path) -> None:
    assert read_video_shape(tmp_path / "gone.mp4") is None
