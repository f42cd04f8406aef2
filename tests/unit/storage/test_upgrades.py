"""Databases written by earlier versions open with today's code, every row intact.

Each `tests/fixtures/schema-<N>.sqlite3` was written by the code of schema N, with a job in
every state (see `tests/fixtures/build_upgrade_fixture.py`), and is never rebuilt.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from storage import JobStore, Reason
from storage.migrations import MIGRATIONS, head

FIXTURES = sorted((Path(__file__).parents[2] / "fixtures").glob("schema-*.sqlite3"))


def _tables(path: Path) -> dict[str, tuple[list[str], list[tuple[Any, ...]]]]:
    """Every table's columns and rows, in rowid order."""
    with sqlite3.connect(path) as db:
        names = [
            row[0]
            for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            if not str(row[0]).startswith("sqlite_")
        ]
        found = {}
        for name in names:
            cursor = db.execute(f"SELECT * FROM {name} ORDER BY rowid")
            columns = [column[0] for column in cursor.description]
            found[name] = (columns, cursor.fetchall())
    return found


def test_there_is_a_fixture_for_every_schema_since_3() -> None:
    versions = {int(path.stem.split("-")[1]) for path in FIXTURES}
    assert versions >= {3}
    assert max(versions) <= int(head())


@pytest.mark.parametrize("fixture", FIXTURES, ids=[path.stem for path in FIXTURES])
async def test_an_old_database_upgrades_in_place_without_losing_a_row(
    fixture: Path, tmp_path: Path
) -> None:
    path = tmp_path / fixture.name
    shutil.copy(fixture, path)
    before = _tables(path)
    assert {row[0] for row in before["jobs"][1]}, "the fixture has jobs"

    store = await JobStore.open(path)
    try:
        jobs = [await store.get(int(row[0])) for row in before["jobs"][1]]
    finally:
        await store.close()

    after = _tables(path)
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    assert after["alembic_version"][1] == [(head(),)]  # brought to the newest revision
    for table, (columns, rows) in before.items():
        if table == "alembic_version":  # the bookkeeping of the migrations themselves
            continue
        new_columns, new_rows = after[table]
        renamed = [RENAMED.get((table, column), column) for column in columns]
        assert new_columns[: len(columns)] == renamed, table
        # Every old column of every old row is as it was, but for the reasons turned into
        # codes (checked below); new columns may follow.
        kept = [i for i, column in enumerate(columns) if (table, column) not in RENAMED]
        assert [[row[i] for i in kept] for row in new_rows] == [
            [row[i] for i in kept] for row in rows
        ], table
    states = before["jobs"][0].index("state")
    assert [job.state.value for job in jobs] == [row[states] for row in before["jobs"][1]]
    if "error" not in before["jobs"][0]:  # schema 5 on: reasons were codes already, kept above
        assert {job.reason for job in jobs} >= {Reason.TOO_SMALL, Reason.API_FAILED}
        return
    # Each old reason, a sentence or someone else's words, comes out as its code.
    errors = before["jobs"][0].index("error")
    for job, row in zip(jobs, before["jobs"][1], strict=True):
        assert (job.reason, job.api_reason) == REASONS[row[errors]], (job.state, row[errors])


#: Columns an upgrade renamed: (table, old name) -> new name.
RENAMED = {("jobs", "error"): "reason"}

#: What each `error` written into the fixtures becomes: (reason, api_reason).
REASONS: dict[str | None, tuple[Reason | None, str | None]] = {
    None: (None, None),
    "too_small": (Reason.TOO_SMALL, None),
    "Content moderation: the image was flagged": (
        Reason.API_FAILED,
        "Content moderation: the image was flagged",
    ),
    "restarted while submitting": (Reason.RESTARTED_WHILE_SUBMITTING, None),
    "Forbidden: bot was blocked by the user": (Reason.CHAT_CLOSED, None),
}
