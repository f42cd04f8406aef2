"""Alembic's entry point: migrates the connection `storage.migrations.migrate` hands it.

The bot runs it at start-up, in the transaction that opens the database. A developer's
`alembic` command (alembic.ini) gets here with no connection, and is given one to
`DATABASE_URL`, or to `data/bot.sqlite3` when that is not set.
"""

from __future__ import annotations

import asyncio
import os

import sqlalchemy as sa
from alembic import context
from sqlalchemy.ext.asyncio import create_async_engine

from storage.database import database_url
from storage.schema import metadata


def _run(connection: sa.Connection) -> None:
    context.configure(connection=connection, target_metadata=metadata)
    with context.begin_transaction():
        context.run_migrations()


async def _run_on_the_configured_database() -> None:
    engine = create_async_engine(
        database_url(os.environ.get("DATABASE_URL") or "sqlite:///data/bot.sqlite3")
    )
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_run)
    finally:
        await engine.dispose()


given = context.config.attributes.get("connection")
if isinstance(given, sa.Connection):
    _run(given)
else:
    asyncio.run(_run_on_the_configured_database())
