"""storage/ledger.py, on each engine: free videos granted once, purchases credited once per
charge, a credit spent per paid job and back whenever the job stops counting against the day,
refunds recorded once, and the Stars totals of /stats; with admission spending the credit in
its own transaction."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import sqlalchemy as sa

from storage import JobState, JobStore, NewJob, Reason
from storage.counts import AccessStore, BotCounts, UserCounts
from storage.jobs import Lease
from storage.ledger import Entry, LedgerStore, Purchase, StarTotals
from storage.schema import ledger
from tests.databases import TestDatabase

T0 = 1_800_000_000.0
LEASE = Lease("test/1/0001", T0 + 30)
ANN, BOB = 111, 222


@pytest.fixture
async def store(database: TestDatabase) -> AsyncIterator[JobStore]:
    opened = await JobStore.open(database.where)
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
def book(store: JobStore) -> LedgerStore:
    return LedgerStore.of(store)


def request(message_id: int, *, user_id: int = ANN) -> NewJob:
    return NewJob(
        chat_id=user_id,
        request_message_id=message_id,
        photo_message_id=message_id,
        thread_id=None,
        user_id=user_id,
        prompt="a cat",
        prompt_optimizer=True,
        file_id=f"file-{user_id}-{message_id}",
    )


async def paid_job(store: JobStore, message_id: int, *, user_id: int = ANN) -> int:
    """Record a job and spend one of its user's credits on it, as admission does."""
    job = await store.record_request(request(message_id, user_id=user_id), now=T0)
    assert job is not None
    async with store.database.engine.begin() as connection:
        await LedgerStore.of(store).spend_in(connection, user_id, job.id, now=T0)
    return job.id


async def buy(
    book: LedgerStore, charge_id: str, *, videos: int = 5, stars: int = 250, user_id: int = ANN
) -> bool:
    return await book.credit_purchase(
        user_id,
        charge_id=charge_id,
        videos=videos,
        stars=stars,
        pack=f"{videos}:{stars}",
        now=T0,
    )


async def rows(store: JobStore, kind: Entry | None = None) -> int:
    statement = sa.select(sa.func.count()).select_from(ledger)
    if kind is not None:
        statement = statement.where(ledger.c.kind == kind.value)
    async with store.database.reads.connect() as connection:
        return int(await connection.scalar(statement) or 0)


# --------------------------------------------------------------------------- free videos


async def test_a_new_user_is_granted_the_free_videos_once(
    store: JobStore, book: LedgerStore
) -> None:
    assert await book.balance(ANN, free_videos=2, now=T0) == 2
    assert await book.balance(ANN, free_videos=2, now=T0 + 1) == 2
    assert await book.balance(ANN, now=T0 + 2) == 2  # read only
    assert await book.balance(BOB, now=T0) == 0  # never granted: read only
    assert await rows(store, Entry.GRANT) == 1


async def test_free_videos_asked_for_at_once_are_granted_once(
    store: JobStore, book: LedgerStore
) -> None:
    balances = await asyncio.gather(*(book.balance(ANN, free_videos=1, now=T0) for _ in range(8)))
    assert balances == [1] * 8
    assert await rows(store, Entry.GRANT) == 1


async def test_a_user_seen_with_no_free_videos_gets_none_when_the_setting_grows(
    book: LedgerStore,
) -> None:
    assert await book.balance(ANN, free_videos=0, now=T0) == 0
    assert await book.balance(ANN, free_videos=3, now=T0 + 1) == 0


# --------------------------------------------------------------------------- purchases


async def test_a_purchase_is_credited_once_per_charge_id(
    store: JobStore, book: LedgerStore
) -> None:
    assert await buy(book, "stx-1") is True
    assert await buy(book, "stx-1") is False  # the payment's update came again
    assert await buy(book, "stx-2", videos=1, stars=60) is True
    assert await book.balance(ANN, now=T0) == 6
    assert await rows(store, Entry.PURCHASE) == 2


async def test_the_same_charge_posted_at_once_is_credited_once(book: LedgerStore) -> None:
    credited = await asyncio.gather(*(buy(book, "stx-1") for _ in range(5)))
    assert sorted(credited) == [False, False, False, False, True]
    assert await book.balance(ANN, now=T0) == 5


async def test_purchases_are_listed_newest_first_and_each_found_by_its_charge(
    book: LedgerStore,
) -> None:
    for number in range(7):
        await book.credit_purchase(
            ANN, charge_id=f"stx-{number}", videos=1, stars=60, pack="1:60", now=T0 + number
        )
    await buy(book, "stx-bob", user_id=BOB)

    listed = await book.purchases(ANN)
    assert [purchase.charge_id for purchase in listed] == [f"stx-{n}" for n in (6, 5, 4, 3, 2)]
    assert await book.purchase("stx-bob") == Purchase(BOB, "stx-bob", 5, 250, "5:250", T0)
    assert await book.purchase("stx-none") is None
    assert [p.charge_id for p in await book.purchases(BOB)] == ["stx-bob"]


# --------------------------------------------------------------------------- spending


async def test_a_credit_spent_is_held_while_its_job_runs_and_stays_spent_once_delivered(
    store: JobStore, book: LedgerStore
) -> None:
    await book.balance(ANN, free_videos=2, now=T0)
    job_id = await paid_job(store, 1)
    assert await book.balance(ANN, now=T0) == 1
    assert await book.in_use(ANN) == 1
    job = await store.update(job_id, now=T0 + 60, state=JobState.DELIVERED)
    assert job.credit_used is True
    assert await book.balance(ANN, now=T0) == 1
    assert await book.in_use(ANN) == 0


#: How a paid job ended, and whether its credit comes back.
ENDINGS: list[tuple[dict[str, Any], bool]] = [
    ({"state": JobState.FAILED, "reason": Reason.API_FAILED}, True),
    ({"state": JobState.FAILED, "reason": Reason.STAYED_BUSY}, True),
    ({"state": JobState.TIMED_OUT}, True),
    ({"state": JobState.REJECTED, "reason": Reason.TOO_SMALL}, True),
    ({"state": JobState.INTERRUPTED, "reason": Reason.NOT_SUBMITTED}, True),
    ({"state": JobState.CANCELLED}, True),  # taken out of the line
    ({"state": JobState.DELIVERED}, False),
    ({"state": JobState.UNDELIVERABLE, "reason": Reason.CHAT_CLOSED}, False),
    ({"state": JobState.INTERRUPTED, "reason": Reason.OUTCOME_UNKNOWN}, False),  # may be paid
    ({"state": JobState.CANCELLED, "submitted_at": T0}, False),  # the API had it
    ({"state": JobState.LATE, "submitted_at": T0}, False),  # still on its way
]


@pytest.mark.parametrize(
    ("ending", "back"),
    ENDINGS,
    ids=[
        "-".join(str(value) for value in ending.values() if not isinstance(value, float))
        + ("-submitted" if "submitted_at" in ending else "")
        for ending, _ in ENDINGS
    ],
)
async def test_a_credit_comes_back_exactly_when_its_job_stops_counting_against_the_day(
    store: JobStore, book: LedgerStore, ending: dict[str, Any], back: bool
) -> None:
    await book.balance(ANN, free_videos=1, now=T0)
    job_id = await paid_job(store, 1)
    await store.update(job_id, now=T0 + 60, **ending)
    assert await book.balance(ANN, now=T0 + 60) == (1 if back else 0)


async def test_a_refused_job_taken_up_again_spends_one_credit_again(
    store: JobStore, book: LedgerStore
) -> None:
    await book.balance(ANN, free_videos=2, now=T0)
    job_id = await paid_job(store, 1)
    await store.update(job_id, now=T0 + 1, state=JobState.REJECTED, reason=Reason.TOO_WIDE)
    assert await book.balance(ANN, now=T0) == 2
    async with store.database.engine.begin() as connection:  # readmitted with a fix
        await book.spend_in(connection, ANN, job_id, now=T0 + 2)
    await store.update(job_id, now=T0 + 2, state=JobState.RECEIVED)
    assert await book.balance(ANN, now=T0) == 1
    assert await rows(store, Entry.SPEND) == 1


async def test_a_job_paid_without_a_credit_costs_none(store: JobStore, book: LedgerStore) -> None:
    await book.balance(ANN, free_videos=1, now=T0)
    job = await store.record_request(request(1), now=T0)  # an admin's, or payments off
    assert job is not None
    await store.update(job.id, now=T0 + 60, state=JobState.DELIVERED)
    assert await book.balance(ANN, now=T0) == 1
    assert (await store.get(job.id)).credit_used is None


async def test_one_users_jobs_never_spend_anothers_credits(
    store: JobStore, book: LedgerStore
) -> None:
    await book.balance(ANN, free_videos=1, now=T0)
    await book.balance(BOB, free_videos=1, now=T0)
    await paid_job(store, 1, user_id=BOB)
    assert await book.balance(ANN, now=T0) == 1
    assert await book.balance(BOB, now=T0) == 0
    assert (await book.in_use(ANN), await book.in_use(BOB)) == (0, 1)


# --------------------------------------------------------------------------- refunds, totals


async def test_a_refund_is_recorded_once_and_takes_back_the_videos_it_names(
    store: JobStore, book: LedgerStore
) -> None:
    await book.balance(ANN, free_videos=1, now=T0)
    await buy(book, "stx-1")
    purchase = await book.purchase("stx-1")
    assert purchase is not None and not purchase.refunded

    assert await book.record_refund(purchase, videos_taken=5, now=T0 + 9, note="by admin 9")
    assert not await book.record_refund(purchase, videos_taken=5, now=T0 + 10)
    refunded = await book.purchase("stx-1")
    assert refunded is not None and refunded.refunded
    assert [p.refunded for p in await book.purchases(ANN)] == [True]
    assert await book.balance(ANN, now=T0) == 1
    assert await rows(store, Entry.REFUND) == 1


async def test_a_partial_refund_leaves_the_videos_made_spent(
    store: JobStore, book: LedgerStore
) -> None:
    await buy(book, "stx-1")
    for message_id in (1, 2):
        job_id = await paid_job(store, message_id)
        await store.update(job_id, now=T0 + 60, state=JobState.DELIVERED)
    purchase = await book.purchase("stx-1")
    assert purchase is not None
    await book.record_refund(purchase, videos_taken=3, now=T0 + 90)
    assert await book.balance(ANN, now=T0) == 0


async def test_totals_count_the_stars_earned_refunded_and_the_credits_all_users_hold(
    store: JobStore, book: LedgerStore
) -> None:
    assert await book.totals() == StarTotals(earned=0, refunded=0, outstanding=0)
    await book.balance(ANN, free_videos=1, now=T0)
    await book.balance(BOB, free_videos=1, now=T0)
    await buy(book, "stx-ann", videos=5, stars=250)
    await buy(book, "stx-bob", videos=1, stars=60, user_id=BOB)
    await paid_job(store, 1, user_id=BOB)  # on its way: held, not outstanding
    bobs = await book.purchase("stx-bob")
    assert bobs is not None
    await book.record_refund(bobs, videos_taken=1, now=T0 + 5)

    # Ann: 1 + 5; Bob: 1 + 1, one held by a job, one taken back.
    assert await book.totals() == StarTotals(earned=310, refunded=60, outstanding=6)


# --------------------------------------------------------------------------- admission


def one_credit_each(mine: UserCounts, load: BotCounts) -> JobState | None:
    """Admission's rule for a paying user, alone: a credit left lets the request in."""
    return JobState.RECEIVED if mine.credits is None or mine.credits >= 1 else None


async def admit(store: JobStore, message_id: int, *, free_videos: int | None = 1) -> Any:
    return await AccessStore.of(store).admit(
        request(message_id),
        now=T0,
        since=T0 - 60,
        lease=LEASE,
        decide=one_credit_each,
        free_videos=free_videos,
    )


async def test_admission_grants_the_free_video_and_spends_it_on_the_job(
    store: JobStore, book: LedgerStore
) -> None:
    admitted = await admit(store, 1)
    refused = await admit(store, 2)

    assert admitted.job is not None and admitted.job.credit_used is True
    assert (await store.get(admitted.job.id)).credit_used is True
    assert refused.job is None and refused.new  # judged, and refused: no credit left
    assert await book.balance(ANN, now=T0) == 0
    assert len(await store.jobs_for_user(ANN)) == 1


async def test_requests_admitted_at_once_with_one_credit_left_make_one_job(
    store: JobStore, book: LedgerStore
) -> None:
    admitted = await asyncio.gather(*(admit(store, number) for number in range(1, 6)))

    assert sum(a.job is not None for a in admitted) == 1
    assert await book.balance(ANN, now=T0) == 0
    assert await rows(store, Entry.SPEND) == 1
    assert await rows(store, Entry.GRANT) == 1


async def test_admission_of_a_user_who_does_not_pay_writes_no_ledger_row(
    store: JobStore, book: LedgerStore
) -> None:
    admitted = await admit(store, 1, free_videos=None)

    assert admitted.job is not None and admitted.job.credit_used is None
    assert await rows(store) == 0


async def test_a_refused_job_readmitted_with_no_credit_left_stays_refused(
    store: JobStore, book: LedgerStore
) -> None:
    first = (await admit(store, 1)).job
    assert first is not None
    await store.update(first.id, now=T0 + 1, state=JobState.REJECTED, reason=Reason.TOO_WIDE)
    second = (await admit(store, 2)).job  # the credit back, spent on another photo
    assert second is not None

    async def readmit() -> Any:
        return await AccessStore.of(store).readmit(
            first.id,
            now=T0 + 2,
            since=T0 - 60,
            lease=LEASE,
            decide=one_credit_each,
            changes={"image_fix": "crop"},
            free_videos=1,
        )

    refused = await readmit()
    assert refused.job is None and refused.new
    assert (await store.get(first.id)).state is JobState.REJECTED
    await buy(book, "stx-1", videos=1, stars=60)
    taken = await readmit()
    assert taken.job is not None and taken.job.state is JobState.RECEIVED
    assert await book.balance(ANN, now=T0) == 0
