"""Tests for the buttons' building blocks: callback data, the `--exact` flag, and the texts
that go with them."""

from __future__ import annotations

import dataclasses

import pytest

from bot.engine.chat_port import Keyboard
from bot.engine.keyboards import (
    AGAIN_PATTERN,
    CANCEL_PATTERN,
    FIX_PATTERN,
    OPTIMIZER_PATTERN,
    RETRY_PATTERN,
    again_markup,
    cancel_markup,
    fix_markup,
    retry_markup,
    settings_markup,
)
from bot.image.fixes import Fix
from bot.words.texts import ENGLISH, RUSSIAN, English
from handlers.intake import without_exact_flag
from tests.emulators.telegram_emulator import parse_html
from tests.unit.words.test_texts import make_job

BIG_ID = 2**53  # far more jobs than a bot will ever have


def datas(keyboard: Keyboard) -> list[str]:
    return [button.data for row in keyboard for button in row]


def test_every_button_routes_to_its_own_pattern_and_fits_64_bytes() -> None:
    job = make_job(BIG_ID)
    routed = [
        (again_markup(job), AGAIN_PATTERN),
        (retry_markup(job), RETRY_PATTERN),
        (cancel_markup(job), CANCEL_PATTERN),
        (fix_markup(job, list(Fix)), FIX_PATTERN),
        (settings_markup(True, ENGLISH), OPTIMIZER_PATTERN),
        (settings_markup(False, RUSSIAN), OPTIMIZER_PATTERN),
    ]
    patterns = [AGAIN_PATTERN, RETRY_PATTERN, CANCEL_PATTERN, FIX_PATTERN, OPTIMIZER_PATTERN]
    for markup, pattern in routed:
        for data in datas(markup):
            assert len(data.encode()) <= 64
            assert [p for p in patterns if p.match(data)] == [pattern]


def test_fix_buttons_carry_the_job_and_the_fix_in_the_order_given() -> None:
    markup = fix_markup(make_job(7), [Fix.PAD, Fix.CROP])
    assert datas(markup) == ["fix:7:pad", "fix:7:crop"]
    match = FIX_PATTERN.match("fix:7:upscale")
    assert match is not None and Fix(match.group("fix")) is Fix.UPSCALE
    assert FIX_PATTERN.match("fix:7:rotate") is None


@pytest.mark.parametrize(
    ("language", "words"), [("ru-RU", RUSSIAN), ("de", ENGLISH), (None, ENGLISH)]
)
def test_a_jobs_buttons_speak_the_language_its_user_had(
    language: str | None, words: English
) -> None:
    job = dataclasses.replace(make_job(7), language=language)
    markups = [again_markup(job), retry_markup(job), cancel_markup(job), fix_markup(job, list(Fix))]
    labels = [button.text for markup in markups for row in markup for button in row]
    assert labels == [
        words.BUTTON_AGAIN,
        words.BUTTON_RETRY,
        words.BUTTON_CANCEL,
        *(words.fix_button(fix) for fix in Fix),
    ]


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("she waves --exact", ("she waves", True)),
        ("she waves --EXACT  ", ("she waves", True)),
        ("she waves\n--exact", ("she waves", True)),
        ("she waves —exact", ("she waves", True)),
        ("--exact", ("", True)),
        ("she waves", ("she waves", False)),
        ("she waves--exact", ("she waves--exact", False)),
        ("--exact she waves", ("--exact she waves", False)),
    ],
)
def test_exact_flag_counts_only_as_the_last_word(prompt: str, expected: tuple[str, bool]) -> None:
    assert without_exact_flag(prompt) == expected


@pytest.mark.parametrize("fix", list(Fix))
def test_fix_texts_name_the_fix(fix: Fix) -> None:
    assert ENGLISH.fix_button(fix)
    assert ENGLISH.fixing(fix)
    caption, _ = parse_html(ENGLISH.fix_preview(fix, 1999, 800))
    assert caption.endswith("to 1999×800: this is what will be animated.")
    caption, _ = parse_html(RUSSIAN.fix_preview(fix, 1999, 800))
    assert "до 1999×800" in caption


def test_queued_names_a_conversion_escaped() -> None:
    assert "(converted" not in ENGLISH.queued(typical=180)
    text, _ = parse_html(ENGLISH.queued(typical=180, converted_from="<X&Y>", image_format="JPEG"))
    assert text.endswith("\n(converted from <X&Y> to JPEG)")
    text, _ = parse_html(RUSSIAN.queued(typical=180, converted_from="<X&Y>", image_format="JPEG"))
    assert text.endswith("\n(формат <X&Y> сконвертирован в JPEG)")


@pytest.mark.parametrize("optimizer", [True, False])
@pytest.mark.parametrize("chosen", [True, False])
def test_settings_text_says_the_state_and_the_exact_tip(optimizer: bool, chosen: bool) -> None:
    text, _ = parse_html(ENGLISH.settings(prompt_optimizer=optimizer, chosen=chosen))
    assert f"Prompt optimizer: {'on' if optimizer else 'off'}" in text
    assert ("(the default)" in text) is not chosen
    assert "--exact" in text


@pytest.mark.parametrize("words", [ENGLISH, RUSSIAN], ids=["en", "ru"])
def test_callback_answers_fit_telegrams_200_characters(words: English) -> None:
    answers = [
        words.NOT_YOUR_BUTTON,
        words.NOT_YOUR_SETTINGS,
        words.ON_ITS_WAY,
        words.ALREADY_ON_ITS_WAY,
        words.BUTTON_OUTDATED,
        words.OUT_OF_THE_LINE,
        words.ALREADY_LEFT_THE_LINE,
        *(words.fixing(fix) for fix in Fix),
        *(words.optimizer_saved(value) for value in (True, False)),
    ]
    for answer in answers:
        assert 0 < len(answer) <= 200
        assert "<" not in answer  # shown as plain text, never parsed as HTML
