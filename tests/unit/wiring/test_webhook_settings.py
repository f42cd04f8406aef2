"""The webhook's settings: the URL and its secret checked at start, and when the HTTP server
runs."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from bot.wiring.settings import Settings, describe_settings_error


def _settings(**values: Any) -> Settings:
    return Settings(_env_file=None, telegram_bot_token="t", aimlapi_key="k", **values)


def _error(**values: Any) -> str:
    with pytest.raises(ValidationError) as caught:
        _settings(**values)
    return describe_settings_error(caught.value)


def test_polling_mode_runs_no_server_unless_http_port_is_set() -> None:
    assert not _settings().webhook_mode
    assert not _settings().serves_http
    assert _settings(http_port=9100).serves_http


def test_webhook_mode_serves_on_the_urls_path_on_port_8080_by_default() -> None:
    settings = _settings(
        telegram_webhook_url="https://bot.example.org/telegram/updates",
        telegram_webhook_secret="Abc_123-x",
    )
    assert settings.webhook_mode and settings.serves_http
    assert (settings.webhook_path, settings.http_host, settings.http_port) == (
        "/telegram/updates",
        "0.0.0.0",
        8080,
    )
    assert (
        _settings(
            telegram_webhook_url="https://bot.example.org", telegram_webhook_secret="s"
        ).webhook_path
        == "/"
    )


def test_webhook_mode_without_a_secret_is_refused_in_one_line_naming_it() -> None:
    line = _error(telegram_webhook_url="https://bot.example.org/hook")
    assert line == (
        "Configuration error: TELEGRAM_WEBHOOK_SECRET is required when TELEGRAM_WEBHOOK_URL "
        "is set (see .env.example)"
    )


@pytest.mark.parametrize("secret", ["has space", "x" * 257, "ключ"])
def test_a_secret_telegram_would_refuse_is_refused_at_start(secret: str) -> None:
    line = _error(
        telegram_webhook_url="https://bot.example.org/hook", telegram_webhook_secret=secret
    )
    assert "TELEGRAM_WEBHOOK_SECRET must be 1-256 characters" in line
    assert secret not in line


@pytest.mark.parametrize(
    "url",
    ["bot.example.org/hook", "ftp://bot.example.org/hook", "https:///hook", "https://x.org/?a=1"],
)
def test_a_webhook_url_that_is_not_a_plain_http_url_is_refused(url: str) -> None:
    assert "TELEGRAM_WEBHOOK_URL is invalid" in _error(
        telegram_webhook_url=url, telegram_webhook_secret="s"
    )
