"""The door: in a group the bot is not allowed in, strangers get no answer at all."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.constants import ChatType
from telegram.ext import ApplicationHandlerStop, ContextTypes

from bot.policy.access import Access
from bot.wiring.steps import steps_of

log = logging.getLogger(__name__)

#: The groups whose id the log already gave, in `bot_data`: each is logged once a run.
_GROUPS_LOGGED = "groups_logged"


async def keep_strangers_out(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Runs before every other handler: a group message from someone who may not use the bot
    in that group stops here, so no handler answers it (not even /help). Private chats and
    allowed groups pass."""
    user, chat = update.effective_user, update.effective_chat
    if user is None or chat is None or chat.type == ChatType.PRIVATE:
        return
    rules = await steps_of(context.bot_data).admission.load_rules()
    if rules.access(user_id=user.id, chat_id=chat.id, private=False) is Access.IGNORED:
        logged: set[int] = context.bot_data.setdefault(_GROUPS_LOGGED, set())
        if chat.id not in logged and chat.id not in rules.allowed_chats:
            logged.add(chat.id)
            log.info(
                "group %s (%s) is not allowed: its members are not answered; add the id to "
                "ALLOWED_CHAT_IDS to let them use the bot",
                chat.id,
                chat.title,
            )
        raise ApplicationHandlerStop
