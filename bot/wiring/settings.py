"""The bot's settings: one pydantic-settings class, read from the environment or `.env`."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.aimlapi.client import Endpoint
from bot.policy.payments import StarPack, parse_packs

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
LogFormat = Literal["text", "json"]
#: Telegram ids written `123,-100456` in the environment (NoDecode: not JSON).
IdList = Annotated[list[int], NoDecode]
#: What Telegram takes as a webhook's secret token.
_SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")
#: HTTP_PORT when the webhook needs the server and the port was not set.
DEFAULT_HTTP_PORT = 8080


class Settings(BaseSettings):
    """Every setting the bot reads. Names are the environment variables, upper-cased."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
    )

    telegram_bot_token: SecretStr = Field(min_length=1)
    aimlapi_key: SecretStr = Field(min_length=1)
    telegram_base_url: str = "https://api.telegram.org/bot"
    telegram_base_file_url: str = "https://api.telegram.org/file/bot"
    aimlapi_base_url: str = "https://api.aimlapi.com/v2"
    aimlapi_endpoint: Endpoint = Endpoint.LEGACY
    database_path: Path = Path("data/bot.sqlite3")
    # When set, overrides database_path: postgresql://user@host:port/db, or sqlite:///path.
    database_url: SecretStr = SecretStr("")
    poll_interval_seconds: float = Field(default=10.0, gt=0, le=3600)
    prompt_optimizer: bool = True
    log_level: LogLevel = "INFO"
    log_format: LogFormat = "text"
    job_timeout_seconds: float = Field(default=900.0, gt=0)
    poll_concurrency: int = Field(default=50, ge=1, le=100)
    allowed_user_ids: IdList = Field(default_factory=list)
    allowed_chat_ids: IdList = Field(default_factory=list)
    admin_user_ids: IdList = Field(default_factory=list)
    max_active_jobs_per_user: int = Field(default=2, ge=1)
    daily_jobs_per_user: int = Field(default=10, ge=1)
    daily_jobs_total: int = Field(default=500, ge=0)
    max_active_jobs: int = Field(default=20, ge=1)
    submit_patience_seconds: float = Field(default=1800.0, gt=0)
    telegram_webhook_url: str = ""
    telegram_webhook_secret: SecretStr = SecretStr("")
    http_host: str = "0.0.0.0"  # noqa: S104 (a service listens where its operator says)
    http_port: int = Field(default=DEFAULT_HTTP_PORT, ge=0, le=65535)
    startup_patience_seconds: float = Field(default=60.0, ge=0)
    # How long an instance's claim on a step (a lease) holds without being renewed; a dead
    # instance's work is taken over by the others after it (see the README's Scaling out).
    lease_seconds: float = Field(default=30.0, ge=2, le=600)
    # This instance's name in the leases and logs; empty: the host's name.
    instance_name: str = Field(default="", max_length=64)
    # Packs of videos sold in Telegram Stars, videos:stars comma-separated; empty: payments off.
    star_packs: str = ""
    free_videos_per_user: int = Field(default=1, ge=0)  # when payments are on
    # What /paysupport and /terms answer; empty: the catalogs' words.
    paysupport_text: str = Field(default="", max_length=4000)
    terms_text: str = Field(default="", max_length=4000)

    @property
    def packs(self) -> list[StarPack]:
        """The packs on sale, cheapest first; none: payments are off."""
        return parse_packs(self.star_packs)

    @property
    def payments_on(self) -> bool:
        return bool(self.packs)

    @field_validator("star_packs")
    @classmethod
    def _star_packs(cls, value: str) -> str:
        parse_packs(value)  # its ValueError names the pack that is wrong
        return value

    @property
    def webhook_mode(self) -> bool:
        """Telegram posts updates to TELEGRAM_WEBHOOK_URL, instead of the bot polling."""
        return bool(self.telegram_webhook_url)

    @property
    def serves_http(self) -> bool:
        """The bot runs its HTTP server: in webhook mode always, in polling mode only when
        HTTP_PORT was set explicitly (for the health checks)."""
        return self.webhook_mode or "http_port" in self.model_fields_set

    @property
    def webhook_path(self) -> str:
        """The path of TELEGRAM_WEBHOOK_URL, where the server takes Telegram's posts."""
        return urlsplit(self.telegram_webhook_url).path or "/"

    @field_validator("telegram_webhook_url")
    @classmethod
    def _webhook_url(cls, value: str) -> str:
        if not value:
            return value
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(
                "must be a full http:// or https:// URL, like https://bot.example.org/telegram"
            )
        if parts.query or parts.fragment:
            raise ValueError("must not have a query or a fragment")
        return value

    @model_validator(mode="after")
    def _webhook_secret(self) -> Settings:
        if not self.webhook_mode:
            return self
        secret = self.telegram_webhook_secret.get_secret_value()
        if not secret:
            raise ValueError("TELEGRAM_WEBHOOK_SECRET is required when TELEGRAM_WEBHOOK_URL is set")
        if not _SECRET_TOKEN.fullmatch(secret):
            raise ValueError(
                "TELEGRAM_WEBHOOK_SECRET must be 1-256 characters of A-Z, a-z, 0-9, _ and -"
            )
        return self

    @field_validator("telegram_base_url", "telegram_base_file_url", "aimlapi_base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: SecretStr) -> SecretStr:
        # The URL may hold a password: the message names the schemes, never the value.
        url = value.get_secret_value()
        if url and not url.startswith(("postgresql://", "postgres://", "sqlite:///")):
            raise ValueError("must start with postgresql:// or sqlite:///")
        return value

    @property
    def database(self) -> Path | str:
        """Where the jobs are stored: DATABASE_URL when set, else the file DATABASE_PATH."""
        return self.database_url.get_secret_value() or self.database_path

    @field_validator("aimlapi_base_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @field_validator("allowed_user_ids", "allowed_chat_ids", "admin_user_ids", mode="before")
    @classmethod
    def _id_list(cls, value: object) -> object:
        if isinstance(value, int):
            return [value]
        if not isinstance(value, str):
            return value
        ids = []
        for position, item in enumerate(value.split(","), start=1):
            item = item.strip()
            if not item:
                continue
            try:
                ids.append(int(item))
            except ValueError:
                raise ValueError(
                    f"item {position} is not a numeric Telegram id; "
                    "write ids separated by commas, like 123,456"
                ) from None
        return ids

    @field_validator("log_level", "log_format", "aimlapi_endpoint", mode="before")
    @classmethod
    def _case(cls, value: object, info: ValidationInfo) -> object:
        if not isinstance(value, str):
            return value
        return value.upper() if info.field_name == "log_level" else value.lower()


def describe_settings_error(error: ValidationError) -> str:
    """One line that names each bad variable and says what is wrong, without echoing values."""
    problems = []
    for item in error.errors():
        if not item["loc"]:  # a rule across settings: its message names them
            problems.append(item["msg"].removeprefix("Value error, "))
            continue
        name = str(item["loc"][0]).upper()
        if item["type"] in ("too_short", "string_too_short") and item.get("input") in ("", None):
            problems.append(f"{name} is empty")
        elif item["type"] == "missing":
            problems.append(f"{name} is required but not set")
        else:
            problems.append(f"{name} is invalid: {item['msg']}")
    return "Configuration error: " + "; ".join(problems) + " (see .env.example)"
