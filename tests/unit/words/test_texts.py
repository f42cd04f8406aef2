"""Tests for bot.words.texts and its catalogs: every text a user reads is valid Telegram HTML, short
enough, says what would work, and exists in every language the bot speaks; every catalog has
every message of the code, translated, with the same placeholders and markup."""

from __future__ import annotations

import dataclasses
import html
import re
import unicodedata
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from babel import Locale
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from bot.image.firstframe import ImageProblem, ImageRejected
from bot.image.fixes import Fix
from bot.policy.access import DailyCapReached, DailyLimitReached, TooManyActive, UsageReport
from bot.policy.payments import CheckoutRefusal, StarPack
from bot.policy.stats import StatsReport
from bot.words.texts import (
    DOMAIN,
    ENGLISH,
    LANGUAGES,
    LOCALES_DIR,
    MAX_CAPTION_CHARS,
    MAX_MESSAGE_CHARS,
    RUSSIAN,
    TRANSLATIONS,
    Words,
    shorten,
    texts_for,
)
from storage import Job, JobState, Reason
from storage.counts import FailureCount
from storage.ledger import Purchase, StarTotals
from storage.waiting import Cancelled
from tests.emulators.telegram_emulator import parse_html

NOW = 1_800_000_000.0
SPECIALS = "<b>Tom</b> & \"Jerry\" 'run' > <script>"
SUPERGROUP = -1001234567890
ROOT = Path(__file__).resolve().parents[3]

#: The languages the bot speaks, by locale: English (the msgids) and one catalog each.
SPOKEN = {"en", "ru", "es", "pt_BR", "uk", "id", "tr", "fa"}
#: Letters each translation must show in every text, where its script tells it from English.
SCRIPTS = {"ru": "[а-яё]", "uk": "[а-щьюяєіїґ]", "fa": "[\u0600-\u06ff]"}


def make_job(
    job_id: int = 1, *, state: JobState = JobState.QUEUED, prompt: str = "a cat", age: float = 0
) -> Job:
    return Job(
        id=job_id,
        chat_id=111,
        request_message_id=job_id,
        photo_message_id=job_id,
        thread_id=None,
        user_id=111,
        prompt=prompt,
        prompt_optimizer=True,
        file_id=f"file{job_id}",
        image_sha256=None,
        state=state,
        generation_id=None,
        api_status=None,
        status_message_id=None,
        created_at=NOW - age,
        updated_at=NOW - age,
        submitted_at=None,
        next_poll_at=None,
        poll_count=0,
        poll_failures=0,
        video_url=None,
        reason=None,
        completed_at=None,
        delivered_at=None,
    )


def plain(html: str) -> str:
    """The text as the user reads it; raises like Telegram on malformed HTML."""
    return parse_html(html)[0]


#: The bot's own reasons (`Job.reason`) of a job /stats counts as failed.
OWN_REASONS = [
    Reason.GENERATION_LOST,
    Reason.VIDEO_EXPIRED,
    Reason.NO_VIDEO,
    Reason.NOT_SUBMITTED,
    Reason.RESTARTED_WHILE_SUBMITTING,
    Reason.LOST_WHILE_SUBMITTING,
    Reason.STAYED_BUSY,
]

TRANSLATED = sorted(name for name in LANGUAGES if name != "en")
EVERY_LANGUAGE = pytest.mark.parametrize("words", list(LANGUAGES.values()), ids=list(LANGUAGES))
EACH_TRANSLATION = pytest.mark.parametrize("language", TRANSLATED)


# --------------------------------------------------------------------------- choosing a language


def test_the_bot_speaks_every_language_it_promises() -> None:
    assert set(LANGUAGES) == SPOKEN
    # Telegram's command menus take two-letter codes.
    assert sorted(TRANSLATIONS) == sorted({name.split("_")[0] for name in TRANSLATED})
    assert all(re.fullmatch("[a-z]{2}", code) for code in TRANSLATIONS)


@pytest.mark.parametrize("code", ["ru", "ru-RU", "RU", "ru_RU", "ru-ua"])
def test_russian_codes_get_the_russian_catalog(code: str) -> None:
    assert texts_for(code) is RUSSIAN


@pytest.mark.parametrize("code", [None, "", "en", "en-GB", "de", "be", "rus", "run", "xx-YY"])
def test_any_other_code_or_none_gets_english(code: str | None) -> None:
    assert texts_for(code) is ENGLISH


@EACH_TRANSLATION
def test_each_language_is_found_by_its_own_code_and_its_regional_ones(language: str) -> None:
    words = LANGUAGES[language]
    code = language.replace("_", "-").lower()
    assert texts_for(code) is words
    assert texts_for(code.upper()) is words
    assert texts_for(language) is words
    assert texts_for(language.split("_")[0]) is words  # "pt" → pt_BR: the nearest there is
    assert texts_for(f"{language.split('_')[0]}-XX") is words


# --------------------------------------------------------------------------- the catalogs


def _extracted() -> dict[tuple[str | None, str], str | None]:
    """Every message of the code, as `make messages-extract` finds it: (context, msgid) to its
    plural msgid, or None."""
    with (ROOT / "babel.cfg").open() as config:
        method_map, options_map = parse_mapping_cfg(config)  # type: ignore[no-untyped-call]
    found: dict[tuple[str | None, str], str | None] = {}
    for _, _, message, _, context in extract_from_dir(str(ROOT), method_map, options_map):
        if isinstance(message, tuple):
            found[context, message[0]] = message[1]
        else:
            found[context, message] = None
    return found


def _catalog(language: str) -> Catalog:
    with (LOCALES_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po").open("rb") as source:
        return read_po(source)


def _entries(catalog: Catalog) -> dict[tuple[str | None, str], Any]:
    """The catalog's messages, by (context, msgid), as `_extracted` names them."""
    entries: dict[tuple[str | None, str], Any] = {}
    for message in catalog:
        msgid = message.id[0] if isinstance(message.id, list | tuple) else message.id
        if msgid:
            entries[message.context, str(msgid)] = message
    return entries


def test_catalog_messages_are_extracted_from_the_code() -> None:
    extracted = _extracted()
    assert len(extracted) > 150  # the extraction found the code's messages at all
    assert ("command", "Your jobs") in extracted
    assert extracted[None, "✖️ Took %(count)s job out of the line. Nothing was charged."] == (
        "✖️ Took %(count)s jobs out of the line. Nothing was charged."
    )


@EACH_TRANSLATION
def test_catalog_has_every_message_of_the_code_translated_and_no_other(language: str) -> None:
    extracted, catalog = _extracted(), _catalog(language)
    entries = _entries(catalog)
    missing = sorted(str(key) for key in extracted.keys() - entries.keys())
    assert missing == [], f"run `make messages-update`, then translate: {missing}"
    stale = sorted(str(key) for key in entries.keys() - extracted.keys())
    assert stale == [], f"no longer in the code (`make messages-update`): {stale}"
    assert not catalog.fuzzy, "the header is marked fuzzy"
    to_translate = []  # every entry a translator must see to, listed at once
    for key, entry in entries.items():
        plural = extracted[key]
        assert entry.pluralizable is (plural is not None), key
        if plural is not None:
            assert entry.id[1] == plural, key
        forms = entry.string if isinstance(entry.string, tuple) else (entry.string,)
        assert len(forms) == (catalog.num_plurals if plural else 1), key
        if entry.fuzzy or not all(form.strip() for form in forms):
            to_translate.append(f"{'fuzzy' if entry.fuzzy else 'empty'}: {key}")
    assert to_translate == [], f"translate in locales/{language}: {to_translate}"


@EACH_TRANSLATION
def test_catalog_plurals_follow_the_languages_cldr_rule(language: str) -> None:
    catalog = _catalog(language)
    rule = Catalog(locale=language)
    assert catalog.locale == Locale.parse(language)
    assert (catalog.num_plurals, catalog.plural_expr) == (rule.num_plurals, rule.plural_expr)


_PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]|%.")
_TAG = re.compile(r"</?([a-z]+)")


@EACH_TRANSLATION
def test_catalog_translations_keep_the_placeholders_and_markup(language: str) -> None:
    for key, entry in _entries(_catalog(language)).items():
        ids = entry.id if isinstance(entry.id, tuple) else (entry.id,)
        forms = entry.string if isinstance(entry.string, tuple) else (entry.string,)
        placeholders = set().union(*(_PLACEHOLDER.findall(msgid) for msgid in ids))
        tags = Counter(_TAG.findall(ids[0]))
        for form in forms:
            assert set(_PLACEHOLDER.findall(form)) == placeholders, (key, form)
            assert Counter(_TAG.findall(form)) == tags, (key, form)
            assert form.startswith("\n") is ids[0].startswith("\n"), key
            # An icon that opens the English opens the translation too.
            if not ids[0][:1].isascii():
                assert form[:1] == ids[0][:1], (key, form)


#: Where a dynamic part carries this, the text must show it as typed, never as markup.
INJECT = '<i>x</i> & "q" <a href="https://evil.example">'


@dataclasses.dataclass(frozen=True)
class Call:
    """Arguments for a catalog method. `injects`: a dynamic part carries INJECT."""

    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    injects: bool = False


def call(*args: Any, **kwargs: Any) -> Call:
    return Call(args, kwargs)


def injecting(*args: Any, **kwargs: Any) -> Call:
    return Call(args, kwargs, injects=True)


def _stats(
    *,
    failures: list[FailureCount],
    rate: float | None = 0.8,
    usage: dict[str, float] | None = None,
) -> StatsReport:
    return StatsReport(
        requests_today=3,
        submitted_today=2,
        requests_week=21,
        submitted_week=18,
        finished_week=10,
        delivered_week=8,
        success_rate=rate,
        median_seconds=150.0 if rate is not None else None,
        p95_seconds=400.0 if rate is not None else None,
        failures=failures,
        in_flight=1,
        in_flight_limit=4,
        waiting=2,
        usage_today=usage or {},
    )


def _usage(*, allowed: bool = True, admin: bool = False) -> UsageReport:
    return UsageReport(
        user_id=42,
        allowed=allowed,
        admin=admin,
        active=1,
        active_limit=2,
        today=3,
        daily_limit=5,
        resets_in=3700.0,
    )


_STATUS_JOBS = [
    make_job(4, state=JobState.WAITING, prompt=INJECT, age=5),
    make_job(3, state=JobState.GENERATING, prompt="bird sings", age=7 * 60 + 5),
    dataclasses.replace(make_job(2, state=JobState.FAILED, age=3 * 3600), chat_id=SUPERGROUP),
    make_job(1, state=JobState.DELIVERED, age=2 * 86400 + 1),
]

#: Representative arguments for every method of the catalog: each branch, each enum value.
SAMPLES: dict[str, list[Call]] = {
    "about": [call(3), call(14), call(61), call(185), call(1260)],
    "queued": [
        call(typical=180.0),
        call(typical=20.0),
        injecting(typical=180.0, converted_from=INJECT, image_format=INJECT),
    ],
    "prompt_too_long": [call(2001, 2000), call(2345, 2000)],
    "image_refused": [
        *(
            call(ImageRejected(problem, width=400, height=1000, size_bytes=21 << 20), fixes=fixes)
            for problem in ImageProblem
            for fixes in (False, True)
        ),
        *(call(ImageRejected(problem)) for problem in ImageProblem),
        injecting(ImageRejected(ImageProblem.UNSUPPORTED_FORMAT, image_format=INJECT)),
    ],
    "submission_failed": [call(None), injecting(INJECT)],
    "generation_failed": [
        call(None),
        call(Reason.GENERATION_LOST),
        call(Reason.VIDEO_EXPIRED),
        call(Reason.API_FAILED),
        injecting(Reason.API_FAILED, INJECT),
    ],
    "timed_out": [call(30.0), call(6 * 3600.0)],
    "progress_late": [call(905.0), call(4 * 3600.0)],
    "duration": [call(0), call(45), call(185), call(3725)],
    "time_left": [call(30), call(43200)],
    # Without `made_in` a caption is the prompt alone, in no language: not a sample here.
    "video_caption": [injecting(INJECT, 45.0), injecting(INJECT, 185.0)],
    "progress_queued": [call(35.0, 180.0), call(400.0, 180.0, late=True)],
    "progress_generating": [call(125.0, 180.0), call(400.0, 180.0, late=True)],
    "video_too_large": [injecting(f"https://cdn.example/v.mp4?{INJECT}")],
    "video_refused": [injecting(f"https://cdn.example/v.mp4?{INJECT}")],
    "state_label": [call(state) for state in JobState],
    "ago": [call(-5), call(61), call(3 * 3600), call(86400), call(5 * 86400)],
    "status_list": [
        call([], now=NOW),
        injecting(_STATUS_JOBS, now=NOW, places={4: 3}),
    ],
    "usage_today": [call(_usage()), call(_usage(admin=True)), call(_usage(allowed=False))],
    "not_allowed": [call(42)],
    "ids": [call(111, None), call(111, -1001234567890)],
    "too_many_active": [call(TooManyActive(active=1, limit=1)), call(TooManyActive(3, 3))],
    "daily_limit_reached": [call(DailyLimitReached(used=5, limit=5, resets_in=43200.0))],
    "waiting_in_line": [call(3)],
    "busy_in_line": [call(1)],
    "daily_cap_reached": [call(DailyCapReached(limit=500, resets_in=3700.0))],
    "alert_daily_cap": [call(DailyCapReached(limit=1, resets_in=60.0))],
    "alert_out_of_credits": [call("Insufficient credits"), injecting(INJECT)],
    "alert_misconfigured": [call("Unauthorized"), injecting(INJECT)],
    "alert_failing": [call(3, "HTTP 502"), injecting(3, INJECT)],
    "stayed_busy": [call(1800.0), call(45.0)],
    "cancel_report": [
        call(Cancelled(waiting=[], stopped=[], busy=0)),
        call(Cancelled(waiting=[1], stopped=[2, 3], busy=5)),
    ],
    "user_allowed": [call(42, was_open=False), call(42, was_open=True)],
    "user_denied": [call(42, cancelled=0), call(42, cancelled=2)],
    "cannot_deny_admin": [call(42)],
    "same_video_coming": [call(None), call("https://t.me/c/777/5"), injecting(INJECT)],
    "failure_reason": [call(reason) for reason in Reason],
    "help": [call(180.0), call(14.0), call(180.0, group=True)],
    "ask_stop_paid": [call(1), call(3)],
    "stats_report": [
        call(_stats(failures=[], rate=None)),
        call(_stats(failures=[FailureCount(JobState.TIMED_OUT, None, 1)])),
        call(_stats(failures=[FailureCount(JobState.FAILED, Reason.VIDEO_EXPIRED, 2)])),
        injecting(_stats(failures=[FailureCount(JobState.FAILED, Reason.API_FAILED, 2, INJECT)])),
        call(_stats(failures=[], usage={"credits": 1.0, "tokens": 12345.0})),
    ],
    "usage_amount": [call(1.0, "credits"), call(2.5, "tokens"), call(21.0, "credits")],
    "fix_button": [call(fix) for fix in Fix],
    "fixing": [call(fix) for fix in Fix],
    "fix_preview": [call(fix, 1999, 800) for fix in Fix],
    "settings": [
        call(prompt_optimizer=optimizer, chosen=chosen)
        for optimizer in (True, False)
        for chosen in (True, False)
    ],
    "optimizer_button": [call(True), call(False)],
    "optimizer_saved": [call(True), call(False)],
    # Payments in Telegram Stars.
    "videos": [call(1), call(2), call(5), call(21)],
    "pack_button": [call(StarPack(1, 60)), call(StarPack(5, 250)), call(StarPack(21, 900))],
    "buy_prompt": [call(0), call(1), call(7)],
    "invoice_title": [call(StarPack(1, 60)), call(StarPack(20, 900))],
    "invoice_description": [call(StarPack(1, 60)), call(StarPack(20, 900))],
    "checkout_refused": [call(refusal) for refusal in CheckoutRefusal],
    "payment_received": [call(1, 1), call(5, 6), call(20, 22)],
    "no_credit_left": [call([StarPack(1, 60), StarPack(5, 250)]), call([StarPack(20, 900)])],
    "balance_line": [call(0, 0), call(1, 0), call(4, 2)],
    "balance_report": [
        call(0, 0, [], now=NOW),
        injecting(
            3,
            1,
            [
                Purchase(42, INJECT, 5, 250, "5:250", NOW - 3600),
                Purchase(42, "stxAbC", 1, 60, "1:60", NOW - 3 * 86400, refunded=True),
            ],
            now=NOW,
        ),
    ],
    "refund_unknown": [injecting(INJECT)],
    "refund_already": [injecting(INJECT)],
    "refund_spent": [call("stxAbC", 2, 5), call("stxAbC", 0, 1), injecting(INJECT, 1, 5)],
    "refund_done": [
        call(Purchase(42, "stxAbC", 5, 250, "5:250", NOW), 5),
        call(Purchase(42, "stxAbC", 1, 60, "1:60", NOW), 0),
    ],
    "refund_failed": [injecting(INJECT)],
    "refunded_to_buyer": [call(Purchase(42, "stxAbC", 5, 250, "5:250", NOW))],
    "stars_line": [call(StarTotals(0, 0, 0)), call(StarTotals(1210, 60, 14))],
}

#: The gettext functions and the number formatting, not texts.
_SPECIAL = {"ngettext", "pgettext", "number", "digits"}
MEMBERS = sorted(name for name in vars(Words) if not name.startswith("_") and name not in _SPECIAL)
CONSTANTS = [name for name in MEMBERS if isinstance(getattr(ENGLISH, name), str)]
MENUS = [name for name in MEMBERS if isinstance(getattr(ENGLISH, name), tuple)]
METHODS = [name for name in MEMBERS if callable(getattr(ENGLISH, name))]
#: Texts that may read the same as in English in a language written in Latin letters.
NEUTRAL = {"duration", "time_left", "videos"}


def test_every_member_is_a_text_a_method_or_a_menu() -> None:
    assert sorted(METHODS + CONSTANTS + MENUS) == MEMBERS
    assert {"RECEIVED", "PRIVATE_COMMANDS", "help"} <= set(MEMBERS)


def test_every_method_has_sample_arguments() -> None:
    assert sorted(SAMPLES) == sorted(METHODS)
    assert all(SAMPLES.values())


def _renderings(words: Words, name: str) -> list[tuple[str, str, bool]]:
    """(in `words`, in English, injects) for each rendering of a member of the catalog."""
    if name in CONSTANTS:
        return [(getattr(words, name), getattr(ENGLISH, name), False)]
    return [
        (
            getattr(words, name)(*sample.args, **sample.kwargs),
            getattr(ENGLISH, name)(*sample.args, **sample.kwargs),
            sample.injects,
        )
        for sample in SAMPLES[name]
    ]


def _shows_as_typed(markup: str) -> bool:
    text, entities = parse_html(markup)
    urls = [html.unescape(str(entity.get("url", ""))) for entity in entities]
    return INJECT in text or any(INJECT in url for url in urls)


@EVERY_LANGUAGE
@pytest.mark.parametrize("name", CONSTANTS + METHODS)
def test_every_text_is_translated_valid_and_escaped(words: Words, name: str) -> None:
    language = str(words.locale)
    for markup, english, injects in _renderings(words, name):
        assert isinstance(markup, str)
        text = plain(markup)  # raises on markup Telegram would refuse
        assert text.strip()
        assert len(text) <= MAX_MESSAGE_CHARS
        if injects:
            assert _shows_as_typed(markup), markup
        if language == "en":
            continue
        if name not in NEUTRAL or language in SCRIPTS:
            assert markup != english, (language, markup)
        if language in SCRIPTS:
            assert re.search(SCRIPTS[language], text, re.IGNORECASE), (language, text)


@EVERY_LANGUAGE
@pytest.mark.parametrize("name", MENUS)
def test_command_menus_name_the_same_commands_described_in_each_language(
    words: Words, name: str
) -> None:
    menu, english = getattr(words, name), getattr(ENGLISH, name)
    assert [command for command, _ in menu] == [command for command, _ in english]
    for (_, about), (_, about_en) in zip(menu, english, strict=True):
        assert 0 < len(about) <= 256 and "<" not in about  # Telegram's limits; plain text
        if words is not ENGLISH:
            assert about != about_en


def test_command_menus_are_there_for_every_translation() -> None:
    assert set(TRANSLATIONS.values()) == {LANGUAGES[name] for name in TRANSLATED}


@EVERY_LANGUAGE
def test_buttons_and_callback_answers_fit(words: Words) -> None:
    labels = [
        words.BUTTON_AGAIN,
        words.BUTTON_RETRY,
        words.BUTTON_CANCEL,
        words.BUTTON_STOP_PAID,
        words.BUTTON_KEEP_PAID,
        *(words.fix_button(fix) for fix in Fix),
        *(words.optimizer_button(value) for value in (True, False)),
    ]
    for label in labels:
        assert 0 < len(label) <= 40, label  # a row of a phone's keyboard
    answers = [
        words.NOT_YOUR_BUTTON,
        words.NOT_YOUR_SETTINGS,
        words.ON_ITS_WAY,
        words.ALREADY_ON_ITS_WAY,
        words.ALREADY_DONE,
        words.KEPT_PAID,
        words.BUTTON_OUTDATED,
        words.OUT_OF_THE_LINE,
        words.ALREADY_LEFT_THE_LINE,
        *(words.fixing(fix) for fix in Fix),
        *(words.optimizer_saved(value) for value in (True, False)),
    ]
    for answer in answers:
        assert 0 < len(answer) <= 200, answer  # Telegram's limit for callback answers
        assert "<" not in answer


def _first_strong_direction(text: str) -> str | None:
    """How a client lays a line out: by its first letter that has a direction."""
    for char in text:
        direction = unicodedata.bidirectional(char)
        if direction in ("L", "R", "AL"):
            return "ltr" if direction == "L" else "rtl"
    return None


def test_persian_reads_right_to_left_in_arabic_script() -> None:
    if "fa" not in LANGUAGES:
        pytest.skip("no Persian catalog")
    persian = LANGUAGES["fa"]
    assert persian.locale.character_order == "right-to-left"
    for text in (persian.RECEIVED, persian.help(180.0), persian.duration(185)):
        letters = [c for c in plain(text) if c.isalpha()]
        arabic = [c for c in letters if "\u0600" <= c <= "\u06ff"]
        assert len(arabic) > len(letters) / 2, text
    # Every line opens with a Persian word, so that clients lay it out right to left, even
    # where a command or a number comes early. Prompts are the user's: their lines are not.
    for name in CONSTANTS + METHODS:
        if name == "video_caption":
            continue
        for markup, _, _ in _renderings(persian, name):
            for line in plain(markup).splitlines():
                if line.strip() and not line.startswith("    "):  # a job's prompt, indented
                    assert _first_strong_direction(line) == "rtl", (name, line)
    for name in MENUS:
        for _, about in getattr(persian, name):
            assert _first_strong_direction(about) == "rtl", about


# --------------------------------------------------------------------------- Russian plurals


@pytest.mark.parametrize(
    ("count", "form"),
    [
        (1, "минуты"),
        (2, "минут"),
        (5, "минут"),
        (11, "минут"),
        (12, "минут"),
        (21, "минуты"),
        (22, "минут"),
        (25, "минут"),
        (111, "минут"),
    ],
)
def test_russian_about_takes_the_form_for_the_number(count: int, form: str) -> None:
    assert RUSSIAN.about(count * 60) == f"около {count} {form}"


@pytest.mark.parametrize(
    ("count", "words"),
    [
        (1, "1 задание"),
        (2, "2 задания"),
        (5, "5 заданий"),
        (11, "11 заданий"),
        (21, "21 задание"),
        (22, "22 задания"),
        (25, "25 заданий"),
        (111, "111 заданий"),
    ],
)
def test_russian_counts_read_naturally(count: int, words: str) -> None:
    report = plain(RUSSIAN.cancel_report(Cancelled(waiting=list(range(count)), stopped=[], busy=0)))
    assert f": {words}." in report
    days = {1: "день", 2: "дня", 5: "дней", 11: "дней", 21: "день", 22: "дня", 25: "дней"}
    days[111] = "дней"
    assert RUSSIAN.ago(count * 86400) == f"{count} {days[count]} назад"
    requests = {1: "запрос", 2: "запроса", 5: "запросов", 21: "запрос", 22: "запроса"}
    if count in requests:
        alert = plain(RUSSIAN.alert_failing(count, "HTTP 502"))
        assert f" {count} {requests[count]} к видеосервису" in alert


def test_russian_durations_and_reset_times_are_short_and_natural() -> None:
    assert RUSSIAN.duration(45) == "45 с"
    assert RUSSIAN.duration(185) == "3 мин 05 с"
    assert RUSSIAN.duration(3725) == "1 ч 02 мин"
    assert RUSSIAN.time_left(43200) == "12 ч 0 мин"
    limit = plain(RUSSIAN.daily_limit_reached(DailyLimitReached(5, 5, 43200.0)))
    assert "в 00:00 UTC, через 12 ч 0 мин" in limit


def test_english_counts_take_the_singular_for_one() -> None:
    assert ENGLISH.about(60) == "about 1 minute"
    assert ENGLISH.ask_stop_paid(1).startswith("🎬 The video service is already making 1 video ")
    assert "making 3 videos for you" in ENGLISH.ask_stop_paid(3)
    assert ENGLISH.usage_amount(1.0, "tokens") == "1 token"
    assert ENGLISH.usage_amount(12345.0, "credits") == "12,345 credits"
    assert ENGLISH.usage_amount(2.5, "credits") == "2.5 credits"
    assert ENGLISH.usage_amount(3.0, "seconds") == "3 seconds"


def test_stats_words_every_reason_code_and_quotes_the_apis_words() -> None:
    for words in LANGUAGES.values():
        for reason in Reason:
            worded = words.failure_reason(reason)
            assert worded.strip() and worded != reason.value, (words.locale, reason)
            if words is not ENGLISH:
                assert worded != ENGLISH.failure_reason(reason), (words.locale, reason)
        quoted = words.failure_reason(Reason.API_FAILED, "Content policy violation")
        assert quoted == "Content policy violation"
    # The reasons shown to users read in English as they always did.
    assert [ENGLISH.failure_reason(reason) for reason in OWN_REASONS[:3]] == [
        "the video service lost track of this job",
        "the finished video expired before it could be sent",
        "the video service finished without a video",
    ]
    # As storage reports them (storage.counts's failures): a restart cut two submissions off.
    report = _stats(
        failures=[FailureCount(JobState.INTERRUPTED, Reason.RESTARTED_WHILE_SUBMITTING, 2)]
    )
    assert "прервано: бот перезапустился во время отправки × 2" in plain(
        RUSSIAN.stats_report(report)
    )
    assert "interrupted: the bot restarted while submitting × 2" in plain(
        ENGLISH.stats_report(report)
    )
    # The API's words are quoted beside the state; a chat closed to the bot reads in words.
    report = _stats(
        failures=[
            FailureCount(JobState.FAILED, Reason.API_FAILED, 3, "Content policy violation"),
            FailureCount(JobState.UNDELIVERABLE, Reason.CHAT_CLOSED, 1),
        ]
    )
    shown = plain(ENGLISH.stats_report(report))
    assert "failed: Content policy violation × 3" in shown
    assert "not delivered: the chat is closed to the bot × 1" in shown
    assert "чат закрыт для бота × 1" in plain(RUSSIAN.stats_report(report))


def test_stats_show_the_days_cost_in_each_unit_the_api_reported() -> None:
    report = _stats(failures=[], usage={"credits": 126.0, "tokens": 1.0})
    assert "Cost today, as the video service counts it: 126 credits, 1 token" in plain(
        ENGLISH.stats_report(report)
    )
    assert "по счёту видеосервиса: 126 кредитов, 1 токен" in plain(RUSSIAN.stats_report(report))
    assert RUSSIAN.usage_amount(2.5, "credits") == "2,5 кредита"
    assert RUSSIAN.usage_amount(22.0, "credits") == "22 кредита"
    assert "Cost today" not in plain(ENGLISH.stats_report(_stats(failures=[])))
    assert "(80%)" in plain(ENGLISH.stats_report(_stats(failures=[])))


@EVERY_LANGUAGE
def test_the_api_reason_is_quoted_as_written_and_the_bots_own_is_worded(words: Words) -> None:
    api_reason = "Content policy violation"
    assert api_reason in plain(words.generation_failed(Reason.API_FAILED, api_reason))
    assert api_reason in plain(words.submission_failed(api_reason))
    for own in (Reason.GENERATION_LOST, Reason.VIDEO_EXPIRED):
        assert words.failure_reason(own) in plain(words.generation_failed(own))
        assert own.value not in plain(words.generation_failed(own))  # a code is never shown
        if words is not ENGLISH:
            assert ENGLISH.failure_reason(own) not in plain(words.generation_failed(own))


# --------------------------------------------------------------------------- as a person sees it


@EVERY_LANGUAGE
def test_status_of_ten_jobs_with_2000_char_html_prompts_fits_one_message(words: Words) -> None:
    prompt = ('<>&"' * 500)[:2000]
    jobs = [
        dataclasses.replace(
            make_job(10**6 + i, state=state, prompt=prompt, age=i * 3600),
            chat_id=SUPERGROUP,  # with a link to each photo: the longest a line gets
            thread_id=10**6,
        )
        for i, state in enumerate([*JobState][:10])
    ]
    places = {job.id: 100 + job.id for job in jobs}
    reply = words.status_list(jobs, now=NOW, places=places) + "\n\n" + words.usage_today(_usage())
    text = plain(reply)
    assert len(text) <= MAX_MESSAGE_CHARS
    assert text.count(shorten(prompt, 60)) == 10  # each prompt shown as typed, cut short


@EVERY_LANGUAGE
def test_video_caption_of_a_2000_char_html_prompt_fits_1024(words: Words) -> None:
    prompt = ('<>&"' * 500)[:2000]
    for made_in in (None, 59.0, 3 * 3600.0):
        caption = plain(words.video_caption(prompt, made_in))
        assert len(caption) <= MAX_CAPTION_CHARS
        assert caption.startswith("🎬 " + prompt[:100])


@EVERY_LANGUAGE
def test_the_longest_texts_fit_with_the_longest_values(words: Words) -> None:
    report = dataclasses.replace(
        _stats(
            failures=[
                FailureCount(state, Reason.API_FAILED, 10**6, "x" * 500) for state in JobState
            ]
        ),
        usage_today={"credits": 10.0**9, "tokens": 10.0**9, "x" * 100: 1.5},
    )
    for markup in (
        words.stats_report(report),
        words.help(10**6, group=True),
        words.same_video_coming("https://t.me/c/" + "7" * 30),
        words.cancel_report(Cancelled(waiting=[1] * 10**4, stopped=[2] * 10**4, busy=10**4)),
    ):
        assert len(plain(markup)) <= MAX_MESSAGE_CHARS


# --------------------------------------------------------------------------- /status


def test_status_list_without_jobs_says_so_plainly() -> None:
    assert ENGLISH.status_list([], now=NOW) == ENGLISH.NO_JOBS
    assert "no jobs" in plain(ENGLISH.NO_JOBS)


def test_status_list_keeps_the_given_newest_first_order_with_state_and_age() -> None:
    jobs = [
        make_job(4, state=JobState.QUEUED, prompt="fish swims", age=5),
        make_job(3, state=JobState.GENERATING, prompt="bird sings", age=7 * 60 + 5),
        make_job(2, state=JobState.FAILED, prompt="dog barks", age=3 * 3600 + 1),
        make_job(1, state=JobState.DELIVERED, prompt="cat yawns", age=2 * 86400 + 1),
    ]
    text = plain(ENGLISH.status_list(jobs, now=NOW))
    prompts = ("fish swims", "bird sings", "dog barks", "cat yawns")
    positions = [text.index(prompt) for prompt in prompts]
    assert positions == sorted(positions)
    lines = text.splitlines()
    assert "newest first" in lines[0]
    expected = [
        ("queued", "just now"),
        ("generating", "7 min ago"),
        ("failed", "3 h ago"),
        ("done", "2 d ago"),
    ]
    labels = [line for line in lines[1:] if "·" in line]
    assert len(labels) == 4
    for line, (state, age) in zip(labels, expected, strict=True):
        assert state in line and age in line


@EVERY_LANGUAGE
@pytest.mark.parametrize("state", list(JobState))
def test_status_list_names_every_state_in_words(words: Words, state: JobState) -> None:
    text = plain(words.status_list([make_job(state=state, prompt="x")], now=NOW))
    label = text.splitlines()[1]
    assert any(c.isalpha() for c in label.split("·")[0])


@EVERY_LANGUAGE
def test_status_list_cuts_long_prompts_and_escapes_html(words: Words) -> None:
    long_prompt = SPECIALS + " and then " + "z" * 200
    text = plain(words.status_list([make_job(prompt=long_prompt)], now=NOW))
    assert long_prompt not in text
    assert shorten(long_prompt, 60) in text
    assert '<b>Tom</b> & "Jerry"' in text  # shown as typed, not as markup


def test_a_clock_that_went_back_reads_just_now() -> None:
    assert ENGLISH.ago(-30) == "just now"
    assert ENGLISH.ago(59.9) == "just now"
    assert ENGLISH.ago(60) == "1 min ago"
    assert ENGLISH.ago(3600) == "1 h ago"
    assert ENGLISH.ago(86400) == "1 d ago"
    assert RUSSIAN.ago(-30) == "только что"


# --------------------------------------------------------------------------- shorten


def test_shorten_leaves_short_text_alone_but_collapses_whitespace() -> None:
    assert shorten("a  cat\n\tblinks ", 60) == "a cat blinks"
    assert shorten("x" * 60, 60) == "x" * 60


def test_shorten_cuts_to_the_limit_with_an_ellipsis() -> None:
    cut = shorten("y" * 61, 60)
    assert len(cut) == 60
    assert cut == "y" * 59 + "…"


def test_shorten_drops_a_dangling_space_before_the_ellipsis() -> None:
    cut = shorten("abcd efgh ijkl", 6)
    assert cut == "abcd…"
    assert len(cut) <= 6


# --------------------------------------------------------------------------- captions


@EVERY_LANGUAGE
def test_video_caption_of_a_2000_char_prompt_with_html_specials_fits_1024(words: Words) -> None:
    prompt = (SPECIALS * 100)[:2000]
    assert len(prompt) == 2000
    caption = plain(words.video_caption(prompt))
    assert len(caption) <= MAX_CAPTION_CHARS
    assert caption.startswith("🎬 ")
    assert caption.endswith("…")
    assert caption[2:].rstrip("…") in " ".join(prompt.split())


@EVERY_LANGUAGE
def test_video_caption_of_a_short_prompt_keeps_it_whole(words: Words) -> None:
    assert plain(words.video_caption(SPECIALS)) == "🎬 " + SPECIALS


# --------------------------------------------------------------------------- refusals

#: For each problem, words that say what would work instead, in English and in Russian.
REMEDIES = {
    ImageProblem.TOO_LARGE: (("at most 20 MB",), ("до 20 МБ",)),
    ImageProblem.NOT_AN_IMAGE: (("JPG or PNG",), ("JPG или PNG",)),
    ImageProblem.CORRUPT: (("send it again", "JPG or PNG"), ("ещё раз", "JPG или PNG")),
    ImageProblem.UNSUPPORTED_FORMAT: (("JPG or PNG",), ("JPG или PNG",)),
    ImageProblem.TOO_SMALL: (("over 300 px", "larger photo"), ("больше 300 px", "побольше")),
    ImageProblem.TOO_TALL: (("crop", "2:5"), ("Обрежьте", "2:5")),
    ImageProblem.TOO_WIDE: (("crop", "5:2"), ("Обрежьте", "5:2")),
    ImageProblem.TOO_MANY_PIXELS: (("smaller image",), ("поменьше",)),
}
#: For each problem, what would work, as every language writes it.
LIMITS = {
    ImageProblem.TOO_LARGE: ("20",),
    ImageProblem.NOT_AN_IMAGE: ("JPG", "PNG"),
    ImageProblem.CORRUPT: ("JPG", "PNG"),
    ImageProblem.UNSUPPORTED_FORMAT: ("JPG", "PNG"),
    ImageProblem.TOO_SMALL: ("300",),
    ImageProblem.TOO_TALL: ("2:5",),
    ImageProblem.TOO_WIDE: ("5:2",),
    ImageProblem.TOO_MANY_PIXELS: ("50",),
}
LANGUAGES_WITH_REMEDIES = pytest.mark.parametrize(
    ("words", "language"), [(ENGLISH, 0), (RUSSIAN, 1)], ids=["en", "ru"]
)


def test_every_image_problem_has_a_remedy_listed() -> None:
    assert set(REMEDIES) == set(LIMITS) == set(ImageProblem)


@LANGUAGES_WITH_REMEDIES
@pytest.mark.parametrize("problem", list(ImageProblem))
def test_every_image_refusal_says_what_would_work(
    words: Words, language: int, problem: ImageProblem
) -> None:
    rejection = ImageRejected(
        problem, width=400, height=1000, size_bytes=21 * 1024 * 1024, image_format="GIF"
    )
    text = plain(words.image_refused(rejection))
    assert ("Please" if language == 0 else "пожалуйста") in text
    for remedy in REMEDIES[problem][language]:
        assert remedy in text


@EVERY_LANGUAGE
@pytest.mark.parametrize("problem", list(ImageProblem))
def test_image_refusal_reads_well_when_nothing_is_known(
    words: Words, problem: ImageProblem
) -> None:
    text = plain(words.image_refused(ImageRejected(problem)))
    assert "None" not in text
    for limit in LIMITS[problem]:
        assert words.digits(limit) in text
    if words is ENGLISH or words is RUSSIAN:
        for remedy in REMEDIES[problem][words is RUSSIAN]:
            assert remedy in text


@EVERY_LANGUAGE
def test_image_refusal_shows_the_size_it_measured(words: Words) -> None:
    small = ImageRejected(ImageProblem.TOO_SMALL, width=300, height=640)
    assert words.digits("300×640 px") in plain(words.image_refused(small))
    rejection = ImageRejected(ImageProblem.UNSUPPORTED_FORMAT, image_format="<svg>&")
    assert "<svg>&" in plain(words.image_refused(rejection))


def test_image_refusal_shows_the_megabytes_as_the_language_writes_them() -> None:
    large = ImageRejected(ImageProblem.TOO_LARGE, size_bytes=25 * 1024 * 1024)
    assert "25.0 MB" in plain(ENGLISH.image_refused(large))
    assert "25,0 МБ" in plain(RUSSIAN.image_refused(large))


def test_image_refusal_escapes_a_strange_format_name() -> None:
    rejection = ImageRejected(ImageProblem.UNSUPPORTED_FORMAT, image_format="<svg>&")
    assert plain(ENGLISH.image_refused(rejection)).startswith("<svg>& images")


@EVERY_LANGUAGE
def test_a_refusal_with_fixes_points_at_the_buttons(words: Words) -> None:
    rejection = ImageRejected(ImageProblem.TOO_SMALL, width=200, height=300)
    alone = words.image_refused(rejection)
    with_fixes = words.image_refused(rejection, fixes=True)
    assert with_fixes.startswith(alone + "\n\n👇 ")


# --------------------------------------------------------------------------- other texts


def test_failure_texts_escape_the_api_reason() -> None:
    assert SPECIALS in plain(ENGLISH.generation_failed(Reason.API_FAILED, SPECIALS))
    assert SPECIALS in plain(ENGLISH.submission_failed(SPECIALS))
    assert "could not make this video." in plain(ENGLISH.generation_failed(None))
    assert "refused this request: no reason given." in plain(ENGLISH.submission_failed(None))


@EVERY_LANGUAGE
def test_video_too_large_links_to_the_video(words: Words) -> None:
    url = 'https://cdn.example/v.mp4?Expires=1&Signature=a"b<c'
    for markup in (words.video_too_large(url), words.video_refused(url)):
        _, entities = parse_html(markup)
        [link] = [e for e in entities if e["type"] == "text_link"]
        assert html.unescape(link["url"]) == url  # Telegram decodes entities in attributes
        assert link["length"] > 5


def test_video_too_large_says_download() -> None:
    assert "Download it" in plain(ENGLISH.video_too_large("https://cdn.example/v.mp4"))


@EVERY_LANGUAGE
def test_prompt_too_long_names_both_numbers(words: Words) -> None:
    text = plain(words.prompt_too_long(2345, 2000))
    assert words.number(2345) in text and words.number(2000) in text


@EVERY_LANGUAGE
def test_user_ids_are_shown_as_they_are_to_be_copied(words: Words) -> None:
    for markup in (words.not_allowed(1234567890), words.user_allowed(1234567890, was_open=True)):
        assert "<code>1234567890</code>" in markup


def test_timed_out_names_how_long_the_video_was_followed() -> None:
    assert "in 6 h 00 min" in plain(ENGLISH.timed_out(6 * 3600.0))
    assert "за 6 ч 00 мин" in plain(RUSSIAN.timed_out(6 * 3600.0))
    # Never "longer than 0 minutes" under a short timeout.
    assert "in 30 s" in plain(ENGLISH.timed_out(30.0))


# --------------------------------------------------------------------------- Persian digits

PERSIAN_DIGITS = "۰۱۲۳۴۵۶۷۸۹"


def _latin_digits(text: str) -> list[str]:
    return [c for c in text if c in "0123456789"]


def test_persian_shows_numbers_counts_and_durations_in_persian_digits() -> None:
    persian = LANGUAGES["fa"]
    assert persian.number(12345) == "۱۲٬۳۴۵" and persian.number(5, digits=2) == "۰۵"
    shown = {
        "duration": persian.duration(3725),
        "short duration": persian.duration(185),
        "ago": persian.ago(3 * 3600),
        "about": persian.about(180),
        "time left": persian.time_left(43200),
        "count": persian.waiting_in_line(12),
        "limit": plain(persian.daily_limit_reached(DailyLimitReached(5, 5, 3600.0))),
        "image size": plain(
            persian.image_refused(ImageRejected(ImageProblem.TOO_WIDE, width=1000, height=380))
        ),
        "amount": persian.usage_amount(2.5, "credits"),
        "stats": plain(persian.stats_report(_stats(failures=[], usage={"credits": 126.0}))),
        "prompt length": plain(persian.prompt_too_long(2048, 2000)),
    }
    for what, text in shown.items():
        assert _latin_digits(text.replace("p95", "")) == [], (what, text)
        assert any(c in PERSIAN_DIGITS for c in text), (what, text)
    assert persian.duration(3725) == "۱ ساعت و ۰۲ دقیقه"
    assert "۱۰۰۰×۳۸۰" in shown["image size"]
    assert "۱۹۹۹×۸۰۰" in persian.fix_preview(Fix.CROP, 1999, 800)
    # An id stays as it is typed into /allow and /deny: in Latin digits.
    assert "123456789" in plain(persian.not_allowed(123456789))
    assert "123456789" in plain(persian.user_allowed(123456789, was_open=False))


def test_languages_written_in_latin_digits_show_numbers_as_before() -> None:
    assert ENGLISH.duration(3725) == "1 h 02 min" and ENGLISH.duration(185) == "3 min 05 s"
    assert ENGLISH.number(12345) == "12345"
    assert "12" in plain(ENGLISH.waiting_in_line(12))
    assert RUSSIAN.usage_amount(2.5, "credits") == "2,5 кредита"
    assert "1000×380 px" in plain(
        ENGLISH.image_refused(ImageRejected(ImageProblem.TOO_WIDE, width=1000, height=380))
    )
    for words in LANGUAGES.values():
        if str(words.locale) != "fa":
            assert not any(c in PERSIAN_DIGITS for c in words.duration(3725) + words.ago(7200))
