"""The settings class, `.env.example` and the README's settings table name the same things."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.wiring.settings import Settings, describe_settings_error

REPO = Path(__file__).resolve().parents[3]
SETTINGS = {name.upper() for name in Settings.model_fields}


def test_env_example_lists_every_setting_with_a_comment_and_no_secret() -> None:
    lines = (REPO / ".env.example").read_text().splitlines()
    names = []
    for index, line in enumerate(lines):
        # A setting is shown set, or commented out (`#HTTP_PORT=8080`) where setting it at
        # all changes what the bot does.
        shown = re.fullmatch(r"#?([A-Z_]+)=(.*)", line)
        if shown:
            name, value = shown.groups()
            names.append(name)
            assert lines[index - 1].startswith("# "), f"{name} has no comment above it"
            if name in ("TELEGRAM_BOT_TOKEN", "AIMLAPI_KEY", "TELEGRAM_WEBHOOK_SECRET"):
                assert value == ""
    assert set(names) == SETTINGS


def test_readme_settings_table_lists_every_setting() -> None:
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Settings", 1)[1].split("\n## ", 1)[0]
    names = set(re.findall(r"^\| `([A-Z_]+)` \|", section, flags=re.MULTILINE))
    assert names == SETTINGS


def test_missing_and_malformed_settings_are_named_in_one_line() -> None:
    with pytest.raises(ValidationError) as caught:
        Settings(_env_file=None, poll_interval_seconds="soon")
    line = describe_settings_error(caught.value)
    assert "\n" not in line
    for name in ("TELEGRAM_BOT_TOKEN", "AIMLAPI_KEY", "POLL_INTERVAL_SECONDS"):
        assert name in line
