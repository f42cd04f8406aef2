"""The state every instance shares (storage.health): the pace of create calls, the admins'
alerts and the streak of unconfirmed submissions, each test on each engine, as two instances
on one database (`tests.databases.two_instances`)."""

from __future__ import annotations

import asyncio
import time

from bot.aimlapi.pacing import CreatePacer
from storage.health import AlertStore, Pace, PaceStore
from tests.databases import TestDatabase, two_instances

T0 = 1_800_000_000.0
HOUR = 3600.0
#: Creates a minute of the pacing tests: a turn every 0.1 s.
RATE = 600.0
SPACING = 60.0 / RATE
#: How early a real sleep may end, as the event loop and the clock see it.
SLACK = 0.005


# --------------------------------------------------------------------------- the pace


async def test_a_new_database_paces_nothing(database: TestDatabase) -> None:
    async with two_instances(database) as (first, _):
        assert await PaceStore.of(first).read() == Pace()


async def test_a_change_is_seen_by_the_other_instance_and_returns_before_and_after(
    database: TestDatabase,
) -> None:
    async with two_instances(database) as (first, second):
        paced = Pace(rate=20.0, rate_set_at=T0, next_at=T0 + 3.0, paused_until=T0 + 5.0)
        before, after = await PaceStore.of(first).change(lambda _: paced)
        assert (before, after) == (Pace(), paced)
        assert await PaceStore.of(second).read() == paced
        unlimited = Pace(next_at=T0)
        assert await PaceStore.of(second).change(lambda _: unlimited) == (paced, unlimited)
        assert await PaceStore.of(first).read() == unlimited


async def test_changes_from_two_instances_at_once_are_applied_one_after_the_other(
    database: TestDatabase,
) -> None:
    async with two_instances(database) as (first, second):

        def one_more(pace: Pace) -> Pace:
            return Pace(next_at=pace.next_at + 1.0)

        stores = [PaceStore.of(first), PaceStore.of(second)] * 10
        await asyncio.gather(*(store.change(one_more) for store in stores))
        assert (await PaceStore.of(first).read()).next_at == 20.0


async def test_two_pacers_on_one_database_keep_together_to_the_paced_rate(
    database: TestDatabase,
) -> None:
    async with two_instances(database) as (first, second):
        pacers = [
            CreatePacer(PaceStore.of(db), time.time, paced_rate=RATE) for db in (first, second)
        ]
        await pacers[0].busy(rate_limited=True, retry_after=0.0)  # the first 429: paced
        assert await pacers[1].rate() == RATE
        started = time.time()

        async def create(pacer: CreatePacer) -> float:
            await pacer.turn()
            return time.time()

        went = sorted(await asyncio.gather(*(create(pacer) for pacer in pacers * 4)))
    # However the eight turns fell between the two, the k-th went no sooner than k spacings
    # after the first could: together they never went faster than the rate.
    for k, at in enumerate(went):
        assert at >= started + k * SPACING - SLACK, (k, at - started)


async def test_a_pause_one_instance_notes_holds_back_the_other(database: TestDatabase) -> None:
    async with two_instances(database) as (first, second):
        noting = CreatePacer(PaceStore.of(first), time.time)
        waiting = CreatePacer(PaceStore.of(second), time.time)
        assert await waiting.ready()
        await noting.busy(rate_limited=False, retry_after=0.3)
        assert not await waiting.ready()
        await waiting.turn()
        assert time.time() >= (await PaceStore.of(second).read()).paused_until - SLACK


async def test_a_pause_noted_while_another_instance_waits_for_its_turn_holds_it_too(
    database: TestDatabase,
) -> None:
    async with two_instances(database) as (first, second):
        noting = CreatePacer(PaceStore.of(first), time.time)
        waiting = CreatePacer(PaceStore.of(second), time.time)
        await noting.busy(rate_limited=False, retry_after=0.2)
        turn = asyncio.create_task(waiting.turn())  # handed out: it goes at the pause's end
        await asyncio.sleep(0.1)
        await noting.busy(rate_limited=False, retry_after=0.4)  # meanwhile, the API is busy
        longer = (await PaceStore.of(first).read()).paused_until
        await turn
        assert time.time() >= longer - SLACK


# --------------------------------------------------------------------------- the alerts


async def test_two_instances_raising_one_reason_at_once_queue_it_once(
    database: TestDatabase,
) -> None:
    async with two_instances(database) as (first, second):
        stores = [AlertStore.of(first), AlertStore.of(second)] * 5
        raised = await asyncio.gather(
            *(
                store.raise_once("failing", f"failing {n}", now=T0, interval=HOUR)
                for n, store in enumerate(stores)
            )
        )
        assert raised.count(True) == 1
        assert len(await AlertStore.of(second).take_unsent(now=T0)) == 1


async def test_a_reason_is_raised_again_only_once_the_interval_has_passed(
    database: TestDatabase,
) -> None:
    async with two_instances(database) as (first, second):
        raising, other = AlertStore.of(first), AlertStore.of(second)
        assert await raising.raise_once("daily_cap", "cap", now=T0, interval=HOUR)
        assert await raising.take_unsent(now=T0 + 1) == [("daily_cap", "cap")]
        assert not await other.raise_once("daily_cap", "cap", now=T0 + HOUR - 1, interval=HOUR)
        assert await other.take_unsent(now=T0 + HOUR - 1) == []
        assert await other.raise_once("daily_cap", "cap again", now=T0 + HOUR, interval=HOUR)
        assert await raising.take_unsent(now=T0 + HOUR) == [("daily_cap", "cap again")]


async def test_unsent_alerts_are_taken_by_exactly_one_of_two_takers(
    database: TestDatabase,
) -> None:
    async with two_instances(database) as (first, second):
        reasons = ["out_of_credits", "misconfigured", "failing"]
        for n, reason in enumerate(reasons):
            assert await AlertStore.of(first).raise_once(reason, reason, now=T0 + n, interval=HOUR)
        takers = [AlertStore.of(first), AlertStore.of(second)]
        taken = await asyncio.gather(*(store.take_unsent(now=T0 + 10) for store in takers))
        assert sorted(alert for each in taken for alert in each) == sorted(
            (reason, reason) for reason in reasons
        )
        assert [] in taken  # one took them all, in the order raised; the other found none
        assert [(reason, reason) for reason in reasons] in taken


async def test_the_streak_of_unconfirmed_submissions_is_shared(database: TestDatabase) -> None:
    async with two_instances(database) as (first, second):
        one, other = AlertStore.of(first), AlertStore.of(second)
        assert await one.count_submission(confirmed=False) == 1
        assert await other.count_submission(confirmed=False) == 2
        assert await one.unconfirmed_in_a_row() == 2
        assert await other.count_submission(confirmed=True) == 0
        counted = await asyncio.gather(
            *(store.count_submission(confirmed=False) for store in [one, other] * 5)
        )
        assert sorted(counted) == list(range(1, 11))  # each counted once, none lost
        assert await other.unconfirmed_in_a_row() == 10
