"""bot/policy/access.py: who may submit and the budget verdicts, as pure functions; and the id-list
settings as the environment writes them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from bot.policy.access import (
    Access,
    AccessRules,
    Admit,
    DailyLimitReached,
    Limits,
    TooManyActive,
    Usage,
    check_budget,
    day_start,
    hours_minutes,
    parse_user_id,
    seconds_to_reset,
)
from bot.policy.stats import percentile, summarize
from bot.wiring.settings import Settings, describe_settings_error
from storage.counts import JobStats

NOON = datetime(2025, 3, 14, 12, 0, tzinfo=UTC).timestamp()
LIMITS = Limits(active_per_user=2, daily_per_user=10, active_total=20)
IDLE = Usage(user_active=0, user_today=0, in_flight=0, waiting=0)


def rules(**overrides: bool) -> AccessRules:
    return AccessRules.build(
        allowed_users=[1],
        allowed_chats=[-100],
        admins=[9],
        overrides={int(k[1:]): v for k, v in overrides.items()},
    )


# --- who may submit -----------------------------------------------------------------------


def test_empty_lists_open_the_bot_to_everyone_anywhere() -> None:
    open_rules = AccessRules()
    assert open_rules.open_to_everyone
    assert open_rules.access(user_id=5, chat_id=5, private=True) is Access.ALLOWED
    assert open_rules.access(user_id=5, chat_id=-7, private=False) is Access.ALLOWED


def test_a_runtime_allow_closes_an_open_bot() -> None:
    closed = AccessRules.build(allowed_users=[], allowed_chats=[], admins=[], overrides={5: True})
    assert not closed.open_to_everyone
    assert closed.access(user_id=5, chat_id=5, private=True) is Access.ALLOWED
    assert closed.access(user_id=6, chat_id=6, private=True) is Access.REFUSED


def test_a_denied_user_is_refused_even_when_the_bot_is_open() -> None:
    open_rules = AccessRules.build(
        allowed_users=[], allowed_chats=[], admins=[], overrides={5: False}
    )
    assert open_rules.open_to_everyone
    assert open_rules.access(user_id=5, chat_id=5, private=True) is Access.REFUSED
    assert open_rules.access(user_id=6, chat_id=6, private=True) is Access.ALLOWED


def test_a_stranger_is_refused_in_private_and_ignored_in_an_unlisted_group() -> None:
    assert rules().access(user_id=5, chat_id=5, private=True) is Access.REFUSED
    assert rules().access(user_id=5, chat_id=-7, private=False) is Access.IGNORED


def test_a_stranger_may_submit_in_a_listed_group_only() -> None:
    assert rules().access(user_id=5, chat_id=-100, private=False) is Access.ALLOWED
    assert rules().access(user_id=5, chat_id=5, private=True) is Access.REFUSED


def test_a_listed_user_may_submit_anywhere() -> None:
    for chat_id, private in ((1, True), (-7, False), (-100, False)):
        assert rules().access(user_id=1, chat_id=chat_id, private=private) is Access.ALLOWED


def test_deny_wins_over_the_settings_list_and_a_listed_group() -> None:
    denied = rules(u1=False, u5=False)
    assert denied.access(user_id=1, chat_id=1, private=True) is Access.REFUSED
    assert denied.access(user_id=5, chat_id=-100, private=False) is Access.REFUSED
    assert denied.access(user_id=5, chat_id=-7, private=False) is Access.IGNORED


def test_admins_are_always_allowed_even_if_denied() -> None:
    assert rules(u9=False).access(user_id=9, chat_id=-7, private=False) is Access.ALLOWED
    assert rules().is_admin(9) and not rules().is_admin(1)


def test_allow_adds_to_the_settings_list() -> None:
    assert rules(u5=True).access(user_id=5, chat_id=5, private=True) is Access.ALLOWED


# --- budgets ------------------------------------------------------------------------------


def test_a_request_within_every_limit_is_admitted_at_once() -> None:
    assert check_budget(IDLE, LIMITS, admin=False, now=NOON) == Admit(wait=False)


def test_too_many_active_jobs_is_refused_with_the_numbers() -> None:
    usage = Usage(user_active=2, user_today=2, in_flight=2, waiting=0)
    assert check_budget(usage, LIMITS, admin=False, now=NOON) == TooManyActive(2, 2)


def test_the_daily_limit_is_refused_with_the_time_to_midnight_utc() -> None:
    usage = Usage(user_active=0, user_today=10, in_flight=0, waiting=0)
    verdict = check_budget(usage, LIMITS, admin=False, now=NOON)
    assert verdict == DailyLimitReached(used=10, limit=10, resets_in=12 * 3600)


def test_admins_have_no_daily_limit_but_keep_the_active_limit() -> None:
    usage = Usage(user_active=0, user_today=500, in_flight=0, waiting=0)
    assert check_budget(usage, LIMITS, admin=True, now=NOON) == Admit(wait=False)
    busy = Usage(user_active=2, user_today=0, in_flight=0, waiting=0)
    assert isinstance(check_budget(busy, LIMITS, admin=True, now=NOON), TooManyActive)


def test_the_bots_total_never_refuses_it_makes_the_request_wait() -> None:
    full = Usage(user_active=0, user_today=0, in_flight=20, waiting=0)
    assert check_budget(full, LIMITS, admin=False, now=NOON) == Admit(wait=True)


def test_a_new_request_waits_behind_those_already_in_line() -> None:
    queue = Usage(user_active=0, user_today=0, in_flight=3, waiting=1)
    assert check_budget(queue, LIMITS, admin=False, now=NOON) == Admit(wait=True)


def test_the_day_starts_at_midnight_utc() -> None:
    midnight = datetime(2025, 3, 14, tzinfo=UTC).timestamp()
    assert day_start(NOON) == midnight
    assert day_start(midnight) == midnight
    assert seconds_to_reset(midnight - 1) == 1


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [(0, (0, 0)), (1, (0, 1)), (60, (0, 1)), (61, (0, 2)), (43199.5, (12, 0)), (3 * 3600, (3, 0))],
)
def test_durations_round_up_to_the_minute(seconds: float, expected: tuple[int, int]) -> None:
    assert hours_minutes(seconds) == expected


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["123456789"], 123456789),
        ([" 42 "], 42),
        ([], None),
        (["1", "2"], None),
        (["-100123"], None),
        (["0"], None),
        (["12a"], None),
        (["١٢٣"], None),  # Arabic-Indic digits are decimal to Python, not to Telegram
        ([str(2**60)], None),
    ],
)
def test_allow_and_deny_take_exactly_one_plausible_user_id(
    args: list[str], expected: int | None
) -> None:
    assert parse_user_id(args) == expected


# --- /stats math --------------------------------------------------------------------------


def test_nearest_rank_p95() -> None:
    assert percentile([], 0.95) is None
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.95) == 95.0
    assert percentile([7.0], 0.95) == 7.0


# --- settings -----------------------------------------------------------------------------


def test_id_lists_parse_from_comma_separated_environment_values(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "t")
    monkeypatch.setenv("AIMLAPI_KEY", "k")
    monkeypatch.setenv("ALLOWED_USER_IDS", "123, 456,")
    monkeypatch.setenv("ALLOWED_CHAT_IDS", "-1001234567890")
    monkeypatch.setenv("ADMIN_USER_IDS", "")
    settings = Settings(_env_file=None)
    assert settings.allowed_user_ids == [123, 456]
    assert settings.allowed_chat_ids == [-1001234567890]
    assert settings.admin_user_ids == []
    assert (settings.max_active_jobs_per_user, settings.daily_jobs_per_user) == (2, 10)
    assert settings.max_active_jobs == 20


def test_a_bad_id_list_gives_a_one_line_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "t")
    monkeypatch.setenv("AIMLAPI_KEY", "k")
    monkeypatch.setenv("ADMIN_USER_IDS", "123,@ann")
    with pytest.raises(ValidationError) as caught:
        Settings(_env_file=None)
    line = describe_settings_error(caught.value)
    assert "\n" not in line
    assert line.startswith("Configuration error: ADMIN_USER_IDS is invalid")
    assert "item 2" in line and "@ann" not in line


def _week(delivery_seconds: list[float], *, finished: int = 4, delivered: int = 3) -> JobStats:
    return JobStats(
        requests_today=5,
        submitted_today=4,
        requests_week=9,
        submitted_week=8,
        finished_week=finished,
        delivered_week=delivered,
        delivery_seconds=delivery_seconds,
        failures=[],
        in_flight=1,
        waiting=0,
        usage_today={},
    )


def test_stats_summary_gives_the_median_and_p95_of_the_weeks_deliveries() -> None:
    report = summarize(_week([200.0, 100.0, 400.0, 300.0]), in_flight_limit=20)
    assert report.median_seconds == 250.0  # the mean of the two middle ones
    assert report.p95_seconds == 400.0
    assert report.success_rate == 0.75
    assert (report.in_flight, report.in_flight_limit) == (1, 20)


def test_stats_summary_of_a_week_without_deliveries_has_no_timings() -> None:
    report = summarize(_week([], finished=0, delivered=0), in_flight_limit=20)
    assert (report.median_seconds, report.p95_seconds, report.success_rate) == (None, None, None)
