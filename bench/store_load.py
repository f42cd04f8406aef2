"""Storage: the due-jobs query with 10,000 and 100,000 job rows (10 % due), and the insert rate.

Measured: `JobStore.due_jobs` p95 at the tick's realistic limits (100 and 1,000 rows), at 10k
and at 100k rows (it should stay flat); its `EXPLAIN QUERY PLAN`; `record_request` inserts per
second (one commit each, as intake makes them).
Baselines: the very statement `due_jobs` runs, forced to scan the table (`NOT INDEXED`); the
same rows inserted in bulk, in one transaction (the engine's ceiling).
"""

from __future__ import annotations

import asyncio
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.harness import Figure, Outcome, percentile, run_module
from bench.setup import clean_environment
from storage import JobStore, NewJob
from storage.jobs import due_jobs_query

SAMPLE_INSERTS = 2000
SIZES = (10_000, 100_000)
LIMITS = (100, 1000)
REPEATS = 200


def new_job(index: int) -> NewJob:
    return NewJob(
        chat_id=10_000_000 + index,
        request_message_id=index,
        photo_message_id=index,
        thread_id=None,
        user_id=10_000_000 + index,
        prompt=f"the waves roll in, take {index}",
        prompt_optimizer=True,
        file_id=f"AgACAgIAAxkBAAI{index:012d}",
    )


def _columns(db: sqlite3.Connection) -> list[str]:
    return [str(row[1]) for row in db.execute("PRAGMA table_info(jobs)") if row[1] != "id"]


def bulk_insert(database: Path, *, first: int, count: int, template_id: int, now: float) -> None:
    """`count` more jobs, copies of job `template_id` with their own chat, message and
    generation, in one transaction. Whatever columns the schema has, they are filled."""
    overrides = {
        "chat_id": "20000000 + n.k",
        "user_id": "20000000 + n.k",
        "request_message_id": "n.k",
        "photo_message_id": "n.k",
        "generation_id": "'gen-' || n.k",
        "created_at": ":now - n.k * 0.01",
        "updated_at": ":now",
    }
    with sqlite3.connect(database) as db:
        columns = _columns(db)
        values = [overrides.get(column, f"jobs.{column}") for column in columns]
        db.execute(
            f"WITH RECURSIVE n(k) AS (SELECT :first UNION ALL SELECT k + 1 FROM n "
            f"WHERE k < :last) INSERT INTO jobs ({', '.join(columns)}) "
            f"SELECT {', '.join(values)} FROM jobs, n WHERE jobs.id = :template",
            {"first": first, "last": first + count - 1, "template": template_id, "now": now},
        )


def spread_states(database: Path, *, now: float) -> dict[str, int]:
    """One job in ten due (overdue by up to a few minutes), one in ten polled later, the rest
    finished: the mix a bot that has run for months carries."""
    with sqlite3.connect(database) as db:
        db.execute(
            "UPDATE jobs SET "
            "state = CASE id % 10 WHEN 0 THEN 'generating' WHEN 1 THEN 'queued' "
            "ELSE 'delivered' END, "
            "next_poll_at = CASE id % 10 WHEN 0 THEN :now - (id % 997) * 0.3 "
            "WHEN 1 THEN :now + 5 + (id % 991) * 0.3 ELSE NULL END",
            {"now": now},
        )
        rows = db.execute(
            "SELECT count(*), count(next_poll_at), "
            "sum(next_poll_at IS NOT NULL AND next_poll_at <= ?) FROM jobs",
            (now,),
        ).fetchone()
    return {"rows": int(rows[0]), "pending": int(rows[1]), "due": int(rows[2])}


def timed_sql(
    databases: dict[int, Path], sqls: dict[int, str], repeats: int
) -> dict[int, list[float]]:
    """Run each database's statement in turn, `repeats` rounds; the seconds each run took."""
    connections = {size: sqlite3.connect(path) for size, path in databases.items()}
    times: dict[int, list[float]] = {size: [] for size in databases}
    try:
        for _ in range(repeats):
            for size, db in connections.items():
                start = time.perf_counter()
                db.execute(sqls[size]).fetchall()
                times[size].append(time.perf_counter() - start)
    finally:
        for db in connections.values():
            db.close()
    return times


def query_plan(database: Path, sql: str) -> list[str]:
    with sqlite3.connect(database) as db:
        return [str(row[3]) for row in db.execute(f"EXPLAIN QUERY PLAN {sql}")]


async def due_jobs_sql(store: JobStore, *, now: float, limit: int) -> str:
    """The statement `due_jobs` sends (the store's own query), with its values filled in."""
    engine = store.database.engine
    compiled = due_jobs_query(now=now, limit=limit).compile(
        dialect=engine.dialect, compile_kwargs={"literal_binds": True}
    )
    return " ".join(str(compiled).split())


async def measure_limit(
    stores: dict[int, JobStore], databases: dict[int, Path], *, now: float, limit: int
) -> dict[int, dict[str, Any]]:
    """Time the query on every table size in turn, round after round, so that a noisy
    neighbour slows all sizes alike and their ratio holds."""
    sqls = {size: await due_jobs_sql(store, now=now, limit=limit) for size, store in stores.items()}
    scan_sqls = {
        size: sql.replace("FROM jobs ", "FROM jobs NOT INDEXED ", 1) for size, sql in sqls.items()
    }
    times: dict[int, list[float]] = {size: [] for size in stores}
    for _ in range(5):  # warm the page cache, as a running bot's ticks do
        for store in stores.values():
            await store.due_jobs(now=now, limit=limit)
    for _ in range(REPEATS):
        for size, store in stores.items():
            start = time.perf_counter()
            jobs = await store.due_jobs(now=now, limit=limit)
            times[size].append(time.perf_counter() - start)
            assert len(jobs) == limit, len(jobs)
    sql_times = await asyncio.to_thread(timed_sql, databases, sqls, REPEATS)
    scan_times = await asyncio.to_thread(timed_sql, databases, scan_sqls, REPEATS // 5)
    return {
        size: {
            "due_jobs_p95_s": percentile(times[size], 0.95),
            "due_jobs_p50_s": percentile(times[size], 0.5),
            "sql_only_p95_s": percentile(sql_times[size], 0.95),
            "scan_p95_s": percentile(scan_times[size], 0.95),
            "plan": await asyncio.to_thread(query_plan, databases[size], sqls[size]),
            "scan_plan": await asyncio.to_thread(query_plan, databases[size], scan_sqls[size]),
            "sql": sqls[size],
        }
        for size in stores
    }


async def filled_store(database: Path, size: int, *, now: float) -> tuple[JobStore, dict[str, int]]:
    """A store of `size` jobs: a few made by `record_request`, the rest copied in bulk."""
    store = await JobStore.open(database)
    await store.record_request(new_job(0), now=now)
    await asyncio.to_thread(bulk_insert, database, first=1, count=size - 1, template_id=1, now=now)
    return store, await asyncio.to_thread(spread_states, database, now=now)


async def measure() -> Outcome:
    clean_environment()
    outcome = Outcome()
    now = time.time()
    stores: dict[int, JobStore] = {}
    with tempfile.TemporaryDirectory(prefix="bench-storage-") as folder:
        try:
            scratch = Path(folder) / "inserts.sqlite3"
            stores[0] = store = await JobStore.open(scratch)
            start = time.perf_counter()
            for index in range(SAMPLE_INSERTS):
                await store.record_request(new_job(index), now=now)
            insert_rate = SAMPLE_INSERTS / (time.perf_counter() - start)
            start = time.perf_counter()
            await asyncio.to_thread(
                bulk_insert, scratch, first=1, count=SAMPLE_INSERTS, template_id=1, now=now
            )
            bulk_rate = SAMPLE_INSERTS / (time.perf_counter() - start)
            await stores.pop(0).close()

            databases = {size: Path(folder) / f"jobs-{size}.sqlite3" for size in SIZES}
            mixes = {}
            for size in SIZES:
                stores[size], mixes[size] = await filled_store(databases[size], size, now=now)
            by_limit = {
                limit: await measure_limit(stores, databases, now=now, limit=limit)
                for limit in LIMITS
            }
        finally:
            for open_store in stores.values():
                await open_store.close()

    small, large = SIZES
    for limit in LIMITS:
        at_large = by_limit[limit][large]
        p95 = at_large["due_jobs_p95_s"]
        uses_index = any("jobs_due" in line for line in at_large["plan"])
        outcome.figures.append(
            Figure(
                name=f"due_jobs p95, limit {limit}, {large:,} rows ({mixes[large]['due']:,} due)",
                unit="s",
                measured=p95,
                baseline=at_large["scan_p95_s"],
                target="< 5 ms, index used",
                met=p95 < 0.005 and uses_index,
                note=(
                    f"plan: {' / '.join(at_large['plan'])}; the SQL alone takes "
                    f"{at_large['sql_only_p95_s'] * 1000:.2f} ms (p95), the rest is making "
                    f"{limit} Job records; baseline: the same statement NOT INDEXED"
                ),
            )
        )
    at_large = by_limit[LIMITS[-1]][large]
    outcome.figures.append(
        Figure(
            name=f"due-jobs SQL alone p95, limit {LIMITS[-1]}, {large:,} rows",
            unit="s",
            measured=at_large["sql_only_p95_s"],
            baseline=at_large["scan_p95_s"],
            target="< 5 ms",
            met=at_large["sql_only_p95_s"] < 0.005,
            note="the statement due_jobs sends, run and fetched with sqlite3, no Job records",
        )
    )
    for limit in LIMITS:
        found = by_limit[limit]
        ratio = found[large]["due_jobs_p95_s"] / found[small]["due_jobs_p95_s"]
        outcome.figures.append(
            Figure(
                name=f"due_jobs p95 at {large:,} / at {small:,} rows, limit {limit}",
                unit="x",
                measured=ratio,
                baseline=found[large]["scan_p95_s"] / found[small]["scan_p95_s"],
                target="flat: <= 1.5",
                met=ratio <= 1.5,
                note=(
                    f"{found[small]['due_jobs_p95_s'] * 1000:.2f} ms at {small:,} rows, "
                    f"{found[large]['due_jobs_p95_s'] * 1000:.2f} ms at {large:,}; "
                    "baseline: the same ratio for the NOT INDEXED scan"
                ),
            )
        )
    outcome.figures.append(
        Figure(
            name="insert rate, record_request (one commit per request)",
            unit="rows/s",
            measured=insert_rate,
            baseline=bulk_rate,
            target="-",
            met=None,
            note="baseline: the same rows in bulk, in one transaction (the engine's ceiling)",
        )
    )
    outcome.details = {
        "insert_rate_per_s": insert_rate,
        "bulk_insert_rate_per_s": bulk_rate,
        "mix": {str(size): mix for size, mix in mixes.items()},
        "by_limit": {
            str(limit): {str(size): found for size, found in by_size.items()}
            for limit, by_size in by_limit.items()
        },
    }
    return outcome


if __name__ == "__main__":
    run_module(measure)
