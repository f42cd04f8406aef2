"""bot/policy/payments.py: the operator's packs (STAR_PACKS), the invoice's payload, and what a
payment must match at checkout, as pure functions."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bot.policy.payments import (
    STARS,
    CheckoutRefusal,
    Order,
    StarPack,
    check_checkout,
    parse_packs,
    read_payload,
)
from bot.wiring.settings import Settings, describe_settings_error

PACKS = [StarPack(1, 60), StarPack(5, 250), StarPack(20, 900)]


# --------------------------------------------------------------------------- STAR_PACKS


def test_packs_are_read_as_videos_and_stars_cheapest_first() -> None:
    assert parse_packs("20:900,1:60,5:250") == PACKS


def test_packs_allow_spaces_and_a_trailing_comma() -> None:
    assert parse_packs(" 1 : 60 , 5:250,20:900 ,") == PACKS


@pytest.mark.parametrize("text", ["", " ", ","])
def test_no_packs_means_payments_are_off(text: str) -> None:
    assert parse_packs(text) == []


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("1:60,5", "pack 2 ('5') is not videos:stars"),
        ("1-60", "pack 1 ('1-60') is not videos:stars"),
        ("1:60,five:250", "pack 2"),
        ("1:-60", "pack 1"),
        ("1.5:60", "pack 1"),
        ("0:60", "pack 1 must have at least 1 video and 1 Star"),
        ("1:60,5:0", "pack 2 must have at least 1 video and 1 Star"),
        ("1:60,100:10001", "pack 2 costs over 10000 Stars"),
        ("5:250,5:200", "two packs have the same number of videos"),
    ],
)
def test_a_bad_pack_is_refused_naming_it(text: str, names: str) -> None:
    with pytest.raises(ValueError, match="^" + names.replace("(", r"\(").replace(")", r"\)")):
        parse_packs(text)


def test_a_pack_of_10000_stars_is_the_most_one_invoice_may_ask() -> None:
    assert parse_packs("500:10000") == [StarPack(500, 10_000)]


def test_star_packs_in_the_settings_turn_payments_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123:abc")
    monkeypatch.setenv("AIMLAPI_KEY", "k")
    monkeypatch.setenv("STAR_PACKS", "5:250,1:60")
    settings = Settings(_env_file=None)
    assert settings.packs == [StarPack(1, 60), StarPack(5, 250)]
    assert settings.payments_on
    assert settings.free_videos_per_user == 1  # the default


def test_without_star_packs_payments_are_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123:abc")
    monkeypatch.setenv("AIMLAPI_KEY", "k")
    settings = Settings(_env_file=None)
    assert settings.packs == [] and not settings.payments_on
    assert settings.paysupport_text == settings.terms_text == ""


def test_bad_star_packs_give_a_one_line_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123:abc")
    monkeypatch.setenv("AIMLAPI_KEY", "k")
    monkeypatch.setenv("STAR_PACKS", "1:60,5 for 250")
    with pytest.raises(ValidationError) as caught:
        Settings(_env_file=None)
    line = describe_settings_error(caught.value)
    assert "\n" not in line
    assert line.startswith("Configuration error: STAR_PACKS is invalid")
    assert "pack 2" in line


def test_free_videos_per_user_may_be_zero_but_not_negative(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123:abc")
    monkeypatch.setenv("AIMLAPI_KEY", "k")
    monkeypatch.setenv("FREE_VIDEOS_PER_USER", "0")
    assert Settings(_env_file=None).free_videos_per_user == 0
    monkeypatch.setenv("FREE_VIDEOS_PER_USER", "-1")
    with pytest.raises(ValidationError):
        Settings(_env_file=None)


# --------------------------------------------------------------------------- payload


def test_a_pack_is_written_as_star_packs_writes_it() -> None:
    assert StarPack(5, 250).code == "5:250"


def test_a_payload_names_the_pack_and_its_buyer_and_reads_back() -> None:
    payload = StarPack(5, 250).payload(111)
    assert payload == "pack:5:250:user:111"
    assert read_payload(payload) == Order(StarPack(5, 250), 111)


def test_the_largest_payload_fits_telegrams_128_bytes() -> None:
    payload = StarPack(10**6, 10_000).payload(2**53)  # user ids stay below 2**52
    assert 1 <= len(payload.encode()) <= 128
    assert read_payload(payload) == Order(StarPack(10**6, 10_000), 2**53)


@pytest.mark.parametrize(
    "payload",
    [
        "",
        "pack-5:user-111",
        "pack:5:250",
        "pack:5:250:user:",
        "pack:5:250:user:111:extra",
        " pack:5:250:user:111",
        "pack:a:250:user:111",
    ],
)
def test_a_payload_this_bot_never_wrote_names_no_order(payload: str) -> None:
    assert read_payload(payload) is None


# --------------------------------------------------------------------------- checkout


def checkout(
    payload: str,
    *,
    payer_id: int = 111,
    currency: str = STARS,
    amount: int = 250,
    packs: list[StarPack] | None = None,
) -> Order | CheckoutRefusal:
    return check_checkout(
        payload,
        payer_id=payer_id,
        currency=currency,
        amount=amount,
        packs=PACKS if packs is None else packs,
    )


def test_a_checkout_of_a_pack_on_sale_by_its_buyer_at_its_price_goes_through() -> None:
    assert checkout("pack:5:250:user:111") == Order(StarPack(5, 250), 111)


def test_a_checkout_of_a_payload_never_written_is_refused() -> None:
    assert checkout("something else") is CheckoutRefusal.UNKNOWN_ORDER


@pytest.mark.parametrize(
    "packs",
    [[StarPack(1, 60), StarPack(5, 300)], [StarPack(1, 60)], []],
    ids=["repriced", "withdrawn", "payments-off"],
)
def test_a_checkout_of_a_pack_no_longer_on_sale_is_refused(packs: list[StarPack]) -> None:
    assert checkout("pack:5:250:user:111", packs=packs) is CheckoutRefusal.PACK_GONE


def test_a_checkout_by_another_user_than_the_invoices_is_refused() -> None:
    assert checkout("pack:5:250:user:111", payer_id=222) is CheckoutRefusal.OTHER_USER


@pytest.mark.parametrize(
    ("currency", "amount"), [(STARS, 249), (STARS, 251), (STARS, 0), ("USD", 250)]
)
def test_a_checkout_not_of_the_packs_price_in_stars_is_refused(currency: str, amount: int) -> None:
    refusal = checkout("pack:5:250:user:111", currency=currency, amount=amount)
    assert refusal is CheckoutRefusal.WRONG_AMOUNT
