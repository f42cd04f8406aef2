"""The bot's settings: one pydantic-settings class, read from the environment or `.env`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.aimlapi.client import Endpoint

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
#: Telegram ids written `123,-100456` in the environment (NoDecode: not JSON).
IdList = Annotated[list[int], NoDecode]


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
    poll_interval_seconds: float = Field(default=10.0, gt=0, le=3600)
    prompt_optimizer: bool = True
    log_level: LogLevel = "INFO"
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

    @field_validator("telegram_base_url", "telegram_base_file_url", "aimlapi_base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value

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

    @field_validator("log_level", "aimlapi_endpoint", mode="before")
    @classmethod
    def _case(cls, value: object, info: ValidationInfo) -> object:
        if not isinstance(value, str):
            return value
        return value.lower() if info.field_name == "aimlapi_endpoint" else value.upper()


def describe_settings_error(error: ValidationError) -> str:
    """One line that names each bad variable and says what is wrong, without echoing values."""
    problems = []
    for item in error.errors():
        name = str(item["loc"][0]).upper() if item["loc"] else "settings"
        if item["type"] == "missing":
            problems.append(f"{name} is required but not set")
        else:
            problems.append(f"{name} is invalid: {item['msg']}")
    return "Configuration error: " + "; ".join(problems) + " (see .env.example)"
