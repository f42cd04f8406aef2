"""The polling schedule: where the status calls of a job fall, and how failures back off."""

from __future__ import annotations

import itertools
import math

import pytest

from bot.engine.schedule import (
    MIN_GAP,
    PLANNED_POLLS,
    TICKS_PER_INTERVAL,
    next_poll_delay,
    tick_interval,
)


def poll_ages(interval: float, *, until: float, tick: float | None = None) -> list[float]:
    """The ages (seconds since submission) of a job's status calls up to `until`, when each
    call runs at the first tick at or after its planned time."""
    tick = tick if tick is not None else tick_interval(interval)
    ages: list[float] = []
    age = 0.0
    while True:
        planned = age + next_poll_delay(interval=interval, age=age)
        age = math.ceil(planned / tick - 1e-9) * tick  # the tick that finds the job due
        if age > until:
            return ages
        ages.append(age)


def calls_until_seen(completed_at: float, interval: float = 10.0) -> tuple[int, float]:
    """How many status calls a job ready at `completed_at` costs, and how long its finished
    video waits to be noticed."""
    ages = poll_ages(interval, until=completed_at + 10 * interval)
    seen = next(age for age in ages if age >= completed_at)
    return ages.index(seen) + 1, seen - completed_at


def test_without_an_age_the_delay_is_the_interval() -> None:
    assert next_poll_delay(interval=10.0) == 10.0
    assert next_poll_delay(interval=0.1) == 0.1


def test_failures_back_off_exponentially_up_to_the_ceiling_whatever_the_age() -> None:
    assert next_poll_delay(interval=10.0, failures=1, age=170.0) == 20.0
    assert next_poll_delay(interval=10.0, failures=3, age=170.0) == 80.0
    assert next_poll_delay(interval=10.0, failures=10, ceiling=300.0) == 300.0
    # A ceiling below the interval never makes a failing job poll faster than a healthy one.
    assert next_poll_delay(interval=10.0, failures=1, ceiling=5.0) == 10.0


def test_first_call_comes_when_the_queue_usually_ends() -> None:
    assert next_poll_delay(interval=10.0, age=0.0) == pytest.approx(20.0)


def test_the_rendering_bulk_gets_only_sparse_calls() -> None:
    ages = poll_ages(10.0, until=149.0)
    assert ages == pytest.approx([20.0, 80.0, 130.0])


def test_calls_are_dense_while_the_video_is_likely_to_finish() -> None:
    window = [age for age in poll_ages(10.0, until=210.0) if age >= 150.0]
    gaps = [later - earlier for earlier, later in itertools.pairwise(window)]
    assert window[0] == pytest.approx(150.0)
    assert window[-1] == pytest.approx(210.0)
    assert max(gaps) < 10.0


def test_after_the_window_calls_return_to_one_per_interval() -> None:
    assert next_poll_delay(interval=10.0, age=210.0) == 10.0
    assert next_poll_delay(interval=10.0, age=600.0) == 10.0


@pytest.mark.parametrize("completed_at", [153.0, 160.0, 171.5, 180.0, 192.2, 200.0, 207.0])
def test_a_job_finishing_in_the_usual_window_costs_at_most_12_calls_and_waits_under_10s(
    completed_at: float,
) -> None:
    calls, waited = calls_until_seen(completed_at)
    assert calls <= 12
    assert 0.0 <= waited < 10.0


def test_a_typical_job_costs_about_half_the_calls_of_fixed_polling() -> None:
    calls, _ = calls_until_seen(180.0)
    assert calls <= 9  # fixed 10 s polling makes 18


def test_a_late_call_skips_a_planned_one_it_has_nearly_reached() -> None:
    # Planned at 150 s but run at 156 s: the call planned at 157.5 s is too close to make.
    assert next_poll_delay(interval=10.0, age=156.0) == pytest.approx(9.0)
    for age in (0.0, 19.0, 79.9, 149.99, 200.0, 300.0):
        assert next_poll_delay(interval=10.0, age=age) >= MIN_GAP * 10.0 - 1e-9


def test_a_negative_age_from_a_clock_step_is_treated_as_just_submitted() -> None:
    assert next_poll_delay(interval=10.0, age=-30.0) == pytest.approx(20.0)


def test_the_schedule_scales_with_the_interval() -> None:
    for age in (0.0, 25.0, 133.0, 151.0, 176.0, 205.0, 400.0):
        assert next_poll_delay(interval=0.1, age=age / 100) == pytest.approx(
            next_poll_delay(interval=10.0, age=age) / 100
        )
    scaled = [age * 100 for age in poll_ages(0.1, until=2.5)]
    assert scaled == pytest.approx(poll_ages(10.0, until=250.0))


def test_the_tick_runs_several_times_per_interval() -> None:
    assert tick_interval(10.0) == pytest.approx(10.0 / TICKS_PER_INTERVAL)
    assert tick_interval(10.0) <= 2.0


def test_the_plan_is_sorted_and_strictly_increasing() -> None:
    assert list(PLANNED_POLLS) == sorted(set(PLANNED_POLLS))
    gaps = [b - a for a, b in itertools.pairwise(PLANNED_POLLS)]
    assert min(gaps) > MIN_GAP
