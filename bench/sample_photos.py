"""Noise images that are really as big as they claim, made once and cached in bench/.cache/."""

from __future__ import annotations

import io
import random
from pathlib import Path

from PIL import Image

CACHE = Path(__file__).resolve().parent / ".cache"

PHOTO_SIZE = (1280, 1706)  # a phone photo as Telegram sends it
HEAVY_SIZE = (2736, 2300)  # 6.3 MP of noise: an 18 MiB PNG, under the API's 20 MB limit


def _noisy_photo(seed: int, amount: float) -> bytes:
    """A gradient under RGB noise: JPEG cannot squeeze noise, so the file stays large."""
    width, height = PHOTO_SIZE
    noise = Image.frombytes("RGB", PHOTO_SIZE, random.Random(seed).randbytes(width * height * 3))
    gradient = Image.linear_gradient("L").resize(PHOTO_SIZE).convert("RGB")
    buffer = io.BytesIO()
    Image.blend(gradient, noise, amount).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def _noise_png(seed: int) -> bytes:
    width, height = HEAVY_SIZE
    noise = Image.frombytes("RGB", HEAVY_SIZE, random.Random(seed).randbytes(width * height * 3))
    buffer = io.BytesIO()
    noise.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def _cached(name: str) -> Path:
    CACHE.mkdir(exist_ok=True)
    return CACHE / name


def photos(count: int = 20) -> list[Path]:
    """`count` distinct 1-2 MB JPEG photos."""
    paths = []
    for index in range(count):
        path = _cached(f"photo-{index:02d}.jpg")
        if not path.exists():
            amount = 0.3 + 0.3 * index / max(1, count - 1)
            path.write_bytes(_noisy_photo(index, amount))
        paths.append(path)
    return paths


def heavy_pngs(count: int = 10) -> list[Path]:
    """`count` distinct noise PNGs of about 18 MiB each."""
    paths = []
    for index in range(count):
        path = _cached(f"heavy-{index:02d}.png")
        if not path.exists():
            path.write_bytes(_noise_png(1000 + index))
        paths.append(path)
    return paths


def small_photo() -> Path:
    """A small photo file, for jobs whose image does not matter."""
    path = _cached("small.jpg")
    if not path.exists():
        path.write_bytes(small_jpeg(720, 1080))
    return path


def small_jpeg(width: int = 400, height: int = 600) -> bytes:
    """A tiny valid first frame, for jobs whose image does not matter."""
    buffer = io.BytesIO()
    Image.linear_gradient("L").resize((width, height)).convert("RGB").save(buffer, "JPEG")
    return buffer.getvalue()
