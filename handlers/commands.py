"""Commands that answer at once: /start, /help, /status and /cancel."""

from __future__ import annotations

from telegram import Update
from telegram.constants import ChatType
from telegram.ext import ContextTypes

from bot.engine.keyboards import stop_paid_markup
from bot.wiring.steps import steps_of
from bot.words.current import current_words
from handlers.intake import answer
from handlers.payments import balance_of, pays
from storage.waiting import LineStore


async def on_help(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/start and /help: what the bot does and the image rules."""
    message, chat = update.effective_message, update.effective_chat
    if message is not None:
        typical = steps_of(context.bot_data).generation_times.typical
        group = chat is not None and chat.type != ChatType.PRIVATE
        await answer(message, current_words().help(typical, group=group))


async def on_status(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/status: the caller's own jobs, newest first, their budget today, and (when they pay
    for videos) their videos left."""
    message, user, chat = update.effective_message, update.effective_user, update.effective_chat
    if message is None or user is None or chat is None:
        return
    steps = steps_of(context.bot_data)
    # In a group, show only this group's jobs: prompts sent in private stay private.
    only_chat = None if chat.type == ChatType.PRIVATE else chat.id
    jobs = await steps.store.jobs_for_user(user.id, chat_id=only_chat, limit=10)
    places = {entry.job_id: entry.place for entry in await LineStore.of(steps.store).places()}
    usage = await steps.admission.usage_report(
        user.id, chat_id=chat.id, private=chat.type == ChatType.PRIVATE
    )
    words = current_words()
    text = words.status_list(jobs, now=steps.clock(), places=places) + "\n\n"
    text += words.usage_today(usage)
    if pays(steps, user.id) and usage.allowed:
        text += "\n" + words.balance_line(*await balance_of(steps, user.id))
    await answer(message, text)


async def on_cancel(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/cancel: take the caller's jobs out of the line (free), and ask before giving up those
    the video service already has: they are paid for, and their videos may still be wanted.
    In a group, only that group's jobs."""
    message, user, chat = update.effective_message, update.effective_user, update.effective_chat
    if message is None or user is None or chat is None:
        return
    steps = steps_of(context.bot_data)
    only_chat = None if chat.type == ChatType.PRIVATE else chat.id
    cancelled = await steps.line.cancel_jobs(user.id, chat_id=only_chat, stop_submitted=False)
    words = current_words()
    if not cancelled.at_service:
        await answer(message, words.cancel_report(cancelled))
        return
    report = words.cancel_report(cancelled) if cancelled.waiting or cancelled.busy else ""
    [newest] = await steps.store.jobs_for_user(user.id, chat_id=only_chat, limit=1)
    question = words.ask_stop_paid(cancelled.at_service)
    await answer(
        message,
        f"{report}\n\n{question}" if report else question,
        keyboard=stop_paid_markup(user.id, only_chat, newest.id, words),
    )


async def on_id(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/id: the sender's own id, and in a group the group's too, for everyone, allowed or not
    (it runs before the door), so that the operator can fill in the settings."""
    message, user, chat = update.effective_message, update.effective_user, update.effective_chat
    if message is None or user is None or chat is None:
        return
    group = chat.id if chat.type != ChatType.PRIVATE else None
    await answer(message, current_words().ids(user.id, group))
