"""Plain text helpers shared by layers that must not know each other (the API client, the
words)."""

from __future__ import annotations


def shorten(text: str, limit: int) -> str:
    """`text` with its runs of whitespace made single spaces, cut to at most `limit`
    characters, with an ellipsis ("…") in place of what was cut. `limit` must be at least 1."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
