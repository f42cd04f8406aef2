"""The language of each update, and its id for the log, bound before any other handler runs."""

from __future__ import annotations

from telegram import Update
from telegram.ext import ContextTypes

from bot.logcontext import bind_update
from bot.words.current import bind_language


async def bind_update_language(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Bind the sender's (or the button presser's) Telegram language for this update, so that
    every handler after it reads its words with `current_words()`, and the update's id, so
    that every line logged while handling it names it."""
    user = update.effective_user if isinstance(update, Update) else None
    bind_language(user.language_code if user is not None else None)
    bind_update(update.update_id if isinstance(update, Update) else None)
