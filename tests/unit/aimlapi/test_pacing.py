"""The pace of create calls (bot.aimlapi.pacing), on a clock of the test's own and a pace kept
in memory."""

from __future__ import annotations

from bot.aimlapi.pacing import (
    FREE_CREATES_PER_MINUTE,
    MAX_PAUSE_SECONDS,
    CreatePacer,
    PaceInMemory,
    after_busy,
    after_turn,
)
from storage.health import Pace


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


def pacer_on(time: FakeTime, state: PaceInMemory | None = None, **options: float) -> CreatePacer:
    return CreatePacer(
        state if state is not None else PaceInMemory(), time.clock, sleep=time.sleep, **options
    )


async def test_creates_go_at_once_until_the_api_says_it_is_busy() -> None:
    time = FakeTime()
    pacer = pacer_on(time)
    for _ in range(5):
        await pacer.turn()
    assert time.slept == [] and await pacer.rate() is None and await pacer.ready()


async def test_after_a_429_every_create_waits_for_the_pause_then_goes_at_the_rate() -> None:
    time = FakeTime()
    pacer = pacer_on(time, paced_rate=20.0)
    assert await pacer.busy(rate_limited=True, retry_after=4.0) == 4.0
    assert not await pacer.ready()
    for _ in range(3):
        await pacer.turn()
    assert time.slept == [4.0, 3.0, 3.0]  # the pause, then 60 s / 20


async def test_a_busy_answer_without_a_429_pauses_without_pacing() -> None:
    time = FakeTime()
    pacer = pacer_on(time, pause_seconds=2.0)
    assert await pacer.busy(rate_limited=False, retry_after=None) == 2.0
    for _ in range(3):
        await pacer.turn()
    assert time.slept == [2.0] and await pacer.rate() is None


async def test_a_pause_asked_for_while_a_turn_sleeps_holds_that_turn_too() -> None:
    time = FakeTime()

    async def sleep_then_busy(seconds: float) -> None:
        await time.sleep(seconds)
        if len(time.slept) == 1:  # another create was refused meanwhile
            await pacer.busy(rate_limited=False, retry_after=10.0)

    pacer = CreatePacer(PaceInMemory(), time.clock, sleep=sleep_then_busy, paced_rate=20.0)
    await pacer.busy(rate_limited=True, retry_after=1.0)
    await pacer.turn()
    assert time.now == 1000.0 + 1.0 + 10.0


async def test_pacers_on_one_state_hand_out_turns_as_one() -> None:
    time, state = FakeTime(), PaceInMemory()
    first, second = pacer_on(time, state, paced_rate=20.0), pacer_on(time, state, paced_rate=20.0)
    await first.busy(rate_limited=True, retry_after=0.0)
    assert await second.rate() == 20.0
    for pacer in (first, second, first, second):
        await pacer.turn()
    assert time.slept == [3.0, 3.0, 3.0]  # the first goes at once, each next 60 s / 20 later


async def test_a_pause_one_pacer_notes_holds_back_another_on_the_same_state() -> None:
    time, state = FakeTime(), PaceInMemory()
    first, second = pacer_on(time, state), pacer_on(time, state)
    await first.busy(rate_limited=False, retry_after=7.0)
    assert not await second.ready()
    await second.turn()
    assert time.slept == [7.0]


async def test_a_huge_retry_after_is_capped() -> None:
    time = FakeTime()
    pacer = pacer_on(time)
    assert await pacer.busy(rate_limited=True, retry_after=86400.0) == MAX_PAUSE_SECONDS
    assert not await pacer.ready()


async def test_429s_that_go_on_after_a_minute_halve_the_rate_down_to_a_free_accounts() -> None:
    time = FakeTime()
    pacer = pacer_on(time, paced_rate=20.0)
    rates = []
    for _ in range(4):
        await pacer.busy(rate_limited=True, retry_after=0.0)
        rates.append(await pacer.rate())
        time.now += 61
    assert rates == [20.0, 10.0, 5.0, 5.0]


def test_a_429_within_a_minute_of_the_rate_set_leaves_it_as_it_is() -> None:
    paced = Pace(rate=20.0, rate_set_at=1000.0)
    after = after_busy(paced, 1059.0, rate_limited=True, pause=0.0, paced_rate=20.0)
    assert (after.rate, after.rate_set_at) == (20.0, 1000.0)


def test_a_paced_rate_below_a_free_accounts_is_never_halved_under_it() -> None:
    paced = Pace(rate=2.0, rate_set_at=0.0)
    after = after_busy(paced, 1000.0, rate_limited=True, pause=0.0, paced_rate=2.0)
    assert after.rate == 2.0 < FREE_CREATES_PER_MINUTE


def test_a_shorter_pause_never_shortens_one_in_force() -> None:
    paused = Pace(paused_until=1100.0)
    after = after_busy(paused, 1000.0, rate_limited=False, pause=5.0, paced_rate=20.0)
    assert after.paused_until == 1100.0


def test_a_turn_taken_unlimited_changes_nothing() -> None:
    assert after_turn(Pace(paused_until=1005.0), 1000.0) == Pace(paused_until=1005.0)


def test_a_paced_turn_after_a_pause_spaces_the_next_from_the_pause_end() -> None:
    paced = Pace(rate=30.0, next_at=990.0, paused_until=1005.0)
    assert after_turn(paced, 1000.0).next_at == 1005.0 + 2.0
