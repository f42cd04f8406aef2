"""bot/wiring/logs.py: the redacting filter keeps secrets out of every part of a log line."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator

import pytest

from bot.logcontext import about_job, bind_update
from bot.wiring.logs import REDACTED, ContextFilter, RedactingFilter, json_formatter

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


@pytest.fixture
def logged_json() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A logger set up as LOG_FORMAT=json sets up the root's handlers."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(ContextFilter())
    handler.addFilter(RedactingFilter([SECRET]))
    handler.setFormatter(json_formatter())
    logger = logging.getLogger("tests.json")
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    try:
        yield logger, stream
    finally:
        logger.removeHandler(handler)


def _lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_json_lines_carry_the_job_and_generation_they_are_about(
    logged_json: tuple[logging.Logger, io.StringIO],
) -> None:
    log, stream = logged_json
    log.info("before any job")
    with about_job(42, "gen-7"):
        log.warning("job %s: status call failed", 42)
    [outside, inside] = _lines(stream)
    assert outside["message"] == "before any job" and "job_id" not in outside
    assert {key: inside[key] for key in ("level", "logger", "message")} == {
        "level": "WARNING",
        "logger": "tests.json",
        "message": "job 42: status call failed",
    }
    assert (inside["job_id"], inside["generation_id"]) == (42, "gen-7")
    assert "time" in inside


async def test_json_lines_of_concurrent_tasks_each_name_their_own_update(
    logged_json: tuple[logging.Logger, io.StringIO],
) -> None:
    log, stream = logged_json

    async def handle(update_id: int) -> None:
        bind_update(update_id)
        await asyncio.sleep(0)
        log.info("handled")

    await asyncio.gather(handle(1), handle(2))
    assert sorted(line["update_id"] for line in _lines(stream)) == [1, 2]  # type: ignore[type-var]


def test_json_lines_keep_secrets_out_of_the_message_and_the_traceback(
    logged_json: tuple[logging.Logger, io.StringIO],
) -> None:
    log, stream = logged_json
    log.info("calling %s/getMe", f"http://127.0.0.1/bot{SECRET}")
    try:
        raise ConnectionError(f"cannot reach http://127.0.0.1/bot{SECRET}/getUpdates")
    except ConnectionError:
        log.exception("polling failed")
    assert SECRET not in stream.getvalue()
    [call, failure] = _lines(stream)
    assert call["message"] == f"calling http://127.0.0.1/bot{REDACTED}/getMe"
    assert "Traceback" in str(failure["exc_info"]) and REDACTED in str(failure["exc_info"])
