"""The pace of create calls: none at first, the account's rate once the API said it is busy.

The API allows about 20 creates a minute on a paid account (5 on a free one) and answers 429
beyond that. A 429 or 503 pauses every create until the API's `Retry-After` (or a short
pause) has passed, and from the first 429 on, creates are spaced to stay under the rate; a
429 that still comes halves it, down to the free accounts' rate.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

#: The rate assumed after the first 429, and the lowest it is ever taken down to.
PAID_CREATES_PER_MINUTE = 20.0
FREE_CREATES_PER_MINUTE = 5.0
#: How long every create waits after a busy answer that named no time.
DEFAULT_PAUSE_SECONDS = 5.0
#: The longest pause any one busy answer imposes on every create.
MAX_PAUSE_SECONDS = 300.0


class CreatePacer:
    """Spaces create calls. `clock` is the bot's clock; `sleep` waits that clock's seconds;
    `paced_rate` is the creates a minute kept to after the first 429."""

    def __init__(
        self,
        clock: Callable[[], float],
        *,
        pause_seconds: float = DEFAULT_PAUSE_SECONDS,
        paced_rate: float = PAID_CREATES_PER_MINUTE,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self._pause_seconds = pause_seconds
        self._paced_rate = paced_rate
        self._rate: float | None = None  # creates a minute; None until a 429 was seen
        self._rate_set_at = 0.0
        self._next_at = 0.0  # the earliest moment the next create may go
        self._paused_until = 0.0

    @property
    def rate(self) -> float | None:
        """The creates a minute kept to now, or None while unlimited."""
        return self._rate

    def ready(self) -> bool:
        """Whether a create may go now: no pause in force, and the next turn has come."""
        return self._clock() >= max(self._next_at, self._paused_until)

    async def turn(self) -> None:
        """Wait for this create's turn, and take it: turns are handed out in call order, and
        a pause the API asks for meanwhile holds back the turns already handed out too."""
        now = self._clock()
        at = max(now, self._next_at, self._paused_until)
        self._next_at = at + (60.0 / self._rate if self._rate else 0.0)
        while at > now:
            await self._sleep(at - now)
            now = self._clock()
            at = max(at, self._paused_until)

    def busy(self, *, rate_limited: bool, retry_after: float | None) -> float:
        """Note a busy answer (a 429 when `rate_limited`); returns how long every create now
        waits."""
        now = self._clock()
        if rate_limited and self._rate is None:
            self._rate, self._rate_set_at = self._paced_rate, now
        elif rate_limited and self._rate is not None and now - self._rate_set_at > 60.0:
            # Still too fast a minute after the last change: a smaller account.
            self._rate = max(min(FREE_CREATES_PER_MINUTE, self._paced_rate), self._rate / 2)
            self._rate_set_at = now
        pause = retry_after if retry_after is not None else self._pause_seconds
        # A server's wish is honoured up to a point: a day's Retry-After would stall every
        # photo that long, for nothing the busy line could not do better.
        pause = min(pause, MAX_PAUSE_SECONDS)
        self._paused_until = max(self._paused_until, now + pause)
        return pause
