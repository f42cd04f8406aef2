"""Admin commands (ADMIN_USER_IDS): /stats, /allow and /deny, answered in the admin's language."""

from __future__ import annotations

from telegram import Message, Update
from telegram.ext import ContextTypes

from bot.access import DAY_SECONDS, day_start, parse_user_id
from bot.admission import set_user_access
from bot.line import cancel_jobs
from bot.services import Services, services_of
from bot.stats import summarize
from bot.texts import English
from handlers.intake import answer, words_of
from storage.access import AccessStore


async def _admin_request(
    update: Update, context: ContextTypes.DEFAULT_TYPE
) -> tuple[Message, int, Services, English] | None:
    """The message, the admin's id, the services and the admin's texts; None (after a short
    refusal to anyone else) when the sender is not an admin."""
    message, user = update.effective_message, update.effective_user
    if message is None or user is None:
        return None
    services = services_of(context.bot_data)
    words = words_of(user)
    if user.id not in services.settings.admin_user_ids:
        await answer(message, words.ADMINS_ONLY)
        return None
    return message, user.id, services, words


async def on_stats(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/stats: requests today and this week, success rate, delivery times, failures, the line."""
    request = await _admin_request(update, context)
    if request is None:
        return
    message, _, services, words = request
    now = services.clock()
    stats = await AccessStore.of(services.store).stats(
        today=day_start(now), week=now - 7 * DAY_SECONDS
    )
    report = summarize(stats, in_flight_limit=services.settings.max_active_jobs)
    await answer(message, words.stats_report(report))


async def on_allow(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/allow <user_id>: let a user make videos, on top of the settings; kept across restarts."""
    request = await _admin_request(update, context)
    if request is None:
        return
    message, admin_id, services, words = request
    target = parse_user_id(context.args or [])
    if target is None:
        await answer(message, words.ALLOW_USAGE)
        return
    before = await set_user_access(services, target, allowed=True, changed_by=admin_id)
    await answer(message, words.user_allowed(target, was_open=before.open_to_everyone))


async def on_deny(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/deny <user_id>: stop a user making videos, whatever the settings say; their jobs
    waiting in line leave it uncharged."""
    request = await _admin_request(update, context)
    if request is None:
        return
    message, admin_id, services, words = request
    target = parse_user_id(context.args or [])
    if target is None:
        await answer(message, words.DENY_USAGE)
        return
    if target in services.settings.admin_user_ids:
        await answer(message, words.cannot_deny_admin(target))
        return
    await set_user_access(services, target, allowed=False, changed_by=admin_id)
    cancelled = await cancel_jobs(context.bot, services, target, chat_id=None, stop_submitted=False)
    await answer(message, words.user_denied(target, cancelled=len(cancelled.waiting)))
