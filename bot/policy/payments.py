"""The operator's prices: packs of videos sold in Telegram Stars, and what a payment must match.

Telegram types stay out: the handlers pass plain values (the invoice's payload, the payer's id,
the currency and amount) and get back a pack, or the reason a payment is refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

#: The currency of digital goods: Telegram Stars.
STARS = "XTR"
_PACK = re.compile(r"\s*(\d+)\s*:\s*(\d+)\s*")
_PAYLOAD = re.compile(r"pack:(\d+):(\d+):user:(-?\d+)")


@dataclass(frozen=True, slots=True, order=True)
class StarPack:
    """`videos` video credits for `stars` Telegram Stars."""

    videos: int
    stars: int

    @property
    def code(self) -> str:
        """As STAR_PACKS writes it, and the ledger records it: `5:250`."""
        return f"{self.videos}:{self.stars}"

    def payload(self, user_id: int) -> str:
        """The invoice's payload: the pack and its buyer, as the payment's updates bring it
        back (1-128 bytes)."""
        return f"pack:{self.videos}:{self.stars}:user:{user_id}"


def parse_packs(text: str) -> list[StarPack]:
    """STAR_PACKS, `videos:stars` comma-separated (`1:60,5:250,20:900`), cheapest first;
    empty: payments are off. Raises ValueError naming what is wrong."""
    packs = []
    for position, item in enumerate(text.split(","), start=1):
        if not item.strip():
            continue
        found = _PACK.fullmatch(item)
        if found is None:
            raise ValueError(
                f"pack {position} ({item.strip()!r}) is not videos:stars; "
                "write packs like 1:60,5:250,20:900"
            )
        videos, stars = int(found.group(1)), int(found.group(2))
        if videos < 1 or stars < 1:
            raise ValueError(f"pack {position} must have at least 1 video and 1 Star")
        if stars > 10_000:
            raise ValueError(f"pack {position} costs over 10000 Stars, more than one invoice may")
        packs.append(StarPack(videos, stars))
    if len({pack.videos for pack in packs}) != len(packs):
        raise ValueError("two packs have the same number of videos")
    return sorted(packs)


@dataclass(frozen=True, slots=True)
class Order:
    """What an invoice's payload names: a pack and its buyer."""

    pack: StarPack
    user_id: int


def read_payload(payload: str) -> Order | None:
    """The order an invoice's payload names, or None for one this bot never wrote."""
    found = _PAYLOAD.fullmatch(payload)
    if found is None:
        return None
    videos, stars, user_id = (int(group) for group in found.groups())
    return Order(StarPack(videos, stars), user_id)


class CheckoutRefusal(Enum):
    """Why a payment is refused at checkout."""

    UNKNOWN_ORDER = "unknown_order"  # not an invoice of this bot's
    PACK_GONE = "pack_gone"  # the operator changed the packs since the invoice was sent
    OTHER_USER = "other_user"  # someone else pays an invoice sent to another user
    WRONG_AMOUNT = "wrong_amount"  # not the pack's price in Stars
    NOT_ALLOWED = "not_allowed"  # the buyer may no longer make videos (/deny since the invoice)


def check_checkout(
    payload: str, *, payer_id: int, currency: str, amount: int, packs: list[StarPack]
) -> Order | CheckoutRefusal:
    """Whether a payment about to be made matches a pack on sale now, for the user the invoice
    was made for: the order, or why not."""
    order = read_payload(payload)
    if order is None:
        return CheckoutRefusal.UNKNOWN_ORDER
    if order.pack not in packs:
        return CheckoutRefusal.PACK_GONE
    if order.user_id != payer_id:
        return CheckoutRefusal.OTHER_USER
    if currency != STARS or amount != order.pack.stars:
        return CheckoutRefusal.WRONG_AMOUNT
    return order
