"""Leases: the due-jobs claim with 100,000 job rows, on PostgreSQL and, beside it, on SQLite.

The rows are those of a bot that has run for months on several instances: 90 % finished
(`next_poll_at` NULL, the last owner kept), 5 % due and free, 2 % due but leased by another
instance that is alive, 1 % due under a lease that ran out (its instance died), 2 % due later.

Measured: `LeaseStore.claim_due` p50 and p95 at the tick's limits (100 and 1,000 rows): a claim,
then the release of what it took (`release_all`, untimed), over and over on the same rows.
Baseline: the read the tick made before leases, `JobStore.due_jobs`, timed in the same rounds.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bench.harness import Figure, Outcome, percentile, run_module
from bench.setup import clean_environment
from bot.engine.schedule import tick_interval
from bot.wiring.settings import Settings
from storage import JobStore
from storage.leases import LeaseStore
from storage.schema import jobs
from tests.databases import PostgresServer

ROWS = 100_000
LIMITS = (100, 1000)
REPEATS = {100: 200, 1000: 100}
WARM_UP = 5
OWNER = "bench-claimer"
OTHER = "bench-other"  # alive: its leases hold through the run
GONE = "bench-gone"  # died: its leases ran out a minute ago
LEASE_SECONDS = 30.0
#: The targets, as shares of the tick's interval at the default POLL_INTERVAL_SECONDS (2 s): a
#: claim of a tick's usual few jobs within 1 % of it, a full batch within 5 %.
TICK_SECONDS = tick_interval(Settings.model_fields["poll_interval_seconds"].default)
TARGET_P95_S = {100: 0.01 * TICK_SECONDS, 1000: 0.05 * TICK_SECONDS}


def fill_sql(*, count: int, now: float) -> str:
    """One INSERT of `count` jobs in the mix above, the same SQL for both engines: a recursive
    count (PostgreSQL and SQLite both have WITH RECURSIVE) and CASEs on `k % 100`."""
    due = f"{now!r} - (k % 997) * 0.3"  # overdue by up to five minutes
    return f"""
        WITH RECURSIVE n(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM n WHERE k < {count})
        INSERT INTO jobs (
            chat_id, request_message_id, photo_message_id, user_id, prompt, prompt_optimizer,
            file_id, state, generation_id, api_status, created_at, updated_at, submitted_at,
            completed_at, delivered_at, next_poll_at, poll_count, lease_owner, lease_until,
            taken_over_from
        )
        SELECT
            10000000 + k, k, k, 10000000 + k % 5000, 'the waves roll in, take ' || k, TRUE,
            'AgACAgIAAxkBAAI' || k, CASE
                WHEN k % 100 < 10 THEN CASE WHEN k % 2 = 0 THEN 'queued' ELSE 'generating' END
                WHEN k % 100 < 95 THEN 'delivered' WHEN k % 100 < 98 THEN 'failed'
                ELSE 'cancelled' END,
            'gen-' || k, CASE WHEN k % 100 < 10 THEN 'queued' ELSE 'completed' END,
            {now!r} - k * 60.0, {now!r} - k * 30.0, {now!r} - k * 60.0 + 5,
            CASE WHEN k % 100 >= 10 THEN {now!r} - k * 60.0 + 185 END,
            CASE WHEN k % 100 >= 10 THEN {now!r} - k * 60.0 + 190 END,
            CASE WHEN k % 100 < 8 THEN {due}
                WHEN k % 100 < 10 THEN {now!r} + 5 + (k % 991) * 0.3 END,
            k % 7,
            CASE WHEN k % 100 IN (5, 6) THEN '{OTHER}' WHEN k % 100 = 7 THEN '{GONE}'
                WHEN k % 100 >= 10 THEN CASE WHEN k % 2 = 0 THEN '{OTHER}' ELSE '{GONE}' END
                END,
            CASE WHEN k % 100 IN (5, 6) THEN {now + 3600!r}
                WHEN k % 100 = 7 THEN {now - 60!r} END,
            NULL
        FROM n
    """


def is_claimable(now: float) -> sa.ColumnElement[bool]:
    """A due job under no live lease: what `claim_due` may take."""
    return sa.and_(
        jobs.c.next_poll_at <= now,
        sa.or_(jobs.c.lease_until.is_(None), jobs.c.lease_until <= now),
    )


async def fill(store: JobStore, *, now: float) -> dict[str, int]:
    """The mix above in `store`; on PostgreSQL, vacuumed and analyzed as autovacuum leaves a
    table that has lived. Returns how many rows, due, claimable and leased there are."""
    database = store.database
    async with database.engine.begin() as connection:
        await connection.execute(sa.text(fill_sql(count=ROWS, now=now)))
    if database.is_postgresql:
        vacuum = database.engine.execution_options(isolation_level="AUTOCOMMIT")
        async with vacuum.connect() as connection:
            await connection.execute(sa.text("VACUUM ANALYZE jobs"))
    count = sa.func.count()
    question = sa.select(
        count,
        count.filter(jobs.c.next_poll_at <= now),
        count.filter(is_claimable(now)),
        count.filter(jobs.c.lease_until > now),
    )
    async with database.engine.connect() as connection:
        rows, due, claimable, leased = (await connection.execute(question)).one()
    return {"rows": rows, "due": due, "claimable": claimable, "live_leases": leased}


async def held_elsewhere(store: JobStore, *, now: float) -> set[int]:
    """The jobs another instance holds under a live lease: no claim may take them."""
    held = sa.select(jobs.c.id).where(jobs.c.lease_until > now, jobs.c.lease_owner != OWNER)
    async with store.database.engine.connect() as connection:
        return set(await connection.scalars(held))


async def measure_limit(store: JobStore, *, now: float, limit: int) -> dict[str, Any]:
    """`REPEATS[limit]` rounds of: a claim, its release, the baseline's read."""
    leases = LeaseStore.of(store)
    until = now + LEASE_SECONDS
    claims: list[float] = []
    reads: list[float] = []
    held = await held_elsewhere(store, now=now)
    taken_over = 0
    for round_number in range(WARM_UP + REPEATS[limit]):
        start = time.perf_counter()
        claimed = await leases.claim_due(owner=OWNER, now=now, until=until, limit=limit)
        took = time.perf_counter() - start
        await leases.release_all(owner=OWNER)  # untimed: the claim's rows are free again
        start = time.perf_counter()
        due = await store.due_jobs(now=now, limit=limit)
        read = time.perf_counter() - start
        assert len(claimed) == limit, (len(claimed), limit)
        assert len(due) == limit, (len(due), limit)
        if round_number == 0:
            wrong = [
                job.id
                for job in claimed
                if job.id in held
                or job.next_poll_at is None
                or job.next_poll_at > now
                or job.lease_owner != OWNER
                or job.lease_until != until
            ]
            assert not wrong, f"claimed jobs not free, due and leased to {OWNER}: {wrong[:10]}"
            taken_over = sum(job.taken_over_from == GONE for job in claimed)
        if round_number >= WARM_UP:
            claims.append(took)
            reads.append(read)
    fifth = len(claims) // 5
    return {
        # Each claim and release leaves dead row versions behind: a drift would show here.
        "claim_first_fifth_p50_s": percentile(claims[:fifth], 0.5),
        "claim_last_fifth_p50_s": percentile(claims[-fifth:], 0.5),
        "claim_p50_s": percentile(claims, 0.5),
        "claim_p95_s": percentile(claims, 0.95),
        "due_jobs_p50_s": percentile(reads, 0.5),
        "due_jobs_p95_s": percentile(reads, 0.95),
        "repeats": REPEATS[limit],
        "taken_over_in_first_claim": taken_over,
    }


async def measure_engine(store: JobStore, *, now: float) -> dict[str, Any]:
    mix = await fill(store, now=now)
    by_limit = {limit: await measure_limit(store, now=now, limit=limit) for limit in LIMITS}
    return {"mix": mix, "by_limit": by_limit}


@asynccontextmanager
async def postgresql_store() -> AsyncIterator[JobStore]:
    """A fresh PostgreSQL database at the newest schema, dropped afterwards."""
    server = PostgresServer()
    url = await server.create()
    try:
        store = await JobStore.open(url)
        try:
            yield store
        finally:
            await store.close()
    finally:
        await server.drop(url)
        await server.close()


def figures(engine: str, found: dict[str, Any]) -> list[Figure]:
    mix = found["mix"]
    rows = f"{mix['rows']:,} rows, {mix['claimable']:,} claimable of {mix['due']:,} due"
    result = []
    for limit in LIMITS:
        at = found["by_limit"][limit]
        p95, p50 = at["claim_p95_s"], at["claim_p50_s"]
        target = TARGET_P95_S[limit]
        result += [
            Figure(
                name=f"{engine} claim_due p95, limit {limit}, {rows}",
                unit="s",
                measured=p95,
                baseline=at["due_jobs_p95_s"],
                target=f"< {target * 1000:.0f} ms ({target / TICK_SECONDS:.0%} of a tick)",
                met=p95 < target,
                note=(
                    f"{p95 / at['due_jobs_p95_s']:.1f}x the read before leases; "
                    f"{at['repeats']} claims, each then released"
                ),
            ),
            Figure(
                name=f"{engine} claim_due p50, limit {limit}",
                unit="s",
                measured=p50,
                baseline=at["due_jobs_p50_s"],
                target="-",
                met=None,
                note=f"{p50 / at['due_jobs_p50_s']:.1f}x the read before leases",
            ),
        ]
    return result


async def measure() -> Outcome:
    clean_environment()
    outcome = Outcome()
    now = time.time()
    async with postgresql_store() as store:
        on_postgresql = await measure_engine(store, now=now)
    with tempfile.TemporaryDirectory(prefix="bench-claims-") as folder:
        store = await JobStore.open(Path(folder) / "bot.sqlite3")
        try:
            on_sqlite = await measure_engine(store, now=now)
        finally:
            await store.close()
    outcome.figures = figures("PostgreSQL", on_postgresql) + figures("SQLite", on_sqlite)
    outcome.details = {
        "postgresql": on_postgresql,
        "sqlite": on_sqlite,
        "lease_seconds": LEASE_SECONDS,
    }
    return outcome


if __name__ == "__main__":
    run_module(measure)
