"""Tests for bot.texts: every text a user reads is valid Telegram HTML, short enough, says what
would work, and exists in every language the bot speaks."""

from __future__ import annotations

import dataclasses
import html
import re
from collections.abc import Mapping
from typing import Any

import pytest

from bot.access import DailyCapReached, DailyLimitReached, TooManyActive, UsageReport
from bot.firstframe import ImageProblem, ImageRejected
from bot.imagefix import Fix
from bot.stats import StatsReport
from bot.texts import (
    ENGLISH,
    MAX_CAPTION_CHARS,
    MAX_MESSAGE_CHARS,
    RUSSIAN,
    English,
    Russian,
    _plural_ru,
    shorten,
    texts_for,
)
from storage import (
    GENERATION_LOST,
    LOST_WHILE_SUBMITTING,
    NO_VIDEO,
    NOT_SUBMITTED,
    RESTARTED_DURING_SUBMIT,
    STAYED_BUSY,
    VIDEO_EXPIRED,
    Job,
    JobState,
)
from storage.access import FailureCount
from storage.line import Cancelled
from tests.emulators.telegram import parse_html

NOW = 1_800_000_000.0
SPECIALS = "<b>Tom</b> & \"Jerry\" 'run' > <script>"
SUPERGROUP = -1001234567890


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
        error=None,
        completed_at=None,
        delivered_at=None,
    )


def plain(html: str) -> str:
    """The text as the user reads it; raises like Telegram on malformed HTML."""
    return parse_html(html)[0]


#: The reasons the bot itself stores in `Job.error` of a job /stats counts as failed.
OWN_REASONS = [
    GENERATION_LOST,
    VIDEO_EXPIRED,
    NO_VIDEO,
    NOT_SUBMITTED,
    RESTARTED_DURING_SUBMIT,
    LOST_WHILE_SUBMITTING,
    STAYED_BUSY,
]

BOTH = pytest.mark.parametrize("words", [ENGLISH, RUSSIAN], ids=["en", "ru"])


# --------------------------------------------------------------------------- choosing a language


@pytest.mark.parametrize("code", ["ru", "ru-RU", "RU", "ru_RU", "ru-ua"])
def test_russian_codes_get_the_russian_catalog(code: str) -> None:
    assert texts_for(code) is RUSSIAN


@pytest.mark.parametrize("code", [None, "", "en", "en-GB", "de", "uk", "be", "rus", "run"])
def test_any_other_code_or_none_gets_english(code: str | None) -> None:
    assert texts_for(code) is ENGLISH


# --------------------------------------------------------------------------- both languages

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
        call(GENERATION_LOST),
        call(VIDEO_EXPIRED),
        injecting(INJECT),
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
    "failure_reason": [call(own) for own in OWN_REASONS],
    "help": [call(180.0), call(14.0), call(180.0, group=True)],
    "ask_stop_paid": [call(1), call(3)],
    "stats_report": [
        call(_stats(failures=[], rate=None)),
        call(_stats(failures=[FailureCount(JobState.TIMED_OUT, None, 1)])),
        call(_stats(failures=[FailureCount(JobState.FAILED, VIDEO_EXPIRED, 2)])),
        injecting(_stats(failures=[FailureCount(JobState.FAILED, INJECT, 2)])),
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
}

MEMBERS = sorted(name for name in vars(English) if not name.startswith("_"))
METHODS = [name for name in MEMBERS if callable(vars(English)[name])]
CONSTANTS = [name for name in MEMBERS if isinstance(vars(English)[name], str)]
MENUS = [name for name in MEMBERS if isinstance(vars(English)[name], tuple)]


def test_every_member_is_a_text_a_method_or_a_menu() -> None:
    assert sorted(METHODS + CONSTANTS + MENUS) == MEMBERS


def test_russian_overrides_every_english_member() -> None:
    missing = [name for name in MEMBERS if name not in vars(Russian)]
    assert missing == [], f"texts without a Russian version: {missing}"
    extra = sorted(name for name in vars(Russian) if not name.startswith("_"))
    assert extra == MEMBERS  # nothing only Russian has: callers see an `English`


def test_every_method_has_sample_arguments() -> None:
    assert sorted(SAMPLES) == sorted(METHODS)
    assert all(SAMPLES.values())


def _renderings(name: str) -> list[tuple[str, str, bool]]:
    """(English, Russian, injects) for each rendering of a member of the catalog."""
    if name in CONSTANTS:
        return [(getattr(ENGLISH, name), getattr(RUSSIAN, name), False)]
    return [
        (
            getattr(ENGLISH, name)(*sample.args, **sample.kwargs),
            getattr(RUSSIAN, name)(*sample.args, **sample.kwargs),
            sample.injects,
        )
        for sample in SAMPLES[name]
    ]


def _shows_as_typed(markup: str) -> bool:
    text, entities = parse_html(markup)
    urls = [html.unescape(str(entity.get("url", ""))) for entity in entities]
    return INJECT in text or any(INJECT in url for url in urls)


@pytest.mark.parametrize("name", CONSTANTS + METHODS)
def test_every_text_is_translated_valid_and_escaped(name: str) -> None:
    for english, russian, injects in _renderings(name):
        assert isinstance(english, str) and isinstance(russian, str)
        assert russian != english
        for markup in (english, russian):
            text = plain(markup)  # raises on markup Telegram would refuse
            assert text.strip()
            assert len(text) <= MAX_MESSAGE_CHARS
            if injects:
                assert _shows_as_typed(markup), markup
        assert re.search("[а-яё]", plain(russian), re.IGNORECASE), russian


@pytest.mark.parametrize("name", MENUS)
def test_command_menus_name_the_same_commands_described_in_each_language(name: str) -> None:
    english, russian = getattr(ENGLISH, name), getattr(RUSSIAN, name)
    assert [command for command, _ in russian] == [command for command, _ in english]
    for (_, about_en), (_, about_ru) in zip(english, russian, strict=True):
        assert about_ru != about_en
        for about in (about_en, about_ru):
            assert 0 < len(about) <= 256 and "<" not in about  # Telegram's limits; plain text


# --------------------------------------------------------------------------- Russian plurals


@pytest.mark.parametrize(
    ("count", "form"),
    [
        (1, "минута"),
        (2, "минуты"),
        (5, "минут"),
        (11, "минут"),
        (12, "минут"),
        (21, "минута"),
        (22, "минуты"),
        (25, "минут"),
        (111, "минут"),
        (0, "минут"),
    ],
)
def test_plural_ru_picks_the_form_for_the_number(count: int, form: str) -> None:
    assert _plural_ru(count, "минута", "минуты", "минут") == form


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
    ],
)
def test_russian_counts_read_naturally(count: int, words: str) -> None:
    report = plain(RUSSIAN.cancel_report(Cancelled(waiting=list(range(count)), stopped=[], busy=0)))
    assert f": {words}." in report
    days = {1: "день", 2: "дня", 5: "дней", 11: "дней", 21: "день", 22: "дня", 25: "дней"}
    assert RUSSIAN.ago(count * 86400) == f"{count} {days[count]} назад"


def test_russian_durations_and_reset_times_are_short_and_natural() -> None:
    assert RUSSIAN.duration(45) == "45 с"
    assert RUSSIAN.duration(185) == "3 мин 05 с"
    assert RUSSIAN.duration(3725) == "1 ч 02 мин"
    assert RUSSIAN.time_left(43200) == "12 ч 0 мин"
    limit = plain(RUSSIAN.daily_limit_reached(DailyLimitReached(5, 5, 43200.0)))
    assert "в 00:00 UTC, через 12 ч 0 мин" in limit


def test_stats_words_every_reason_of_the_bots_own_and_quotes_the_rest() -> None:
    for reason in OWN_REASONS:
        english, russian = ENGLISH.failure_reason(reason), RUSSIAN.failure_reason(reason)
        assert russian != english and not russian.isascii(), reason
    assert ENGLISH.failure_reason("Content policy violation") == "Content policy violation"
    assert RUSSIAN.failure_reason("Content policy violation") == "Content policy violation"
    # As storage reports them (storage.access's failures): a restart cut two submissions off.
    report = _stats(failures=[FailureCount(JobState.INTERRUPTED, RESTARTED_DURING_SUBMIT, 2)])
    assert "прервано: бот перезапустился во время отправки × 2" in plain(
        RUSSIAN.stats_report(report)
    )
    assert "interrupted: the bot restarted while submitting × 2" in plain(
        ENGLISH.stats_report(report)
    )


def test_stats_show_the_days_cost_in_each_unit_the_api_reported() -> None:
    report = _stats(failures=[], usage={"credits": 126.0, "tokens": 1.0})
    assert "Cost today, as the video service counts it: 126 credits, 1 token" in plain(
        ENGLISH.stats_report(report)
    )
    assert "по счёту видеосервиса: 126 кредитов, 1 токен" in plain(RUSSIAN.stats_report(report))
    assert RUSSIAN.usage_amount(2.5, "credits") == "2,5 кредита"
    assert RUSSIAN.usage_amount(22.0, "credits") == "22 кредита"
    assert "Cost today" not in plain(ENGLISH.stats_report(_stats(failures=[])))


def test_the_api_reason_is_quoted_as_written_and_the_bots_own_is_translated() -> None:
    api_reason = "Content policy violation"
    assert api_reason in plain(RUSSIAN.generation_failed(api_reason))
    assert api_reason in plain(RUSSIAN.submission_failed(api_reason))
    for own in (GENERATION_LOST, VIDEO_EXPIRED):
        assert own not in plain(RUSSIAN.generation_failed(own))
        assert own in plain(ENGLISH.generation_failed(own))


# --------------------------------------------------------------------------- as a person sees it


@BOTH
def test_status_of_ten_jobs_with_2000_char_html_prompts_fits_one_message(words: English) -> None:
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


@BOTH
def test_video_caption_of_a_2000_char_html_prompt_fits_1024(words: English) -> None:
    prompt = ('<>&"' * 500)[:2000]
    for made_in in (None, 59.0, 3 * 3600.0):
        caption = plain(words.video_caption(prompt, made_in))
        assert len(caption) <= MAX_CAPTION_CHARS
        assert caption.startswith("🎬 " + prompt[:100])


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


@BOTH
@pytest.mark.parametrize("state", list(JobState))
def test_status_list_names_every_state_in_words(words: English, state: JobState) -> None:
    text = plain(words.status_list([make_job(state=state, prompt="x")], now=NOW))
    label = text.splitlines()[1]
    assert any(c.isalpha() for c in label.split("·")[0])


@BOTH
def test_status_list_cuts_long_prompts_and_escapes_html(words: English) -> None:
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


@BOTH
def test_video_caption_of_a_2000_char_prompt_with_html_specials_fits_1024(words: English) -> None:
    prompt = (SPECIALS * 100)[:2000]
    assert len(prompt) == 2000
    caption = plain(words.video_caption(prompt))
    assert len(caption) <= MAX_CAPTION_CHARS
    assert caption.startswith("🎬 ")
    assert caption.endswith("…")
    assert caption[2:].rstrip("…") in " ".join(prompt.split())


@BOTH
def test_video_caption_of_a_short_prompt_keeps_it_whole(words: English) -> None:
    assert plain(words.video_caption(SPECIALS)) == "🎬 " + SPECIALS


# --------------------------------------------------------------------------- refusals

#: For each problem, words that say what would work instead, in each language.
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
LANGUAGES = pytest.mark.parametrize(
    ("words", "language"), [(ENGLISH, 0), (RUSSIAN, 1)], ids=["en", "ru"]
)


def test_every_image_problem_has_a_remedy_listed() -> None:
    assert set(REMEDIES) == set(ImageProblem)


@LANGUAGES
@pytest.mark.parametrize("problem", list(ImageProblem))
def test_every_image_refusal_says_what_would_work(
    words: English, language: int, problem: ImageProblem
) -> None:
    rejection = ImageRejected(
        problem, width=400, height=1000, size_bytes=21 * 1024 * 1024, image_format="GIF"
    )
    text = plain(words.image_refused(rejection))
    assert ("Please" if language == 0 else "пожалуйста") in text
    for remedy in REMEDIES[problem][language]:
        assert remedy in text


@LANGUAGES
@pytest.mark.parametrize("problem", list(ImageProblem))
def test_image_refusal_reads_well_when_nothing_is_known(
    words: English, language: int, problem: ImageProblem
) -> None:
    text = plain(words.image_refused(ImageRejected(problem)))
    assert "None" not in text
    for remedy in REMEDIES[problem][language]:
        assert remedy in text


def test_image_refusal_shows_the_size_it_measured() -> None:
    small = ImageRejected(ImageProblem.TOO_SMALL, width=300, height=640)
    assert "300×640 px" in plain(ENGLISH.image_refused(small))
    assert "300×640 px" in plain(RUSSIAN.image_refused(small))
    large = ImageRejected(ImageProblem.TOO_LARGE, size_bytes=25 * 1024 * 1024)
    assert "25.0 MB" in plain(ENGLISH.image_refused(large))
    assert "25,0 МБ" in plain(RUSSIAN.image_refused(large))


def test_image_refusal_escapes_a_strange_format_name() -> None:
    rejection = ImageRejected(ImageProblem.UNSUPPORTED_FORMAT, image_format="<svg>&")
    assert plain(ENGLISH.image_refused(rejection)).startswith("<svg>& images")


@BOTH
def test_a_refusal_with_fixes_points_at_the_buttons(words: English) -> None:
    rejection = ImageRejected(ImageProblem.TOO_SMALL, width=200, height=300)
    alone = words.image_refused(rejection)
    with_fixes = words.image_refused(rejection, fixes=True)
    assert with_fixes.startswith(alone + "\n\n👇 ")


# --------------------------------------------------------------------------- other texts


def test_failure_texts_escape_the_api_reason() -> None:
    assert SPECIALS in plain(ENGLISH.generation_failed(SPECIALS))
    assert SPECIALS in plain(ENGLISH.submission_failed(SPECIALS))
    assert "could not make this video." in plain(ENGLISH.generation_failed(None))
    assert "refused this request: no reason given." in plain(ENGLISH.submission_failed(None))


@BOTH
def test_video_too_large_links_to_the_video(words: English) -> None:
    url = 'https://cdn.example/v.mp4?Expires=1&Signature=a"b<c'
    _, entities = parse_html(words.video_too_large(url))
    [link] = [e for e in entities if e["type"] == "text_link"]
    assert html.unescape(link["url"]) == url  # Telegram decodes entities in attributes
    assert link["length"] > 5


def test_video_too_large_says_download() -> None:
    assert "Download it" in plain(ENGLISH.video_too_large("https://cdn.example/v.mp4"))


def test_prompt_too_long_names_both_numbers() -> None:
    for words in (ENGLISH, RUSSIAN):
        text = plain(words.prompt_too_long(2345, 2000))
        assert "2345" in text and "2000" in text


def test_timed_out_names_how_long_the_video_was_followed() -> None:
    assert "in 6 h 00 min" in plain(ENGLISH.timed_out(6 * 3600.0))
    assert "за 6 ч 00 мин" in plain(RUSSIAN.timed_out(6 * 3600.0))
    # Never "longer than 0 minutes" under a short timeout.
    assert "in 30 s" in plain(ENGLISH.timed_out(30.0))
