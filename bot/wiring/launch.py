"""Launching the bot: the settings read, the logs set up, the Application run, and every
start-up failure told in one line. `python -m bot` calls `main`."""

from __future__ import annotations

import logging
import sys

from pydantic import ValidationError
from telegram import Update
from telegram.error import InvalidToken

from bot.wiring.application import build_application
from bot.wiring.logs import setup_logging
from bot.wiring.settings import Settings, describe_settings_error
from storage import DatabaseInUse


def main() -> int:
    """Start the bot; returns the process exit code."""
    try:
        settings = Settings()
    except ValidationError as error:
        print(describe_settings_error(error), file=sys.stderr)
        return 2
    setup_logging(
        settings.log_level,
        [settings.telegram_bot_token.get_secret_value(), settings.aimlapi_key.get_secret_value()],
    )
    application = build_application(settings)
    # run_polling stops on SIGINT/SIGTERM: no new updates, in-flight work ends, then shutdown.
    try:
        application.run_polling(allowed_updates=Update.ALL_TYPES)
    except InvalidToken:
        # Its message quotes the token: a typo'd token is nearly the real one. Never print it.
        print(
            "Configuration error: Telegram rejected TELEGRAM_BOT_TOKEN (see .env.example)",
            file=sys.stderr,
        )
        return 2
    except DatabaseInUse as error:
        print(
            f"Not started: {error}. Stop it first, or set another DATABASE_PATH.", file=sys.stderr
        )
        return 2
    except Exception:
        # Through logging, not the interpreter's traceback, so that the redacting filter applies.
        logging.getLogger("bot").exception("the bot stopped on an unexpected error")
        return 1
    return 0
