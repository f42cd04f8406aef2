"""Images made in memory for tests."""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable

from PIL import Image

GPS_IFD = 0x8825
#: The camera make written into every layout below: found in bytes only where metadata is.
PHONE_MAKE = "LeakyPhone"
#: Where the photos of the layouts below were taken, as XMP and PNG text write it.
PLACE = "55,45.0N 37,37.0E"


def make_image(width: int = 720, height: int = 1080, fmt: str = "JPEG", mode: str = "RGB") -> bytes:
    """A small gradient image of the given size and format."""
    image = _gradient(width, height).convert(mode)
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def gps_exif() -> Image.Exif:
    """EXIF as a phone writes it: its make, and a GPS position."""
    exif = Image.Exif()
    exif[0x010F] = PHONE_MAKE
    exif[GPS_IFD] = {1: "N", 2: (55.0, 45.0, 0.0), 3: "E", 4: (37.0, 37.0, 0.0)}
    return exif


def xmp_packet() -> bytes:
    """XMP with the make and the GPS position, as photo editors write it."""
    latitude, longitude = PLACE.split()
    return (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF'
        ' xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description'
        ' xmlns:exif="http://ns.adobe.com/exif/1.0/" xmlns:tiff="http://ns.adobe.com/tiff/1.0/"'
        f' exif:GPSLatitude="{latitude}" exif:GPSLongitude="{longitude}"'
        f' tiff:Make="{PHONE_MAKE}"/></rdf:RDF></x:xmpmeta>'
    ).encode()


# --- layouts a metadata cutter must not be fooled by ----------------------------------------


def jpeg_with_stray_bytes(width: int = 720, height: int = 1080) -> bytes:
    """A JPEG with two stray bytes after its EXIF segment, which editing tools leave behind
    and decoders skip."""
    data = _jpeg(width, height, exif=gps_exif())
    end = _segment_end(data, 0xE1)
    return data[:end] + b"\x00\x00" + data[end:]


def jpeg_with_several_app_segments(width: int = 720, height: int = 1080) -> bytes:
    """A JPEG with two APP1 segments (EXIF and XMP), IPTC (APP13) and a comment."""
    data = _jpeg(width, height, exif=gps_exif(), xmp=xmp_packet(), comment=PLACE.encode())
    iptc = b"Photoshop 3.0\x008BIM\x04\x04\x00\x00" + struct.pack(">I", 16)
    iptc += b"\x1c\x02\x5a" + struct.pack(">H", len(PHONE_MAKE)) + PHONE_MAKE.encode()  # City
    iptc += b"\x00" * (16 - 5 - len(PHONE_MAKE))
    end = _segment_end(data, 0xE1)
    return data[:end] + _segment(0xED, iptc) + data[end:]


def jpeg_with_truncated_exif(width: int = 720, height: int = 1080) -> bytes:
    """A JPEG whose EXIF segment's length stops halfway through the EXIF block: the rest,
    GPS values included, follows as stray bytes, and Pillow still decodes the picture."""
    data = _jpeg(width, height, exif=gps_exif())
    start = data.index(b"\xff\xe1")
    length = int.from_bytes(data[start + 2 : start + 4], "big")
    return data[: start + 2] + struct.pack(">H", 2 + length // 2) + data[start + 4 :]


def jpeg_with_mpf_depth_map(width: int = 720, height: int = 1080) -> bytes:
    """A multi-picture JPEG as an iPhone saves a portrait: the photo, then after its end of
    image a depth map with an EXIF block of its own."""
    buffer = io.BytesIO()
    depth = _gradient(width // 2, height // 2)
    _gradient(width, height).convert("RGB").save(
        buffer, "MPO", save_all=True, append_images=[depth], exif=gps_exif()
    )
    return buffer.getvalue()


def jpeg_with_comment_between_scans(width: int = 720, height: int = 1080) -> bytes:
    """A progressive JPEG with a comment and an XMP segment between two of its scans, where
    decoders accept them and Pillow's header reading never looks."""
    data = _jpeg(width, height, progressive=True)
    first_scan = data.index(b"\xff\xda")
    second_scan = data.index(b"\xff\xda", first_scan + 2)
    inserted = _segment(0xFE, PLACE.encode())
    inserted += _segment(0xE1, b"http://ns.adobe.com/xap/1.0/\x00" + xmp_packet())
    return data[:second_scan] + inserted + data[second_scan:]


def png_with_text_after_idat(width: int = 720, height: int = 1080) -> bytes:
    """A PNG with text chunks (tEXt, zTXt, and XMP in iTXt) and an eXIf chunk after its
    pixel data, where Pillow reads them only once it decodes the pixels."""
    buffer = io.BytesIO()
    _gradient(width, height).convert("RGB").save(buffer, "PNG")
    data = buffer.getvalue()
    iend = data.rindex(b"IEND") - 4
    chunks = _png_chunk(b"tEXt", b"Make\x00" + PHONE_MAKE.encode())
    chunks += _png_chunk(b"zTXt", b"Location\x00\x00" + zlib.compress(PLACE.encode()))
    chunks += _png_chunk(b"iTXt", b"XML:com.adobe.xmp\x00\x00\x00\x00\x00" + xmp_packet())
    chunks += _png_chunk(b"eXIf", gps_exif().tobytes()[len(b"Exif\x00\x00") :])
    return data[:iend] + chunks + data[iend:]


#: Every layout above, by a name for test ids: each carries the make and the GPS position.
METADATA_LAYOUTS: dict[str, Callable[[int, int], bytes]] = {
    "stray bytes between segments": jpeg_with_stray_bytes,
    "EXIF, XMP, IPTC and a comment": jpeg_with_several_app_segments,
    "truncated EXIF segment": jpeg_with_truncated_exif,
    "MPF depth map after the end": jpeg_with_mpf_depth_map,
    "comment and XMP between scans": jpeg_with_comment_between_scans,
    "PNG text and eXIf after IDAT": png_with_text_after_idat,
}


def metadata_found(data: bytes) -> list[str]:
    """What of the layouts' metadata is in an image's bytes: empty when none is."""
    found = [
        name
        for name, needle in (
            ("the make", PHONE_MAKE.encode()),
            ("a GPS position", PLACE.encode()),
            ("a GPS position", PLACE.split()[0].encode()),
            ("an EXIF block", b"Exif\x00\x00"),
            ("an EXIF block", b"MM\x00\x2a\x00\x00\x00\x08"),  # the TIFF header, PNG's eXIf
            ("XMP", b"http://ns.adobe.com/xap/1.0/"),
            ("XMP", b"adobe:ns:meta"),
            ("IPTC", b"Photoshop 3.0"),
        )
        if needle in data
    ]
    with Image.open(io.BytesIO(data)) as image:
        image.load()  # a PNG's chunks after its pixels are read only now
        if image.getexif().get_ifd(GPS_IFD):
            found.append("a GPS position")
        if getattr(image, "n_frames", 1) != 1:
            found.append("a second picture")
        keys = ("exif", "xmp", "comment", "photoshop", "Make", "Location", "XML:com.adobe.xmp")
        found += [f"{key!r} in what Pillow reads" for key in keys if key in image.info]
    return sorted(set(found))


def _gradient(width: int, height: int) -> Image.Image:
    return Image.linear_gradient("L").resize((width, height))


def _jpeg(width: int, height: int, **options: object) -> bytes:
    buffer = io.BytesIO()
    _gradient(width, height).convert("RGB").save(buffer, "JPEG", **options)
    return buffer.getvalue()


def _segment(marker: int, payload: bytes) -> bytes:
    return bytes((0xFF, marker)) + struct.pack(">H", 2 + len(payload)) + payload


def _segment_end(data: bytes, marker: int) -> int:
    """Where the first segment with this marker ends, walking from the start of image."""
    position = 2
    while data[position + 1] != marker:
        position += 2 + int.from_bytes(data[position + 2 : position + 4], "big")
    return position + 2 + int.from_bytes(data[position + 2 : position + 4], "big")


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)
