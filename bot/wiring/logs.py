"""Logging, set up once: plain text or one JSON object a line, with what each line is about
(`bot.logcontext`), and secrets never in any of it."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Literal

from pythonjsonlogger.json import JsonFormatter

from bot.logcontext import log_context

LogFormat = Literal["text", "json"]
_TEXT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

REDACTED = "[redacted]"


class RedactingFilter(logging.Filter):
    """Replaces every secret in a record's final text: the backstop behind quiet loggers."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self._secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def _clean(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            # A bad format must not raise in the caller, nor reach logging's error report,
            # which prints the raw arguments.
            message = f"{record.msg} (unformattable arguments: {record.args!r})"
            record.msg, record.args = self._clean(message), None
        else:
            cleaned = self._clean(message)
            if cleaned != message:
                record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self._clean(record.exc_text)
            # Formatters that format the traceback anew from exc_info (the JSON one does)
            # must take the cleaned text instead.
            record.exc_info = None
        if record.stack_info:
            record.stack_info = self._clean(record.stack_info)
        return True


class ContextFilter(logging.Filter):
    """Puts the ids of what a line is about (job, generation, update) on its record, as
    attributes the JSON format writes as fields."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in log_context().items():
            setattr(record, name, value)
        return True


def json_formatter() -> logging.Formatter:
    """One JSON object a line: time, level, logger, message, the ids of `ContextFilter`, and
    the traceback when there is one."""
    return JsonFormatter(
        "%(asctime)s %(levelname)s %(name)s %(message)s",
        rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        json_ensure_ascii=False,
    )


def setup_logging(level: str, secrets: Iterable[str], log_format: LogFormat = "text") -> None:
    """Log to stderr at `level`, as text or JSON, with secrets redacted from every handler's
    output in either format."""
    logging.basicConfig(level=level, format=_TEXT, force=True)
    redactor, context = RedactingFilter(secrets), ContextFilter()
    for handler in logging.getLogger().handlers:
        # Context first: the redactor then cleans every field of the line.
        handler.addFilter(context)
        handler.addFilter(redactor)
        if log_format == "json":
            handler.setFormatter(json_formatter())
    # httpx logs every request URL at INFO, and a Bot API URL carries the token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    # APScheduler warns when a tick is skipped because the last one still runs. Both ticks
    # hand their work to a task at once, so a skip is news (a stuck database): kept.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    # aiosqlite logs every statement with its parameters (prompts, file ids) at DEBUG.
    logging.getLogger("aiosqlite").setLevel(logging.INFO)
    # Alembic says at every start which engine it found; a revision it runs is worth a line.
    logging.getLogger("alembic.runtime.migration").setLevel(logging.WARNING)
