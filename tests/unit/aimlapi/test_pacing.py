"""The pace of create calls (bot.aimlapi.pacing), on a clock of the test's own."""

from __future__ import annotations

from bot.aimlapi.pacing import MAX_PAUSE_SECONDS, CreatePacer


class FakeTime:
    """A clock that moves only when the pacer sleeps, and a log of its sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


async def test_creates_go_at_once_until_the_api_says_it_is_busy() -> None:
    time = FakeTime()
    pacer = CreatePacer(time.clock, sleep=time.sleep)
    for _ in range(5):
        await pacer.turn()
    assert time.slept == [] and pacer.rate is None and pacer.ready()


async def test_after_a_429_every_create_waits_for_the_pause_then_goes_at_the_rate() -> None:
    time = FakeTime()
    pacer = CreatePacer(time.clock, sleep=time.sleep, paced_rate=20.0)
    assert pacer.busy(rate_limited=True, retry_after=4.0) == 4.0
    assert not pacer.ready()
    for _ in range(3):
        await pacer.turn()
    assert time.slept == [4.0, 3.0, 3.0]  # the pause, then 60 s / 20


async def test_a_pause_asked_for_while_a_turn_sleeps_holds_that_turn_too() -> None:
    time = FakeTime()

    async def sleep_then_busy(seconds: float) -> None:
        await time.sleep(seconds)
        if len(time.slept) == 1:  # another create was refused meanwhile
            pacer.busy(rate_limited=False, retry_after=10.0)

    pacer = CreatePacer(time.clock, sleep=sleep_then_busy, paced_rate=20.0)
    pacer.busy(rate_limited=True, retry_after=1.0)
    await pacer.turn()
    assert time.now == 1000.0 + 1.0 + 10.0


async def test_a_huge_retry_after_is_capped() -> None:
    time = FakeTime()
    pacer = CreatePacer(time.clock, sleep=time.sleep)
    assert pacer.busy(rate_limited=True, retry_after=86400.0) == MAX_PAUSE_SECONDS


async def test_429s_that_go_on_after_a_minute_halve_the_rate_down_to_a_free_accounts() -> None:
    time = FakeTime()
    pacer = CreatePacer(time.clock, sleep=time.sleep, paced_rate=20.0)
    rates = []
    for _ in range(4):
        pacer.busy(rate_limited=True, retry_after=0.0)
        rates.append(pacer.rate)
        time.now += 61
    assert rates == [20.0, 10.0, 5.0, 5.0]
