"""Tests for bot.texts: every text a user reads is valid Telegram HTML, short enough, and
says what would work."""

from __future__ import annotations

import html

import pytest

from bot import texts
from bot.firstframe import ImageProblem, ImageRejected
from storage import Job, JobState
from tests.emulators.telegram import parse_html

NOW = 1_800_000_000.0
SPECIALS = "<b>Tom</b> & \"Jerry\" 'run' > <script>"


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


# --------------------------------------------------------------------------- /status


def test_status_list_without_jobs_says_so_plainly() -> None:
    assert texts.status_list([], now=NOW) == texts.NO_JOBS
    assert "no jobs" in plain(texts.NO_JOBS)


def test_status_list_keeps_the_given_newest_first_order_with_state_and_age() -> None:
    jobs = [
        make_job(4, state=JobState.QUEUED, prompt="fish swims", age=5),
        make_job(3, state=JobState.GENERATING, prompt="bird sings", age=7 * 60 + 5),
        make_job(2, state=JobState.FAILED, prompt="dog barks", age=3 * 3600 + 1),
        make_job(1, state=JobState.DELIVERED, prompt="cat yawns", age=2 * 86400 + 1),
    ]
    text = plain(texts.status_list(jobs, now=NOW))
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


@pytest.mark.parametrize("state", list(JobState))
def test_status_list_names_every_state_in_words(state: JobState) -> None:
    text = plain(texts.status_list([make_job(state=state, prompt="x")], now=NOW))
    label = text.splitlines()[1]
    assert any(c.isalpha() for c in label.split("·")[0])


def test_status_list_cuts_long_prompts_and_escapes_html() -> None:
    long_prompt = SPECIALS + " and then " + "z" * 200
    text = plain(texts.status_list([make_job(prompt=long_prompt)], now=NOW))
    assert long_prompt not in text
    assert texts.shorten(long_prompt, 60) in text
    assert '<b>Tom</b> & "Jerry"' in text  # shown as typed, not as markup


def test_status_list_of_ten_long_jobs_fits_one_message() -> None:
    jobs = [make_job(i, prompt=SPECIALS * 200, age=i * 60) for i in range(10)]
    markup = texts.status_list(jobs, now=NOW)
    assert len(plain(markup)) <= texts.MAX_MESSAGE_CHARS
    assert len(markup) <= texts.MAX_MESSAGE_CHARS


def test_a_clock_that_went_back_reads_just_now() -> None:
    assert texts.ago(-30) == "just now"
    assert texts.ago(59.9) == "just now"
    assert texts.ago(60) == "1 min ago"
    assert texts.ago(3600) == "1 h ago"
    assert texts.ago(86400) == "1 d ago"


# --------------------------------------------------------------------------- shorten


def test_shorten_leaves_short_text_alone_but_collapses_whitespace() -> None:
    assert texts.shorten("a  cat\n\tblinks ", 60) == "a cat blinks"
    assert texts.shorten("x" * 60, 60) == "x" * 60


def test_shorten_cuts_to_the_limit_with_an_ellipsis() -> None:
    cut = texts.shorten("y" * 61, 60)
    assert len(cut) == 60
    assert cut == "y" * 59 + "…"


def test_shorten_drops_a_dangling_space_before_the_ellipsis() -> None:
    cut = texts.shorten("abcd efgh ijkl", 6)
    assert cut == "abcd…"
    assert len(cut) <= 6


# --------------------------------------------------------------------------- captions


def test_video_caption_of_a_2000_char_prompt_with_html_specials_fits_1024() -> None:
    prompt = (SPECIALS * 100)[:2000]
    assert len(prompt) == 2000
    caption = plain(texts.video_caption(prompt))
    assert len(caption) <= texts.MAX_CAPTION_CHARS
    assert caption.startswith("🎬 ")
    assert caption.endswith("…")
    assert caption[2:].rstrip("…") in " ".join(prompt.split())


def test_video_caption_of_a_short_prompt_keeps_it_whole() -> None:
    assert plain(texts.video_caption(SPECIALS)) == "🎬 " + SPECIALS


# --------------------------------------------------------------------------- refusals

#: For each problem, words that say what would work instead.
REMEDIES = {
    ImageProblem.TOO_LARGE: ("at most 20 MB",),
    ImageProblem.NOT_AN_IMAGE: ("JPG or PNG",),
    ImageProblem.CORRUPT: ("send it again", "JPG or PNG"),
    ImageProblem.UNSUPPORTED_FORMAT: ("JPG or PNG",),
    ImageProblem.TOO_SMALL: ("over 300 px", "larger photo"),
    ImageProblem.TOO_TALL: ("crop", "2:5"),
    ImageProblem.TOO_WIDE: ("crop", "5:2"),
    ImageProblem.TOO_MANY_PIXELS: ("smaller image",),
}


def test_every_image_problem_has_a_remedy_listed() -> None:
    assert set(REMEDIES) == set(ImageProblem)


@pytest.mark.parametrize("problem", list(ImageProblem))
def test_every_image_refusal_says_what_would_work(problem: ImageProblem) -> None:
    rejection = ImageRejected(
        problem, width=400, height=1000, size_bytes=21 * 1024 * 1024, image_format="GIF"
    )
    text = plain(texts.image_refused(rejection))
    assert "Please" in text
    for words in REMEDIES[problem]:
        assert words in text


@pytest.mark.parametrize("problem", list(ImageProblem))
def test_image_refusal_reads_well_when_nothing_is_known(problem: ImageProblem) -> None:
    text = plain(texts.image_refused(ImageRejected(problem)))
    assert "None" not in text
    for words in REMEDIES[problem]:
        assert words in text


def test_image_refusal_shows_the_size_it_measured() -> None:
    text = plain(texts.image_refused(ImageRejected(ImageProblem.TOO_SMALL, width=300, height=640)))
    assert "300×640 px" in text
    large = ImageRejected(ImageProblem.TOO_LARGE, size_bytes=25 * 1024 * 1024)
    assert "25.0 MB" in plain(texts.image_refused(large))


def test_image_refusal_escapes_a_strange_format_name() -> None:
    rejection = ImageRejected(ImageProblem.UNSUPPORTED_FORMAT, image_format="<svg>&")
    assert plain(texts.image_refused(rejection)).startswith("<svg>& images")


# --------------------------------------------------------------------------- other texts


def test_failure_texts_escape_the_api_reason() -> None:
    assert SPECIALS in plain(texts.generation_failed(SPECIALS))
    assert SPECIALS in plain(texts.submission_failed(SPECIALS))
    assert "could not make this video." in plain(texts.generation_failed(None))


def test_video_too_large_links_to_the_video() -> None:
    url = 'https://cdn.example/v.mp4?Expires=1&Signature=a"b<c'
    text, entities = parse_html(texts.video_too_large(url))
    assert "Download it" in text
    [link] = [e for e in entities if e["type"] == "text_link"]
    assert html.unescape(link["url"]) == url  # Telegram decodes entities in attributes


def test_prompt_too_long_names_both_numbers() -> None:
    text = plain(texts.prompt_too_long(2345, 2000))
    assert "2345" in text and "2000" in text


def test_timed_out_names_the_minutes() -> None:
    assert "15 minutes" in plain(texts.timed_out(15))


@pytest.mark.parametrize(
    "name",
    [
        name
        for name, value in vars(texts).items()
        if name.isupper() and isinstance(value, str) and name not in {"MAX_CAPTION_CHARS"}
    ],
)
def test_every_fixed_text_is_valid_telegram_html(name: str) -> None:
    text = plain(getattr(texts, name))
    assert text.strip()
    assert len(text) <= texts.MAX_MESSAGE_CHARS
