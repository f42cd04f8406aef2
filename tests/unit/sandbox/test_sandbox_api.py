"""The sandbox's pieces on their own: the API contract, the job clock, the video, the options."""

from __future__ import annotations

import base64
import io
from typing import Any

import pytest
from PIL import Image

from bot.sandbox import contract, render
from bot.sandbox.__main__ import parse_args
from bot.sandbox.placeholder import PLACEHOLDER_MP4
from bot.sandbox.render import VideoSpec, ken_burns, output_size, render_video
from bot.sandbox.server import DEFAULT_PORT, SandboxServer
from bot.sandbox.timeline import JobStatus, Timeline
from tests.images import make_image


def png_data_url(width: int, height: int) -> str:
    return "data:image/png;base64," + base64.b64encode(make_image(width, height, "PNG")).decode()


def body(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "model": "video-01-live2d",
        "prompt": "she smiles",
        "prompt_optimizer": True,
        "first_frame_image": png_data_url(640, 960),
    }
    values.update(overrides)
    return values


def test_create_body_with_every_field_is_accepted() -> None:
    checked = contract.check_create_body(body())
    assert isinstance(checked, contract.CreateRequest)
    assert (checked.prompt, checked.prompt_optimizer) == ("she smiles", True)


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        (body(model="video-01"), "model"),
        (body(prompt=""), "at least 1"),
        (body(prompt="x" * 2001), "at most 2000"),
        (body(prompt_optimizer="yes"), "prompt_optimizer"),
        ({"model": "video-01-live2d", "prompt": "p"}, "first_frame_image: Required"),
        ([1, 2], "JSON object"),
    ],
)
def test_create_body_breaking_a_rule_names_the_field(payload: Any, fragment: str) -> None:
    problem = contract.check_create_body(payload)
    assert isinstance(problem, str) and fragment in problem


@pytest.mark.parametrize(
    ("size", "fragment"),
    [((400, 1000), "aspect ratio"), ((1000, 400), "aspect ratio"), ((300, 600), "shorter side")],
)
def test_first_frame_on_or_past_a_limit_is_refused(size: tuple[int, int], fragment: str) -> None:
    problem = contract.check_first_frame(png_data_url(*size))
    assert isinstance(problem, str) and fragment in problem


def test_first_frame_just_inside_the_limits_is_accepted_with_its_bytes() -> None:
    image = contract.check_first_frame(png_data_url(401, 1000))
    assert isinstance(image, contract.FirstFrameImage)
    assert (image.image_format, image.size, image.mime) == ("PNG", (401, 1000), "image/png")
    assert image.data is not None and len(image.data) == image.nbytes


def test_error_body_has_the_documented_shape() -> None:
    error = contract.error_body(401, contract.GENERATION_PATH)
    assert set(error) == {"requestId", "statusCode", "timestamp", "path", "message"}
    assert error["statusCode"] == 401 and error["message"] == contract.UNAUTHORIZED_MESSAGE


@pytest.mark.parametrize(
    ("header", "key"),
    [
        ("Bearer any-key", "any-key"),
        ("bearer  k ", "k"),
        ("Bearer ", None),
        ("k", None),
        ("", None),
    ],
)
def test_bearer_key_is_read_from_the_header(header: str, key: str | None) -> None:
    assert contract.bearer_token(header) == key


def test_status_body_reports_video_only_on_success_and_error_only_on_failure() -> None:
    video = {"url": "http://127.0.0.1/videos/1.mp4", "duration": 4.0}
    done = contract.status_body("1", "completed", video=video, error="ignored")
    assert (done["video"], done["error"]) == (video, None)
    failed = contract.status_body("1", "error", video=video)
    assert (failed["video"], failed["error"]) == (None, "Generation failed")
    assert set(done) == {"id", "status", "video", "error", "meta"}


def test_timeline_goes_queued_generating_then_the_outcome() -> None:
    timeline = Timeline.starting(100.0, queued_seconds=3.0, generating_seconds=12.0)
    assert [timeline.status_at(t, "completed") for t in (100.0, 102.9, 103.0, 114.9, 115.0)] == [
        JobStatus.QUEUED,
        JobStatus.QUEUED,
        JobStatus.GENERATING,
        JobStatus.GENERATING,
        JobStatus.COMPLETED,
    ]
    assert timeline.status_at(200.0, "error") == "error"


@pytest.mark.parametrize(
    ("picture", "short_side", "expected"),
    [
        ((720, 1080), 480, (480, 720)),
        ((4000, 3000), 480, (640, 480)),
        ((301, 700), 480, (480, 1116)),
        ((1000, 401), 481, (1198, 480)),
        ((1000, 1000), 480, (480, 480)),
    ],
)
def test_output_size_follows_the_aspect_ratio_with_even_sides(
    picture: tuple[int, int], short_side: int, expected: tuple[int, int]
) -> None:
    assert output_size(*picture, short_side) == expected


def test_ken_burns_starts_on_the_whole_picture_and_ends_zoomed_in() -> None:
    picture = Image.new("RGB", (600, 900), "white")
    picture.paste((255, 0, 0), (0, 0, 600, 30))  # a red band along the top edge
    spec = VideoSpec(seconds=1.0, fps=10, short_side=200)
    frames = list(ken_burns(picture, (200, 300), spec, seed=0))
    assert len(frames) == 10 and {f.size for f in frames} == {(200, 300)}
    first, last = frames[0], frames[-1]
    assert first.getpixel((100, 5)) == (255, 0, 0)  # the band is in the first frame
    assert last.getpixel((100, 5)) == (255, 255, 255)  # and cropped away by the last


def test_without_pyav_the_placeholder_clip_is_served(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(render, "encoder", lambda: None)
    clip = render_video(make_image(640, 960), VideoSpec())
    assert clip is render.PLACEHOLDER and clip.data == PLACEHOLDER_MP4
    assert clip.encoder == "placeholder"


def test_placeholder_clip_is_a_playable_h264_mp4() -> None:
    av = pytest.importorskip("av")
    with av.open(io.BytesIO(PLACEHOLDER_MP4)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        assert stream.codec_context.name == "h264"
        assert (stream.width, stream.height) == render.PLACEHOLDER.size
        assert frames == round(render.PLACEHOLDER.seconds * 12)


def test_options_default_to_the_documented_values() -> None:
    config = parse_args([])
    assert config.port == DEFAULT_PORT == 8787
    assert (config.queued_seconds, config.generating_seconds, config.fail_every) == (3, 12, 0)
    assert config.video == VideoSpec(seconds=4.0, fps=24, short_side=480)


def test_options_are_read_from_the_command_line() -> None:
    config = parse_args(
        ["--port", "0", "--queued-seconds", "1", "--generating-seconds", "2.5", "--fail-every", "3"]
    )
    assert (config.port, config.queued_seconds, config.generating_seconds) == (0, 1.0, 2.5)
    assert config.fail_every == 3


def test_it_listens_on_loopback_and_reports_its_own_origin_unless_told_otherwise() -> None:
    config = parse_args([])
    assert (config.host, config.public_url) == ("127.0.0.1", None)
    assert SandboxServer(config).base_url == "http://127.0.0.1:8787/v2"


def test_host_and_public_url_are_read_from_the_command_line() -> None:
    config = parse_args(["--host", "0.0.0.0", "--public-url", "http://sandbox:8787/"])
    assert (config.host, config.public_url) == ("0.0.0.0", "http://sandbox:8787")
    sandbox = SandboxServer(config)
    # Listening on every interface, it is still reached here on loopback...
    assert sandbox.origin == "http://127.0.0.1:8787"
    # ...while the bot in another container is given the public URL, links included.
    assert sandbox.base_url == "http://sandbox:8787/v2"
    assert sandbox.video_url("1") == "http://sandbox:8787/videos/1.mp4"


@pytest.mark.parametrize(
    "argv",
    [
        ["--port", "70000"],
        ["--fail-every", "-1"],
        ["--queued-seconds", "x"],
        ["--host", ""],
        ["--host", "http://0.0.0.0"],
        ["--public-url", "sandbox:8787"],
        ["--public-url", "http://sandbox:8787/v2"],
    ],
)
def test_bad_option_stops_with_usage(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        parse_args(argv)
    assert stopped.value.code == 2
    assert "usage:" in capsys.readouterr().err


def test_video_follows_the_photos_exif_rotation_and_flattens_transparency() -> None:
    av = pytest.importorskip("av")
    upright = Image.new("RGB", (600, 900), "white")
    exif = upright.getexif()
    exif[0x0112] = 6  # orientation: rotate 90° to display, so the photo is seen as 900x600
    buffer = io.BytesIO()
    upright.save(buffer, format="JPEG", exif=exif)
    rotated = render_video(buffer.getvalue(), VideoSpec(seconds=0.25, fps=8, short_side=200))
    assert rotated.size == (300, 200)

    clear = io.BytesIO()
    Image.new("RGBA", (400, 400), (0, 0, 0, 0)).save(clear, format="PNG")
    flattened = render_video(clear.getvalue(), VideoSpec(seconds=0.25, fps=8, short_side=200))
    with av.open(io.BytesIO(flattened.data)) as container:
        first = next(container.decode(video=0)).to_image()
    red, green, blue = first.getpixel((100, 100))
    assert min(red, green, blue) > 240  # transparent is white, not black
