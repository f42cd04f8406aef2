"""What users are told to expect: learned from the jobs the video service finished."""

from __future__ import annotations

import pytest

from bot.engine.durations import KEEP, MIN_SAMPLES, USUAL_SECONDS, GenerationTimes
from bot.words.texts import ENGLISH, RUSSIAN
from tests.emulators.telegram_emulator import parse_html


def test_until_a_few_jobs_finished_the_apis_usual_three_minutes_is_expected() -> None:
    times = GenerationTimes([20.0] * (MIN_SAMPLES - 1))
    assert times.typical == USUAL_SECONDS == 180.0


def test_the_typical_time_is_the_median_of_the_recent_jobs() -> None:
    times = GenerationTimes([10.0, 12.0, 14.0, 400.0, 16.0])
    assert times.typical == 14.0  # one very slow job does not move it
    times.add(0.0)  # nonsense (a clock step) is ignored
    assert times.typical == 14.0


def test_only_the_last_jobs_count() -> None:
    times = GenerationTimes([600.0] * KEEP)
    for _ in range(KEEP // 2 + 1):
        times.add(30.0)
    assert times.typical == 30.0


@pytest.mark.parametrize(
    ("elapsed", "late"), [(180.0, False), (269.0, False), (271.0, True), (900.0, True)]
)
def test_a_job_is_late_at_half_as_long_again_as_usual(elapsed: float, late: bool) -> None:
    assert GenerationTimes().running_late(elapsed) is late


def test_a_short_usual_time_is_not_late_before_a_minute_past_it() -> None:
    times = GenerationTimes([10.0] * MIN_SAMPLES)
    assert not times.running_late(60.0)
    assert times.running_late(71.0)


@pytest.mark.parametrize(
    ("seconds", "english", "russian"),
    [
        (3.0, "about 5 seconds", "около 5 секунд"),
        (21.0, "about 20 seconds", "около 20 секунд"),
        (62.0, "about 1 minute", "около 1 минуты"),
        (180.0, "about 3 minutes", "около 3 минут"),
        (1260.0, "about 21 minutes", "около 21 минуты"),
    ],
)
def test_the_expected_time_is_worded_roughly(seconds: float, english: str, russian: str) -> None:
    assert ENGLISH.about(seconds) == english
    assert RUSSIAN.about(seconds) == russian


def test_the_acknowledgement_and_progress_say_the_learned_time() -> None:
    assert "ready in about 15 seconds" in ENGLISH.queued(typical=14.0)
    on_time, _ = parse_html(ENGLISH.progress_generating(10.0, 14.0))
    late, _ = parse_html(ENGLISH.progress_generating(400.0, 180.0, late=True))
    assert "usually about 15 seconds in all" in on_time
    assert "longer than usual: a video usually takes about 3 minutes in all" in late
    assert "still following it" in late
