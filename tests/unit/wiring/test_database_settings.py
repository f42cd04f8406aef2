"""DATABASE_URL: it overrides DATABASE_PATH, names an engine the bot runs on, and its password
never reaches a message or a log line."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.wiring.settings import Settings, describe_settings_error
from storage.database import database_url, describe, password_of

SECRET = "s3cr3t-pa55"


def test_without_a_url_the_sqlite_file_is_the_database() -> None:
    settings = Settings(
        _env_file=None,
        telegram_bot_token="t",
        aimlapi_key="k",
        database_path=Path("state/jobs.sqlite3"),
    )
    assert settings.database == Path("state/jobs.sqlite3")


def test_a_url_overrides_the_file() -> None:
    url = f"postgresql://bot:{SECRET}@db.internal:5433/videos"
    settings = Settings(_env_file=None, telegram_bot_token="t", aimlapi_key="k", database_url=url)
    assert settings.database == url
    assert SECRET not in repr(settings)


@pytest.mark.parametrize(
    ("url", "named"),
    [
        (
            f"postgresql://bot:{SECRET}@db.internal:5433/videos",
            "PostgreSQL bot:***@db.internal:5433/videos",
        ),
        ("postgres://postgres@127.0.0.1/bot", "PostgreSQL postgres@127.0.0.1/bot"),
        ("sqlite:///data/other.sqlite3", "SQLite data/other.sqlite3"),
    ],
)
def test_the_start_up_line_names_the_engine_and_never_the_password(url: str, named: str) -> None:
    assert describe(database_url(url)) == named


def test_the_password_is_known_to_the_log_redaction() -> None:
    assert password_of(f"postgresql://bot:{SECRET}@db/videos") == SECRET
    assert password_of("postgresql://bot@db/videos") is None
    assert password_of(Path("data/bot.sqlite3")) is None


def test_a_url_of_another_engine_is_named_without_echoing_it() -> None:
    with pytest.raises(ValidationError) as caught:
        Settings(
            _env_file=None,
            telegram_bot_token="t",
            aimlapi_key="k",
            database_url=f"mysql://bot:{SECRET}@db/videos",
        )
    line = describe_settings_error(caught.value)
    assert "DATABASE_URL is invalid" in line
    assert "postgresql://" in line
    assert SECRET not in line
