"""The door: in a group the bot is not allowed in, strangers get no answer at all."""

from __future__ import annotations

from telegram import Update
from telegram.constants import ChatType
from telegram.ext import ApplicationHandlerStop, ContextTypes

from bot.policy.access import Access
from bot.wiring.steps import steps_of


async def keep_strangers_out(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Runs before every other handler: a group message from someone who may not use the bot
    in that group stops here, so no handler answers it (not even /help). Private chats and
    allowed groups pass."""
    user, chat = update.effective_user, update.effective_chat
    if user is None or chat is None or chat.type == ChatType.PRIVATE:
        return
    rules = await steps_of(context.bot_data).admission.load_rules()
    if rules.access(user_id=user.id, chat_id=chat.id, private=False) is Access.IGNORED:
        raise ApplicationHandlerStop
