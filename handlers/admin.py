"""Admin commands (ADMIN_USER_IDS): /stats, /allow and /deny, answered in the admin's language."""

from __future__ import annotations

from telegram import Message, Update
from telegram.ext import ContextTypes

from bot.policy.access import DAY_SECONDS, AccessRules, day_start, parse_user_id
from bot.policy.stats import summarize
from bot.wiring.steps import Steps, steps_of
from bot.words.current import current_words
from bot.words.texts import English
from handlers.intake import answer
from storage.counts import AccessStore
from storage.ledger import LedgerStore


async def admin_request(
    update: Update, context: ContextTypes.DEFAULT_TYPE
) -> tuple[Message, int, Steps, English] | None:
    """The message, the admin's id, the steps and the admin's texts; None (after a short
    refusal to anyone else) when the sender is not an admin."""
    message, user = update.effective_message, update.effective_user
    if message is None or user is None:
        return None
    steps = steps_of(context.bot_data)
    words = current_words()
    if user.id not in steps.settings.admin_user_ids:
        await answer(message, words.ADMINS_ONLY)
        return None
    return message, user.id, steps, words


async def on_stats(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/stats: requests today and this week, success rate, delivery times, failures, the line,
    and the Stars earned and refunded with the credits users hold."""
    request = await admin_request(update, context)
    if request is None:
        return
    message, _, steps, words = request
    now = steps.clock()
    stats = await AccessStore.of(steps.store).stats(
        today=day_start(now), week=now - 7 * DAY_SECONDS
    )
    report = summarize(stats, in_flight_limit=steps.settings.max_active_jobs)
    text = words.stats_report(report)
    stars = await LedgerStore.of(steps.store).totals()
    if steps.settings.payments_on or stars.earned:
        text += "\n" + words.stars_line(stars)
    await answer(message, text)


async def on_allow(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/allow <user_id>: let a user make videos, on top of the settings; kept across restarts."""
    change = await _change_access(update, context, allowed=True)
    if change is None:
        return
    message, _, words, target, before = change
    await answer(message, words.user_allowed(target, was_open=before.open_to_everyone))


async def on_deny(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/deny <user_id>: stop a user making videos, whatever the settings say; their jobs
    waiting in line leave it uncharged."""
    change = await _change_access(update, context, allowed=False)
    if change is None:
        return
    message, steps, words, target, _ = change
    cancelled = await steps.line.cancel_jobs(target, chat_id=None, stop_submitted=False)
    await answer(message, words.user_denied(target, cancelled=len(cancelled.waiting)))


async def _change_access(
    update: Update, context: ContextTypes.DEFAULT_TYPE, *, allowed: bool
) -> tuple[Message, Steps, English, int, AccessRules] | None:
    """What /allow and /deny share: store the admin's change for the user named in the
    arguments. Returns the message, the steps, the admin's texts, the user's id and the
    rules as they were before; None (after answering why) when the sender is not an admin,
    the argument is not a user id, or the user to deny is an admin."""
    request = await admin_request(update, context)
    if request is None:
        return None
    message, admin_id, steps, words = request
    target = parse_user_id(context.args or [])
    if target is None:
        await answer(message, words.ALLOW_USAGE if allowed else words.DENY_USAGE)
        return None
    if not allowed and target in steps.settings.admin_user_ids:
        await answer(message, words.cannot_deny_admin(target))
        return None
    before = await steps.admission.set_user_access(target, allowed=allowed, changed_by=admin_id)
    return message, steps, words, target, before
