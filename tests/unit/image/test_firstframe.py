"""Tests for bot.image.firstframe: the image rules of video-01-live2d and the data URL."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import io
import random
import struct
import warnings
import zlib
from collections.abc import Callable

import pytest
from PIL import Image, ImageCms, ImageFile, ImageOps, PngImagePlugin, features

from bot.image import firstframe
from bot.image.firstframe import (
    MAX_FILE_BYTES,
    MAX_PIXELS,
    FirstFrame,
    ImageProblem,
    ImageRejected,
    check_declared_size,
    prepare_first_frame,
    prepare_first_frame_async,
)
from tests.images import METADATA_LAYOUTS, gps_exif, jpeg_with_mpf_depth_map, metadata_found

# --- helpers -----------------------------------------------------------------

ORIENTATION = 0x0112
# Formats Pillow supports only when built with their library.
OPTIONAL_CODECS = {"WEBP": "webp", "AVIF": "avif", "JPEG2000": "jpg_2000"}


def make_image(
    size: tuple[int, int],
    image_format: str = "JPEG",
    mode: str = "RGB",
    color: int | tuple[int, ...] = 0,
    **save_options: object,
) -> bytes:
    """A small solid image, encoded in memory (solid colours keep it fast and tiny)."""
    if isinstance(color, int) and mode in ("RGB", "RGBA"):
        color = (color, 128, 200, 255)[: len(mode)]
    buf = io.BytesIO()
    Image.new(mode, size, color).save(buf, format=image_format, **save_options)
    return buf.getvalue()


def orientation(value: int) -> Image.Exif:
    """EXIF holding only an orientation tag (6: shown rotated 90° clockwise)."""
    exif = Image.Exif()
    exif[ORIENTATION] = value
    return exif


def marked(size: tuple[int, int], mode: str = "RGB") -> Image.Image:
    """Blue, with a red 20x20 marker in the top-left corner of the stored pixels."""
    img = Image.new(mode, size, (0, 0, 255, 255)[: len(mode)])
    img.paste((255, 0, 0, 255)[: len(mode)], (0, 0, 20, 20))
    return img


def encode(img: Image.Image, image_format: str, **save_options: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=image_format, **save_options)
    return buf.getvalue()


def is_red(pixel: object) -> bool:
    assert isinstance(pixel, tuple)
    red, green, blue = pixel[:3]
    return bool(red > 200 and green < 60 and blue < 60)


def is_blue(pixel: object) -> bool:
    assert isinstance(pixel, tuple)
    red, green, blue = pixel[:3]
    return bool(red < 60 and green < 60 and blue > 200)


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    return (
        struct.pack(">I", len(payload))
        + kind
        + payload
        + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF)
    )


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose IHDR claims width x height but whose pixel data is a few bytes."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", zlib.compress(b"\0" * 16))
        + png_chunk(b"IEND", b"")
    )


def decode_data_url(frame: FirstFrame) -> tuple[str, bytes]:
    header, _, payload = frame.data_url.partition(",")
    return header, base64.b64decode(payload, validate=True)


def rejected(data: bytes) -> ImageRejected:
    with pytest.raises(ImageRejected) as info:
        prepare_first_frame(data)
    return info.value


@pytest.fixture
def no_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make any full decode fail loudly, to prove a check fired before it."""

    def forbidden(self: object) -> None:
        raise AssertionError("the image must not be decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", forbidden)


# --- valid images ------------------------------------------------------------


def test_valid_jpeg_is_sent_unchanged() -> None:
    data = make_image((640, 480), "JPEG")
    frame = prepare_first_frame(data)
    header, sent = decode_data_url(frame)
    assert header == "data:image/jpeg;base64"
    assert sent == data  # no recompression
    assert (frame.image_format, frame.width, frame.height) == ("JPEG", 640, 480)
    assert frame.size_bytes == len(data)
    assert frame.sha256 == hashlib.sha256(data).hexdigest()
    with Image.open(io.BytesIO(sent)) as img:
        assert (img.format, img.size) == ("JPEG", (640, 480))


def test_valid_png_gives_png_data_url() -> None:
    data = make_image((480, 640), "PNG", mode="RGBA")
    frame = prepare_first_frame(data)
    header, sent = decode_data_url(frame)
    assert frame.data_url.startswith("data:image/png;base64,")
    assert header == "data:image/png;base64"
    assert sent == data
    assert (frame.image_format, frame.width, frame.height) == ("PNG", 480, 640)
    assert frame.sha256 == hashlib.sha256(data).hexdigest()
    with Image.open(io.BytesIO(sent)) as img:
        img.load()
        assert (img.format, img.mode, img.size) == ("PNG", "RGBA", (480, 640))


def test_grayscale_jpeg_is_kept() -> None:
    data = make_image((400, 400), "JPEG", mode="L", color=90)
    frame = prepare_first_frame(data)
    assert decode_data_url(frame)[1] == data


def test_format_comes_from_bytes_not_from_a_name() -> None:
    # There is no name or MIME type to trust: a PNG is a PNG whatever it was called.
    assert prepare_first_frame(make_image((400, 400), "PNG")).data_url.startswith(
        "data:image/png;base64,"
    )
    assert prepare_first_frame(make_image((400, 400), "JPEG")).data_url.startswith(
        "data:image/jpeg;base64,"
    )


def test_multi_picture_jpeg_is_accepted_as_jpeg() -> None:
    buf = io.BytesIO()
    first = Image.new("RGB", (400, 400), "red")
    first.save(buf, "MPO", save_all=True, append_images=[Image.new("RGB", (400, 400), "blue")])
    data = buf.getvalue()
    with Image.open(io.BytesIO(data)) as img:
        assert img.format == "MPO"  # what Pillow calls it; the bytes are a JPEG
    frame = prepare_first_frame(data)
    assert frame.image_format == "JPEG"
    assert frame.data_url.startswith("data:image/jpeg;base64,")


# --- geometry ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "problem"),
    [
        ((400, 1000), ImageProblem.TOO_TALL),  # exactly 2:5
        ((1000, 400), ImageProblem.TOO_WIDE),  # exactly 5:2
        ((301, 1000), ImageProblem.TOO_TALL),
        ((1000, 301), ImageProblem.TOO_WIDE),
        ((300, 400), ImageProblem.TOO_SMALL),  # shorter side exactly 300
        ((400, 300), ImageProblem.TOO_SMALL),
        ((300, 300), ImageProblem.TOO_SMALL),
        ((100, 2000), ImageProblem.TOO_SMALL),  # small wins over tall
    ],
)
def test_geometry_rejections(size: tuple[int, int], problem: ImageProblem) -> None:
    error = rejected(make_image(size, "JPEG"))
    assert error.problem is problem
    assert (error.width, error.height) == size
    assert error.image_format == "JPEG"


@pytest.mark.parametrize("size", [(401, 1000), (999, 400), (301, 301), (301, 400), (400, 301)])
def test_geometry_just_inside_passes(size: tuple[int, int]) -> None:
    frame = prepare_first_frame(make_image(size, "JPEG"))
    assert (frame.width, frame.height) == size


# --- file size ---------------------------------------------------------------


def test_one_byte_over_20_mb_is_rejected_before_parsing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    png = make_image((400, 400), "PNG")
    data = png + b"\0" * (MAX_FILE_BYTES + 1 - len(png))  # junk after IEND
    assert len(data) == 20 * 1024 * 1024 + 1

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("must be refused before Pillow sees it")

    monkeypatch.setattr(Image, "open", forbidden)
    error = rejected(data)
    assert error.problem is ImageProblem.TOO_LARGE
    assert error.size_bytes == len(data)
    assert error.width is None


def test_exactly_20_mb_is_accepted() -> None:
    png = make_image((400, 400), "PNG")
    data = png + b"\0" * (MAX_FILE_BYTES - len(png))
    frame = prepare_first_frame(data)
    assert frame.size_bytes == len(png)  # what follows the image's end is not sent


def test_check_declared_size() -> None:
    with pytest.raises(ImageRejected) as info:
        check_declared_size(20 * 1024 * 1024 + 1)
    assert info.value.problem is ImageProblem.TOO_LARGE
    assert info.value.size_bytes == 20 * 1024 * 1024 + 1
    check_declared_size(20 * 1024 * 1024)
    check_declared_size(0)
    check_declared_size(None)


def test_reencoding_over_the_limit_is_too_large(monkeypatch: pytest.MonkeyPatch) -> None:
    data = make_image((400, 400), "JPEG", mode="CMYK", color=(0, 0, 0, 0))
    monkeypatch.setattr(firstframe, "MAX_FILE_BYTES", len(data))
    monkeypatch.setattr(firstframe, "_encode", lambda *args: b"x" * (len(data) + 1))
    error = rejected(data)
    assert error.problem is ImageProblem.TOO_LARGE
    assert error.size_bytes == len(data) + 1


# --- broken and foreign files ------------------------------------------------


def noisy_jpeg() -> bytes:
    buf = io.BytesIO()
    Image.effect_noise((400, 400), 60).convert("RGB").save(buf, "JPEG")
    return buf.getvalue()


@pytest.mark.parametrize("keep", [0.5, 0.9])
def test_truncated_jpeg_is_corrupt(keep: float) -> None:
    data = noisy_jpeg()
    error = rejected(data[: int(len(data) * keep)])
    assert error.problem is ImageProblem.CORRUPT
    assert (error.width, error.height, error.image_format) == (400, 400, "JPEG")


def test_jpeg_cut_inside_its_header_is_corrupt() -> None:
    assert rejected(noisy_jpeg()[:200]).problem is ImageProblem.CORRUPT


def test_truncated_png_is_corrupt() -> None:
    buf = io.BytesIO()
    Image.effect_noise((400, 400), 60).convert("RGB").save(buf, "PNG")
    data = buf.getvalue()
    error = rejected(data[: len(data) // 2])
    assert error.problem is ImageProblem.CORRUPT
    assert error.image_format == "PNG"


def test_png_with_bad_data_crc_is_corrupt() -> None:
    data = bytearray(make_image((400, 400), "PNG"))
    idat = data.find(b"IDAT")
    (length,) = struct.unpack(">I", data[idat - 4 : idat])
    data[idat + 4 + length] ^= 0xFF  # first CRC byte of the IDAT chunk
    assert rejected(bytes(data)).problem is ImageProblem.CORRUPT


@pytest.mark.parametrize(
    "data",
    [
        b"",
        random.Random(1234).randbytes(4096),  # seeded: weak signatures (TGA) never flake
        b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n",
        b"just some text, not a picture",
    ],
    ids=["empty", "random", "pdf", "text"],
)
def test_not_an_image(data: bytes) -> None:
    error = rejected(data)
    assert error.problem is ImageProblem.NOT_AN_IMAGE
    assert error.size_bytes == len(data)


@pytest.mark.parametrize("image_format", ["PPM", "TGA", "PCX", "SGI", "EPS"])
def test_formats_not_converted_are_refused_before_decoding(
    image_format: str, no_decoding: None
) -> None:
    # EPS above all: decoding it would run Ghostscript on the sender's bytes.
    error = rejected(make_image((400, 400), image_format, mode="L"))
    assert error.problem is ImageProblem.UNSUPPORTED_FORMAT
    assert error.image_format == image_format
    assert (error.width, error.height) == (400, 400)


def test_truncated_webp_is_corrupt() -> None:
    buf = io.BytesIO()
    Image.effect_noise((400, 400), 60).convert("RGB").save(buf, "WEBP")
    data = buf.getvalue()
    error = rejected(data[: len(data) // 2])
    assert error.problem is ImageProblem.CORRUPT


# --- conversions -------------------------------------------------------------


def test_cmyk_jpeg_is_sent_as_rgb_jpeg() -> None:
    data = make_image((400, 400), "JPEG", mode="CMYK", color=(0, 255, 255, 0))  # red
    with Image.open(io.BytesIO(data)) as original:
        assert original.mode == "CMYK"
    frame = prepare_first_frame(data)
    header, sent = decode_data_url(frame)
    assert header == "data:image/jpeg;base64"
    assert sent != data
    assert frame.image_format == "JPEG"
    assert frame.size_bytes == len(sent)
    assert frame.sha256 == hashlib.sha256(sent).hexdigest()
    with Image.open(io.BytesIO(sent)) as img:
        assert (img.format, img.mode, img.size) == ("JPEG", "RGB", (400, 400))
        red, green, blue = img.getpixel((200, 200))  # type: ignore[misc]
        assert red > 200 and green < 60 and blue < 60


def test_cmyk_jpeg_is_reencoded_without_its_exif() -> None:
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # camera make: nothing of the EXIF goes to the API
    data = make_image((400, 500), "JPEG", mode="CMYK", color=(0, 0, 0, 0), exif=exif)
    _, sent = decode_data_url(prepare_first_frame(data))
    with Image.open(io.BytesIO(sent)) as img:
        assert img.mode == "RGB"
        assert not img.getexif()


@pytest.mark.parametrize(
    ("image_format", "mode", "save_options"),
    [
        ("JPEG", "RGB", {"exif": orientation(6)}),  # re-encoded upright
        ("JPEG", "CMYK", {}),  # re-encoded as RGB
        ("GIF", "RGB", {}),  # converted to JPEG
    ],
)
def test_reencoded_jpeg_leaves_without_the_comment(
    image_format: str, mode: str, save_options: dict[str, object]
) -> None:
    data = make_image((400, 500), image_format, mode, 0, comment=b"home", **save_options)
    with Image.open(io.BytesIO(data)) as original:
        assert original.info["comment"] == b"home"
    frame = prepare_first_frame(data)
    _, sent = decode_data_url(frame)
    assert frame.image_format == "JPEG"
    with Image.open(io.BytesIO(sent)) as img:
        assert "comment" not in img.info
    assert b"home" not in sent


def test_cmyk_jpeg_with_orientation_is_sent_upright_as_rgb() -> None:
    data = make_image((400, 500), "JPEG", mode="CMYK", color=(0, 0, 0, 0), exif=orientation(6))
    frame = prepare_first_frame(data)
    assert (frame.width, frame.height) == (500, 400)
    _, sent = decode_data_url(frame)
    with Image.open(io.BytesIO(sent)) as img:
        assert (img.mode, img.size) == ("RGB", (500, 400))
        assert 0x0112 not in img.getexif()


def test_16_bit_png_is_scaled_to_8_bit_rgb() -> None:
    img16 = Image.new("I;16", (400, 400), 32768)
    img16.putpixel((0, 0), 65535)
    buf = io.BytesIO()
    img16.save(buf, "PNG")
    frame = prepare_first_frame(buf.getvalue())
    header, sent = decode_data_url(frame)
    assert header == "data:image/png;base64"
    with Image.open(io.BytesIO(sent)) as img:
        assert (img.format, img.mode) == ("PNG", "RGB")
        assert img.getpixel((0, 0)) == (255, 255, 255)
        assert img.getpixel((10, 10)) == (128, 128, 128)  # scaled, not clipped to white


# --- EXIF orientation ---------------------------------------------------------


def test_rotated_phone_photo_is_judged_and_sent_upright() -> None:
    # Stored 1000x450, shown rotated 90° clockwise as 450x1000. (A quarter turn never
    # changes whether the ratio or the shorter side is allowed: the rules are symmetric.)
    data = encode(marked((1000, 450)), "JPEG", quality=90, exif=orientation(6))
    frame = prepare_first_frame(data)
    assert (frame.image_format, frame.width, frame.height) == ("JPEG", 450, 1000)
    assert frame.converted_from is None
    header, sent = decode_data_url(frame)
    assert header == "data:image/jpeg;base64"
    assert sent != data
    assert frame.size_bytes == len(sent)
    assert frame.sha256 == hashlib.sha256(sent).hexdigest()
    with Image.open(io.BytesIO(sent)) as img:
        assert (img.format, img.size) == ("JPEG", (450, 1000))
        assert ORIENTATION not in img.getexif()  # never rotated twice by a viewer
        # Rotated clockwise: the stored top-left corner is now the top-right one.
        assert is_red(img.getpixel((440, 10)))
        assert is_blue(img.getpixel((10, 10)))


def test_orientation_is_applied_before_the_ratio_check(no_decoding: None) -> None:
    # Stored 380x1000 (too tall), shown 1000x380: the sender sees it as too wide.
    error = rejected(encode(marked((380, 1000)), "JPEG", exif=orientation(8)))
    assert error.problem is ImageProblem.TOO_WIDE
    assert (error.width, error.height) == (1000, 380)


def test_upside_down_photo_is_turned_and_keeps_its_size() -> None:
    data = encode(marked((500, 400)), "JPEG", exif=orientation(3))
    frame = prepare_first_frame(data)
    assert (frame.width, frame.height) == (500, 400)
    with Image.open(io.BytesIO(decode_data_url(frame)[1])) as img:
        assert is_red(img.getpixel((490, 390)))


@pytest.mark.parametrize("value", [1, 0, 9, 200])
def test_no_rotation_sends_the_same_pixels_without_the_exif(value: int) -> None:
    data = encode(marked((500, 400)), "JPEG", exif=orientation(value))
    frame = prepare_first_frame(data)
    sent = decode_data_url(frame)[1]
    assert (frame.width, frame.height) == (500, 400)
    with Image.open(io.BytesIO(data)) as before, Image.open(io.BytesIO(sent)) as after:
        assert after.tobytes() == before.tobytes()  # not re-encoded
        assert not after.getexif()


def test_gps_position_never_leaves_but_the_colour_profile_does() -> None:
    exif = Image.Exif()
    exif[0x8825] = {2: (55.0, 45.0, 0.0), 4: (37.0, 37.0, 0.0)}  # GPS: latitude, longitude
    exif[0x010F] = "PhoneMaker"
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    buffer = io.BytesIO()
    marked((640, 480)).save(buffer, "JPEG", exif=exif, icc_profile=profile, comment=b"home")
    data = buffer.getvalue()
    sent = decode_data_url(prepare_first_frame(data))[1]
    assert b"Exif" not in sent and b"PhoneMaker" not in sent and b"home" not in sent
    with Image.open(io.BytesIO(data)) as before, Image.open(io.BytesIO(sent)) as after:
        assert after.tobytes() == before.tobytes()
        assert after.info.get("icc_profile") == profile


def test_png_text_and_exif_chunks_never_leave() -> None:
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "Ann Example")
    info.add_itxt("Location", "Home, 55.75 N 37.62 E")
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    buffer = io.BytesIO()
    marked((640, 480), "RGBA").save(buffer, "PNG", pnginfo=info, exif=exif)
    data = buffer.getvalue()
    sent = decode_data_url(prepare_first_frame(data))[1]
    for secret in (b"Ann Example", b"55.75", b"PhoneMaker", b"eXIf", b"tEXt", b"iTXt"):
        assert secret not in sent
    with Image.open(io.BytesIO(data)) as before, Image.open(io.BytesIO(sent)) as after:
        assert after.tobytes() == before.tobytes()


# --- metadata: what no layout may carry out ---------------------------------------


LAYOUTS = pytest.mark.parametrize("layout", METADATA_LAYOUTS.values(), ids=METADATA_LAYOUTS.keys())
# A truncated EXIF block makes Pillow warn as it reads the orientation.
CORRUPT_EXIF_WARNING = pytest.mark.filterwarnings("ignore:Corrupt EXIF data")
SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def sent_image_format(data: bytes) -> str:
    with Image.open(io.BytesIO(data)) as img:
        return "PNG" if img.format == "PNG" else "JPEG"


@LAYOUTS
@CORRUPT_EXIF_WARNING
def test_layout_decodes_and_carries_metadata(layout: Callable[[int, int], bytes]) -> None:
    data = layout(640, 480)
    with Image.open(io.BytesIO(data)) as img:
        img.load()
        assert img.size == (640, 480)
    assert "a GPS position" in metadata_found(data)


@LAYOUTS
@CORRUPT_EXIF_WARNING
def test_metadata_never_leaves_and_the_pixels_are_not_reencoded(
    layout: Callable[[int, int], bytes],
) -> None:
    data = layout(640, 480)
    frame = prepare_first_frame(data)
    sent = decode_data_url(frame)[1]
    assert metadata_found(sent) == []
    assert frame.image_format == sent_image_format(data)
    assert (frame.width, frame.height) == (640, 480)
    with Image.open(io.BytesIO(data)) as before, Image.open(io.BytesIO(sent)) as after:
        assert after.tobytes() == before.tobytes()  # the same pixels: cut, not re-encoded
    assert firstframe._free_of_metadata(sent, frame.image_format)


@LAYOUTS
@CORRUPT_EXIF_WARNING
def test_cutter_read_back_finds_the_metadata_of_every_layout(
    layout: Callable[[int, int], bytes],
) -> None:
    data = layout(640, 480)
    assert not firstframe._free_of_metadata(data, sent_image_format(data))


@LAYOUTS
@CORRUPT_EXIF_WARNING
def test_a_cut_that_still_carries_metadata_is_reencoded(
    layout: Callable[[int, int], bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A cutter that fails open, as the one before did: the bytes it returns are read back,
    # and the picture is re-encoded rather than sent with its metadata.
    monkeypatch.setattr(firstframe, "_without_metadata", lambda data, image_format: data)
    data = layout(640, 480)
    frame = prepare_first_frame(data)
    sent = decode_data_url(frame)[1]
    assert metadata_found(sent) == []
    assert frame.image_format == sent_image_format(data)
    with Image.open(io.BytesIO(sent)) as img:
        assert (img.format, img.size) == (frame.image_format, (640, 480))


@pytest.mark.parametrize("image_format", ["JPEG", "PNG"])
def test_a_file_the_cutter_cannot_walk_is_reencoded_with_its_colour_profile(
    image_format: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(firstframe, "_without_metadata", lambda data, image_format: None)
    data = encode(marked((640, 480)), image_format, exif=gps_exif(), icc_profile=SRGB)
    frame = prepare_first_frame(data)
    sent = decode_data_url(frame)[1]
    assert sent != data
    assert frame.image_format == image_format
    assert metadata_found(sent) == []
    with Image.open(io.BytesIO(sent)) as img:
        assert img.info.get("icc_profile") == SRGB
        assert is_red(img.getpixel((5, 5))) and is_blue(img.getpixel((320, 240)))


def test_a_file_the_cutter_cannot_walk_is_reencoded_within_the_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(firstframe, "_without_metadata", lambda data, image_format: None)
    noisy = Image.effect_noise((600, 400), 60).convert("RGB")
    data = encode(noisy, "JPEG", quality=60, exif=gps_exif())
    with Image.open(io.BytesIO(data)) as stored:
        at_95, at_90 = (len(encode(stored, "JPEG", quality=q)) for q in (95, 90))
    assert len(data) < at_90 < at_95
    monkeypatch.setattr(firstframe, "MAX_FILE_BYTES", at_95 - 1)
    frame = prepare_first_frame(data)
    assert frame.size_bytes == at_90  # the highest quality that fits


def test_reencoded_bytes_that_carry_metadata_never_leave(monkeypatch: pytest.MonkeyPatch) -> None:
    # An encoder that writes what it was not given: the bytes are read back, and refused.
    leaky = encode(marked((400, 500)), "JPEG", exif=gps_exif())
    monkeypatch.setattr(firstframe, "_encode", lambda *args: leaky)
    data = make_image((400, 500), "JPEG", mode="CMYK", color=(0, 0, 0, 0))
    with pytest.raises(RuntimeError, match="metadata"):
        prepare_first_frame(data)


@pytest.mark.parametrize("stray", [b"\x00\x00", b"\xff\xff", b"\xff\x00"])
def test_stray_and_fill_bytes_between_segments_are_dropped(stray: bytes) -> None:
    picture = make_image((640, 480), "JPEG")
    after_jfif = 4 + int.from_bytes(picture[4:6], "big")
    data = picture[:after_jfif] + stray + picture[after_jfif:]
    with Image.open(io.BytesIO(data)) as img:
        img.load()
    assert decode_data_url(prepare_first_frame(data))[1] == picture


@pytest.mark.parametrize(
    "trailer",
    [
        b"\xff\xd8\xff\xe1\x00\x10Exif\x00\x00MM\x00\x2a\x00\x00",  # a second JPEG begins
        b"SEFH LeakyPhone",  # a phone maker's trailer
        b"\x00\x00",
    ],
)
def test_nothing_after_the_end_of_image_leaves(trailer: bytes) -> None:
    picture = make_image((640, 480), "JPEG")
    sent = decode_data_url(prepare_first_frame(picture + trailer))[1]
    assert sent == picture


def test_nothing_after_the_png_end_leaves() -> None:
    picture = make_image((640, 480), "PNG")
    trailer = png_chunk(b"tEXt", b"Make\x00LeakyPhone")
    sent = decode_data_url(prepare_first_frame(picture + trailer))[1]
    assert sent == picture


def test_mpf_depth_map_is_dropped_with_its_index() -> None:
    data = jpeg_with_mpf_depth_map(640, 480)
    sent = decode_data_url(prepare_first_frame(data))[1]
    assert sent.endswith(b"\xff\xd9")
    assert b"MPF\x00" not in sent
    assert sent.count(b"\xff\xd8") == 1
    with Image.open(io.BytesIO(sent)) as img:
        assert (img.format, getattr(img, "n_frames", 1)) == ("JPEG", 1)


@pytest.mark.parametrize(
    "data",
    [
        make_image((640, 480), "JPEG"),
        make_image((640, 480), "JPEG", progressive=True, icc_profile=SRGB),
        make_image((640, 480), "JPEG", mode="L", restart_marker_blocks=1),
        make_image((640, 480), "PNG", mode="RGBA"),
        make_image((640, 480), "PNG", mode="P", transparency=0),
    ],
    ids=["baseline", "progressive with profile", "grey with restarts", "RGBA PNG", "palette PNG"],
)
def test_plain_files_are_read_back_as_free_of_metadata(data: bytes) -> None:
    image_format = sent_image_format(data)
    assert firstframe._free_of_metadata(data, image_format)
    assert decode_data_url(prepare_first_frame(data))[1] == data  # sent as they are


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data + b"\x00",  # a byte after the end
        lambda data: data[:2] + b"\x00" + data[2:],  # a stray byte
        lambda data: data[:2] + b"\xff\xfe\x00\x02" + data[2:],  # an empty comment
        lambda data: data[:2] + b"\xff\xe3\x00\x04ab" + data[2:],  # an unknown APP segment
        lambda data: data[:-2],  # no end of image
    ],
    ids=["after the end", "stray byte", "comment", "APP3", "no end"],
)
def test_read_back_refuses_any_other_jpeg_byte(damage: Callable[[bytes], bytes]) -> None:
    assert not firstframe._free_of_metadata(damage(make_image((640, 480), "JPEG")), "JPEG")


def test_rotated_png_is_sent_upright_as_png() -> None:
    data = encode(marked((1000, 450), "RGBA"), "PNG", exif=orientation(6))
    frame = prepare_first_frame(data)
    assert (frame.image_format, frame.width, frame.height) == ("PNG", 450, 1000)
    with Image.open(io.BytesIO(decode_data_url(frame)[1])) as img:
        assert (img.format, img.mode, img.size) == ("PNG", "RGBA", (450, 1000))
        assert is_red(img.getpixel((440, 10)))


def test_rotated_jpeg_keeps_its_colour_profile() -> None:
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    data = encode(marked((500, 400)), "JPEG", exif=orientation(6), icc_profile=icc)
    with Image.open(io.BytesIO(decode_data_url(prepare_first_frame(data))[1])) as img:
        assert img.info.get("icc_profile") == icc


def test_rotated_jpeg_quality_is_lowered_to_fit_the_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    noisy = Image.effect_noise((600, 400), 60).convert("RGB")
    data = encode(noisy, "JPEG", quality=60, exif=orientation(6))
    with Image.open(io.BytesIO(data)) as stored:
        upright = ImageOps.exif_transpose(stored)
    exif = upright.info["exif"]
    at_95, at_80 = (len(encode(upright, "JPEG", quality=q, exif=exif)) for q in (95, 80))
    assert len(data) < at_80 < at_95
    monkeypatch.setattr(firstframe, "MAX_FILE_BYTES", at_80)
    frame = prepare_first_frame(data)
    assert frame.size_bytes <= at_80
    assert (frame.width, frame.height) == (400, 600)


# --- other formats, converted --------------------------------------------------


@pytest.mark.parametrize("image_format", ["WEBP", "BMP", "TIFF", "GIF", "JPEG2000", "AVIF"])
def test_other_formats_without_alpha_are_converted_to_jpeg(image_format: str) -> None:
    codec = OPTIONAL_CODECS.get(image_format)
    if codec is not None and not features.check(codec):
        pytest.skip(f"Pillow built without {image_format}")
    data = encode(marked((500, 400)), image_format)
    frame = prepare_first_frame(data)
    assert (frame.image_format, frame.converted_from) == ("JPEG", image_format)
    assert (frame.width, frame.height) == (500, 400)
    header, sent = decode_data_url(frame)
    assert header == "data:image/jpeg;base64"
    assert frame.sha256 == hashlib.sha256(sent).hexdigest()
    with Image.open(io.BytesIO(sent)) as img:
        assert (img.format, img.mode, img.size) == ("JPEG", "RGB", (500, 400))
        assert is_red(img.getpixel((5, 5)))
        assert is_blue(img.getpixel((250, 200)))


def test_webp_with_alpha_is_converted_to_png() -> None:
    img = marked((500, 400), "RGBA")
    img.paste((0, 0, 0, 0), (100, 100, 200, 200))
    data = encode(img, "WEBP", lossless=True)
    frame = prepare_first_frame(data)
    assert (frame.image_format, frame.converted_from) == ("PNG", "WEBP")
    with Image.open(io.BytesIO(decode_data_url(frame)[1])) as img:
        assert (img.format, img.mode) == ("PNG", "RGBA")
        assert img.getpixel((150, 150)) == (0, 0, 0, 0)
        assert img.getpixel((300, 300)) == (0, 0, 255, 255)


def test_gif_with_transparency_is_converted_to_png_keeping_it() -> None:
    img = Image.new("P", (500, 400), 1)
    img.putpalette([0, 0, 0, 255, 0, 0] + [0] * (256 * 3 - 6))
    img.paste(0, (0, 0, 100, 100))  # index 0, the transparent one
    frame = prepare_first_frame(encode(img, "GIF", transparency=0))
    assert (frame.image_format, frame.converted_from) == ("PNG", "GIF")
    with Image.open(io.BytesIO(decode_data_url(frame)[1])) as sent:
        sent.load()
        assert sent.format == "PNG"
        rgba = sent.convert("RGBA")
        assert rgba.getpixel((10, 10))[3] == 0  # type: ignore[index]
        assert rgba.getpixel((300, 300)) == (255, 0, 0, 255)


def test_animated_gif_sends_its_first_frame() -> None:
    frames = [Image.new("RGB", (500, 400), colour) for colour in ("red", "blue", "blue")]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100)
    frame = prepare_first_frame(data)
    assert frame.converted_from == "GIF"
    with Image.open(io.BytesIO(decode_data_url(frame)[1])) as img:
        assert is_red(img.getpixel((250, 200)))


def test_multi_page_tiff_sends_its_first_page() -> None:
    pages = [Image.new("RGB", (500, 400), colour) for colour in ("red", "blue")]
    data = encode(pages[0], "TIFF", save_all=True, append_images=pages[1:])
    with Image.open(io.BytesIO(decode_data_url(prepare_first_frame(data))[1])) as img:
        assert is_red(img.getpixel((250, 200)))


@pytest.mark.parametrize(
    ("mode", "colour"),
    [("CMYK", (0, 255, 255, 0)), ("I;16", 40000), ("1", 1), ("L", 200), ("P", 3)],
)
def test_tiff_in_any_mode_is_converted(mode: str, colour: int | tuple[int, ...]) -> None:
    frame = prepare_first_frame(encode(Image.new(mode, (500, 400), colour), "TIFF"))
    assert (frame.image_format, frame.converted_from) == ("JPEG", "TIFF")
    with Image.open(io.BytesIO(decode_data_url(frame)[1])) as img:
        assert img.mode in ("RGB", "L")
        assert img.size == (500, 400)


def test_converted_format_is_rotated_too() -> None:
    data = encode(marked((1000, 450)), "WEBP", exif=orientation(6))
    frame = prepare_first_frame(data)
    assert (frame.width, frame.height, frame.converted_from) == (450, 1000, "WEBP")
    with Image.open(io.BytesIO(decode_data_url(frame)[1])) as img:
        assert img.size == (450, 1000)
        assert is_red(img.getpixel((440, 10)))


def test_converted_format_is_checked_before_decoding(no_decoding: None) -> None:
    error = rejected(make_image((1000, 400), "WEBP"))
    assert error.problem is ImageProblem.TOO_WIDE
    assert error.image_format == "WEBP"  # the format the sender has in hand


def test_pixels_that_cannot_be_converted_are_unsupported(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def unconvertible(img: Image.Image) -> Image.Image:
        raise ValueError("conversion from LAB to RGB not supported")

    monkeypatch.setattr(firstframe, "_normalised", unconvertible)
    error = rejected(make_image((500, 400), "TIFF"))
    assert error.problem is ImageProblem.UNSUPPORTED_FORMAT
    assert (error.image_format, error.width, error.height) == ("TIFF", 500, 400)


# --- decompression bombs -----------------------------------------------------


def test_pillow_guard_is_consistent() -> None:
    assert Image.MAX_IMAGE_PIXELS is not None
    assert Image.MAX_IMAGE_PIXELS <= MAX_PIXELS


def test_huge_png_header_is_refused_without_decoding(no_decoding: None) -> None:
    # 10^10 pixels: ~30 GB if it were ever allocated.
    error = rejected(png_header_only(100_000, 100_000))
    assert error.problem is ImageProblem.TOO_MANY_PIXELS


def test_bomb_just_over_limit_is_refused(no_decoding: None) -> None:
    # Between Pillow's warning and error thresholds: Pillow only warns, we refuse.
    side = 8_000
    assert MAX_PIXELS < side * side <= 2 * MAX_PIXELS
    with pytest.warns(Image.DecompressionBombWarning):
        error = rejected(png_header_only(side, side))
    assert error.problem is ImageProblem.TOO_MANY_PIXELS
    assert (error.width, error.height) == (side, side)


def test_bomb_warning_as_error_does_not_escape(no_decoding: None) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        error = rejected(png_header_only(8_000, 8_000))
    assert error.problem is ImageProblem.TOO_MANY_PIXELS


def test_pixel_limit_is_inclusive(monkeypatch: pytest.MonkeyPatch) -> None:
    data = make_image((400, 500), "JPEG")
    monkeypatch.setattr(firstframe, "MAX_PIXELS", 400 * 500)
    assert prepare_first_frame(data).width == 400
    monkeypatch.setattr(firstframe, "MAX_PIXELS", 400 * 500 - 1)
    assert rejected(data).problem is ImageProblem.TOO_MANY_PIXELS


# --- types and async ---------------------------------------------------------


def test_rejection_carries_details() -> None:
    error = ImageRejected(ImageProblem.TOO_SMALL, width=10, height=20, image_format="PNG")
    assert (error.problem, error.width, error.height, error.size_bytes, error.image_format) == (
        ImageProblem.TOO_SMALL,
        10,
        20,
        None,
        "PNG",
    )
    assert "too_small" in str(error) and "width=10" in str(error)
    assert str(ImageProblem.TOO_SMALL) == "too_small"  # StrEnum: safe to log/format


def test_first_frame_is_frozen() -> None:
    frame = prepare_first_frame(make_image((400, 400), "PNG"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        frame.width = 1  # type: ignore[misc]


@pytest.mark.asyncio
async def test_async_variant_matches_sync() -> None:
    data = make_image((640, 480), "JPEG")
    assert await prepare_first_frame_async(data) == prepare_first_frame(data)
    with pytest.raises(ImageRejected) as info:
        await prepare_first_frame_async(make_image((400, 1000), "JPEG"))
    assert info.value.problem is ImageProblem.TOO_TALL


def test_iphone_heic_is_converted_to_jpeg() -> None:
    buffer = io.BytesIO()
    marked((640, 480)).save(buffer, "HEIF")
    assert buffer.getvalue()[4:12] == b"ftypheic"
    frame = prepare_first_frame(buffer.getvalue())
    assert (frame.image_format, frame.converted_from) == ("JPEG", "HEIF")
    with Image.open(io.BytesIO(decode_data_url(frame)[1])) as img:
        assert (img.format, img.size) == ("JPEG", (640, 480))
