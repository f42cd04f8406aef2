"""Launching the bot: the command line, the settings read, the logs set up, a preflight of
what the bot needs, and the Application run. Every start-up failure is one line on stderr
(exit code 2) that names what to fix. `python -m bot` calls `main`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sqlite3
import sys
from importlib import metadata
from urllib.parse import urlsplit

import sqlalchemy.exc
from pydantic import ValidationError
from telegram import Bot
from telegram.error import InvalidToken, NetworkError, TelegramError

from bot.aimlapi.client import (
    AimlApiClient,
    AimlApiError,
    ApiNotFound,
    ApiOutOfCredits,
    ApiUnauthorized,
    ApiUnavailable,
)
from bot.wiring.application import (
    ALLOWED_UPDATES,
    STOPPED_BECAUSE_KEY,
    BotApp,
    NotStarted,
    build_application,
    stop_http_server,
)
from bot.wiring.logs import setup_logging
from bot.wiring.settings import Settings, describe_settings_error
from storage import DatabaseInUse, JobStore
from storage.database import database_url, describe, password_of

log = logging.getLogger(__name__)

#: A generation id no job has: `check` asks the API about it, which creates nothing.
_MADE_UP_GENERATION = "check-00000000-0000-0000-0000-000000000000"
_TOKEN_REJECTED = "Configuration error: Telegram rejected TELEGRAM_BOT_TOKEN (see .env.example)"  # noqa: S105


def version() -> str:
    """The installed version of the bot, or "unknown" when it runs from a bare checkout."""
    try:
        return metadata.version("photo-animator-bot")
    except metadata.PackageNotFoundError:
        return "unknown"


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bot",
        description="A Telegram bot that turns a photo and its caption into a short video with "
        "the AI/ML API.",
        epilog="Settings come from the environment and from .env in the current folder; "
        ".env.example lists them all.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    parser.add_argument(
        "command",
        nargs="?",
        choices=("run", "check"),
        default="run",
        help="run: run the bot (the default). check: validate the settings, reach Telegram "
        "and the AI/ML API without creating anything, print what was found, and exit",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run `python -m bot [run|check]`; returns the process exit code."""
    arguments = parse_arguments(argv)
    try:
        settings = Settings()
    except ValidationError as error:
        print(describe_settings_error(error), file=sys.stderr)
        return 2
    secrets = [settings.telegram_bot_token, settings.aimlapi_key, settings.telegram_webhook_secret]
    setup_logging(
        settings.log_level,
        [secret.get_secret_value() for secret in secrets] + [password_of(settings.database) or ""],
        settings.log_format,
    )
    if arguments.command == "check":
        return asyncio.run(check(settings))
    problem = asyncio.run(preflight(settings))
    if problem is not None:
        print(problem, file=sys.stderr)
        return 2
    application = build_application(settings)
    # Both stop on SIGINT/SIGTERM: no new updates, in-flight work ends, then shutdown.
    try:
        if settings.webhook_mode:
            asyncio.run(serve_webhook(application))
        else:
            application.run_polling(allowed_updates=ALLOWED_UPDATES)
            stopped_because = application.bot_data.get(STOPPED_BECAUSE_KEY)
            if stopped_because is not None:
                print(f"Stopped: {stopped_because}", file=sys.stderr)
                return 2
    except InvalidToken:
        # Its message quotes the token: a typo'd token is nearly the real one. Never print it.
        print(_TOKEN_REJECTED, file=sys.stderr)
        return 2
    except DatabaseInUse as error:
        print(_in_use(error), file=sys.stderr)
        return 2
    except NotStarted as error:
        print(f"Not started: {error}", file=sys.stderr)
        return 2
    except Exception:
        # Through logging, not the interpreter's traceback, so that the redacting filter applies.
        logging.getLogger("bot").exception("the bot stopped on an unexpected error")
        return 1
    return 0


def _in_use(error: DatabaseInUse) -> str:
    return f"Not started: {error}. Stop it first, or set another DATABASE_PATH or DATABASE_URL."


def _database_setting(settings: Settings) -> str:
    """The setting that names the database, as a start-up line quotes it: never a password."""
    if settings.database_url.get_secret_value():
        return f"DATABASE_URL ({describe(database_url(settings.database_url.get_secret_value()))})"
    return f"DATABASE_PATH={settings.database_path}"


async def preflight(settings: Settings) -> str | None:
    """What keeps the bot from starting, as one line, or None: the database must open, and
    Telegram must answer and take the token. Telegram unreachable is asked again with growing
    pauses for STARTUP_PATIENCE_SECONDS, as after a reboot the network may come up late."""
    problem = await _open_database(settings)
    if problem is not None:
        return problem
    return await _reach_telegram(settings)


async def _open_database(settings: Settings) -> str | None:
    try:
        store = await JobStore.open(settings.database)
    except DatabaseInUse as error:
        return _in_use(error)
    except RuntimeError as error:  # a schema newer than this build: a downgrade
        return (
            f"Not started: {_database_setting(settings)}: {error}. Run the newer "
            "version again, or restore the backup taken before the upgrade."
        )
    except (OSError, sqlite3.Error, sqlalchemy.exc.SQLAlchemyError) as failure:
        # The driver's own error, not SQLAlchemy's wrapping of it (which quotes the statement).
        cause: BaseException = failure
        if isinstance(failure, sqlalchemy.exc.DBAPIError) and failure.orig is not None:
            cause = failure.orig
        why = cause.strerror if isinstance(cause, OSError) and cause.strerror else str(cause)
        advice = (
            "Check that the server runs and the database exists."
            if settings.database_url.get_secret_value()
            else "Point it at a file in a folder the bot may write to."
        )
        return (
            f"Not started: {_database_setting(settings)} cannot be opened "
            f"({why.splitlines()[0] if why else type(cause).__name__}). {advice}"
        )
    try:
        if not settings.webhook_mode:
            await store.database.claim_polling()
    except DatabaseInUse as error:
        return _in_use(error)
    finally:
        await store.close()
    return None


async def _reach_telegram(settings: Settings) -> str | None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + settings.startup_patience_seconds
    pause = 1.0
    where = urlsplit(settings.telegram_base_url).netloc or settings.telegram_base_url
    while True:
        try:
            _, webhook = await _telegram_facts(settings)
        except InvalidToken:
            return _TOKEN_REJECTED
        except NetworkError as error:  # and TimedOut: no answer, or no connection
            left = deadline - loop.time()
            if left <= 0:
                return (
                    f"Not started: Telegram's Bot API at {where} did not answer for "
                    f"{settings.startup_patience_seconds:.0f} s ({error.message}). Check the "
                    "network, or TELEGRAM_BASE_URL."
                )
            if pause == 1.0:  # said once; the line after it says how it ended
                log.warning(
                    "Telegram at %s does not answer (%s); asking again for up to %.0f s",
                    where,
                    error.message,
                    left,
                )
            await asyncio.sleep(min(pause, left))
            pause = min(pause * 2, 15.0)
            continue
        except TelegramError as error:
            return f"Not started: Telegram's Bot API at {where} answered {error.message!r}."
        if webhook and not settings.webhook_mode:
            # Polling would delete it, and with it the webhook other instances serve.
            return (
                f"Not started: a webhook is set for this bot ({webhook}), so Telegram posts the "
                "updates there. Set TELEGRAM_WEBHOOK_URL to serve it, or delete it "
                "(deleteWebhook) to poll."
            )
        return None


async def _telegram_facts(settings: Settings) -> tuple[str, str]:
    """The bot's @username (getMe) and the URL of its webhook, empty when none is set
    (getWebhookInfo). Raises Telegram's errors."""
    bot = Bot(
        settings.telegram_bot_token.get_secret_value(),
        base_url=settings.telegram_base_url,
        base_file_url=settings.telegram_base_file_url,
    )
    async with bot:
        info = await bot.get_webhook_info()
        return bot.username, info.url


async def check(settings: Settings) -> int:
    """`python -m bot check`: print, a line each, what the bot would start with and whether
    Telegram and the AI/ML API take its token and key; 0 when all is well, else 2."""
    mode = "webhook" if settings.webhook_mode else "polling"
    print(f"settings: valid ({mode} mode, database {_database_setting(settings)})")
    failed = False
    try:
        name, webhook = await _telegram_facts(settings)
        print(f"Telegram: the token works, the bot is @{name}")
        if webhook and not settings.webhook_mode:
            print(f"Telegram: a webhook is set ({webhook}); polling would remove it")
            failed = True
    except InvalidToken:
        print("Telegram: TELEGRAM_BOT_TOKEN is rejected")
        failed = True
    except TelegramError as error:
        print(f"Telegram: not reachable at {settings.telegram_base_url} ({error.message})")
        failed = True
    found = await _check_api_key(settings)
    print(f"AI/ML API at {settings.aimlapi_base_url}: {found[1]}")
    return 2 if failed or not found[0] else 0


async def _check_api_key(settings: Settings) -> tuple[bool, str]:
    """Whether the key works, and how it was found: a status call about a generation that
    does not exist, which creates nothing. 401 or 403 means the key is refused; any other
    answer means it was taken."""
    client = AimlApiClient(
        settings.aimlapi_base_url,
        settings.aimlapi_key.get_secret_value(),
        endpoint=settings.aimlapi_endpoint,
    )
    try:
        await client.get_generation(_MADE_UP_GENERATION, settings.aimlapi_endpoint)
    except (ApiUnauthorized, ApiOutOfCredits):
        return False, "AIMLAPI_KEY is refused (401/403)"
    except ApiNotFound:
        return True, "the key works"
    except ApiUnavailable as error:
        if error.status is None:
            return False, f"not reachable ({error.message})"
        return False, f"unavailable now (HTTP {error.status}); try again later"
    except AimlApiError as error:
        return True, f"the key works (the API answered: {error.message})"
    finally:
        await client.close()
    return True, "the key works"


async def serve_webhook(application: BotApp) -> None:
    """Run the bot in webhook mode until SIGINT or SIGTERM, in the order `run_polling` keeps:
    initialize, post_init (which starts the HTTP server and sets the webhook), start; then
    the server stops taking updates before the application stops, and shutdown closes the
    rest. The webhook stays set: other instances may still be serving it."""
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopping.set)
    await application.initialize()
    try:
        if application.post_init is not None:
            await application.post_init(application)
        await application.start()
        try:
            await stopping.wait()
        finally:
            await stop_http_server(application)
            await application.stop()
            if application.post_stop is not None:
                await application.post_stop(application)
    finally:
        await application.shutdown()
        if application.post_shutdown is not None:
            await application.post_shutdown(application)
