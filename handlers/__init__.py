"""Telegram intake: decide which messages are requests, and answer commands."""
