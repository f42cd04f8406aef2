"""In-process emulator of the Telegram Bot API for end-to-end tests.

Runs an aiohttp server on 127.0.0.1 that speaks the Bot API wire format well
enough for an unmodified python-telegram-bot ``Application`` / ``Bot``.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import hashlib
import itertools
import json
import logging
import re
import secrets
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web
from yarl import URL

from bot.sandbox.serving import LoopbackServer

__all__ = [
    "BUTTON_DATA_INVALID",
    "CALLBACK_ANSWER_WINDOW",
    "CHARGE_ALREADY_REFUNDED",
    "CHARGE_ID_INVALID",
    "INVOICE_DESCRIPTION_INVALID",
    "INVOICE_PAYLOAD_INVALID",
    "INVOICE_TITLE_INVALID",
    "MAX_DOWNLOAD_SIZE",
    "MAX_UPLOAD_SIZE",
    "NOT_MODIFIED",
    "PAYMENT_PROVIDER_INVALID",
    "PAY_BUTTON_NOT_FIRST",
    "PRE_CHECKOUT_WINDOW",
    "QUERY_TOO_OLD",
    "REPLY_NOT_FOUND",
    "STARS",
    "STARS_INVOICE_INVALID",
    "THREAD_NOT_FOUND",
    "TOO_LARGE",
    "TOTAL_NOT_POSITIVE",
    "BotMessage",
    "Payment",
    "PreCheckout",
    "RecordedCall",
    "SentInvoice",
    "StarCharge",
    "StarRefund",
    "TelegramEmulator",
    "callback_update",
    "document_message",
    "group_chat",
    "message_update",
    "parse_html",
    "photo_message",
    "photo_sizes",
    "private_chat",
    "text_message",
    "user",
]

JSONDict = dict[str, Any]

_LOG = logging.getLogger(__name__)

#: Form fields that are never JSON-decoded.
_RAW_FIELDS = frozenset({"text", "caption", "query"})

#: getFile refuses files whose declared size exceeds this (as Telegram does).
MAX_DOWNLOAD_SIZE = 20 * 1024 * 1024
#: A file uploaded with a request may be this large; a larger one is refused with a 413.
MAX_UPLOAD_SIZE = 50 * 1024 * 1024
#: How long after a callback query was sent it may still be answered.
CALLBACK_ANSWER_WINDOW = 15 * 60.0
_MAX_URL_FETCH = 20 * 1024 * 1024
_MAX_TEXT = 4096
_MAX_CAPTION = 1024
_MAX_CALLBACK_DATA = 64  # bytes
_MAX_CALLBACK_ANSWER = 200  # characters

NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup"
    " are exactly the same as a current content and reply markup of the message"
)
_URL_FAILED = "Bad Request: failed to get HTTP URL content"
REPLY_NOT_FOUND = "Bad Request: message to be replied not found"
THREAD_NOT_FOUND = "Bad Request: message thread not found"
UPGRADED = "Bad Request: group chat was upgraded to a supergroup chat"
BUTTON_DATA_INVALID = "Bad Request: BUTTON_DATA_INVALID"
QUERY_TOO_OLD = "Bad Request: query is too old and response timeout expired or query ID is invalid"
TOO_LARGE = "Request Entity Too Large"
WEBHOOK_ACTIVE = (
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first"
)
WEBHOOK_NEEDS_HTTPS = "Bad Request: bad webhook: An HTTPS URL must be provided for webhook"
WEBHOOK_BAD_PORT = (
    "Bad Request: bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443"
)
SECRET_TOKEN_INVALID = "Bad Request: secret token contains unallowed characters"
POLLED_ELSEWHERE = (
    "Conflict: terminated by other getUpdates request; make sure that only one bot instance "
    "is running"
)
#: The header a webhook post carries the secret in.
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
_SECRET_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{1,256}")
_WEBHOOK_PORTS = frozenset({80, 88, 443, 8443})

_user_message_ids = itertools.count(1000)
_callback_ids = itertools.count(1)
_file_ids = itertools.count(1)


# --------------------------------------------------------------------------- helpers


def _now() -> int:
    return int(time.time())


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _unique_id(file_id: str) -> str:
    return "AQAD" + hashlib.sha1(file_id.encode()).hexdigest()[:16]


def _maybe_json(value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        return value


def _command_entities(text: str | None) -> list[JSONDict]:
    if not text or not text.startswith("/"):
        return []
    word = text.split(maxsplit=1)[0]
    return [{"type": "bot_command", "offset": 0, "length": _utf16_len(word)}]


def _inline_markup(value: Any) -> JSONDict | None:
    """Return ``value`` if it is a non-empty inline keyboard, else None.

    Raises BUTTON_DATA_INVALID, as Telegram does, for a button whose callback data is not
    1-64 bytes long.
    """
    if not isinstance(value, dict):
        return None
    rows = value.get("inline_keyboard")
    if not isinstance(rows, list) or not any(rows):
        return None
    for row in rows:
        for button in row if isinstance(row, list) else []:
            data = button.get("callback_data") if isinstance(button, dict) else None
            if data is not None and not 1 <= len(str(data).encode()) <= _MAX_CALLBACK_DATA:
                raise _ApiError(400, BUTTON_DATA_INVALID)
    return value


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return int(value)
    return None


class _ApiError(Exception):
    """An error answer of the Bot API."""

    def __init__(self, status: int, description: str, parameters: JSONDict | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters


# --------------------------------------------------------------------------- HTML parse mode

_HTML_TAGS: dict[str, str] = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_TAG_NAME_RE = re.compile(r"[a-zA-Z][\w-]*")
_ATTR_RE = re.compile(r"""([a-zA-Z][\w-]*)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?""")
_CHARREF_RE = re.compile(r"&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[a-zA-Z]+);")
_NAMED_REFS = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


def parse_html(text: str) -> tuple[str, list[JSONDict]]:
    """Parse Telegram-flavoured HTML into (plain text, entities) like the Bot API.

    Raises the same "can't parse entities" 400 errors for unsupported or
    unbalanced tags.
    """

    def fail(message: str, at: int | None = None) -> _ApiError:
        where = "" if at is None else f" at byte offset {len(text[:at].encode())}"
        return _ApiError(400, f"Bad Request: can't parse entities: {message}{where}")

    out: list[str] = []
    pos = 0  # UTF-16 offset in the output
    stack: list[tuple[str, JSONDict | None]] = []
    entities: list[JSONDict] = []
    entity: JSONDict | None
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char == "<":
            end = text.find(">", i)
            if end < 0:
                raise fail("Unclosed start tag", i)
            inner = text[i + 1 : end]
            if inner.startswith("/"):
                name = inner[1:].strip().lower()
                if not stack:
                    raise fail(f'Unexpected end tag "</{name}>"', i)
                open_name, entity = stack.pop()
                if name and name != open_name:
                    raise fail(
                        f'Unmatched end tag, expected "</{open_name}>", found "</{name}>"', i
                    )
                if entity is not None:
                    entity["length"] = pos - entity["offset"]
            else:
                match = _TAG_NAME_RE.match(inner)
                name = match.group(0).lower() if match else ""
                if name not in _HTML_TAGS:
                    raise fail(f'Unsupported start tag "{name}"', i)
                attrs = {
                    key.lower(): v1 or v2 or v3
                    for key, v1, v2, v3 in _ATTR_RE.findall(inner[len(name) :])
                }
                entity = {"type": _HTML_TAGS[name], "offset": pos}
                if name == "span" and attrs.get("class") != "tg-spoiler":
                    raise fail('Tag "span" must have class "tg-spoiler"', i)
                if name == "a":
                    entity["url"] = attrs.get("href", "")
                elif name == "blockquote" and "expandable" in attrs:
                    entity["type"] = "expandable_blockquote"
                elif name == "tg-emoji":
                    entity["custom_emoji_id"] = attrs.get("emoji-id", "")
                elif name == "code" and stack and stack[-1][0] == "pre":
                    language = attrs.get("class", "")
                    pre_entity = stack[-1][1]
                    if language.startswith("language-") and pre_entity is not None:
                        pre_entity["language"] = language[len("language-") :]
                        entity = None
                if entity is not None:
                    entities.append(entity)
                stack.append((name, entity))
            i = end + 1
        elif char == "&":
            ref = _CHARREF_RE.match(text, i)
            decoded = "&"
            if ref is not None:
                body = ref.group(1)
                if body.startswith("#"):
                    digits = body[1:]
                    hexa = digits[:1] in ("x", "X")
                    code = int(digits[1:], 16) if hexa else int(digits)
                    with contextlib.suppress(ValueError, OverflowError):
                        decoded = chr(code)
                elif body in _NAMED_REFS:
                    decoded = _NAMED_REFS[body]
                else:
                    decoded = ref.group(0)
                i = ref.end()
            else:
                i += 1
            out.append(decoded)
            pos += _utf16_len(decoded)
        else:
            stops = [p for p in (text.find("<", i), text.find("&", i)) if p >= 0]
            j = min(stops) if stops else n
            chunk = text[i:j]
            out.append(chunk)
            pos += _utf16_len(chunk)
            i = j
    if stack:
        raise fail(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    return "".join(out), [e for e in entities if e.get("length", 0) > 0]


# --------------------------------------------------------------------------- update builders


def user(
    user_id: int = 111,
    first_name: str = "Ann",
    language_code: str = "en",
    username: str | None = None,
) -> JSONDict:
    """A (human) User dict."""
    result: JSONDict = {
        "id": user_id,
        "is_bot": False,
        "first_name": first_name,
        "language_code": language_code,
    }
    if username is not None:
        result["username"] = username
    return result


def private_chat(user_id: int = 111) -> JSONDict:
    """A private Chat dict."""
    return {"id": user_id, "type": "private", "first_name": "Ann"}


def group_chat(chat_id: int = -100500, *, forum: bool = False, title: str = "Friends") -> JSONDict:
    """A supergroup Chat dict (a forum when ``forum``)."""
    result: JSONDict = {"id": chat_id, "type": "supergroup", "title": title}
    if forum:
        result["is_forum"] = True
    return result


def photo_sizes(file_id: str, width: int, height: int, file_size: int) -> list[JSONDict]:
    """Three PhotoSize dicts: two thumbnails, then the given size last."""
    sizes: list[JSONDict] = []
    for suffix, div in (("s", 4), ("m", 2)):
        thumb_id = f"{file_id}_{suffix}"
        sizes.append(
            {
                "file_id": thumb_id,
                "file_unique_id": _unique_id(thumb_id),
                "width": max(1, width // div),
                "height": max(1, height // div),
                "file_size": max(1, file_size // (div * div)),
            }
        )
    sizes.append(
        {
            "file_id": file_id,
            "file_unique_id": _unique_id(file_id),
            "width": width,
            "height": height,
            "file_size": file_size,
        }
    )
    return sizes


def _base_message(
    *,
    chat: JSONDict,
    sender: JSONDict,
    message_id: int | None,
    thread_id: int | None,
    is_topic_message: bool,
    reply_to: JSONDict | None = None,
) -> JSONDict:
    message: JSONDict = {
        "message_id": next(_user_message_ids) if message_id is None else message_id,
        "date": _now(),
        "chat": chat,
        "from": sender,
    }
    if thread_id is not None:
        message["message_thread_id"] = thread_id
    if is_topic_message:
        message["is_topic_message"] = True
    if reply_to is not None:
        message["reply_to_message"] = reply_to
    return message


def _add_caption(message: JSONDict, caption: str | None) -> None:
    """Give a media message its caption, with a bot_command entity for "/cmd ..."."""
    if caption is not None:
        message["caption"] = caption
        if entities := _command_entities(caption):
            message["caption_entities"] = entities


def photo_message(
    *,
    chat: JSONDict,
    sender: JSONDict,
    photo: list[JSONDict],
    caption: str | None = None,
    message_id: int | None = None,
    thread_id: int | None = None,
    is_topic_message: bool = False,
    media_group_id: str | None = None,
    reply_to: JSONDict | None = None,
) -> JSONDict:
    """A Message dict with a photo."""
    message = _base_message(
        chat=chat,
        sender=sender,
        message_id=message_id,
        thread_id=thread_id,
        is_topic_message=is_topic_message,
        reply_to=reply_to,
    )
    message["photo"] = photo
    if media_group_id is not None:
        message["media_group_id"] = media_group_id
    _add_caption(message, caption)
    return message


def document_message(
    *,
    chat: JSONDict,
    sender: JSONDict,
    file_id: str,
    file_name: str,
    mime_type: str | None,
    file_size: int,
    caption: str | None = None,
    message_id: int | None = None,
    thread_id: int | None = None,
    is_topic_message: bool = False,
) -> JSONDict:
    """A Message dict with a document."""
    message = _base_message(
        chat=chat,
        sender=sender,
        message_id=message_id,
        thread_id=thread_id,
        is_topic_message=is_topic_message,
    )
    document: JSONDict = {
        "file_id": file_id,
        "file_unique_id": _unique_id(file_id),
        "file_name": file_name,
        "file_size": file_size,
    }
    if mime_type is not None:
        document["mime_type"] = mime_type
    message["document"] = document
    _add_caption(message, caption)
    return message


def text_message(
    *,
    chat: JSONDict,
    sender: JSONDict,
    text: str,
    message_id: int | None = None,
    reply_to: JSONDict | None = None,
    thread_id: int | None = None,
    is_topic_message: bool = False,
) -> JSONDict:
    """A text Message dict (with a bot_command entity for "/cmd ...")."""
    message = _base_message(
        chat=chat,
        sender=sender,
        message_id=message_id,
        thread_id=thread_id,
        is_topic_message=is_topic_message,
        reply_to=reply_to,
    )
    message["text"] = text
    if entities := _command_entities(text):
        message["entities"] = entities
    return message


def message_update(message: JSONDict) -> JSONDict:
    """An Update dict (without update_id) carrying ``message``."""
    return {"message": message}


def callback_update(
    *, sender: JSONDict, message: JSONDict, data: str, query_id: str | None = None
) -> JSONDict:
    """An Update dict (without update_id) carrying a callback query."""
    return {
        "callback_query": {
            "id": query_id if query_id is not None else f"cbq-{next(_callback_ids)}",
            "from": sender,
            "message": message,
            "chat_instance": f"ci{message['chat']['id']}",
            "data": data,
        }
    }


# --------------------------------------------------------------------------- Stars payments

#: The currency of digital goods: Telegram Stars.
STARS = "XTR"
#: How long after a pre-checkout query was sent Telegram waits for the bot's answer.
PRE_CHECKOUT_WINDOW = 10.0
_MAX_INVOICE_TITLE = 32  # characters
_MAX_INVOICE_DESCRIPTION = 255  # characters
_MAX_INVOICE_PAYLOAD = 128  # bytes
#: Fields of sendInvoice that only a payment provider can honour, never Stars.
_PROVIDER_ONLY_FIELDS = (
    "need_name",
    "need_phone_number",
    "need_email",
    "need_shipping_address",
    "send_phone_number_to_provider",
    "send_email_to_provider",
    "is_flexible",
)

# The Bot API server's own checks (telegram-bot-api, tdlib): texts as they are there.
TOTAL_NOT_POSITIVE = "Bad Request: total price must be positive"
INVALID_USER_ID = "Bad Request: invalid user_id specified"
# Telegram's server checks: codes its method pages list, and bots report seeing.
#: A Stars invoice with other than one price, or with fields only a provider honours (a
#: provider token, tips: that those get this code too is unconfirmed).
STARS_INVOICE_INVALID = "Bad Request: STARS_INVOICE_INVALID"
#: A currency other than Stars without a provider (the emulator knows no provider).
PAYMENT_PROVIDER_INVALID = "Bad Request: PAYMENT_PROVIDER_INVALID"
INVOICE_PAYLOAD_INVALID = "Bad Request: INVOICE_PAYLOAD_INVALID"
CHARGE_ALREADY_REFUNDED = "Bad Request: CHARGE_ALREADY_REFUNDED"
# Unconfirmed: what Telegram answers to these is unknown here; the emulator refuses the same
# requests with these texts, so that a bot never relies on their being taken.
CHARGE_ID_INVALID = "Bad Request: CHARGE_ID_INVALID"
INVOICE_TITLE_INVALID = "Bad Request: INVOICE_TITLE_INVALID"
INVOICE_DESCRIPTION_INVALID = "Bad Request: INVOICE_DESCRIPTION_INVALID"
PAY_BUTTON_NOT_FIRST = "Bad Request: BUTTON_POS_INVALID"

_pre_checkout_ids = itertools.count(4_410_000_000_000_000_001)


@dataclass(frozen=True)
class SentInvoice:
    """An invoice the bot posted, with what only the bot and Telegram see (its payload)."""

    chat_id: int
    message_id: int
    title: str
    description: str
    payload: str
    currency: str
    total_amount: int
    prices: tuple[tuple[str, int], ...]  # (label, amount), as the bot listed them


@dataclass
class PreCheckout:
    """One pre_checkout_query pushed to the bot, and how the bot answered it."""

    query_id: str
    update_id: int
    user: JSONDict
    invoice: SentInvoice
    deadline: float  # seconds the bot had to answer
    pushed_at: float  # time.monotonic() when it was queued for the bot
    answered_at: float | None = None  # when an answer in time arrived
    ok: bool | None = None  # None: no answer in time
    error_message: str | None = None
    expired: bool = False  # the deadline passed without an answer
    late_answers: list[float] = field(default_factory=list)  # seconds after the push, refused

    @property
    def answer_seconds(self) -> float | None:
        """How long the bot took to answer in time; None when it did not."""
        return None if self.answered_at is None else self.answered_at - self.pushed_at


@dataclass
class StarCharge:
    """A payment in Stars that went through: what the bot was told in successful_payment."""

    charge_id: str  # telegram_payment_charge_id
    user: JSONDict
    invoice: SentInvoice
    update_id: int  # the message update carrying successful_payment (see `deliver_again`)
    message: JSONDict  # that message
    date: int
    refunded_at: int | None = None

    @property
    def user_id(self) -> int:
        return int(self.user["id"])


@dataclass(frozen=True)
class StarRefund:
    """A refundStarPayment Telegram took."""

    charge_id: str
    user_id: int
    amount: int
    date: int


@dataclass(frozen=True)
class Payment:
    """What came of a user paying an invoice (see `TelegramEmulator.pay`)."""

    pre_checkout: PreCheckout
    charge: StarCharge | None  # None: the bot refused, or did not answer in time

    @property
    def paid(self) -> bool:
        return self.charge is not None


@dataclass
class _Stars:
    """The emulator's book of invoices, pre-checkout queries, charges and refunds."""

    invoices: list[SentInvoice] = field(default_factory=list)
    queries: dict[str, PreCheckout] = field(default_factory=dict)
    answers: dict[str, asyncio.Event] = field(default_factory=dict)
    charges: dict[str, StarCharge] = field(default_factory=dict)
    refunds: list[StarRefund] = field(default_factory=list)
    transactions: list[JSONDict] = field(default_factory=list)  # oldest first


def _to_bool(raw: str) -> bool:
    """A boolean parameter as the Bot API reads it."""
    return raw.strip().lower() in ("true", "yes", "1")


def _charge_id() -> str:
    return "stx" + secrets.token_urlsafe(48)


def _labeled_price(item: Any) -> tuple[str, int]:
    """One LabeledPrice, refused with the Bot API's words when it is not one."""

    def fail(why: str) -> _ApiError:
        return _ApiError(400, f"Bad Request: can't parse labeled price: {why}")

    if not isinstance(item, dict):
        raise fail("LabeledPrice must be an Object")
    label, amount = item.get("label"), item.get("amount")
    if label is None:
        raise fail('Can\'t find field "label"')
    if isinstance(label, bool) or not isinstance(label, str | int | float):
        raise fail('Field "label" must be of type String')
    if not str(label):
        raise fail("LabeledPrice label must be non-empty")
    if amount is None:
        raise fail('Can\'t find field "amount"')
    if isinstance(amount, bool) or not isinstance(amount, str | int | float):
        raise fail('Field "amount" must be a Number')
    value = _as_int(amount) if not isinstance(amount, float) else None
    if value is None:
        raise fail('Field "amount" must be a valid Number')
    return str(label), value


# --------------------------------------------------------------------------- emulator


@dataclass
class RecordedCall:
    """One Bot API request as received by the emulator."""

    method: str
    params: dict[str, Any]
    files: dict[str, bytes]
    token: str
    at: float = 0.0  # time.monotonic() when the request arrived, before its body was read


@dataclass
class _Request:
    params: JSONDict
    raw: dict[str, str]
    files: dict[str, bytes]
    file_meta: dict[str, tuple[str, str]] = field(default_factory=dict)  # name, content type
    too_large: bool = False  # the body was over what the server reads
    method: str = ""  # the Bot API method, as the bot spelled it


@dataclass
class _StoredFile:
    data: bytes
    size: int
    path: str


@dataclass(frozen=True)
class BotMessage:
    """One message the bot posted and Telegram took: where it went, what it replies to."""

    chat_id: int
    message_id: int
    method: str  # sendMessage, sendVideo, sendPhoto, sendDocument
    reply_to: int | None  # the message it replies to, in the same chat
    text: str | None  # its text or caption as posted (edits change `messages`, not this)


@dataclass
class WebhookPost:
    """One post of an update to the bot's webhook, and how it was answered."""

    update_id: int
    status: int | None  # the HTTP status; None: no answer (refused, timed out)
    secret: str | None  # the secret header it carried


@dataclass
class _Webhook:
    url: str
    secret: str | None
    allowed_updates: set[str] | None


@dataclass
class _Failure:
    status: int
    description: str
    parameters: JSONDict | None
    remaining: int
    when: Callable[[JSONDict], bool] | None = None  # only calls whose parameters match


_Handler = Callable[[_Request], Awaitable[Any]]


class TelegramEmulator(LoopbackServer):
    """A fake Telegram Bot API server for python-telegram-bot."""

    shutdown_timeout = 2.0

    def __init__(
        self,
        token: str,
        bot_username: str = "animate_test_bot",
        bot_id: int = 7000001,
        *,
        callback_answer_window: float = CALLBACK_ANSWER_WINDOW,
        local_server: bool = False,
        webhook_retry_seconds: float = 0.2,
    ) -> None:
        """``callback_answer_window``: seconds after a callback query was pushed within which
        answerCallbackQuery still takes it (Telegram's own limit by default).
        ``local_server``: behave as a local Bot API server, which takes a webhook on plain
        http and on any port; Telegram's own takes only https on ports 80, 88, 443 and 8443.
        ``webhook_retry_seconds``: the pause before a webhook post that got no 2xx is sent
        again (Telegram's grows to minutes; tests keep it short)."""
        super().__init__()
        self.token = token
        self.bot_username = bot_username
        self.bot_id = bot_id
        self.callback_answer_window = callback_answer_window
        self.local_server = local_server
        self.webhook_retry_seconds = webhook_retry_seconds
        self.webhook_posts: list[WebhookPost] = []
        self._webhook: _Webhook | None = None
        self._webhook_task: asyncio.Task[None] | None = None
        self._redeliver: list[JSONDict] = []
        self.calls: list[RecordedCall] = []
        self.file_downloads: list[str] = []
        self.messages: dict[tuple[int, int], JSONDict] = {}
        #: Every message the bot posted, in order, those deleted since included (`messages`
        #: holds what is in the chats now).
        self.posted: list[BotMessage] = []
        self.reject_video_urls = False
        self._closing = False
        self._closing_event = asyncio.Event()
        self._updates_event = asyncio.Event()
        self._pending: list[JSONDict] = []
        self._polls = 0  # getUpdates calls so far: a newer one ends the one waiting
        self._delivered: list[JSONDict] = []  # taken by the webhook with a 2xx
        self._next_update_id = 1
        self._allowed_updates: set[str] | None = None
        self._files: dict[str, _StoredFile] = {}
        self._paths: dict[str, str] = {}
        self._failures: dict[str, list[_Failure]] = defaultdict(list)
        self._delays: dict[str, tuple[float, Callable[[dict[str, Any]], bool] | None]] = {}
        self._next_message_id: dict[int, int] = defaultdict(lambda: 1)
        self._chats: dict[int, JSONDict] = {}
        self._user_messages: set[tuple[int, int]] = set()
        self._user_topics: dict[tuple[int, int], int] = {}  # a user message -> its topic
        self._deleted_topics: set[tuple[int, int]] = set()  # (chat id, thread id)
        self._migrated: dict[int, int] = {}  # a group -> the supergroup it became
        self._queries: dict[str, float] = {}  # callback query id -> monotonic time pushed
        self._answered: set[str] = set()
        self._commands: dict[str, Any] = {}
        self._handlers: dict[str, _Handler] = {
            "getme": self._get_me,
            "setwebhook": self._set_webhook,
            "deletewebhook": self._delete_webhook,
            "getwebhookinfo": self._get_webhook_info,
            "setmycommands": self._set_my_commands,
            "deletemycommands": self._delete_my_commands,
            "getmycommands": self._get_my_commands,
            "sendchataction": self._send_chat_action,
            "answercallbackquery": self._answer_callback_query,
            "deletemessage": self._delete_message,
            "getupdates": self._get_updates,
            "getfile": self._get_file,
            "sendmessage": self._send_message,
            "sendvideo": self._send_video,
            "sendphoto": self._send_photo,
            "senddocument": self._send_document,
            "editmessagetext": self._edit_message_text,
            "editmessagecaption": self._edit_message_caption,
            "editmessagereplymarkup": self._edit_message_reply_markup,
        }
        self._stars = _Stars()
        self._handlers.update(self._payment_handlers())

    # ------------------------------------------------------------------ lifecycle

    def make_app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_UPLOAD_SIZE + 16 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_method)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_download)
        return app

    async def start(self) -> None:
        """Start serving on a free loopback port (the same one again after a close)."""
        if not self.serving:
            self._closing = False
            self._closing_event = asyncio.Event()
        await super().start()

    async def close(self) -> None:
        """Stop the server; pending long-polls answer at once with []."""
        self._closing = True
        self._closing_event.set()
        self._wake_updates()
        await self._stop_posting()
        await super().close()

    @property
    def base_url(self) -> str:
        """Value for ``ApplicationBuilder().base_url``."""
        return f"{self.origin}/bot"

    @property
    def base_file_url(self) -> str:
        """Value for ``ApplicationBuilder().base_file_url``."""
        return f"{self.origin}/file/bot"

    @property
    def bot_user(self) -> JSONDict:
        """The getMe answer."""
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": "Animate",
            "username": self.bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    # ------------------------------------------------------------------ test API

    def mark(self) -> int:
        """A point in the record of calls: pass it as ``since`` to `calls_to` or `wait_for` to
        see only the calls that arrived after it."""
        return len(self.calls)

    def calls_to(self, method: str, *, since: int = 0) -> list[RecordedCall]:
        """Recorded calls of ``method`` (case-insensitive), those after the mark ``since``."""
        key = method.lower()
        return [c for c in self.calls[since:] if c.method.lower() == key]

    def add_file(self, data: bytes, *, file_size: int | None = None) -> str:
        """Store bytes downloadable via getFile; return the new file_id."""
        file_id = f"AgACAgIAAxkBAAI{next(_file_ids):06d}x{self.bot_id}"
        path = f"photos/{file_id}.jpg"
        size = len(data) if file_size is None else file_size
        self._files[file_id] = _StoredFile(data=bytes(data), size=size, path=path)
        self._paths[path] = file_id
        return file_id

    def file_bytes(self, file_id: str) -> bytes:
        """Bytes stored under ``file_id`` (added, uploaded or fetched by URL)."""
        return self._files[file_id].data

    def push_update(self, update: dict[str, Any]) -> int:
        """Queue an update for getUpdates; returns its assigned update_id."""
        update_id = self._next_update_id
        self._next_update_id += 1
        update["update_id"] = update_id
        self._remember(update)
        self._pending.append(update)
        self._wake_updates()
        return update_id

    @property
    def webhook_url(self) -> str | None:
        """The URL updates are posted to, while a webhook is set."""
        return self._webhook.url if self._webhook is not None else None

    def deliver_again(self, update_id: int) -> None:
        """Post an update the webhook already took once more, as Telegram does when its 200
        was lost on the way (or to another instance behind the same URL)."""
        [update] = [u for u in self._delivered if u["update_id"] == update_id] or [
            u for u in self._pending if u["update_id"] == update_id
        ]
        self._redeliver.append(update)
        self._wake_updates()

    def fail(
        self,
        method: str,
        status: int,
        description: str,
        *,
        parameters: dict[str, Any] | None = None,
        times: int = 1,
        when: Callable[[dict[str, Any]], bool] | None = None,
    ) -> None:
        """Make the next ``times`` calls of ``method`` answer with this error; with ``when``,
        the next ``times`` of those whose parameters it holds for (others go through)."""
        self._failures[method.lower()].append(
            _Failure(
                status=status,
                description=description,
                parameters=parameters,
                remaining=times,
                when=when,
            )
        )

    def delete_topic(self, chat_id: int, thread_id: int) -> None:
        """Delete a forum topic with every message in it, as a chat admin would: later sends
        into it fail with "message thread not found"."""
        self._deleted_topics.add((chat_id, thread_id))
        for key, message in list(self.messages.items()):
            if key[0] == chat_id and message.get("message_thread_id") == thread_id:
                del self.messages[key]
        for key, topic in list(self._user_topics.items()):
            if key[0] == chat_id and topic == thread_id:
                self._user_messages.discard(key)
                del self._user_topics[key]

    def upgrade_group(self, chat_id: int, new_chat_id: int) -> None:
        """Make a group a supergroup, as its admins would: every later call naming the old
        chat fails with its new id (`migrate_to_chat_id`)."""
        self._migrated[chat_id] = new_chat_id

    def set_delay(
        self,
        method: str,
        seconds: float,
        *,
        when: Callable[[dict[str, Any]], bool] | None = None,
    ) -> None:
        """Answer ``method`` only after ``seconds`` (0 removes the delay); with ``when``, only
        the calls whose parameters it holds for."""
        if seconds > 0:
            self._delays[method.lower()] = (seconds, when)
        else:
            self._delays.pop(method.lower(), None)

    async def wait_for(
        self,
        method: str,
        count: int = 1,
        *,
        timeout: float = 10.0,
        where: Callable[[RecordedCall], bool] | None = None,
        since: int = 0,
    ) -> list[RecordedCall]:
        """Wait until >= ``count`` calls of ``method`` matching ``where`` were recorded after
        the mark ``since`` (see `mark`; by default, since the emulator started); return them.

        To check that nothing more is sent after some point, take a mark there and wait for
        getUpdates calls since it: the bot long-polls, so each one after the first since the
        mark means a whole poll (the bot's poll timeout, when no update is pending) went by.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            recent = self.calls_to(method, since=since)
            matching = [c for c in recent if where is None or where(c)]
            if len(matching) >= count:
                return matching
            remaining = deadline - loop.time()
            if remaining <= 0:
                seen = Counter(c.method for c in self.calls)
                summary = ", ".join(f"{m} x{k}" for m, k in seen.items()) or "none"
                raise AssertionError(
                    f"timed out after {timeout}s waiting for {count} call(s) of {method}"
                    f"{' matching where' if where else ''}{' since the mark' if since else ''}: "
                    f"got {len(matching)} matching of {len(recent)} {method} call(s); "
                    f"methods seen: {summary}"
                )
            await asyncio.sleep(min(0.02, remaining))

    # ------------------------------------------------------------------ HTTP plumbing

    @staticmethod
    def _error(status: int, description: str, parameters: JSONDict | None = None) -> web.Response:
        body: JSONDict = {"ok": False, "error_code": status, "description": description}
        if parameters:
            body["parameters"] = parameters
        return web.json_response(body, status=status)

    @staticmethod
    async def _read_request(request: web.Request) -> _Request:
        req = _Request(params={}, raw={}, files={})

        def put(key: str, value: str) -> None:
            req.raw[key] = value
            req.params[key] = value if key in _RAW_FIELDS else _maybe_json(value)

        for key, value in request.query.items():
            put(key, value)
        if request.method == "POST" and request.body_exists:
            if request.content_type == "application/json":
                body = await request.json()
                if isinstance(body, dict):
                    for key, value in body.items():
                        req.params[key] = value
                        req.raw[key] = value if isinstance(value, str) else json.dumps(value)
            else:
                form = await request.post()
                for key, item in form.items():
                    if isinstance(item, web.FileField):
                        req.files[key] = item.file.read()
                        req.file_meta[key] = (item.filename, item.content_type)
                    elif isinstance(item, str):
                        put(key, item)
                    else:
                        put(key, bytes(item).decode("utf-8", "replace"))
        return req

    async def _handle_method(self, request: web.Request) -> web.StreamResponse:
        arrived = time.monotonic()
        token = request.match_info["token"]
        method = request.match_info["method"]
        try:
            req = await self._read_request(request)
        except web.HTTPRequestEntityTooLarge:
            req = _Request(params={}, raw={}, files={}, too_large=True)
        req.method = method
        self.calls.append(
            RecordedCall(method=method, params=req.params, files=req.files, token=token, at=arrived)
        )
        if token != self.token:
            return self._error(401, "Unauthorized")
        if req.too_large or any(len(data) > MAX_UPLOAD_SIZE for data in req.files.values()):
            return self._error(413, TOO_LARGE)
        key = method.lower()
        moved_to = self._migrated.get(_as_int(req.params.get("chat_id")) or 0)
        if moved_to is not None:
            return self._error(400, UPGRADED, {"migrate_to_chat_id": moved_to})
        failure = self._take_failure(key, req.params)
        seconds, when = self._delays.get(key, (0.0, None))
        delay = seconds if when is None or when(req.params) else 0.0
        if delay:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing_event.wait(), delay)
        if failure is not None:
            return self._error(failure.status, failure.description, failure.parameters)
        handler = self._handlers.get(key)
        if handler is None:
            return self._error(404, "Not Found: method not found")
        try:
            result = await handler(req)
        except _ApiError as exc:
            return self._error(exc.status, exc.description, exc.parameters)
        except Exception as exc:  # a bug in the emulator: make it loud
            _LOG.exception("TelegramEmulator failed on %s", method)
            return self._error(500, f"Internal Server Error: emulator crashed: {exc!r}")
        return web.json_response({"ok": True, "result": result})

    async def _handle_download(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return self._error(401, "Unauthorized")
        path = request.match_info["path"]
        file_id = self._paths.get(path)
        if file_id is None:
            return self._error(404, "Not Found")
        self.file_downloads.append(path)
        return web.Response(body=self._files[file_id].data, content_type="application/octet-stream")

    def _take_failure(self, key: str, params: JSONDict) -> _Failure | None:
        queue = self._failures.get(key, [])
        for failure in queue:
            if failure.when is None or failure.when(params):
                failure.remaining -= 1
                if failure.remaining <= 0:
                    queue.remove(failure)
                return failure
        return None

    def _wake_updates(self) -> None:
        self._updates_event.set()
        self._updates_event = asyncio.Event()

    def _remember(self, update: JSONDict) -> None:
        """Learn chats, user message ids and callback queries from a pushed update."""
        candidates = [update.get(k) for k in ("message", "edited_message", "channel_post")]
        callback = update.get("callback_query")
        if isinstance(callback, dict):
            candidates.append(callback.get("message"))
            if isinstance(callback.get("id"), str):
                self._queries.setdefault(callback["id"], time.monotonic())
        # A message replied to is in the chat too, even when the bot never received it.
        candidates += [m.get("reply_to_message") for m in list(candidates) if isinstance(m, dict)]
        for message in candidates:
            if not isinstance(message, dict) or not isinstance(message.get("chat"), dict):
                continue
            chat = message["chat"]
            chat_id = _as_int(chat.get("id"))
            if chat_id is None:
                continue
            self._chats.setdefault(chat_id, chat)
            message_id = _as_int(message.get("message_id"))
            if message_id is not None and (chat_id, message_id) not in self.messages:
                self._user_messages.add((chat_id, message_id))
                thread_id = _as_int(message.get("message_thread_id"))
                if thread_id is not None and message.get("is_topic_message"):
                    self._user_topics[(chat_id, message_id)] = thread_id

    # ------------------------------------------------------------------ simple methods

    async def _true(self, req: _Request) -> bool:
        return True

    async def _send_chat_action(self, req: _Request) -> bool:
        self._check_thread(req, self._chat_id(req))
        return True

    async def _answer_callback_query(self, req: _Request) -> bool:
        text = req.raw.get("text", "")
        if len(text) > _MAX_CALLBACK_ANSWER:
            raise _ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        query_id = req.raw.get("callback_query_id", "")
        pushed = self._queries.get(query_id)
        too_late = pushed is not None and time.monotonic() - pushed > self.callback_answer_window
        if pushed is None or query_id in self._answered or too_late:
            raise _ApiError(400, QUERY_TOO_OLD)
        self._answered.add(query_id)
        return True

    async def _get_me(self, req: _Request) -> JSONDict:
        return self.bot_user

    @staticmethod
    def _commands_key(req: _Request) -> str:
        return json.dumps([req.params.get("scope"), req.params.get("language_code")])

    async def _set_my_commands(self, req: _Request) -> bool:
        commands = req.params.get("commands")
        if not isinstance(commands, list):
            raise _ApiError(400, "Bad Request: can't parse commands JSON object")
        self._commands[self._commands_key(req)] = commands
        return True

    async def _delete_my_commands(self, req: _Request) -> bool:
        self._commands.pop(self._commands_key(req), None)
        return True

    async def _get_my_commands(self, req: _Request) -> Any:
        return self._commands.get(self._commands_key(req), [])

    async def _delete_message(self, req: _Request) -> bool:
        key = (self._chat_id(req), _as_int(req.params.get("message_id")) or 0)
        if key in self.messages:
            del self.messages[key]
        elif key in self._user_messages:
            self._user_messages.discard(key)
        else:
            raise _ApiError(400, "Bad Request: message to delete not found")
        return True

    # ------------------------------------------------------------------ updates & files

    async def _set_webhook(self, req: _Request) -> bool:
        url = str(req.params.get("url") or "")
        if not url:  # an empty URL removes the webhook, as deleteWebhook does
            await self._stop_posting()
            self._webhook = None
            return True
        parsed = URL(url)
        if parsed.scheme != "https" and not (self.local_server and parsed.scheme == "http"):
            raise _ApiError(400, WEBHOOK_NEEDS_HTTPS)
        if not self.local_server and parsed.port not in _WEBHOOK_PORTS:
            raise _ApiError(400, WEBHOOK_BAD_PORT)
        secret = req.params.get("secret_token")
        if secret is not None and not _SECRET_TOKEN_RE.fullmatch(str(secret)):
            raise _ApiError(400, SECRET_TOKEN_INVALID)
        max_connections = _as_int(req.params.get("max_connections"))
        if max_connections is not None and not 1 <= max_connections <= 100:
            raise _ApiError(400, "Bad Request: bad webhook: max_connections must be 1-100")
        allowed = req.params.get("allowed_updates")
        if req.params.get("drop_pending_updates") in (True, "true", "True"):
            self._pending = []
        await self._stop_posting()
        self._webhook = _Webhook(
            url=url,
            secret=str(secret) if secret is not None else None,
            allowed_updates={str(a) for a in allowed} or None
            if isinstance(allowed, list)
            else None,
        )
        self._webhook_task = asyncio.create_task(self._post_updates(self._webhook))
        return True

    async def _delete_webhook(self, req: _Request) -> bool:
        await self._stop_posting()
        self._webhook = None
        if req.params.get("drop_pending_updates") in (True, "true", "True"):
            self._pending = []
        return True

    async def _get_webhook_info(self, req: _Request) -> JSONDict:
        hook = self._webhook
        info: JSONDict = {
            "url": hook.url if hook is not None else "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._pending),
        }
        if hook is not None and hook.allowed_updates is not None:
            info["allowed_updates"] = sorted(hook.allowed_updates)
        return info

    async def _stop_posting(self) -> None:
        task, self._webhook_task = self._webhook_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _post_updates(self, hook: _Webhook) -> None:
        """Post each pending update to the webhook, oldest first, one at a time; an update
        that gets no 2xx stays first in line and is posted again after a pause."""
        headers = {SECRET_HEADER: hook.secret} if hook.secret is not None else {}
        timeout = aiohttp.ClientTimeout(total=10)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            while not self._closing:
                update = self._next_to_post(hook)
                if update is None:
                    event = self._updates_event
                    await event.wait()
                    continue
                status: int | None = None
                try:
                    # Telegram follows no redirect: a 3xx is a failed post, tried again.
                    async with session.post(
                        hook.url, json=update, headers=headers, allow_redirects=False
                    ) as answer:
                        status = answer.status
                except (aiohttp.ClientError, TimeoutError):
                    status = None
                self.webhook_posts.append(
                    WebhookPost(update_id=update["update_id"], status=status, secret=hook.secret)
                )
                if status is not None and 200 <= status < 300:
                    if update in self._redeliver:
                        self._redeliver.remove(update)
                    elif update in self._pending:
                        self._pending.remove(update)
                        self._delivered.append(update)
                    continue
                await asyncio.sleep(self.webhook_retry_seconds)

    def _next_to_post(self, hook: _Webhook) -> JSONDict | None:
        if self._redeliver:
            return self._redeliver[0]
        for update in self._pending:
            if hook.allowed_updates is None or any(
                key in hook.allowed_updates for key in update if key != "update_id"
            ):
                return update
        return None

    async def _get_updates(self, req: _Request) -> list[JSONDict]:
        if self._webhook is not None:
            raise _ApiError(409, WEBHOOK_ACTIVE)
        # One poller per token: a newer getUpdates ends the one still waiting with a 409, as
        # Telegram does when a second instance polls.
        self._polls += 1
        mine = self._polls
        self._wake_updates()
        offset = _as_int(req.params.get("offset"))
        limit = _as_int(req.params.get("limit")) or 100
        raw_timeout = req.params.get("timeout")
        timeout = (
            float(raw_timeout)
            if isinstance(raw_timeout, int | float) and not isinstance(raw_timeout, bool)
            else 0.0
        )
        allowed = req.params.get("allowed_updates")
        if isinstance(allowed, list):
            self._allowed_updates = {str(a) for a in allowed} or None
        if offset is not None:
            if offset >= 0:
                self._pending = [u for u in self._pending if u["update_id"] >= offset]
            else:
                self._pending = self._pending[offset:]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(0.0, timeout)
        while True:
            if mine != self._polls:
                raise _ApiError(409, POLLED_ELSEWHERE)
            ready = self._deliverable(limit)
            if ready or self._closing:
                return ready
            remaining = deadline - loop.time()
            if remaining <= 0:
                return []
            event = self._updates_event
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)

    def _deliverable(self, limit: int) -> list[JSONDict]:
        if self._allowed_updates is not None:
            allowed = self._allowed_updates
            self._pending = [
                u for u in self._pending if any(k in allowed for k in u if k != "update_id")
            ]
        return self._pending[: max(1, min(limit, 100))]

    def _file(self, file_id: str) -> _StoredFile:
        stored = self._files.get(file_id)
        if stored is None:
            raise _ApiError(400, "Bad Request: invalid file_id")
        return stored

    async def _get_file(self, req: _Request) -> JSONDict:
        file_id = req.raw.get("file_id", "")
        stored = self._file(file_id)
        if stored.size > MAX_DOWNLOAD_SIZE:
            raise _ApiError(400, "Bad Request: file is too big")
        return {
            "file_id": file_id,
            "file_unique_id": _unique_id(file_id),
            "file_size": stored.size,
            "file_path": stored.path,
        }

    async def _fetch_url(self, url: str) -> bytes:
        try:
            timeout = aiohttp.ClientTimeout(total=30)
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                session.get(url) as response,
            ):
                if not 200 <= response.status < 300:
                    raise _ApiError(400, _URL_FAILED)
                data = bytearray()
                async for chunk in response.content.iter_chunked(64 * 1024):
                    data += chunk
                    if len(data) > _MAX_URL_FETCH:
                        raise _ApiError(400, _URL_FAILED)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise _ApiError(400, _URL_FAILED) from exc
        return bytes(data)

    async def _input_file(self, req: _Request, name: str, *, may_fetch: bool = True) -> str:
        """Resolve an InputFile field (upload, URL or file_id) to a stored file_id."""
        if name in req.files:
            return self.add_file(req.files[name])
        value = req.raw.get(name, "")
        if value.startswith(("http://", "https://")):
            if not may_fetch:
                raise _ApiError(400, _URL_FAILED)
            return self.add_file(await self._fetch_url(value))
        if not value:
            raise _ApiError(400, f"Bad Request: there is no {name} in the request")
        return value  # a file_id; unknown ids are accepted

    def _size_of(self, file_id: str) -> int:
        stored = self._files.get(file_id)
        return stored.size if stored is not None else 0

    # ------------------------------------------------------------------ sending

    def _chat_id(self, req: _Request) -> int:
        raw = req.params.get("chat_id")
        if raw is None or raw == "":
            raise _ApiError(400, "Bad Request: chat_id is empty")
        chat_id = _as_int(raw)
        if chat_id is None:
            raise _ApiError(400, "Bad Request: chat not found")
        return chat_id

    def _formatted(
        self, req: _Request, text_key: str, entities_key: str
    ) -> tuple[str | None, list[JSONDict]]:
        if text_key not in req.raw:
            return None, []
        text = req.raw[text_key]
        mode = req.params.get("parse_mode")
        if isinstance(mode, str) and mode.lower() == "html":
            return parse_html(text)
        entities = req.params.get(entities_key)
        return text, entities if isinstance(entities, list) else []

    def _caption(self, req: _Request, message: JSONDict) -> None:
        caption, entities = self._formatted(req, "caption", "caption_entities")
        if caption:
            if len(caption) > _MAX_CAPTION:
                raise _ApiError(400, "Bad Request: message caption is too long")
            message["caption"] = caption
            if entities:
                message["caption_entities"] = entities

    def _chat(self, chat_id: int) -> JSONDict:
        """The chat as learned from pushed updates, or a plain one (never a forum)."""
        return self._chats.get(chat_id) or {
            "id": chat_id,
            "type": "private" if chat_id > 0 else "supergroup",
        }

    def _check_thread(self, req: _Request, chat_id: int) -> None:
        """Refuse a topic outside a forum, and a deleted one; in a forum any other topic is
        taken."""
        thread_id = _as_int(req.params.get("message_thread_id"))
        if thread_id is None:
            return
        if not self._chat(chat_id).get("is_forum") or (chat_id, thread_id) in self._deleted_topics:
            raise _ApiError(400, THREAD_NOT_FOUND)

    def _check_reply(self, req: _Request, chat_id: int) -> None:
        """Refuse a reply to a message that is not in the chat, unless the request allows
        sending without the reply; both the reply_parameters and the older
        reply_to_message_id forms."""
        parameters = req.params.get("reply_parameters")
        if isinstance(parameters, dict):
            target = _as_int(parameters.get("message_id"))
            target_chat = _as_int(parameters.get("chat_id")) or chat_id
            allowed = parameters.get("allow_sending_without_reply")
        else:
            target = _as_int(req.params.get("reply_to_message_id"))
            target_chat = chat_id
            allowed = req.params.get("allow_sending_without_reply")
        if target is None or allowed is True:
            return
        key = (target_chat, target)
        if key not in self.messages and key not in self._user_messages:
            raise _ApiError(400, REPLY_NOT_FOUND)

    def _sendable_to(self, req: _Request) -> int:
        """The chat of a send, once its topic, reply and buttons are ones Telegram takes."""
        chat_id = self._chat_id(req)
        self._check_thread(req, chat_id)
        self._check_reply(req, chat_id)
        _inline_markup(req.params.get("reply_markup"))
        return chat_id

    def _store(self, req: _Request, chat_id: int, content: JSONDict) -> JSONDict:
        """Assign the next message_id of the chat, build and store the Message."""
        markup = _inline_markup(req.params.get("reply_markup"))
        message_id = self._next_message_id[chat_id]
        self._next_message_id[chat_id] = message_id + 1
        chat = copy.deepcopy(self._chat(chat_id))
        message: JSONDict = {
            "message_id": message_id,
            "from": {
                "id": self.bot_id,
                "is_bot": True,
                "first_name": "Animate",
                "username": self.bot_username,
            },
            "date": _now(),
            "chat": chat,
        }
        thread_id = _as_int(req.params.get("message_thread_id"))
        if thread_id is not None:
            message["message_thread_id"] = thread_id
            if chat.get("is_forum"):
                message["is_topic_message"] = True
        message.update(content)
        if markup is not None:
            message["reply_markup"] = markup
        self.messages[(chat_id, message_id)] = message
        self.posted.append(
            BotMessage(
                chat_id=chat_id,
                message_id=message_id,
                method=req.method,
                reply_to=self._reply_target(req),
                text=message.get("text", message.get("caption")),
            )
        )
        return message

    @staticmethod
    def _reply_target(req: _Request) -> int | None:
        """The message a send replies to, in either form the Bot API takes."""
        parameters = req.params.get("reply_parameters")
        if isinstance(parameters, dict):
            return _as_int(parameters.get("message_id"))
        return _as_int(req.params.get("reply_to_message_id"))

    async def _send_message(self, req: _Request) -> JSONDict:
        chat_id = self._sendable_to(req)
        text, entities = self._formatted(req, "text", "entities")
        if not text or not text.strip():
            raise _ApiError(400, "Bad Request: message text is empty")
        if len(text) > _MAX_TEXT:
            raise _ApiError(400, "Bad Request: message is too long")
        content: JSONDict = {"text": text}
        if entities:
            content["entities"] = entities
        return self._store(req, chat_id, content)

    async def _send_video(self, req: _Request) -> JSONDict:
        chat_id = self._sendable_to(req)
        content: JSONDict = {}
        self._caption(req, content)
        file_id = await self._input_file(req, "video", may_fetch=not self.reject_video_urls)
        content["video"] = {
            "file_id": file_id,
            "file_unique_id": _unique_id(file_id),
            "width": _as_int(req.params.get("width")) or 640,
            "height": _as_int(req.params.get("height")) or 640,
            "duration": _as_int(req.params.get("duration")) or 5,
            "mime_type": "video/mp4",
            "file_size": self._size_of(file_id),
        }
        return self._store(req, chat_id, content)

    async def _send_photo(self, req: _Request) -> JSONDict:
        chat_id = self._sendable_to(req)
        content: JSONDict = {}
        self._caption(req, content)
        file_id = await self._input_file(req, "photo")
        content["photo"] = photo_sizes(file_id, 800, 800, self._size_of(file_id))
        return self._store(req, chat_id, content)

    async def _send_document(self, req: _Request) -> JSONDict:
        chat_id = self._sendable_to(req)
        content: JSONDict = {}
        self._caption(req, content)
        file_id = await self._input_file(req, "document")
        document: JSONDict = {
            "file_id": file_id,
            "file_unique_id": _unique_id(file_id),
            "file_size": self._size_of(file_id),
        }
        if "document" in req.file_meta:
            name, mime = req.file_meta["document"]
            document["file_name"] = name
            document["mime_type"] = mime
        content["document"] = document
        return self._store(req, chat_id, content)

    # ------------------------------------------------------------------ editing

    def _message_to_edit(self, req: _Request) -> JSONDict | None:
        """The stored message, or None for inline messages."""
        if "inline_message_id" in req.params:
            return None
        key = (self._chat_id(req), _as_int(req.params.get("message_id")) or 0)
        message = self.messages.get(key)
        if message is None:
            if key in self._user_messages:
                raise _ApiError(400, "Bad Request: message can't be edited")
            raise _ApiError(400, "Bad Request: message to edit not found")
        return message

    @staticmethod
    def _apply_edit(
        message: JSONDict,
        text_key: str,
        entities_key: str,
        text: str | None,
        entities: list[JSONDict],
        markup: JSONDict | None,
    ) -> JSONDict:
        old = (message.get(text_key), message.get(entities_key) or [], message.get("reply_markup"))
        if old == (text, entities, markup):
            raise _ApiError(400, NOT_MODIFIED)
        for key, value in ((text_key, text), (entities_key, entities), ("reply_markup", markup)):
            if value:
                message[key] = value
            else:
                message.pop(key, None)
        message["edit_date"] = _now()
        return message

    async def _edit_message_text(self, req: _Request) -> JSONDict | bool:
        message = self._message_to_edit(req)
        text, entities = self._formatted(req, "text", "entities")
        if not text or not text.strip():
            raise _ApiError(400, "Bad Request: message text is empty")
        if len(text) > _MAX_TEXT:
            raise _ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        if message is None:
            return True
        if "text" not in message:
            raise _ApiError(400, "Bad Request: there is no text in the message to edit")
        markup = _inline_markup(req.params.get("reply_markup"))
        return self._apply_edit(message, "text", "entities", text, entities, markup)

    async def _edit_message_caption(self, req: _Request) -> JSONDict | bool:
        message = self._message_to_edit(req)
        caption, entities = self._formatted(req, "caption", "caption_entities")
        if caption is not None and len(caption) > _MAX_CAPTION:
            raise _ApiError(400, "Bad Request: message caption is too long")
        if message is None:
            return True
        if "text" in message:
            raise _ApiError(400, "Bad Request: there is no caption in the message to edit")
        markup = _inline_markup(req.params.get("reply_markup"))
        return self._apply_edit(message, "caption", "caption_entities", caption, entities, markup)

    async def _edit_message_reply_markup(self, req: _Request) -> JSONDict | bool:
        message = self._message_to_edit(req)
        if message is None:
            return True
        markup = _inline_markup(req.params.get("reply_markup"))
        if markup == message.get("reply_markup"):
            raise _ApiError(400, NOT_MODIFIED)
        if markup is None:
            message.pop("reply_markup", None)
        else:
            message["reply_markup"] = markup
        message["edit_date"] = _now()
        return message

    # ------------------------------------------------------------------ payments in Telegram Stars

    def _payment_handlers(self) -> dict[str, _Handler]:
        return {
            "sendinvoice": self._send_invoice,
            "answerprecheckoutquery": self._answer_pre_checkout_query,
            "refundstarpayment": self._refund_star_payment,
            "getstartransactions": self._get_star_transactions,
        }

    @property
    def invoices(self) -> list[SentInvoice]:
        """Every invoice the bot posted, oldest first (those deleted since included)."""
        return list(self._stars.invoices)

    def invoices_in(self, chat_id: int) -> list[SentInvoice]:
        """The invoices the bot posted in one chat, oldest first."""
        return [sent for sent in self._stars.invoices if sent.chat_id == chat_id]

    @property
    def pre_checkouts(self) -> list[PreCheckout]:
        """Every pre-checkout query pushed by `pay`, oldest first, with the bot's answer."""
        return list(self._stars.queries.values())

    @property
    def charges(self) -> list[StarCharge]:
        """Every payment that went through, oldest first (refunded ones included)."""
        return list(self._stars.charges.values())

    @property
    def refunds(self) -> list[StarRefund]:
        """Every refund Telegram took, oldest first."""
        return list(self._stars.refunds)

    async def pay(
        self,
        invoice: SentInvoice | Mapping[str, Any],
        *,
        user: JSONDict,
        deadline: float = PRE_CHECKOUT_WINDOW,
    ) -> Payment:
        """Pay an invoice the bot sent, as ``user`` confirming it in their app.

        ``invoice`` is the invoice's Message (as sendInvoice returned it) or its
        `SentInvoice`. A pre_checkout_query is queued for the bot, which has ``deadline``
        seconds (Telegram's 10 by default) to answer it. On ok=True the user is charged: a
        message with successful_payment is queued in the user's private chat with the bot. On
        ok=False, or no answer in time, nothing is charged and no successful_payment comes;
        an answer after the deadline is refused.

        Returns the `Payment`: the query with its answer and how long it took, and the charge
        (None when there was none). Raises LookupError for a message that is not an invoice
        the bot sent, or one deleted since.
        """
        sent = self._invoice_of(invoice)
        payer_id = _as_int(user.get("id"))
        if payer_id is None or payer_id <= 0 or user.get("is_bot"):
            raise ValueError(f"only a user can pay, not {user!r}")
        query_id = str(next(_pre_checkout_ids))
        answered = asyncio.Event()
        self._stars.answers[query_id] = answered
        query = PreCheckout(
            query_id=query_id,
            update_id=0,
            user=copy.deepcopy(dict(user)),
            invoice=sent,
            deadline=deadline,
            pushed_at=time.monotonic(),
        )
        self._stars.queries[query_id] = query
        query.update_id = self.push_update(
            {
                "pre_checkout_query": {
                    "id": query_id,
                    "from": copy.deepcopy(query.user),
                    "currency": sent.currency,
                    "total_amount": sent.total_amount,
                    "invoice_payload": sent.payload,
                }
            }
        )
        waiting = asyncio.ensure_future(answered.wait())
        closing = asyncio.ensure_future(self._closing_event.wait())
        try:
            await asyncio.wait(
                {waiting, closing}, timeout=deadline, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            waiting.cancel()
            closing.cancel()
        if query.ok is None:
            query.expired = True  # from now on an answer is too late
        return Payment(pre_checkout=query, charge=self._charge(query) if query.ok else None)

    def _invoice_of(self, invoice: SentInvoice | Mapping[str, Any]) -> SentInvoice:
        if isinstance(invoice, SentInvoice):
            key = (invoice.chat_id, invoice.message_id)
        else:
            chat = invoice.get("chat")
            chat_id = _as_int(chat.get("id")) if isinstance(chat, Mapping) else None
            key = (chat_id or 0, _as_int(invoice.get("message_id")) or 0)
        found = [sent for sent in self._stars.invoices if (sent.chat_id, sent.message_id) == key]
        if not found:
            raise LookupError(f"message {key[1]} in chat {key[0]} is no invoice of the bot")
        if key not in self.messages:
            raise LookupError(f"invoice {key[1]} in chat {key[0]} was deleted: none to pay")
        return found[0]

    def _private_chat_of(self, person: JSONDict) -> JSONDict:
        """The private chat of a user with the bot, as learned or as their profile makes it."""
        known = self._chats.get(int(person["id"]))
        if known is not None and known.get("type") == "private":
            return copy.deepcopy(known)
        chat: JSONDict = {"id": person["id"], "type": "private"}
        for key in ("first_name", "last_name", "username"):
            if key in person:
                chat[key] = person[key]
        return chat

    def _service_message(self, person: JSONDict, key: str, content: JSONDict) -> JSONDict:
        message = _base_message(
            chat=self._private_chat_of(person),
            sender=copy.deepcopy(person),
            message_id=None,
            thread_id=None,
            is_topic_message=False,
        )
        message[key] = content
        return message

    @staticmethod
    def _transaction_partner(charge: StarCharge) -> JSONDict:
        return {
            "type": "user",
            "transaction_type": "invoice_payment",
            "user": copy.deepcopy(charge.user),
            "invoice_payload": charge.invoice.payload,
        }

    def _charge(self, query: PreCheckout) -> StarCharge:
        """Charge the user of an accepted query and queue the successful_payment message."""
        charge_id = _charge_id()
        while charge_id in self._stars.charges:
            charge_id = _charge_id()
        sent = query.invoice
        message = self._service_message(
            query.user,
            "successful_payment",
            {
                "currency": sent.currency,
                "total_amount": sent.total_amount,
                "invoice_payload": sent.payload,
                "telegram_payment_charge_id": charge_id,
                "provider_payment_charge_id": "",
            },
        )
        recorded = copy.deepcopy(message)
        update_id = self.push_update(message_update(message))
        charge = StarCharge(
            charge_id=charge_id,
            user=query.user,
            invoice=sent,
            update_id=update_id,
            message=recorded,
            date=int(recorded["date"]),
        )
        self._stars.charges[charge_id] = charge
        self._stars.transactions.append(
            {
                "id": charge_id,
                "amount": sent.total_amount,
                "date": charge.date,
                "source": self._transaction_partner(charge),
            }
        )
        return charge

    @staticmethod
    def _required(req: _Request, name: str) -> str:
        value = req.raw.get(name, "")
        if not value:
            raise _ApiError(400, f'Bad Request: parameter "{name}" is required')
        return value

    @staticmethod
    def _integer(req: _Request, name: str, default: int) -> int:
        """An integer parameter as the Bot API reads it: absent is the default, junk is 0."""
        raw = req.raw.get(name, "")
        return default if not raw else _as_int(raw.strip()) or 0

    def _prices(self, req: _Request) -> list[tuple[str, int]]:
        raw = self._required(req, "prices")
        try:
            value = json.loads(raw)
        except ValueError as exc:
            raise _ApiError(400, "Bad Request: can't parse prices JSON object") from exc
        if not isinstance(value, list):
            raise _ApiError(400, "Bad Request: expected an Array of labeled prices")
        prices = [_labeled_price(item) for item in value]
        if not prices:
            raise _ApiError(400, "Bad Request: there must be at least one price")
        return prices

    def _check_stars_invoice(
        self,
        req: _Request,
        title: str,
        description: str,
        payload: str,
        currency: str,
        prices: list[tuple[str, int]],
    ) -> None:
        """Refuse what Telegram's servers refuse in an invoice, once the Bot API took it."""
        if len(title) > _MAX_INVOICE_TITLE:
            raise _ApiError(400, INVOICE_TITLE_INVALID)
        if len(description) > _MAX_INVOICE_DESCRIPTION:
            raise _ApiError(400, INVOICE_DESCRIPTION_INVALID)
        if len(payload.encode()) > _MAX_INVOICE_PAYLOAD:
            raise _ApiError(400, INVOICE_PAYLOAD_INVALID)
        # Only Stars are emulated: any other currency needs a payment provider, and the
        # emulator knows none.
        if currency != STARS:
            raise _ApiError(400, PAYMENT_PROVIDER_INVALID)
        tips = req.raw.get("suggested_tip_amounts", "")
        if (
            req.raw.get("provider_token", "")
            or len(prices) != 1
            or any(_to_bool(req.raw.get(name, "")) for name in _PROVIDER_ONLY_FIELDS)
            or self._integer(req, "max_tip_amount", 0) != 0
            or (tips and _maybe_json(tips) != [])
        ):
            raise _ApiError(400, STARS_INVOICE_INVALID)
        markup = _inline_markup(req.params.get("reply_markup"))
        if markup is not None:
            first_row = next(row for row in markup["inline_keyboard"] if row)
            first = first_row[0] if isinstance(first_row, list) else None
            if not isinstance(first, dict) or first.get("pay") is not True:
                raise _ApiError(400, PAY_BUTTON_NOT_FIRST)

    async def _send_invoice(self, req: _Request) -> JSONDict:
        title = self._required(req, "title")
        description = self._required(req, "description")
        payload = self._required(req, "payload")
        currency = self._required(req, "currency")
        prices = self._prices(req)
        chat_id = self._sendable_to(req)
        total = sum(amount for _, amount in prices)
        if total <= 0:
            raise _ApiError(400, TOTAL_NOT_POSITIVE)
        self._check_stars_invoice(req, title, description, payload, currency, prices)
        content: JSONDict = {
            "invoice": {
                "title": title,
                "description": description,
                "start_parameter": req.raw.get("start_parameter", ""),
                "currency": currency,
                "total_amount": total,
            }
        }
        message = self._store(req, chat_id, content)
        self._stars.invoices.append(
            SentInvoice(
                chat_id=chat_id,
                message_id=int(message["message_id"]),
                title=title,
                description=description,
                payload=payload,
                currency=currency,
                total_amount=total,
                prices=tuple(prices),
            )
        )
        return message

    async def _answer_pre_checkout_query(self, req: _Request) -> bool:
        ok = _to_bool(req.raw.get("ok", ""))
        error_message = req.raw.get("error_message", "")
        if not ok and not error_message:
            raise _ApiError(400, 'Bad Request: parameter "error_message" is required')
        query = self._stars.queries.get(req.raw.get("pre_checkout_query_id", "").strip())
        if query is None or query.ok is not None:
            raise _ApiError(400, QUERY_TOO_OLD)
        now = time.monotonic()
        if query.expired or now - query.pushed_at > query.deadline:
            query.late_answers.append(now - query.pushed_at)
            raise _ApiError(400, QUERY_TOO_OLD)
        query.answered_at = now
        query.ok = ok
        query.error_message = None if ok else error_message
        self._stars.answers[query.query_id].set()
        return True

    async def _refund_star_payment(self, req: _Request) -> bool:
        user_id = self._integer(req, "user_id", 0)
        if user_id <= 0:
            raise _ApiError(400, INVALID_USER_ID)
        charge_id = self._required(req, "telegram_payment_charge_id")
        charge = self._stars.charges.get(charge_id)
        if charge is None or charge.user_id != user_id:
            raise _ApiError(400, CHARGE_ID_INVALID)
        if charge.refunded_at is not None:
            raise _ApiError(400, CHARGE_ALREADY_REFUNDED)
        sent = charge.invoice
        message = self._service_message(
            charge.user,
            "refunded_payment",
            {
                "currency": sent.currency,
                "total_amount": sent.total_amount,
                "invoice_payload": sent.payload,
                "telegram_payment_charge_id": charge_id,
            },
        )
        charge.refunded_at = int(message["date"])
        self._stars.refunds.append(
            StarRefund(
                charge_id=charge_id,
                user_id=user_id,
                amount=sent.total_amount,
                date=charge.refunded_at,
            )
        )
        self._stars.transactions.append(
            {
                "id": charge_id,
                "amount": sent.total_amount,
                "date": charge.refunded_at,
                "receiver": self._transaction_partner(charge),
            }
        )
        self.push_update(message_update(message))
        return True

    async def _get_star_transactions(self, req: _Request) -> JSONDict:
        offset = max(0, self._integer(req, "offset", 0))
        limit = min(100, max(1, self._integer(req, "limit", 100)))
        newest_first = self._stars.transactions[::-1]
        return {"transactions": copy.deepcopy(newest_first[offset : offset + limit])}
