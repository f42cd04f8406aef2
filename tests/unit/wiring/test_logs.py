"""bot/wiring/logs.py: the redacting filter keeps secrets out of every part of a log line."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from bot.wiring.logs import REDACTED, RedactingFilter

SECRET = "7000001:AAH-test-token-Zx9q8w7e6r5t4y3u2i1o"


@pytest.fixture
def logged() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter([SECRET, ""]))
    logger = logging.getLogger("tests.redaction")
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    try:
        yield logger, stream
    finally:
        logger.removeHandler(handler)


def test_secrets_in_the_message_and_its_arguments_are_redacted(
    logged: tuple[logging.Logger, io.StringIO],
) -> None:
    log, stream = logged
    log.info("calling %s/getMe", f"http://127.0.0.1/bot{SECRET}")
    log.info(f"direct {SECRET}")
    assert SECRET not in stream.getvalue()
    assert stream.getvalue().count(REDACTED) == 2


def test_secrets_in_a_traceback_are_redacted(logged: tuple[logging.Logger, io.StringIO]) -> None:
    log, stream = logged
    try:
        raise ConnectionError(f"cannot reach http://127.0.0.1/bot{SECRET}/getUpdates")
    except ConnectionError:
        log.exception("polling failed")
    assert "Traceback" in stream.getvalue()
    assert SECRET not in stream.getvalue()


def test_secrets_in_a_stack_dump_are_redacted(logged: tuple[logging.Logger, io.StringIO]) -> None:
    log, stream = logged
    record = log.makeRecord(log.name, logging.INFO, __file__, 1, "here", (), None)
    record.stack_info = f"Stack (most recent call last):\n  token={SECRET}"
    log.handle(record)
    assert "token=" in stream.getvalue() and SECRET not in stream.getvalue()


def test_a_bad_format_neither_raises_in_the_caller_nor_prints_raw_arguments(
    logged: tuple[logging.Logger, io.StringIO], capsys: pytest.CaptureFixture[str]
) -> None:
    log, stream = logged
    log.warning("two placeholders %s %s", SECRET)  # one argument: a programming slip
    assert "unformattable" in stream.getvalue()
    assert SECRET not in stream.getvalue() + capsys.readouterr().err
