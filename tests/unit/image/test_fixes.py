"""Tests for bot.image.fixes: every fix turns a refused image into one the model accepts."""

from __future__ import annotations

import io
import struct
import zlib
from fractions import Fraction

import pytest
from PIL import Image, ImageFile

from bot.image import firstframe
from bot.image import fixes as imagefix
from bot.image.firstframe import MAX_RATIO, MIN_RATIO, FirstFrame, ImageProblem, ImageRejected
from bot.image.fixes import (
    Fix,
    apply_fix,
    apply_fix_async,
    crop_to_ratio,
    fix_for,
    pad_to_ratio,
    preview,
    preview_async,
    upscale,
)

RED = (255, 0, 0)
BLUE = (0, 0, 255)
GREEN = (0, 160, 0)

FIXES = {Fix.CROP: "crop_to_ratio", Fix.PAD: "pad_to_ratio", Fix.UPSCALE: "upscale"}

# --- helpers -----------------------------------------------------------------


def encode(img: Image.Image, image_format: str = "JPEG", **save_options: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=image_format, **save_options)
    return buf.getvalue()


def target(size: tuple[int, int], mode: str = "RGB") -> Image.Image:
    """Blue, with a red square in the centre (a fifth of the shorter side, at least 4 px)."""
    width, height = size
    img = Image.new(mode, size, BLUE)
    half = max(2, min(size) // 10)
    img.paste(RED, (width // 2 - half, height // 2 - half, width // 2 + half, height // 2 + half))
    return img


def decoded(data: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    img.load()
    return img


def assert_accepted(data: bytes) -> FirstFrame:
    """The fixed image passes the first-frame step, strictly inside every limit."""
    frame = firstframe.prepare_first_frame(data)
    assert MIN_RATIO < Fraction(frame.width, frame.height) < MAX_RATIO
    assert min(frame.width, frame.height) > firstframe.MIN_SHORT_SIDE
    assert frame.converted_from is None  # a fix sends JPEG or PNG as they are
    return frame


def centre_pixel(img: Image.Image) -> tuple[int, ...]:
    pixel = img.getpixel((img.width // 2, img.height // 2))
    assert isinstance(pixel, tuple)
    return pixel


def close_to(pixel: tuple[int, ...], colour: tuple[int, ...], tolerance: int = 40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, colour, strict=False))


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height but whose pixel data is a few bytes."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 16))
        + chunk(b"IEND", b"")
    )


# --- every fix keeps the centre and gives an accepted image --------------------


def assert_fixed(fixed: bytes, expected: tuple[int, int]) -> None:
    """Accepted, of the expected size, and still showing the red centre."""
    frame = assert_accepted(fixed)
    assert (frame.image_format, frame.width, frame.height) == ("JPEG", *expected)
    img = decoded(fixed)
    assert img.size == expected
    assert close_to(centre_pixel(img), RED)


def test_fix_output_is_jpeg_at_quality_92() -> None:
    fixed = decoded(crop_to_ratio(encode(target((2000, 500)))))
    reference = decoded(encode(Image.new("RGB", (8, 8)), quality=92))
    assert fixed.quantization == reference.quantization  # type: ignore[attr-defined]


# --- crop --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ((2000, 800), (1999, 800)),  # exactly 5:2: one column off
        ((2000, 799), (1997, 799)),
        ((800, 2000), (800, 1999)),
        ((3000, 400), (999, 400)),
        ((100, 1000), (720, 1793)),  # 100x249, then upscaled
        ((1000, 100), (1793, 720)),
        ((250, 1000), (720, 1797)),  # 250x624, then upscaled
        ((200, 200), (720, 720)),  # nothing to cut, upscaled
        ((640, 480), (640, 480)),  # already accepted: same size
    ],
)
def test_crop_keeps_the_largest_allowed_centre(
    size: tuple[int, int], expected: tuple[int, int]
) -> None:
    assert_fixed(crop_to_ratio(encode(target(size))), expected)


def test_crop_cuts_both_ends_equally() -> None:
    img = Image.new("RGB", (2000, 400), BLUE)
    img.paste(GREEN, (0, 0, 500, 400))
    img.paste(GREEN, (1500, 0, 2000, 400))
    out = decoded(crop_to_ratio(encode(img)))
    assert out.size == (999, 400)
    # 2000 - 999 = 1001 columns cut: 500 on the left, 501 on the right, so both green
    # bands are gone but for a column at most.
    assert close_to(out.getpixel((2, 200)), BLUE)  # type: ignore[arg-type]
    assert close_to(out.getpixel((996, 200)), BLUE)  # type: ignore[arg-type]


# --- pad ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ((2000, 800), (2000, 801)),
        ((2000, 799), (2000, 801)),
        ((800, 2000), (801, 2000)),
        ((1000, 100), (1000, 401)),  # the canvas is over 300: no upscale needed
        ((100, 1000), (401, 1000)),
        ((250, 1000), (401, 1000)),
        ((600, 100), (1793, 720)),  # 600x241: too small, so upscaled
        ((200, 200), (720, 720)),
        ((640, 480), (640, 480)),
    ],
)
def test_pad_grows_to_the_nearest_allowed_ratio(
    size: tuple[int, int], expected: tuple[int, int]
) -> None:
    assert_fixed(pad_to_ratio(encode(target(size))), expected)


def test_pad_keeps_the_whole_picture_over_a_blurred_darker_copy() -> None:
    # Left half green, right half blue; the bands above and below show both, darker.
    img = Image.new("RGB", (1000, 100), BLUE)
    img.paste(GREEN, (0, 0, 500, 100))
    out = decoded(pad_to_ratio(encode(img, "PNG")))
    assert out.size == (1000, 401)
    top = (401 - 100) // 2
    # The picture itself, untouched (but for JPEG), every edge included.
    assert close_to(out.getpixel((2, top + 2)), GREEN)  # type: ignore[arg-type]
    assert close_to(out.getpixel((997, top + 97)), BLUE)  # type: ignore[arg-type]
    # The bands: a blurred copy, not flat black, and darker than the picture.
    left_band = out.getpixel((100, 20))
    right_band = out.getpixel((900, 380))
    assert isinstance(left_band, tuple) and isinstance(right_band, tuple)
    assert left_band[1] > 60 and left_band[1] > left_band[2]  # greenish
    assert right_band[2] > 60 and right_band[2] > right_band[1]  # bluish
    assert left_band[1] < GREEN[1] and right_band[2] < BLUE[2]  # darkened
    middle = out.getpixel((500, 20))
    assert isinstance(middle, tuple)
    assert 0 < middle[1] < left_band[1]  # blurred: the colours run into each other


def test_pad_keeps_transparency_as_png() -> None:
    img = target((1000, 200), "RGBA")
    img.paste((0, 0, 0, 0), (0, 0, 100, 200))
    fixed = pad_to_ratio(encode(img, "PNG"))
    frame = assert_accepted(fixed)
    assert frame.image_format == "PNG"
    out = decoded(fixed)
    assert out.mode == "RGBA"
    top = (401 - 200) // 2
    assert out.getpixel((50, top + 100))[3] == 0  # type: ignore[index]
    assert out.getpixel((500, top + 100)) == (*RED, 255)


def test_pad_scales_down_a_canvas_over_the_pixel_guard(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(firstframe, "MAX_PIXELS", 500_000)
    # 490,000 pixels, allowed; padded to 1400x561 it would be 785,400.
    fixed = pad_to_ratio(encode(target((1400, 350))))
    frame = assert_accepted(fixed)
    assert frame.width * frame.height <= 500_000
    assert close_to(centre_pixel(decoded(fixed)), RED)


# --- upscale -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ((200, 200), (720, 720)),
        ((300, 400), (720, 960)),
        ((400, 300), (960, 720)),
        ((250, 1000), (720, 1796)),  # padded to 401x1000 first: nothing is cut
        ((100, 1000), (720, 1796)),
        ((1000, 100), (1796, 720)),
        ((2000, 799), (2000, 801)),  # padded; its shorter side is then over 720
        ((1000, 1000), (1000, 1000)),  # already large enough: never shrunk
    ],
)
def test_upscale_makes_the_shorter_side_720(
    size: tuple[int, int], expected: tuple[int, int]
) -> None:
    assert_fixed(upscale(encode(target(size))), expected)


def test_upscale_of_a_tall_small_image_cuts_nothing() -> None:
    img = Image.new("RGB", (250, 1000), BLUE)
    img.paste(GREEN, (0, 0, 250, 50))
    img.paste(RED, (0, 950, 250, 1000))
    out = decoded(upscale(encode(img, "PNG")))
    assert out.size == (720, 1796)
    assert close_to(out.getpixel((360, 5)), GREEN)  # type: ignore[arg-type]
    assert close_to(out.getpixel((360, 1790)), RED)  # type: ignore[arg-type]


def test_upscale_to_another_size() -> None:
    assert assert_accepted(upscale(encode(target((200, 300))), short_side=400)).width == 400


def test_upscale_refuses_a_result_over_the_pixel_guard() -> None:
    with pytest.raises(ImageRejected) as info:
        upscale(encode(target((400, 400))), short_side=10_000)
    assert info.value.problem is ImageProblem.TOO_MANY_PIXELS
    assert (info.value.width, info.value.height) == (10_000, 10_000)


@pytest.mark.parametrize("short_side", [300, 0, -1])
def test_upscale_refuses_a_short_side_the_model_refuses(short_side: int) -> None:
    with pytest.raises(ValueError, match="short_side"):
        upscale(encode(target((200, 200))), short_side=short_side)


# --- what every fix shares ---------------------------------------------------


@pytest.mark.parametrize("fix", list(Fix))
def test_fix_works_on_the_upright_picture(fix: Fix) -> None:
    # Stored 100x1000 (tall), shown rotated a quarter turn: 1000x100 (wide).
    exif = Image.Exif()
    exif[0x0112] = 6
    fixed = apply_fix(encode(target((100, 1000)), exif=exif), fix)
    frame = assert_accepted(fixed)
    assert frame.width > frame.height
    assert 0x0112 not in decoded(fixed).getexif()


@pytest.mark.parametrize("image_format", ["WEBP", "GIF", "BMP", "TIFF"])
def test_fix_accepts_the_formats_the_first_frame_converts(image_format: str) -> None:
    fixed = crop_to_ratio(encode(target((1000, 350)), image_format))
    frame = assert_accepted(fixed)
    assert (frame.image_format, frame.width, frame.height) == ("JPEG", 874, 350)
    assert close_to(centre_pixel(decoded(fixed)), RED)


def test_fix_of_a_transparent_gif_is_png() -> None:
    img = Image.new("P", (1000, 200), 1)
    img.putpalette([0, 0, 0, *RED] + [0] * (256 * 3 - 6))
    img.paste(0, (0, 0, 100, 200))
    assert assert_accepted(crop_to_ratio(encode(img, "GIF", transparency=0))).image_format == "PNG"


def test_fix_of_grey_and_cmyk_images_is_rgb_jpeg() -> None:
    for img in (Image.new("L", (1000, 200), 90), Image.new("CMYK", (1000, 200), (0, 255, 0, 0))):
        fixed = pad_to_ratio(encode(img))
        assert decoded(fixed).mode == "RGB"
        assert_accepted(fixed)


def test_fix_of_a_16_bit_png_is_scaled_not_clipped() -> None:
    img = Image.new("I;16", (1000, 200), 32768)
    out = decoded(crop_to_ratio(encode(img, "PNG")))
    assert close_to(centre_pixel(out), (128, 128, 128), tolerance=4)


def test_fix_over_the_file_limit_is_shrunk_until_it_fits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    noisy = encode(Image.effect_noise((1200, 400), 80).convert("RGB"), quality=95)
    assert len(crop_to_ratio(noisy)) > 250_000  # JPEG cannot squeeze noise
    monkeypatch.setattr(firstframe, "MAX_FILE_BYTES", 250_000)
    fixed = crop_to_ratio(noisy)
    assert len(fixed) <= 250_000
    frame = assert_accepted(fixed)
    assert frame.width < 999  # smaller than the plain crop, 999x400


def test_fix_that_cannot_fit_the_file_limit_is_too_large(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    noisy = encode(Image.effect_noise((1200, 400), 80).convert("RGB"), quality=95)
    # Fitting would take the shorter side to 300 px or less, which the model refuses.
    monkeypatch.setattr(firstframe, "MAX_FILE_BYTES", 100_000)
    with pytest.raises(ImageRejected) as info:
        crop_to_ratio(noisy)
    assert info.value.problem is ImageProblem.TOO_LARGE


# --- refused input -----------------------------------------------------------


@pytest.fixture
def no_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make any full decode fail loudly, to prove a check fired before it."""

    def forbidden(self: object) -> None:
        raise AssertionError("the image must not be decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", forbidden)


@pytest.mark.parametrize("fix", list(Fix))
def test_bomb_is_refused_before_decoding(fix: Fix, no_decoding: None) -> None:
    with pytest.raises(ImageRejected) as info:
        apply_fix(png_header_only(100_000, 100_000), fix)
    assert info.value.problem is ImageProblem.TOO_MANY_PIXELS


def test_preview_of_a_bomb_is_refused_before_decoding(no_decoding: None) -> None:
    with pytest.raises(ImageRejected) as info:
        preview(png_header_only(100_000, 100_000))
    assert info.value.problem is ImageProblem.TOO_MANY_PIXELS


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"not a picture", ImageProblem.NOT_AN_IMAGE),
        (encode(Image.effect_noise((400, 400), 60).convert("RGB"))[:3000], ImageProblem.CORRUPT),
        (encode(Image.new("RGB", (1000, 200)), "PPM"), ImageProblem.UNSUPPORTED_FORMAT),
    ],
    ids=["not-an-image", "truncated", "ppm"],
)
def test_unusable_input_is_refused_like_the_first_frame(data: bytes, problem: ImageProblem) -> None:
    for fix in Fix:
        with pytest.raises(ImageRejected) as info:
            apply_fix(data, fix)
        assert info.value.problem is problem


# --- which fixes to offer ----------------------------------------------------


@pytest.mark.parametrize("problem", list(ImageProblem))
def test_fixes_offered_for_each_problem(problem: ImageProblem) -> None:
    expected = {
        ImageProblem.TOO_TALL: [Fix.CROP, Fix.PAD],
        ImageProblem.TOO_WIDE: [Fix.CROP, Fix.PAD],
        ImageProblem.TOO_SMALL: [Fix.UPSCALE],
    }.get(problem, [])
    assert fix_for(problem) == expected


@pytest.mark.parametrize("size", [(1000, 200), (200, 1000), (200, 250)])
def test_every_offered_fix_works_on_the_image_refused(size: tuple[int, int]) -> None:
    data = encode(target(size))
    with pytest.raises(ImageRejected) as info:
        firstframe.prepare_first_frame(data)
    offered = fix_for(info.value.problem)
    assert offered
    for fix in offered:
        assert_accepted(apply_fix(data, fix))


def test_apply_fix_dispatches(monkeypatch: pytest.MonkeyPatch) -> None:
    for fix in Fix:
        monkeypatch.setattr(imagefix, FIXES[fix], lambda data, name=fix.value: name.encode())
    assert [apply_fix(b"", fix) for fix in Fix] == [b"crop", b"pad", b"upscale"]


def test_fix_values_are_stable() -> None:
    assert [str(fix) for fix in Fix] == ["crop", "pad", "upscale"]


# --- preview -----------------------------------------------------------------


def test_preview_is_a_small_jpeg_of_the_same_shape() -> None:
    thumb = decoded(preview(encode(target((2000, 800)))))
    assert (thumb.format, thumb.mode, thumb.size) == ("JPEG", "RGB", (320, 128))
    assert close_to(centre_pixel(thumb), RED)


def test_preview_never_enlarges_and_shows_transparency_over_white() -> None:
    img = Image.new("RGBA", (100, 60), (0, 0, 0, 0))
    thumb = decoded(preview(encode(img, "PNG"), max_side=320))
    assert thumb.size == (100, 60)
    assert close_to(centre_pixel(thumb), (255, 255, 255), tolerance=2)


def test_preview_is_upright() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6
    assert decoded(preview(encode(target((400, 300)), exif=exif), max_side=40)).size == (30, 40)


def test_preview_refuses_a_size_of_zero() -> None:
    with pytest.raises(ValueError, match="max_side"):
        preview(encode(target((400, 300))), max_side=0)


# --- exact geometry ----------------------------------------------------------


def test_crop_and_pad_sizes_are_the_nearest_strictly_inside() -> None:
    # Exhaustive over small sizes: integer arithmetic, so no limit is ever reached.
    for width in range(1, 120):
        for height in range(1, 120):
            left, top, right, bottom = imagefix._crop_box(width, height)
            crop = (right - left, bottom - top)
            pad = imagefix._padded_size(width, height)
            for kept in (crop, pad):
                assert MIN_RATIO < Fraction(*kept) < MAX_RATIO, ((width, height), kept)
            # Nearest: one pixel more cropped away, or one less padded, is out.
            if crop != (width, height):
                assert crop[0] <= width and crop[1] <= height
                grown = (crop[0] + (crop[0] < width), crop[1] + (crop[1] < height))
                assert not MIN_RATIO < Fraction(*grown) < MAX_RATIO
            if pad != (width, height):
                assert pad[0] >= width and pad[1] >= height
                shrunk = (pad[0] - (pad[0] > width), pad[1] - (pad[1] > height))
                assert not MIN_RATIO < Fraction(*shrunk) < MAX_RATIO
            # Centred: the margins differ by at most one pixel.
            assert abs(left - (width - right)) <= 1 and abs(top - (height - bottom)) <= 1


# --- async -------------------------------------------------------------------


async def test_async_variants_match_sync() -> None:
    data = encode(target((500, 150)))
    assert await apply_fix_async(data, Fix.PAD) == pad_to_ratio(data)
    assert await preview_async(data, 100) == preview(data, 100)
    with pytest.raises(ImageRejected):
        await apply_fix_async(b"nothing", Fix.CROP)
