"""Videos sold in Telegram Stars: /buy and its invoice, a checkout answered in time, a payment
credited once, credits spent by the videos made and given back by those that fail, admins who
never pay, /paysupport and /terms, and the admins' /refund, /stats and /status.

Each check is on what a user received (the bot's messages, the invoice, the checkout's answer)
and on what the paid API was asked to make."""

from __future__ import annotations

import asyncio
import copy
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from bot.policy.access import day_start
from bot.policy.payments import CheckoutRefusal, parse_packs
from bot.wiring.application import BotApp
from bot.wiring.settings import Settings
from bot.words.texts import ENGLISH
from storage import JobState
from storage.ledger import LedgerStore, Purchase, StarTotals
from storage.schema import ledger
from tests.conftest import (
    TOKEN,
    TestClock,
    eventually,
    free_port,
    make_settings,
    running_bot,
    send_photo,
    services,
)
from tests.e2e.conversation import (
    FOREVER,
    created,
    photo,
    status_says,
    two_quiet_polls,
    until,
    video_for,
)
from tests.e2e.taps import bot_message, buttons, saying, tap
from tests.emulators.aimlapi_emulator import AimlApiEmulator
from tests.emulators.telegram_emulator import (
    Payment,
    SentInvoice,
    TelegramEmulator,
    group_chat,
    message_update,
    parse_html,
    private_chat,
    text_message,
    user,
)

ANN, ANN_CHAT = user(111, "Ann"), private_chat(111)
BOB, BOB_CHAT = user(222, "Bob"), private_chat(222)
ADMIN, ADMIN_CHAT = user(999, "Olga"), private_chat(999)
GROUP = group_chat(-100500)
PACKS = "1:60,5:250,20:900"
PACK_BUTTONS = ["buy:1:60", "buy:5:250", "buy:20:900"]
#: What "well within" Telegram's 10 s for a checkout's answer means here.
PROMPTLY = 2.0


@pytest.fixture
def clock() -> TestClock:
    """Noon UTC today: no test crosses midnight by accident."""
    now = time.time()
    return TestClock(offset=day_start(now) + 12 * 3600 - now)


@pytest.fixture(autouse=True)
def ready_at_first_status_call(aiml: AimlApiEmulator) -> None:
    aiml.queued_polls = 0
    aiml.generating_polls = 0


def selling(
    tmp_path: Path, telegram: TelegramEmulator, aiml: AimlApiEmulator, **overrides: Any
) -> Settings:
    """The settings of a bot that sells PACKS, with one admin (999), and per-user limits high
    enough that only credits refuse a request."""
    values: dict[str, Any] = {
        "star_packs": PACKS,
        "admin_user_ids": "999",
        "max_active_jobs_per_user": 5,
        "daily_jobs_per_user": 50,
    }
    values.update(overrides)
    return make_settings(tmp_path, telegram, aiml, **values)


@pytest.fixture
async def shop(
    tmp_path: Path, telegram: TelegramEmulator, aiml: AimlApiEmulator, clock: TestClock
) -> AsyncIterator[BotApp]:
    """A bot selling PACKS; each new user has the default one free video."""
    async with running_bot(selling(tmp_path, telegram, aiml), clock) as app:
        yield app


# --------------------------------------------------------------------------- conversation


def said(message: dict[str, Any]) -> str:
    """A message's text as the user reads it."""
    return str(message.get("text") or message.get("caption") or "")


def read(html: str) -> str:
    """A text of the catalogs as the user reads it (its HTML rendered)."""
    return parse_html(html)[0]


async def reply_message(
    telegram: TelegramEmulator, chat_id: int, message_id: int
) -> dict[str, Any]:
    """The bot's first message in the chat that replies to `message_id`, as it is now (a copy,
    buttons included)."""

    def found() -> list[int]:
        return [
            posted.message_id
            for posted in telegram.posted
            if posted.chat_id == chat_id and posted.reply_to == message_id
        ]

    await eventually(lambda: bool(found()), what=f"a reply to message {message_id}")
    return copy.deepcopy(telegram.messages[(chat_id, found()[0])])


async def ask(
    telegram: TelegramEmulator,
    text: str,
    *,
    sender: dict[str, Any] = ANN,
    chat: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Send a command (in the sender's private chat unless `chat`); the bot's reply."""
    where = chat if chat is not None else private_chat(int(sender["id"]))
    message = text_message(chat=where, sender=sender, text=text)
    telegram.push_update(message_update(message))
    return await reply_message(telegram, int(where["id"]), int(message["message_id"]))


async def says(telegram: TelegramEmulator, text: str, sender: dict[str, Any] = ANN) -> str:
    """The text of the bot's reply to a command in the sender's private chat."""
    return said(await ask(telegram, text, sender=sender))


def buy_data(message: dict[str, Any], videos: int) -> str:
    """The callback data of the pack of `videos` among a message's buttons."""
    [data] = [data for _, data in buttons(message) if data.startswith(f"buy:{videos}:")]
    return data


async def invoice_after_tap(
    telegram: TelegramEmulator, message: dict[str, Any], data: str, sender: dict[str, Any] = ANN
) -> SentInvoice:
    """Tap a pack's button under the bot's message; the invoice that comes of it."""
    chat_id = int(sender["id"])
    before = len(telegram.invoices_in(chat_id))
    await tap(telegram, sender=sender, message=message, data=data)
    await eventually(lambda: len(telegram.invoices_in(chat_id)) > before, what="the invoice")
    return telegram.invoices_in(chat_id)[-1]


async def invoice_for(
    telegram: TelegramEmulator, videos: int, sender: dict[str, Any] = ANN
) -> SentInvoice:
    """/buy, then a tap on the pack of `videos`: its invoice."""
    offer = await ask(telegram, "/buy", sender=sender)
    return await invoice_after_tap(telegram, offer, buy_data(offer, videos), sender)


async def pay(
    telegram: TelegramEmulator, invoice: SentInvoice, payer: dict[str, Any] = ANN
) -> tuple[Payment, str]:
    """Pay an invoice as `payer`, which the bot must let through; the payment, and the bot's
    thanks (its reply to the successful_payment)."""
    payment = await telegram.pay(invoice, user=payer)
    assert payment.charge is not None, payment.pre_checkout.error_message
    thanks = await reply_message(
        telegram, payment.charge.user_id, int(payment.charge.message["message_id"])
    )
    return payment, said(thanks)


async def bought(telegram: TelegramEmulator, videos: int, payer: dict[str, Any] = ANN) -> str:
    """Buy the pack of `videos`, from /buy to the thanks; its charge id."""
    payment, _ = await pay(telegram, await invoice_for(telegram, videos, payer), payer)
    assert payment.charge is not None
    return payment.charge.charge_id


async def settled(app: BotApp, user_id: int) -> None:
    """Wait until none of the user's jobs is on its way any more (their credits are final)."""
    store = services(app).store

    async def none_on_the_way() -> bool:
        return not any(job.state.in_progress for job in await store.jobs_for_user(user_id))

    await until(none_on_the_way, what=f"user {user_id}'s jobs to end")


async def purchases(app: BotApp, user_id: int = 111) -> list[Purchase]:
    return await LedgerStore.of(services(app).store).purchases(user_id)


async def ledger_rows(app: BotApp, user_id: int | None = None) -> int:
    """How many rows the ledger holds (of one user's, with `user_id`)."""
    statement = sa.select(sa.func.count()).select_from(ledger)
    if user_id is not None:
        statement = statement.where(ledger.c.user_id == user_id)
    async with services(app).store.database.reads.connect() as connection:
        return int(await connection.scalar(statement) or 0)


def posted_saying(telegram: TelegramEmulator, chat_id: int, words: str) -> list[str]:
    """The texts of the bot's messages in a chat that contain `words`, oldest first."""
    return [
        str(posted.text)
        for posted in telegram.posted
        if posted.chat_id == chat_id and words in str(posted.text)
    ]


def thanks_in(telegram: TelegramEmulator, chat_id: int) -> list[str]:
    """Every thanks for a payment the bot sent in a chat."""
    thanks = read(ENGLISH.payment_received(1, 1)).split("!")[0]  # "🎉 Thank you"
    return posted_saying(telegram, chat_id, thanks)


async def told(telegram: TelegramEmulator, chat_id: int, words: str) -> str:
    """Wait for the bot's first message in the chat with `words` in it; its text."""
    await eventually(
        lambda: bool(posted_saying(telegram, chat_id, words)), what=f"{words!r} in {chat_id}"
    )
    return posted_saying(telegram, chat_id, words)[0]


def left(balance: int, held: int = 0) -> str:
    """The line of /balance and /status that says what a user has left."""
    return read(ENGLISH.balance_line(balance, held))


def no_credit(settings: Settings) -> str:
    return read(ENGLISH.no_credit_left(settings.packs))


# --------------------------------------------------------------------------- payments off


async def test_without_star_packs_nothing_is_sold_and_photos_work_as_before(
    bot: BotApp, telegram: TelegramEmulator, aiml: AimlApiEmulator
) -> None:
    buy = await ask(telegram, "/buy")
    balance = await says(telegram, "/balance")
    sent = photo(telegram, chat=ANN_CHAT, sender=ANN, prompt="the cat waves")
    await video_for(telegram, sent)
    await settled(bot, 111)
    status = await says(telegram, "/status")
    [job] = await services(bot).store.jobs_for_user(111)

    assert said(buy) == balance == read(ENGLISH.PAYMENTS_OFF)
    assert not buttons(buy)
    assert left(0) not in status and left(1) not in status
    assert telegram.calls_to("sendInvoice") == []
    assert [str(create.body["prompt"]) for create in aiml.creates] == ["the cat waves"]
    assert job.state is JobState.DELIVERED and job.credit_used is None
    assert await ledger_rows(bot) == 0


# --------------------------------------------------------------------------- buying


async def test_buy_shows_the_packs_and_a_tap_sends_one_invoice_in_stars(
    shop: BotApp, telegram: TelegramEmulator
) -> None:
    offer = await ask(telegram, "/buy")
    invoice = await invoice_after_tap(telegram, offer, "buy:5:250")
    [call] = telegram.calls_to("sendInvoice")

    assert said(offer) == read(ENGLISH.buy_prompt(1))  # the new user's free video
    assert buttons(offer) == [
        (ENGLISH.pack_button(pack), data)
        for pack, data in zip(parse_packs(PACKS), PACK_BUTTONS, strict=True)
    ]
    assert (invoice.chat_id, invoice.currency, invoice.total_amount) == (111, "XTR", 250)
    assert invoice.prices == ((ENGLISH.videos(5), 250),)  # one price
    assert invoice.payload == "pack:5:250:user:111"
    assert not call.params.get("provider_token")  # Stars: none, or empty


async def test_paying_an_invoice_credits_its_pack_and_thanks_with_the_new_balance(
    shop: BotApp, telegram: TelegramEmulator, clock: TestClock
) -> None:
    invoice = await invoice_for(telegram, 5)
    payment, thanks = await pay(telegram, invoice)
    balance = await says(telegram, "/balance")
    status = await says(telegram, "/status")
    [purchase] = await purchases(shop)

    answered = payment.pre_checkout.answer_seconds
    assert payment.pre_checkout.ok is True
    assert answered is not None and answered < PROMPTLY  # Telegram waits 10 s at most
    assert payment.charge is not None
    assert thanks == read(ENGLISH.payment_received(5, 6))  # 5 bought, and the free one
    assert (purchase.charge_id, purchase.videos, purchase.stars, purchase.refunded) == (
        payment.charge.charge_id,
        5,
        250,
        False,
    )
    assert balance == read(ENGLISH.balance_report(6, 0, [purchase], now=clock()))
    assert payment.charge.charge_id in balance  # what /paysupport asks the buyer for
    assert left(6) in status


async def test_buy_in_a_group_sends_the_buyer_to_the_private_chat(
    shop: BotApp, telegram: TelegramEmulator
) -> None:
    reply = await ask(telegram, "/buy", chat=GROUP)

    assert said(reply) == read(ENGLISH.BUY_IN_PRIVATE)
    assert not buttons(reply)
    assert telegram.invoices == []


async def test_a_checkout_for_a_pack_no_longer_on_sale_is_refused_and_nothing_is_charged(
    tmp_path: Path, telegram: TelegramEmulator, aiml: AimlApiEmulator, clock: TestClock
) -> None:
    async with running_bot(selling(tmp_path, telegram, aiml), clock):
        offer = await ask(telegram, "/buy")
        invoice = await invoice_after_tap(telegram, offer, "buy:5:250")
    # The operator changes the price of five videos, and restarts the bot.
    repriced = selling(tmp_path, telegram, aiml, star_packs="1:60,5:300")
    async with running_bot(repriced, clock) as app:
        payment = await telegram.pay(invoice, user=ANN)
        old_button = await tap(telegram, sender=ANN, message=offer, data="buy:5:250")
        balance = await says(telegram, "/balance")
        bought_since = await purchases(app)

    answered = payment.pre_checkout.answer_seconds
    assert payment.pre_checkout.ok is False and not payment.paid
    assert answered is not None and answered < PROMPTLY
    assert payment.pre_checkout.error_message == ENGLISH.PACK_GONE
    assert telegram.charges == [] and thanks_in(telegram, 111) == []
    # The old /buy's button says so too, and brings no invoice.
    assert old_button.params.get("text") == ENGLISH.PACK_GONE
    assert len(telegram.invoices) == 1
    assert balance.startswith(left(1)) and bought_since == []


async def test_a_checkout_by_someone_other_than_the_invoices_user_is_refused(
    shop: BotApp, telegram: TelegramEmulator
) -> None:
    anns = await invoice_for(telegram, 1)  # forwarded to Bob, say
    payment = await telegram.pay(anns, user=BOB)
    bobs_balance = await says(telegram, "/balance", BOB)
    anns_balance = await says(telegram, "/balance", ANN)

    assert payment.pre_checkout.ok is False and not payment.paid
    assert payment.pre_checkout.error_message == ENGLISH.checkout_refused(
        CheckoutRefusal.OTHER_USER
    )
    assert telegram.charges == []
    assert bobs_balance.startswith(left(1)) and anns_balance.startswith(left(1))
    assert thanks_in(telegram, 111) == thanks_in(telegram, 222) == []


async def test_a_checkout_by_a_user_denied_since_the_invoice_is_refused(
    shop: BotApp, telegram: TelegramEmulator
) -> None:
    invoice = await invoice_for(telegram, 5)
    await ask(telegram, "/deny 111", sender=ADMIN)
    payment = await telegram.pay(invoice, user=ANN)

    answered = payment.pre_checkout.answer_seconds
    assert payment.pre_checkout.ok is False and not payment.paid
    assert answered is not None and answered < PROMPTLY
    assert payment.pre_checkout.error_message
    assert telegram.charges == [] and await purchases(shop) == []


async def test_a_payment_that_comes_again_as_another_update_credits_nothing_more(
    shop: BotApp, telegram: TelegramEmulator
) -> None:
    payment, _ = await pay(telegram, await invoice_for(telegram, 5))
    assert payment.charge is not None
    # The same successful_payment in an update of its own: the bot must not count on update
    # ids to tell payments apart.
    mark = telegram.mark()
    telegram.push_update(message_update(copy.deepcopy(payment.charge.message)))
    await two_quiet_polls(telegram, since=mark)
    balance = await says(telegram, "/balance")

    assert balance.startswith(left(6))
    assert len(thanks_in(telegram, 111)) == 1
    assert [p.charge_id for p in await purchases(shop)] == [payment.charge.charge_id]


# --------------------------------------------------------------------------- webhook


@pytest.fixture
async def local_telegram() -> AsyncIterator[TelegramEmulator]:
    """Telegram as a local Bot API server: it posts to a plain-http webhook on any port."""
    async with TelegramEmulator(TOKEN, local_server=True, webhook_retry_seconds=0.05) as emulator:
        yield emulator


async def test_a_successful_payment_posted_twice_to_the_webhook_credits_once(
    tmp_path: Path, local_telegram: TelegramEmulator, aiml: AimlApiEmulator, clock: TestClock
) -> None:
    port = free_port()
    settings = selling(
        tmp_path,
        local_telegram,
        aiml,
        telegram_webhook_url=f"http://127.0.0.1:{port}/telegram/updates",
        telegram_webhook_secret="webhook-secret_42",
        http_host="127.0.0.1",
        http_port=port,
    )
    telegram = local_telegram
    async with running_bot(settings, clock) as app:
        payment, thanks = await pay(telegram, await invoice_for(telegram, 5))
        assert payment.charge is not None
        update_id = payment.charge.update_id
        telegram.deliver_again(update_id)  # its 200 lost on the way, say

        def answered_twice() -> bool:
            posts = [post for post in telegram.webhook_posts if post.update_id == update_id]
            return len(posts) == 2 and all(post.status == 200 for post in posts)

        await eventually(answered_twice, what="the payment's second post to be answered")
        balance = await says(telegram, "/balance")
        bought_once = await purchases(app)

    [hook] = telegram.calls_to("setWebhook")
    assert "pre_checkout_query" in hook.params["allowed_updates"]
    assert payment.pre_checkout.ok is True
    assert thanks == read(ENGLISH.payment_received(5, 6))
    assert balance.startswith(left(6))
    assert len(thanks_in(telegram, 111)) == 1
    assert [p.charge_id for p in bought_once] == [payment.charge.charge_id]


# --------------------------------------------------------------------------- credits


@pytest.mark.parametrize("free", [0, 2])
async def test_with_no_credit_left_a_photo_never_reaches_the_api_until_a_pack_is_bought(
    tmp_path: Path,
    telegram: TelegramEmulator,
    aiml: AimlApiEmulator,
    clock: TestClock,
    free: int,
) -> None:
    settings = selling(tmp_path, telegram, aiml, free_videos_per_user=free)
    async with running_bot(settings, clock) as app:
        for number in range(free):
            sent = photo(telegram, chat=ANN_CHAT, sender=ANN, prompt=f"free {number}")
            await video_for(telegram, sent)
        await settled(app, 111)
        over = photo(telegram, chat=ANN_CHAT, sender=ANN, prompt="one too many")
        refusal = await reply_message(telegram, 111, over.message_id)
        creates_before, downloads_before = len(aiml.creates), len(telegram.calls_to("getFile"))
        _, thanks = await pay(telegram, await invoice_after_tap(telegram, refusal, "buy:1:60"))
        again = photo(telegram, chat=ANN_CHAT, sender=ANN, prompt="one too many")
        await video_for(telegram, again)
        await settled(app, 111)
        balance = await says(telegram, "/balance")

    assert said(refusal) == no_credit(settings)
    assert [data for _, data in buttons(refusal)] == PACK_BUTTONS
    # The refused photo cost nothing: never downloaded, never sent to the paid API.
    assert creates_before == downloads_before == free
    assert thanks == read(ENGLISH.payment_received(1, 1))
    prompts = [str(create.body["prompt"]) for create in aiml.creates]
    assert prompts == [f"free {number}" for number in range(free)] + ["one too many"]
    assert balance.startswith(left(0))


async def test_two_photos_at_once_with_one_credit_left_make_one_video(
    tmp_path: Path, telegram: TelegramEmulator, aiml: AimlApiEmulator, clock: TestClock
) -> None:
    settings = selling(tmp_path, telegram, aiml)
    async with running_bot(settings, clock) as app:
        sent = [photo(telegram, chat=ANN_CHAT, sender=ANN, prompt=p) for p in ("one", "two")]
        replies = [await reply_message(telegram, 111, s.message_id) for s in sent]
        await telegram.wait_for("sendVideo", timeout=15)
        await settled(app, 111)
        balance = await says(telegram, "/balance")

    [refused] = [reply for reply in replies if said(reply) == no_credit(settings)]
    assert [data for _, data in buttons(refused)] == PACK_BUTTONS
    assert len(aiml.creates) == aiml.charged == 1
    assert len(telegram.calls_to("sendVideo")) == 1
    assert balance.startswith(left(0))


async def test_a_video_being_made_holds_its_credit_and_a_failed_one_gives_it_back(
    shop: BotApp, telegram: TelegramEmulator, aiml: AimlApiEmulator
) -> None:
    aiml.queued_polls = FOREVER
    aiml.fail_next_job()
    photo(telegram, chat=ANN_CHAT, sender=ANN, prompt="flagged")
    await created(aiml, "flagged")
    while_made = await says(telegram, "/balance")
    aiml.queued_polls = 0  # its next status call answers: failed, as planned
    await status_says(telegram, 111, "could not make this video")
    await settled(shop, 111)
    after_failure = await says(telegram, "/balance")
    await video_for(telegram, photo(telegram, chat=ANN_CHAT, sender=ANN, prompt="fine"))
    await settled(shop, 111)
    after_video = await says(telegram, "/balance")

    assert while_made.startswith(left(0, held=1))
    assert after_failure.startswith(left(1)) and not after_failure.startswith(left(1, held=1))
    assert [str(create.body["prompt"]) for create in aiml.creates] == ["flagged", "fine"]
    assert after_video.startswith(left(0))


async def test_a_request_cancelled_while_waiting_in_line_gives_its_credit_back(
    tmp_path: Path, telegram: TelegramEmulator, aiml: AimlApiEmulator, clock: TestClock
) -> None:
    aiml.queued_polls = FOREVER
    settings = selling(tmp_path, telegram, aiml, max_active_jobs=1)
    async with running_bot(settings, clock) as app:
        photo(telegram, chat=BOB_CHAT, sender=BOB, prompt="bob's")
        await created(aiml, "bob's")
        photo(telegram, chat=ANN_CHAT, sender=ANN, prompt="ann's")
        await status_says(telegram, 111, "it is number 1")
        waiting = await says(telegram, "/balance")
        await ask(telegram, "/cancel")
        await settled(app, 111)
        after_cancel = await says(telegram, "/balance")

    assert waiting.startswith(left(0, held=1))
    assert after_cancel.startswith(left(1)) and not after_cancel.startswith(left(1, held=1))
    assert [str(create.body["prompt"]) for create in aiml.creates] == ["bob's"]


async def test_a_refused_image_gives_its_credit_back_before_the_api_sees_it(
    shop: BotApp, telegram: TelegramEmulator, aiml: AimlApiEmulator
) -> None:
    send_photo(telegram, chat=ANN_CHAT, sender=ANN, caption="tiny", size=(200, 200))
    await status_says(telegram, 111, "This image is too small")
    await settled(shop, 111)
    after_refusal = await says(telegram, "/balance")
    await video_for(telegram, photo(telegram, chat=ANN_CHAT, sender=ANN, prompt="big enough"))

    assert after_refusal.startswith(left(1))
    assert [str(create.body["prompt"]) for create in aiml.creates] == ["big enough"]


async def test_a_fix_tapped_with_no_credit_left_is_told_to_buy_and_goes_on_once_bought(
    tmp_path: Path, telegram: TelegramEmulator, aiml: AimlApiEmulator, clock: TestClock
) -> None:
    settings = selling(tmp_path, telegram, aiml)
    async with running_bot(settings, clock) as app:
        send_photo(telegram, chat=ANN_CHAT, sender=ANN, caption="it sways", size=(1000, 390))
        status = await bot_message(telegram, 111, saying("fix the photo"), "the refusal")
        [wide] = await services(app).store.jobs_for_user(111)
        await video_for(telegram, photo(telegram, chat=ANN_CHAT, sender=ANN, prompt="free"))
        await tap(telegram, sender=ANN, message=status, data=f"fix:{wide.id}:crop")
        answer = await reply_message(telegram, 111, int(status["message_id"]))
        creates_before = len(aiml.creates)
        await pay(telegram, await invoice_after_tap(telegram, answer, "buy:1:60"))
        await tap(telegram, sender=ANN, message=status, data=f"fix:{wide.id}:crop")
        await eventually(
            lambda: len(telegram.calls_to("sendVideo")) == 2, timeout=15, what="the fixed video"
        )

    assert said(answer) == no_credit(settings)
    assert creates_before == 1
    assert [str(create.body["prompt"]) for create in aiml.creates] == ["free", "it sways"]


async def test_in_a_group_a_pack_button_sends_the_invoice_to_the_tappers_private_chat(
    tmp_path: Path, telegram: TelegramEmulator, aiml: AimlApiEmulator, clock: TestClock
) -> None:
    settings = selling(tmp_path, telegram, aiml)
    async with running_bot(settings, clock):
        await video_for(telegram, photo(telegram, chat=GROUP, sender=ANN, prompt="free"))
        over = photo(telegram, chat=GROUP, sender=ANN, prompt="one more")
        refusal = await reply_message(telegram, int(GROUP["id"]), over.message_id)
        invoice = await invoice_after_tap(telegram, refusal, "buy:5:250")
        _, thanks = await pay(telegram, invoice)

    assert said(refusal) == no_credit(settings)
    assert invoice.chat_id == 111 and telegram.invoices_in(int(GROUP["id"])) == []
    assert thanks == read(ENGLISH.payment_received(5, 5))
    assert [str(create.body["prompt"]) for create in aiml.creates] == ["free"]


async def test_admins_never_pay_and_their_videos_touch_no_ledger(
    tmp_path: Path, telegram: TelegramEmulator, aiml: AimlApiEmulator, clock: TestClock
) -> None:
    settings = selling(tmp_path, telegram, aiml, free_videos_per_user=0)
    async with running_bot(settings, clock) as app:
        for prompt in ("one", "two"):
            sent = photo(telegram, chat=ADMIN_CHAT, sender=ADMIN, prompt=prompt)
            await video_for(telegram, sent)
        await settled(app, 999)
        balance = await says(telegram, "/balance", ADMIN)
        buy = await says(telegram, "/buy", ADMIN)
        status = await says(telegram, "/status", ADMIN)
        jobs = await services(app).store.jobs_for_user(999)
        rows = await ledger_rows(app, 999)
        anns = photo(telegram, chat=ANN_CHAT, sender=ANN, prompt="ann pays")
        ann_told = said(await reply_message(telegram, 111, anns.message_id))

    assert [str(create.body["prompt"]) for create in aiml.creates] == ["one", "two"]
    assert [job.state for job in jobs] == [JobState.DELIVERED, JobState.DELIVERED]
    assert all(job.credit_used is None for job in jobs)
    assert rows == 0
    assert balance == buy == read(ENGLISH.ADMINS_NEVER_PAY)
    assert left(0) not in status
    assert ann_told == no_credit(settings)  # no free video here: Ann pays from the first


# --------------------------------------------------------------------------- support, terms


async def test_paysupport_and_terms_answer_with_the_catalogs_words(
    shop: BotApp, telegram: TelegramEmulator
) -> None:
    support = await says(telegram, "/paysupport")
    terms = await says(telegram, "/terms")

    assert support == read(ENGLISH.PAYSUPPORT)
    assert terms == read(ENGLISH.TERMS)


async def test_paysupport_and_terms_answer_with_the_operators_texts_when_set(
    tmp_path: Path, telegram: TelegramEmulator, aiml: AimlApiEmulator, clock: TestClock
) -> None:
    settings = selling(
        tmp_path,
        telegram,
        aiml,
        paysupport_text="Write to <b>@shop_help</b> with your payment's id.",
        terms_text="Credits never expire. Unused ones are refunded within 30 days.",
    )
    async with running_bot(settings, clock):
        support = await says(telegram, "/paysupport")
        terms = await says(telegram, "/terms")

    assert support == "Write to @shop_help with your payment's id."
    assert terms == "Credits never expire. Unused ones are refunded within 30 days."


# --------------------------------------------------------------------------- refunds


async def test_refund_is_for_admins_only(shop: BotApp, telegram: TelegramEmulator) -> None:
    charge_id = await bought(telegram, 5)
    refused = await says(telegram, f"/refund {charge_id}")
    balance = await says(telegram, "/balance")

    assert refused == read(ENGLISH.ADMINS_ONLY)
    assert telegram.calls_to("refundStarPayment") == [] and telegram.refunds == []
    assert balance.startswith(left(6))


async def test_refund_of_an_unknown_charge_or_without_one_says_so(
    shop: BotApp, telegram: TelegramEmulator
) -> None:
    unknown = await says(telegram, "/refund stx-no-such-charge", ADMIN)
    bare = await says(telegram, "/refund", ADMIN)
    junk = await says(telegram, "/refund stx1 please", ADMIN)

    assert unknown == read(ENGLISH.refund_unknown("stx-no-such-charge"))
    assert bare == junk == read(ENGLISH.REFUND_USAGE)
    assert telegram.calls_to("refundStarPayment") == []


async def test_refund_of_an_unused_pack_pays_the_stars_back_and_takes_its_videos(
    shop: BotApp, telegram: TelegramEmulator, clock: TestClock
) -> None:
    charge_id = await bought(telegram, 5)
    [purchase] = await purchases(shop)
    done = await says(telegram, f"/refund {charge_id}", ADMIN)
    buyer_told = await told(telegram, 111, read(ENGLISH.refunded_to_buyer(purchase)))
    balance = await says(telegram, "/balance")
    stats = await says(telegram, "/stats", ADMIN)
    again = await says(telegram, f"/refund {charge_id}", ADMIN)
    [refunded] = await purchases(shop)

    [refund] = telegram.refunds
    assert (refund.charge_id, refund.user_id, refund.amount) == (charge_id, 111, 250)
    assert done == read(ENGLISH.refund_done(purchase, 5))
    assert buyer_told == read(ENGLISH.refunded_to_buyer(purchase))
    assert refunded.refunded
    assert balance == read(ENGLISH.balance_report(1, 0, [refunded], now=clock()))  # free one
    assert read(ENGLISH.stars_line(StarTotals(earned=250, refunded=250, outstanding=1))) in stats
    # A second /refund of the same charge is refused, and Telegram is not asked again.
    assert again == read(ENGLISH.refund_already(charge_id))
    assert len(telegram.calls_to("refundStarPayment")) == 1


async def test_refund_of_a_pack_partly_spent_is_refused_unless_forced(
    tmp_path: Path, telegram: TelegramEmulator, aiml: AimlApiEmulator, clock: TestClock
) -> None:
    settings = selling(tmp_path, telegram, aiml, free_videos_per_user=0)
    async with running_bot(settings, clock) as app:
        charge_id = await bought(telegram, 5)
        await video_for(telegram, photo(telegram, chat=ANN_CHAT, sender=ANN, prompt="made"))
        await settled(app, 111)
        refused = await says(telegram, f"/refund {charge_id}", ADMIN)
        asked_when_refused = len(telegram.calls_to("refundStarPayment"))
        forced = await says(telegram, f"/refund {charge_id} force", ADMIN)
        balance = await says(telegram, "/balance")
        stats = await says(telegram, "/stats", ADMIN)
        [purchase] = await purchases(app)

    assert refused == read(ENGLISH.refund_spent(charge_id, 4, 5))
    assert asked_when_refused == 0
    assert forced == read(ENGLISH.refund_done(purchase, 4))
    [refund] = telegram.refunds
    assert (refund.charge_id, refund.amount) == (charge_id, 250)
    assert balance.startswith(left(0))  # the video made stays made: no debt, no credit
    assert read(ENGLISH.stars_line(StarTotals(earned=250, refunded=250, outstanding=0))) in stats


async def test_a_charge_telegram_refunded_already_is_recorded_as_refunded(
    shop: BotApp, telegram: TelegramEmulator
) -> None:
    charge_id = await bought(telegram, 5)
    telegram.fail("refundStarPayment", 400, "Bad Request: CHARGE_ALREADY_REFUNDED")
    answer = await says(telegram, f"/refund {charge_id}", ADMIN)
    balance = await says(telegram, "/balance")
    [purchase] = await purchases(shop)

    assert answer == read(ENGLISH.refund_already(charge_id))
    assert purchase.refunded
    assert balance.startswith(left(1))


async def test_a_refund_telegram_fails_records_nothing_and_can_be_tried_again(
    shop: BotApp, telegram: TelegramEmulator
) -> None:
    charge_id = await bought(telegram, 5)
    telegram.fail("refundStarPayment", 400, "Bad Request: BALANCE_TOO_LOW")
    failed = await says(telegram, f"/refund {charge_id}", ADMIN)
    kept = await says(telegram, "/balance")
    [unrefunded] = await purchases(shop)
    done = await says(telegram, f"/refund {charge_id}", ADMIN)

    assert failed.startswith(read(ENGLISH.refund_failed("")))
    assert "balance_too_low" in failed.lower()
    assert kept.startswith(left(6)) and not unrefunded.refunded
    assert done == read(ENGLISH.refund_done(unrefunded, 5))
    assert len(telegram.refunds) == 1


# --------------------------------------------------------------------------- /stats, /status


async def test_stats_shows_the_stars_earned_refunded_and_credits_held(
    shop: BotApp, telegram: TelegramEmulator, aiml: AimlApiEmulator
) -> None:
    await bought(telegram, 5, ANN)
    bobs = await bought(telegram, 1, BOB)
    await video_for(telegram, photo(telegram, chat=BOB_CHAT, sender=BOB, prompt="bob's"))
    await settled(shop, 222)
    await ask(telegram, f"/refund {bobs} force", sender=ADMIN)
    stats = await says(telegram, "/stats", ADMIN)

    # Ann: 1 free and 5 bought; Bob: 1 free and 1 bought, 1 made, 1 taken back by the refund.
    assert read(ENGLISH.stars_line(StarTotals(earned=310, refunded=60, outstanding=6))) in stats


async def test_status_shows_the_callers_videos_left(
    shop: BotApp, telegram: TelegramEmulator
) -> None:
    first = await says(telegram, "/status")
    await bought(telegram, 20)
    after = await says(telegram, "/status")

    assert left(1) in first
    assert left(21) in after


async def test_several_payments_at_once_are_each_answered_in_time_and_credited(
    shop: BotApp, telegram: TelegramEmulator
) -> None:
    invoices = [await invoice_for(telegram, 1) for _ in range(5)]
    payments = await asyncio.gather(*(telegram.pay(invoice, user=ANN) for invoice in invoices))
    await eventually(lambda: len(thanks_in(telegram, 111)) == 5, what="five thanks")
    balance = await says(telegram, "/balance")

    assert all(payment.paid for payment in payments)
    answers = [payment.pre_checkout.answer_seconds for payment in payments]
    assert all(seconds is not None and seconds < PROMPTLY for seconds in answers)
    assert balance.startswith(left(6))
    assert len(await purchases(shop)) == 5


async def test_a_stranger_refused_at_the_door_is_given_no_free_videos(
    tmp_path: Path, telegram: TelegramEmulator, aiml: AimlApiEmulator, clock: TestClock
) -> None:
    bob = user(222, "Bob")
    settings = selling(tmp_path, telegram, aiml, allowed_user_ids="111")
    async with running_bot(settings, clock) as app:
        sent = send_photo(telegram, chat=private_chat(222), sender=bob, caption="waves")
        refusal = await reply_message(telegram, 222, sent.message_id)
        balance = await says(telegram, "/balance", sender=bob)
        rows = await ledger_rows(app, 222)

    assert said(refusal) == read(ENGLISH.not_allowed(222))
    assert balance == read(ENGLISH.not_allowed(222))
    assert rows == 0 and aiml.charged == 0  # nothing granted, nothing held in /stats


async def test_a_member_of_an_allowed_group_may_buy_in_private(
    tmp_path: Path, telegram: TelegramEmulator, aiml: AimlApiEmulator, clock: TestClock
) -> None:
    bob = user(222, "Bob")
    settings = selling(tmp_path, telegram, aiml, allowed_chat_ids=str(GROUP["id"]))
    async with running_bot(settings, clock):
        offer = await ask(telegram, "/buy", sender=bob)
        invoice = await invoice_after_tap(telegram, offer, "buy:1:60", sender=bob)
        payment, thanks = await pay(telegram, invoice, payer=bob)

    assert [data for _, data in buttons(offer)] == PACK_BUTTONS
    assert payment.pre_checkout.ok is True
    assert thanks == read(ENGLISH.payment_received(1, 2))  # and the free one, for the group
