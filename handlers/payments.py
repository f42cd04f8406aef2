"""Selling videos in Telegram Stars: /buy and its packs, the checkout, the payment, /balance,
/paysupport, /terms, and the admins' /refund.

The prices are the operator's (`bot.policy.payments`), the credits the ledger's
(`storage.ledger`); a credit is spent and given back by admission and the job's own end.
"""

from __future__ import annotations

import asyncio
import logging

from telegram import LabeledPrice, SuccessfulPayment, Update
from telegram.constants import ChatType
from telegram.error import BadRequest, TelegramError
from telegram.ext import ContextTypes

from bot.engine.keyboards import buy_markup
from bot.policy.access import Access
from bot.policy.payments import (
    STARS,
    CheckoutRefusal,
    Order,
    StarPack,
    check_checkout,
    read_payload,
)
from bot.wiring.steps import Steps, steps_of
from bot.words.current import current_words
from handlers.admin import admin_request
from handlers.intake import answer, answer_tap
from storage.ledger import LedgerStore

log = logging.getLogger(__name__)

#: What Telegram answers a second refund of one charge.
_ALREADY_REFUNDED = "CHARGE_ALREADY_REFUNDED"


async def balance_of(steps: Steps, user_id: int) -> tuple[int, int]:
    """The user's credits left (a user never seen is given their free videos first), and
    those held by videos being made."""
    ledger = LedgerStore.of(steps.store)
    settings = steps.settings
    balance = await ledger.balance(
        user_id, free_videos=settings.free_videos_per_user, now=steps.clock()
    )
    return balance, await ledger.in_use(user_id)


async def may_buy(steps: Steps, user_id: int) -> bool:
    """Whether this user may buy videos: one who pays, and may make videos, in private or in
    an allowed group (whose members are let in there, not in private)."""
    if not pays(steps, user_id):
        return False
    rules = await steps.admission.load_rules()
    if rules.access(user_id=user_id, chat_id=user_id, private=True) is Access.ALLOWED:
        return True
    return bool(rules.allowed_chats) and user_id not in rules.revoked


def pays(steps: Steps, user_id: int) -> bool:
    """Whether this user pays for videos: payments are on, and they are no admin."""
    return steps.settings.payments_on and user_id not in steps.settings.admin_user_ids


async def on_buy(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/buy: the packs on sale as buttons, with the caller's balance; in private only, where
    the payment's messages come."""
    message, user, chat = update.effective_message, update.effective_user, update.effective_chat
    if message is None or user is None or chat is None:
        return
    steps, words = steps_of(context.bot_data), current_words()
    packs = steps.settings.packs
    if not packs:
        await answer(message, words.PAYMENTS_OFF)
        return
    if chat.type != ChatType.PRIVATE:
        await answer(message, words.BUY_IN_PRIVATE)
        return
    if not await may_buy(steps, user.id):  # no one pays for videos they may never make
        rules = await steps.admission.load_rules()
        reply = words.ADMINS_NEVER_PAY if rules.is_admin(user.id) else words.not_allowed(user.id)
        await answer(message, reply)
        return
    balance, _ = await balance_of(steps, user.id)
    await answer(message, words.buy_prompt(balance), keyboard=buy_markup(packs, words))


async def on_buy_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A pack's button: its invoice, in Stars, for the user who tapped, in their private chat
    with the bot."""
    query, match = update.callback_query, context.matches[0] if context.matches else None
    if query is None or match is None:
        return
    steps, words = steps_of(context.bot_data), current_words()
    pack = StarPack(int(match.group("videos")), int(match.group("stars")))
    if pack not in steps.settings.packs:  # the operator changed the packs since
        await answer_tap(query, words.PACK_GONE, show_alert=True)
        return
    if not await may_buy(steps, query.from_user.id):
        await answer_tap(query, words.not_allowed(query.from_user.id), show_alert=True)
        return
    try:
        await context.bot.send_invoice(
            chat_id=query.from_user.id,
            title=words.invoice_title(pack),
            description=words.invoice_description(pack),
            payload=pack.payload(query.from_user.id),
            # Stars need no provider token. It is left out, not sent empty: with Defaults,
            # python-telegram-bot (22.x) turns an empty string argument into [] (it takes any
            # empty sequence for a list of poll options), and Telegram refuses that token.
            currency=STARS,
            prices=[LabeledPrice(words.videos(pack.videos), pack.stars)],
        )
    except TelegramError as error:  # tapped in a group by someone who never started the bot
        log.info("user %s: could not send the invoice (%s)", query.from_user.id, error)
        await answer_tap(query, words.START_PRIVATE_FIRST, show_alert=True)
        return
    await answer_tap(query)


async def on_pre_checkout(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The payment form's last step, to be answered within 10 seconds: yes only for a pack on
    sale now, paid by the user it was made for, in its price."""
    query = update.pre_checkout_query
    if query is None:
        return
    steps, words = steps_of(context.bot_data), current_words()
    verdict = check_checkout(
        query.invoice_payload,
        payer_id=query.from_user.id,
        currency=query.currency,
        amount=query.total_amount,
        packs=steps.settings.packs,
    )
    if not isinstance(verdict, CheckoutRefusal) and not await may_buy(steps, query.from_user.id):
        verdict = CheckoutRefusal.NOT_ALLOWED  # their access was taken away since the invoice
    if isinstance(verdict, CheckoutRefusal):
        log.info("user %s: checkout refused (%s)", query.from_user.id, verdict.value)
        await query.answer(ok=False, error_message=words.checkout_refused(verdict))
        return
    await query.answer(ok=True)


async def on_successful_payment(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A payment made: its pack's videos are the buyer's, once per Telegram charge, however
    often (and to whichever instance) the message comes; the buyer is thanked with the new
    balance."""
    message, user = update.effective_message, update.effective_user
    if message is None or user is None or message.successful_payment is None:
        return
    paid = message.successful_payment
    steps, words = steps_of(context.bot_data), current_words()
    order = read_payload(paid.invoice_payload)
    if order is None:  # checkout refuses such a payload: this cannot be one of ours
        log.error("user %s paid %s Stars for an unknown order", user.id, paid.total_amount)
        await answer(message, words.PAYSUPPORT)
        return
    credited = await _credit(steps, user.id, order, paid)
    if not credited:
        log.info("user %s: the payment %s came again", user.id, paid.telegram_payment_charge_id)
        return
    log.info(
        "user %s bought %d video(s) for %d Stars", user.id, order.pack.videos, paid.total_amount
    )
    balance, _ = await balance_of(steps, user.id)
    await answer(message, words.payment_received(order.pack.videos, balance))


async def _credit(steps: Steps, user_id: int, order: Order, paid: SuccessfulPayment) -> bool:
    """`LedgerStore.credit_purchase`, asked again after a failure (a database restarting):
    Telegram never sends a payment twice on purpose, so a write lost here would be Stars
    taken for nothing. On the last failure, one ERROR line names what to credit by hand."""
    ledger, charge_id = LedgerStore.of(steps.store), paid.telegram_payment_charge_id

    async def write() -> bool:
        return await ledger.credit_purchase(
            user_id,
            charge_id=charge_id,
            videos=order.pack.videos,
            stars=paid.total_amount,
            pack=order.pack.code,
            now=steps.clock(),
        )

    for pause in (0.5, 1.0, 2.0):
        try:
            return await write()
        except Exception:
            log.warning("could not record the payment %s; trying again", charge_id)
            await asyncio.sleep(pause)
    try:
        return await write()
    except Exception:
        log.error(
            "user %s paid %s Stars (charge %s) for %d video(s), and the credit could not be "
            "recorded: credit it by hand, or refund it",
            user_id,
            paid.total_amount,
            charge_id,
            order.pack.videos,
        )
        raise


async def on_balance(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/balance: the caller's videos left and, in private, their last purchases (a group
    sees no charge ids)."""
    message, user, chat = update.effective_message, update.effective_user, update.effective_chat
    if message is None or user is None or chat is None:
        return
    steps, words = steps_of(context.bot_data), current_words()
    if not steps.settings.payments_on:
        await answer(message, words.PAYMENTS_OFF)
        return
    if not pays(steps, user.id):
        await answer(message, words.ADMINS_NEVER_PAY)
        return
    if not await may_buy(steps, user.id):  # no free videos for one who may make none
        await answer(message, words.not_allowed(user.id))
        return
    balance, in_use = await balance_of(steps, user.id)
    if chat.type != ChatType.PRIVATE:
        await answer(message, words.balance_line(balance, in_use))
        return
    purchases = await LedgerStore.of(steps.store).purchases(user.id)
    await answer(message, words.balance_report(balance, in_use, purchases, now=steps.clock()))


async def on_paysupport(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/paysupport: how to get help with a payment (PAYSUPPORT_TEXT, or the catalogs')."""
    message = update.effective_message
    if message is not None:
        text = steps_of(context.bot_data).settings.paysupport_text
        await answer(message, text or current_words().PAYSUPPORT)


async def on_terms(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/terms: the terms of sale (TERMS_TEXT, or the catalogs')."""
    message = update.effective_message
    if message is not None:
        text = steps_of(context.bot_data).settings.terms_text
        await answer(message, text or current_words().TERMS)


async def on_refund(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/refund <charge id> [force] (admins): pay a purchase's Stars back and take its unused
    videos back; refused for a charge refunded already, and for one whose videos were made,
    unless `force`."""
    request = await admin_request(update, context)
    if request is None:
        return
    message, admin_id, steps, words = request
    args = context.args or []
    if not args or len(args) > 2 or (len(args) == 2 and args[1].lower() != "force"):
        await answer(message, words.REFUND_USAGE)
        return
    charge_id, force = args[0], len(args) == 2
    ledger = LedgerStore.of(steps.store)
    purchase = await ledger.purchase(charge_id)
    if purchase is None:
        await answer(message, words.refund_unknown(charge_id))
        return
    if purchase.refunded:
        await answer(message, words.refund_already(charge_id))
        return
    balance, _ = await balance_of(steps, purchase.user_id)
    unused = max(0, min(purchase.videos, balance))
    if unused < purchase.videos and not force:
        await answer(message, words.refund_spent(charge_id, unused, purchase.videos))
        return
    note = f"by admin {admin_id}" + (" (force)" if force else "")
    try:
        await context.bot.refund_star_payment(purchase.user_id, charge_id)
    except BadRequest as error:
        if _ALREADY_REFUNDED not in error.message.upper():
            await answer(message, words.refund_failed(error.message))
            return
        # Refunded at Telegram already (by an earlier try that was not recorded): record it.
        await ledger.record_refund(purchase, videos_taken=unused, now=steps.clock(), note=note)
        await answer(message, words.refund_already(charge_id))
        return
    except TelegramError as error:
        await answer(message, words.refund_failed(error.message))
        return
    await ledger.record_refund(purchase, videos_taken=unused, now=steps.clock(), note=note)
    log.warning(
        "admin %s refunded %s (%d Stars) to user %s",
        admin_id,
        charge_id,
        purchase.stars,
        purchase.user_id,
    )
    await answer(message, words.refund_done(purchase, unused))
    try:
        await context.bot.send_message(purchase.user_id, words.refunded_to_buyer(purchase))
    except TelegramError as error:
        log.info("user %s: could not tell of the refund (%s)", purchase.user_id, error)
