"""/settings: the user's own defaults, switched with a tap."""

from __future__ import annotations

from telegram import Update
from telegram.constants import ChatType
from telegram.error import BadRequest
from telegram.ext import ContextTypes

from bot.engine.keyboards import settings_markup
from bot.wiring.steps import steps_of
from bot.words.current import current_words
from chat.telegram_chat import markup_of
from handlers.intake import answer, answer_tap


async def on_settings(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/settings: whether the prompt optimizer is on for the caller's jobs, with a button to
    switch it. In private only: preferences are personal, and a group shares its buttons."""
    message, user, chat = update.effective_message, update.effective_user, update.effective_chat
    if message is None or user is None or chat is None:
        return
    words = current_words()
    if chat.type != ChatType.PRIVATE:
        await answer(message, words.SETTINGS_IN_PRIVATE)
        return
    prefs = await steps_of(context.bot_data).preferences.prefs_of(user.id)
    await answer(
        message,
        words.settings(prompt_optimizer=prefs.prompt_optimizer, chosen=prefs.chosen),
        keyboard=settings_markup(prefs.prompt_optimizer, words),
    )


async def on_optimizer_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The /settings button: store the presser's choice, and show the settings as they are
    now. Applies to their next jobs, not to those already on the way."""
    query = update.callback_query
    if query is None:
        return
    message = query.message
    words = current_words()
    if not context.matches or message is None or message.chat.id != query.from_user.id:
        # Only a private chat's own user gets these buttons.
        await answer_tap(query, words.NOT_YOUR_SETTINGS, show_alert=True)
        return
    value = context.matches[0].group("value") == "on"
    preferences = steps_of(context.bot_data).preferences
    prefs = await preferences.set_prompt_optimizer(query.from_user.id, value)
    await answer_tap(query, words.optimizer_saved(value))
    try:
        await query.edit_message_text(
            words.settings(prompt_optimizer=prefs.prompt_optimizer, chosen=prefs.chosen),
            reply_markup=markup_of(settings_markup(prefs.prompt_optimizer, words)),
        )
    except BadRequest as error:
        if "not modified" not in error.message.lower():  # a second tap on the same button
            raise
