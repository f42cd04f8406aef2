"""The Telegram emulator's payments in Stars: sendInvoice takes what Telegram takes, a user pays
through a pre-checkout query the bot must answer in time, and a charge is refunded once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LabeledPrice,
    Message,
    ReplyParameters,
    Update,
)
from telegram.error import BadRequest

from tests.conftest import eventually
from tests.emulators.conftest import TOKEN
from tests.emulators.telegram_emulator import (
    CHARGE_ALREADY_REFUNDED,
    CHARGE_ID_INVALID,
    PAYMENT_PROVIDER_INVALID,
    QUERY_TOO_OLD,
    STARS_INVOICE_INVALID,
    Payment,
    TelegramEmulator,
    group_chat,
    message_update,
    text_message,
    user,
)
from tests.emulators.test_telegram_webhook import Receiver

ANN = user(111, "Ann")
BOB = user(222, "Bob", username="bob")
PRICE = [LabeledPrice("5 videos", 50)]


async def _send_invoice(bot: Bot, chat_id: int = ANN["id"], **kwargs: Any) -> Message:
    fields: dict[str, Any] = {
        "title": "5 videos",
        "description": "Five photos made into videos",
        "payload": "pack-5:user-111",
        "currency": "XTR",
        "prices": PRICE,
    }
    fields.update(kwargs)
    return await bot.send_invoice(chat_id, **fields)


async def _next_update(bot: Bot, offset: int | None = None, *, key: str) -> Update:
    """The next update the bot gets by polling that carries ``key`` (others are skipped)."""
    async with asyncio.timeout(5):
        while True:
            for update in await bot.get_updates(offset=offset, timeout=2):
                offset = update.update_id + 1
                if key in update.to_dict():
                    return update


async def _answer(
    bot: Bot, offset: int | None = None, *, ok: bool = True, error_message: str | None = None
) -> Update:
    """Take the next pre-checkout query as the bot does, and answer it."""
    update = await _next_update(bot, offset, key="pre_checkout_query")
    assert update.pre_checkout_query is not None
    await bot.answer_pre_checkout_query(update.pre_checkout_query.id, ok, error_message)
    return update


async def _paid(
    emu: TelegramEmulator, bot: Bot, invoice: Message, payer: dict[str, Any]
) -> Payment:
    asked = len(emu.pre_checkouts)
    paying = asyncio.create_task(emu.pay(invoice.to_dict(), user=payer, deadline=5))
    await eventually(lambda: len(emu.pre_checkouts) > asked, what="the pre-checkout query")
    await _answer(bot, emu.pre_checkouts[-1].update_id)
    payment = await paying
    assert payment.charge is not None
    return payment


def _says(refused: BadRequest, error: str) -> bool:
    """Whether an error is this one of the emulator's (the library strips "Bad Request: " and
    capitalizes the rest)."""
    return refused.message.lower() == error.removeprefix("Bad Request: ").lower()


async def _no_update(bot: Bot, offset: int) -> None:
    assert await bot.get_updates(offset=offset, timeout=0) == ()


# --------------------------------------------------------------------------- sendInvoice


async def test_an_invoice_in_stars_is_posted_in_the_chat_and_recorded(
    emu: TelegramEmulator, bot: Bot
) -> None:
    message = await _send_invoice(bot, provider_token="")

    assert message.invoice is not None
    assert message.invoice.to_dict() == {
        "title": "5 videos",
        "description": "Five photos made into videos",
        "start_parameter": "",
        "currency": "XTR",
        "total_amount": 50,
    }
    assert emu.messages[(111, message.message_id)]["invoice"]["total_amount"] == 50
    [sent] = emu.invoices_in(111)
    assert (sent.message_id, sent.payload, sent.prices) == (
        message.message_id,
        "pack-5:user-111",
        (("5 videos", 50),),
    )
    assert emu.invoices_in(222) == []


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"currency": "USD"}, PAYMENT_PROVIDER_INVALID),
        ({"provider_token": "284685063:TEST:abc"}, STARS_INVOICE_INVALID),
        ({"prices": [LabeledPrice("videos", 40), LabeledPrice("fee", 10)]}, STARS_INVOICE_INVALID),
        ({"need_email": True}, STARS_INVOICE_INVALID),
        ({"max_tip_amount": 5}, STARS_INVOICE_INVALID),
        ({"prices": [LabeledPrice("free", 0)]}, "total price must be positive"),
        ({"prices": []}, "there must be at least one price"),
        ({"prices": [LabeledPrice("", 5)]}, "label must be non-empty"),
        ({"title": ""}, 'parameter "title" is required'),
        ({"payload": ""}, 'parameter "payload" is required'),
        ({"title": "t" * 33}, "INVOICE_TITLE_INVALID"),
        ({"description": "d" * 256}, "INVOICE_DESCRIPTION_INVALID"),
        ({"payload": "é" * 65}, "INVOICE_PAYLOAD_INVALID"),  # 130 bytes
    ],
)
async def test_an_invoice_telegram_refuses_is_refused_and_posts_nothing(
    emu: TelegramEmulator, bot: Bot, fields: dict[str, Any], error: str
) -> None:
    with pytest.raises(BadRequest) as refused:
        await _send_invoice(bot, **fields)
    assert error.lower() in f"Bad Request: {refused.value.message}".lower()
    assert emu.invoices == []
    assert emu.messages == {}


async def test_an_amount_that_is_no_whole_number_is_refused(bot: Bot) -> None:
    with pytest.raises(BadRequest, match=r'(?i)Field "amount" must be a valid Number'):
        await bot.send_invoice(
            111,
            "5 videos",
            "Five photos made into videos",
            "pack-5",
            "XTR",
            [],
            api_kwargs={"prices": '[{"label": "5 videos", "amount": 1.5}]'},
        )


async def test_an_invoice_takes_a_reply_a_topic_and_a_pay_button_as_other_sends_do(
    emu: TelegramEmulator, bot: Bot
) -> None:
    forum = group_chat(-100700, forum=True)
    asked = text_message(chat=forum, sender=ANN, text="/buy", thread_id=5, is_topic_message=True)
    emu.push_update(message_update(asked))
    pay = InlineKeyboardMarkup([[InlineKeyboardButton("Pay ⭐️50", pay=True)]])

    message = await _send_invoice(
        bot,
        chat_id=-100700,
        message_thread_id=5,
        reply_parameters=ReplyParameters(asked["message_id"]),
        reply_markup=pay,
    )

    assert message.message_thread_id == 5
    assert message.reply_markup == pay
    with pytest.raises(BadRequest, match=r"(?i)message to be replied not found"):
        await _send_invoice(bot, reply_parameters=ReplyParameters(999))
    with pytest.raises(BadRequest, match=r"(?i)message thread not found"):
        await _send_invoice(bot, message_thread_id=5)
    not_pay = InlineKeyboardMarkup([[InlineKeyboardButton("Terms", callback_data="terms")]])
    with pytest.raises(BadRequest, match=r"(?i)BUTTON_POS_INVALID"):
        await _send_invoice(bot, reply_markup=not_pay)
    assert len(emu.invoices) == 1


# --------------------------------------------------------------------------- paying


async def test_a_pre_checkout_answered_ok_leads_to_one_successful_payment(
    emu: TelegramEmulator, bot: Bot
) -> None:
    invoice = await _send_invoice(bot)
    paying = asyncio.create_task(emu.pay(invoice.to_dict(), user=ANN))

    update = await _answer(bot)
    payment = await paying

    query = update.pre_checkout_query
    assert query is not None
    assert (query.from_user.id, query.currency, query.total_amount, query.invoice_payload) == (
        111,
        "XTR",
        50,
        "pack-5:user-111",
    )
    assert payment.paid and payment.charge is not None
    assert payment.pre_checkout.ok is True
    answer_seconds = payment.pre_checkout.answer_seconds
    assert answer_seconds is not None and 0 <= answer_seconds < 5
    paid = await _next_update(bot, update.update_id + 1, key="message")
    assert paid.update_id == payment.charge.update_id
    assert paid.message is not None and paid.message.successful_payment is not None
    receipt = paid.message.successful_payment
    assert (paid.message.chat.id, paid.message.chat.type, paid.message.from_user) == (
        111,
        "private",
        query.from_user,
    )
    assert (receipt.currency, receipt.total_amount, receipt.invoice_payload) == (
        "XTR",
        50,
        "pack-5:user-111",
    )
    assert receipt.telegram_payment_charge_id == payment.charge.charge_id
    assert receipt.telegram_payment_charge_id.startswith("stx")
    assert receipt.provider_payment_charge_id == ""
    await _no_update(bot, paid.update_id + 1)
    assert emu.charges == [payment.charge]


async def test_every_payment_has_a_charge_id_of_its_own(emu: TelegramEmulator, bot: Bot) -> None:
    invoice = await _send_invoice(bot)

    first = await _paid(emu, bot, invoice, ANN)
    second = await _paid(emu, bot, invoice, ANN)

    assert first.charge is not None and second.charge is not None
    assert first.charge.charge_id != second.charge.charge_id


async def test_an_invoice_in_a_group_is_paid_in_the_payers_private_chat(
    emu: TelegramEmulator, bot: Bot
) -> None:
    emu.push_update(message_update(text_message(chat=group_chat(), sender=BOB, text="/buy")))
    invoice = await _send_invoice(bot, chat_id=-100500)

    payment = await _paid(emu, bot, invoice, BOB)

    assert payment.charge is not None
    assert payment.charge.message["chat"] == {
        "id": 222,
        "type": "private",
        "first_name": "Bob",
        "username": "bob",
    }


async def test_a_pre_checkout_answered_not_ok_charges_nothing(
    emu: TelegramEmulator, bot: Bot
) -> None:
    invoice = await _send_invoice(bot)
    paying = asyncio.create_task(emu.pay(invoice.to_dict(), user=ANN))

    update = await _answer(bot, ok=False, error_message="Sold out, sorry")
    payment = await paying

    assert not payment.paid
    assert (payment.pre_checkout.ok, payment.pre_checkout.error_message) == (
        False,
        "Sold out, sorry",
    )
    await _no_update(bot, update.update_id + 1)
    assert emu.charges == []


async def test_not_ok_without_an_error_message_is_refused(emu: TelegramEmulator, bot: Bot) -> None:
    invoice = await _send_invoice(bot)
    paying = asyncio.create_task(emu.pay(invoice.to_dict(), user=ANN, deadline=5))
    update = await _next_update(bot, key="pre_checkout_query")
    assert update.pre_checkout_query is not None

    with pytest.raises(BadRequest, match=r'(?i)parameter "error_message" is required'):
        await bot.answer_pre_checkout_query(update.pre_checkout_query.id, False)
    await bot.answer_pre_checkout_query(update.pre_checkout_query.id, True)

    assert (await paying).paid


async def test_no_answer_within_the_deadline_charges_nothing_and_a_late_answer_is_refused(
    emu: TelegramEmulator, bot: Bot
) -> None:
    invoice = await _send_invoice(bot)
    paying = asyncio.create_task(emu.pay(invoice.to_dict(), user=ANN, deadline=0.3))
    update = await _next_update(bot, key="pre_checkout_query")
    assert update.pre_checkout_query is not None

    payment = await paying
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await bot.answer_pre_checkout_query(update.pre_checkout_query.id, True)

    assert not payment.paid
    query = payment.pre_checkout
    assert (query.ok, query.answer_seconds, query.expired) == (None, None, True)
    [late] = query.late_answers
    assert late >= 0.3
    await _no_update(bot, update.update_id + 1)


async def test_an_unknown_or_answered_query_is_refused(emu: TelegramEmulator, bot: Bot) -> None:
    invoice = await _send_invoice(bot)
    paying = asyncio.create_task(emu.pay(invoice.to_dict(), user=ANN))
    update = await _answer(bot)
    await paying
    assert update.pre_checkout_query is not None

    for query_id in (update.pre_checkout_query.id, "4410000000000999999"):
        with pytest.raises(BadRequest) as refused:
            await bot.answer_pre_checkout_query(query_id, True)
        assert _says(refused.value, QUERY_TOO_OLD)


async def test_only_an_invoice_still_in_its_chat_can_be_paid(
    emu: TelegramEmulator, bot: Bot
) -> None:
    invoice = await _send_invoice(bot)
    text = await bot.send_message(111, "not an invoice")
    await bot.delete_message(111, invoice.message_id)

    with pytest.raises(LookupError, match="no invoice"):
        await emu.pay(text.to_dict(), user=ANN)
    with pytest.raises(LookupError, match="deleted"):
        await emu.pay(emu.invoices[0], user=ANN)
    assert emu.pre_checkouts == []


# --------------------------------------------------------------------------- allowed_updates


async def test_a_poller_that_did_not_allow_pre_checkout_queries_never_gets_one(
    emu: TelegramEmulator, bot: Bot
) -> None:
    invoice = await _send_invoice(bot)
    paying = asyncio.create_task(emu.pay(invoice.to_dict(), user=ANN, deadline=0.5))

    assert await bot.get_updates(timeout=1, allowed_updates=["message", "callback_query"]) == ()
    payment = await paying

    assert not payment.paid and payment.pre_checkout.ok is None


async def test_a_poller_that_allowed_pre_checkout_queries_gets_them(
    emu: TelegramEmulator, bot: Bot
) -> None:
    invoice = await _send_invoice(bot)
    paying = asyncio.create_task(emu.pay(invoice.to_dict(), user=ANN, deadline=5))

    [update] = await bot.get_updates(timeout=2, allowed_updates=["message", "pre_checkout_query"])
    assert update.pre_checkout_query is not None
    await bot.answer_pre_checkout_query(update.pre_checkout_query.id, True)

    assert (await paying).paid


@pytest.fixture
async def local() -> AsyncIterator[TelegramEmulator]:
    async with TelegramEmulator(TOKEN, local_server=True, webhook_retry_seconds=0.05) as emulator:
        yield emulator


@pytest.fixture
async def local_bot(local: TelegramEmulator) -> AsyncIterator[Bot]:
    async with Bot(TOKEN, base_url=local.base_url, base_file_url=local.base_file_url) as the_bot:
        yield the_bot


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with Receiver() as server:
        yield server


async def test_a_webhook_gets_the_payment_and_can_get_it_twice(
    local: TelegramEmulator, local_bot: Bot, receiver: Receiver
) -> None:
    await local_bot.set_webhook(
        receiver.url, secret_token="s3cret", allowed_updates=["message", "pre_checkout_query"]
    )
    invoice = await _send_invoice(local_bot)
    paying = asyncio.create_task(local.pay(invoice.to_dict(), user=ANN, deadline=5))
    await receiver.wait_for_posts(1)
    [(posted, _)] = receiver.posts
    await local_bot.answer_pre_checkout_query(posted["pre_checkout_query"]["id"], True)
    payment = await paying
    assert payment.charge is not None

    await receiver.wait_for_posts(2)
    local.deliver_again(payment.charge.update_id)  # its 200 lost on the way, say
    await receiver.wait_for_posts(3)

    paid = [body for body, _ in receiver.posts[1:]]
    assert [body["update_id"] for body in paid] == [payment.charge.update_id] * 2
    receipts = [body["message"]["successful_payment"] for body in paid]
    assert {receipt["telegram_payment_charge_id"] for receipt in receipts} == {
        payment.charge.charge_id
    }


async def test_a_webhook_that_did_not_allow_pre_checkout_queries_is_not_posted_one(
    local: TelegramEmulator, local_bot: Bot, receiver: Receiver
) -> None:
    await local_bot.set_webhook(receiver.url, secret_token="s3cret", allowed_updates=["message"])
    invoice = await _send_invoice(local_bot)

    payment = await local.pay(invoice.to_dict(), user=ANN, deadline=0.3)

    assert not payment.paid
    assert receiver.posts == []


# --------------------------------------------------------------------------- refunds


async def test_a_charge_is_refunded_once_and_a_second_refund_is_refused(
    emu: TelegramEmulator, bot: Bot
) -> None:
    payment = await _paid(emu, bot, await _send_invoice(bot), ANN)
    assert payment.charge is not None
    charge_id = payment.charge.charge_id

    assert await bot.refund_star_payment(111, charge_id) is True
    with pytest.raises(BadRequest) as refused:
        await bot.refund_star_payment(111, charge_id)

    assert _says(refused.value, CHARGE_ALREADY_REFUNDED)
    [refund] = emu.refunds
    assert (refund.charge_id, refund.user_id, refund.amount) == (charge_id, 111, 50)
    assert payment.charge.refunded_at == refund.date
    notice = await _next_update(bot, payment.charge.update_id + 1, key="message")
    assert notice.message is not None and notice.message.refunded_payment is not None
    assert notice.message.refunded_payment.telegram_payment_charge_id == charge_id
    assert notice.message.chat.id == 111


async def test_a_refund_of_a_charge_unknown_for_that_user_is_refused(
    emu: TelegramEmulator, bot: Bot
) -> None:
    payment = await _paid(emu, bot, await _send_invoice(bot), ANN)
    assert payment.charge is not None

    for user_id, charge_id in ((111, "stxNoSuchCharge"), (222, payment.charge.charge_id)):
        with pytest.raises(BadRequest) as refused:
            await bot.refund_star_payment(user_id, charge_id)
        assert _says(refused.value, CHARGE_ID_INVALID)
    with pytest.raises(BadRequest, match=r"(?i)invalid user_id specified"):
        await bot.refund_star_payment(0, payment.charge.charge_id)
    assert emu.refunds == []


async def test_star_transactions_list_charges_and_refunds_newest_first(
    emu: TelegramEmulator, bot: Bot
) -> None:
    invoice = await _send_invoice(bot)
    first = await _paid(emu, bot, invoice, ANN)
    second = await _paid(emu, bot, invoice, BOB)
    assert first.charge is not None and second.charge is not None
    await bot.refund_star_payment(111, first.charge.charge_id)

    listed = (await bot.get_star_transactions()).transactions

    assert [(t.id, t.amount) for t in listed] == [
        (first.charge.charge_id, 50),
        (second.charge.charge_id, 50),
        (first.charge.charge_id, 50),
    ]
    refund, sale, _ = listed
    assert refund.source is None and refund.receiver is not None
    assert sale.receiver is None and sale.source is not None
    assert sale.source.to_dict()["user"]["id"] == 222
    assert sale.source.to_dict()["invoice_payload"] == "pack-5:user-111"
    page = (await bot.get_star_transactions(offset=1, limit=1)).transactions
    assert [t.id for t in page] == [second.charge.charge_id]


async def test_a_bot_cannot_pay(emu: TelegramEmulator, bot: Bot) -> None:
    invoice = await _send_invoice(bot)

    with pytest.raises(ValueError, match="only a user can pay"):
        await emu.pay(invoice.to_dict(), user={**ANN, "is_bot": True})
