"""Launching the bot: the settings read, the logs set up, the Application run, and every
start-up failure told in one line. `python -m bot` calls `main`."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

from pydantic import ValidationError
from telegram.error import InvalidToken

from bot.wiring.application import (
    ALLOWED_UPDATES,
    BotApp,
    build_application,
    stop_http_server,
)
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
    secrets = [settings.telegram_bot_token, settings.aimlapi_key, settings.telegram_webhook_secret]
    setup_logging(settings.log_level, [secret.get_secret_value() for secret in secrets])
    application = build_application(settings)
    # Both stop on SIGINT/SIGTERM: no new updates, in-flight work ends, then shutdown.
    try:
        if settings.webhook_mode:
            asyncio.run(serve_webhook(application))
        else:
            application.run_polling(allowed_updates=ALLOWED_UPDATES)
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
