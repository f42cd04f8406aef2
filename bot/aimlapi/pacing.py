"""The pace of create calls: none at first, the account's rate once the API said it is busy.

The API allows about 20 creates a minute on a paid account (5 on a free one) and answers 429
beyond that. A 429 or 503 pauses every create until the API's `Retry-After` (or a short
pause) has passed, and from the first 429 on, creates are spaced to stay under the rate; a
429 that still comes halves it, down to the free accounts' rate.

The account's rate is shared by every instance of the bot, so the pace is too: it is kept
in a `PaceState` (the database's `storage.health.PaceStore` when the bot runs, `PaceInMemory`
in tests), and the rules below are pure functions of it.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from typing import Protocol

from storage.health import Pace

#: The rate assumed after the first 429, and the lowest it is ever taken down to.
PAID_CREATES_PER_MINUTE = 20.0
FREE_CREATES_PER_MINUTE = 5.0
#: How long every create waits after a busy answer that named no time.
DEFAULT_PAUSE_SECONDS = 5.0
#: The longest pause any one busy answer imposes on every create.
MAX_PAUSE_SECONDS = 300.0
#: A 429 this long after the rate was last set means the rate is still too fast.
_RATE_SETTLES_SECONDS = 60.0


class PaceState(Protocol):
    """Where the pace is kept: shared by every pacer on it."""

    async def read(self) -> Pace:
        """The pace in force now."""
        ...

    async def change(self, update: Callable[[Pace], Pace]) -> tuple[Pace, Pace]:
        """Apply the pure `update` atomically (no other change in between); returns the pace
        before and after."""
        ...


class PaceInMemory:
    """A `PaceState` in this process's memory, for tests: pacers built on one share it as
    instances share the database's."""

    def __init__(self, pace: Pace | None = None) -> None:
        self.pace = pace if pace is not None else Pace()

    async def read(self) -> Pace:
        return self.pace

    async def change(self, update: Callable[[Pace], Pace]) -> tuple[Pace, Pace]:
        # Nothing is awaited between the read and the write: atomic on the event loop.
        before = self.pace
        self.pace = update(before)
        return before, self.pace


def turn_at(pace: Pace, now: float) -> float:
    """When the next create may go: now, unless a pause or the rate holds it back."""
    return max(now, pace.next_at, pace.paused_until)


def after_turn(pace: Pace, now: float) -> Pace:
    """The pace once a create took the turn `turn_at(pace, now)`: the next one is a rate's
    spacing later. Unlimited, nothing changes: the next may go at once too."""
    if pace.rate is None:
        return pace
    return dataclasses.replace(pace, next_at=turn_at(pace, now) + 60.0 / pace.rate)


def after_busy(
    pace: Pace, now: float, *, rate_limited: bool, pause: float, paced_rate: float
) -> Pace:
    """The pace once the API answered busy at `now` (a 429 when `rate_limited`): every create
    waits `pause`; the first 429 sets `paced_rate`, and one more than a minute after the rate
    was set halves it, down to the free accounts' rate."""
    rate, rate_set_at = pace.rate, pace.rate_set_at
    if rate_limited and rate is None:
        rate, rate_set_at = paced_rate, now
    elif rate_limited and rate is not None and now - rate_set_at > _RATE_SETTLES_SECONDS:
        # Still too fast a minute after the last change: a smaller account.
        rate, rate_set_at = max(min(FREE_CREATES_PER_MINUTE, paced_rate), rate / 2), now
    return dataclasses.replace(
        pace,
        rate=rate,
        rate_set_at=rate_set_at,
        paused_until=max(pace.paused_until, now + pause),
    )


class CreatePacer:
    """Spaces create calls, across every pacer on the same `state`. `clock` is the bot's
    clock; `sleep` waits that clock's seconds; `paced_rate` is the creates a minute kept to
    after the first 429."""

    def __init__(
        self,
        state: PaceState,
        clock: Callable[[], float],
        *,
        pause_seconds: float = DEFAULT_PAUSE_SECONDS,
        paced_rate: float = PAID_CREATES_PER_MINUTE,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._state = state
        self._clock = clock
        self._sleep = sleep
        self._pause_seconds = pause_seconds
        self._paced_rate = paced_rate

    async def rate(self) -> float | None:
        """The creates a minute kept to now, or None while unlimited."""
        return (await self._state.read()).rate

    async def ready(self) -> bool:
        """Whether a create may go now: no pause in force, and the next turn has come."""
        pace = await self._state.read()
        return self._clock() >= max(pace.next_at, pace.paused_until)

    async def turn(self) -> None:
        """Wait for this create's turn, and take it: turns are handed out one at a time, in
        the order asked for, across every pacer on the state; and a pause any of them notes
        meanwhile holds back the turns already handed out too."""
        now = self._clock()
        before, _ = await self._state.change(lambda pace: after_turn(pace, now))
        at = turn_at(before, now)
        # Waited for outside the change: the state is held only to hand the turn out.
        while at > now:
            await self._sleep(at - now)
            now = self._clock()
            at = max(at, (await self._state.read()).paused_until)

    async def busy(self, *, rate_limited: bool, retry_after: float | None) -> float:
        """Note a busy answer (a 429 when `rate_limited`); returns how long every create now
        waits."""
        pause = retry_after if retry_after is not None else self._pause_seconds
        # A server's wish is honoured up to a point: a day's Retry-After would stall every
        # photo that long, for nothing the busy line could not do better.
        pause = min(pause, MAX_PAUSE_SECONDS)
        now, paced_rate = self._clock(), self._paced_rate
        await self._state.change(
            lambda pace: after_busy(
                pace, now, rate_limited=rate_limited, pause=pause, paced_rate=paced_rate
            )
        )
        return pause
