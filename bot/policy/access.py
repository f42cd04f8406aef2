"""Who may spend the operator's credits, and how much: pure policy, no Telegram, no storage.

Inputs are plain ids and counts; outputs are small typed verdicts that the handlers turn into
replies (texts.py) and that `bot.policy.admission` turns into recorded jobs.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum

DAY_SECONDS = 86400
#: Telegram user ids fit in 52 bits; anything larger is a typo, not a person.
MAX_USER_ID = 2**52


class Access(Enum):
    """What to do with someone who asks for a video."""

    ALLOWED = "allowed"  # may submit (budgets still apply)
    REFUSED = "refused"  # tell them, with their user id, so they can ask the operator
    IGNORED = "ignored"  # stay silent: a stranger in a group the bot is not allowed in


@dataclass(frozen=True, slots=True)
class AccessRules:
    """The allowlists from the settings, with the run-time /allow and /deny on top."""

    allowed_users: frozenset[int] = frozenset()
    allowed_chats: frozenset[int] = frozenset()
    admins: frozenset[int] = frozenset()
    granted: frozenset[int] = frozenset()  # /allow at run time
    revoked: frozenset[int] = frozenset()  # /deny at run time: wins over every list but admins

    @classmethod
    def build(
        cls,
        *,
        allowed_users: Iterable[int],
        allowed_chats: Iterable[int],
        admins: Iterable[int],
        overrides: Mapping[int, bool],
    ) -> AccessRules:
        """Rules from the settings' lists and the stored overrides (user id → allowed)."""
        return cls(
            allowed_users=frozenset(allowed_users),
            allowed_chats=frozenset(allowed_chats),
            admins=frozenset(admins),
            granted=frozenset(user for user, allowed in overrides.items() if allowed),
            revoked=frozenset(user for user, allowed in overrides.items() if not allowed),
        )

    @property
    def open_to_everyone(self) -> bool:
        """True when no allowlist names anyone: every user may submit, except denied ones."""
        return not (self.allowed_users or self.allowed_chats or self.granted)

    def is_admin(self, user_id: int) -> bool:
        return user_id in self.admins

    def user_allowed(self, user_id: int) -> bool:
        """Whether this user may submit anywhere, whatever the chat."""
        if user_id in self.admins:
            return True
        if user_id in self.revoked:
            return False
        return self.open_to_everyone or user_id in self.allowed_users or user_id in self.granted

    def access(self, *, user_id: int, chat_id: int, private: bool) -> Access:
        """May `user_id` submit from `chat_id`? A listed group lets its members in, there only."""
        if self.user_allowed(user_id):
            return Access.ALLOWED
        if private:
            return Access.REFUSED
        group_allowed = self.open_to_everyone or chat_id in self.allowed_chats
        if not group_allowed:
            return Access.IGNORED
        return Access.REFUSED if user_id in self.revoked else Access.ALLOWED


@dataclass(frozen=True, slots=True)
class Limits:
    """The budgets from the settings."""

    active_per_user: int  # MAX_ACTIVE_JOBS_PER_USER: waiting or in flight
    daily_per_user: int  # DAILY_JOBS_PER_USER: per UTC day; admins are exempt
    active_total: int  # MAX_ACTIVE_JOBS: submitted and not finished, for the whole bot
    daily_total: int = 0  # DAILY_JOBS_TOTAL: the whole bot's per UTC day, admins too; 0: none


@dataclass(frozen=True, slots=True)
class Usage:
    """The counts a request is judged on, as the jobs table has them now."""

    user_active: int  # the user's jobs waiting in line or in flight
    user_today: int  # the user's jobs that count against today's budget
    in_flight: int  # the bot's jobs at the paid API (or about to be)
    waiting: int  # the bot's jobs waiting in the local line
    bot_today: int = 0  # the whole bot's jobs that count against today's cap
    credits: int | None = None  # the user's video credits left; None: they do not pay


@dataclass(frozen=True, slots=True)
class Admit:
    """Take the request: now, or (`wait`) at the back of the line."""

    wait: bool


@dataclass(frozen=True, slots=True)
class TooManyActive:
    """The user already has `active` jobs waiting or in flight; `limit` at once."""

    active: int
    limit: int


@dataclass(frozen=True, slots=True)
class DailyLimitReached:
    """The user has used `used` of `limit` jobs today; the count resets in `resets_in` s."""

    used: int
    limit: int
    resets_in: float


@dataclass(frozen=True, slots=True)
class DailyCapReached:
    """The whole bot made its `limit` jobs today; the count resets in `resets_in` s."""

    limit: int
    resets_in: float


@dataclass(frozen=True, slots=True)
class NoCredit:
    """The user has no video credit left, free or bought: they may buy a pack (/buy)."""


BudgetVerdict = Admit | TooManyActive | DailyLimitReached | DailyCapReached | NoCredit


def check_budget(usage: Usage, limits: Limits, *, admin: bool, now: float) -> BudgetVerdict:
    """Judge one more request against the user's credits (when they pay), the per-user limits,
    the bot's daily cap and its total.

    A user who pays needs a credit left, whatever else allows; the daily limits still apply
    to them, as a guard against abuse. The cap counts everyone's jobs, admins' too. The bot's
    total never refuses: over it, or while others wait, the request joins the line (first
    come, first served).
    """
    if usage.credits is not None and usage.credits < 1:
        return NoCredit()
    if usage.user_active >= limits.active_per_user:
        return TooManyActive(active=usage.user_active, limit=limits.active_per_user)
    if not admin and usage.user_today >= limits.daily_per_user:
        return DailyLimitReached(
            used=usage.user_today, limit=limits.daily_per_user, resets_in=seconds_to_reset(now)
        )
    if limits.daily_total and usage.bot_today >= limits.daily_total:
        return DailyCapReached(limit=limits.daily_total, resets_in=seconds_to_reset(now))
    return Admit(wait=usage.waiting > 0 or usage.in_flight >= limits.active_total)


def day_start(now: float) -> float:
    """The timestamp of the last 00:00 UTC at or before `now`: the daily budget's start."""
    return float(math.floor(now / DAY_SECONDS) * DAY_SECONDS)


def seconds_to_reset(now: float) -> float:
    """Seconds from `now` until the next 00:00 UTC, when daily budgets start again."""
    return day_start(now) + DAY_SECONDS - now


def hours_minutes(seconds: float) -> tuple[int, int]:
    """A duration as whole hours and minutes, rounded up to the minute (so never "0 min" while
    time is left)."""
    minutes = max(0, math.ceil(seconds / 60))
    return divmod(minutes, 60)


@dataclass(frozen=True, slots=True)
class UsageReport:
    """What /status says about the caller's budget."""

    user_id: int
    allowed: bool  # may submit at all (in private, or anywhere)
    admin: bool
    active: int
    active_limit: int
    today: int
    daily_limit: int
    resets_in: float


def parse_user_id(args: Sequence[str]) -> int | None:
    """The one user id of an /allow or /deny command, or None when the arguments are not
    exactly one positive whole number of a plausible size."""
    if len(args) != 1:
        return None
    text = args[0].strip()
    if not text.isdecimal() or not text.isascii():
        return None
    value = int(text)
    return value if 0 < value < MAX_USER_ID else None
