"""A Telegram bot that turns a photo and a caption into a short animated video."""

import os

# Opt in to python-telegram-bot's coming `RetryAfter.retry_after` as a timedelta, which the
# bot already handles, instead of a deprecation warning on every flood-limit answer.
os.environ.setdefault("PTB_TIMEDELTA", "true")
