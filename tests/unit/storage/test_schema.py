"""One schema for both engines: a migrated database is what `storage.schema` defines."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from storage import JobStore
from storage.schema import metadata
from tests.databases import TestDatabase


def _differences(connection: sa.Connection) -> list[Any]:
    # SQLite reports the legacy tables' types by their declared names (INTEGER for a flag,
    # REAL for seconds), which read and write the same values: compared by name and shape
    # there, by type too on PostgreSQL, whose tables the revisions create from the same types.
    context = MigrationContext.configure(
        connection, opts={"compare_type": connection.dialect.name != "sqlite"}
    )
    found = compare_metadata(context, metadata)
    if connection.dialect.name == "sqlite":
        # The legacy CREATE TABLE left its UNIQUE constraints unnamed (sqlite_autoindex_*),
        # which SQLite reports without the names given here: the same constraints.
        found = [d for d in found if not (isinstance(d, tuple) and d[0].endswith("constraint"))]
        # Nor does it say NOT NULL of an `INTEGER PRIMARY KEY`, the rowid, which never is.
        found = [d for d in found if not _rowid_nullable(d)]
    return [d for d in found if not (isinstance(d, tuple) and "alembic_version" in str(d))]


def _rowid_nullable(difference: Any) -> bool:
    if not isinstance(difference, list) or len(difference) != 1:
        return False
    kind, _, table, column = difference[0][:4]
    return bool(kind == "modify_nullable" and metadata.tables[table].c[column].primary_key)


async def test_a_migrated_database_is_the_schema_the_queries_are_written_against(
    database: TestDatabase,
) -> None:
    store = await JobStore.open(database.where)
    try:
        async with store.database.engine.connect() as connection:
            differences = await connection.run_sync(_differences)
    finally:
        await store.close()
    assert differences == []
