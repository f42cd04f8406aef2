"""Images made in memory for tests."""

from __future__ import annotations

import io

from PIL import Image


def make_image(width: int = 720, height: int = 1080, fmt: str = "JPEG", mode: str = "RGB") -> bytes:
    """A small gradient image of the given size and format."""
    image = Image.linear_gradient("L").resize((width, height)).convert(mode)
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()
