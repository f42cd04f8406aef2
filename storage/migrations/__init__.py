"""The schema's migrations: Alembic revisions, run by the bot itself when it opens a database.

No `alembic` command is needed to run the bot: `migrate` runs at every start, in the
transaction that opens the database. (`alembic.ini` at the top of the repository is for
developers who write a revision: `alembic revision -m "..."`.)

How the SQLite databases of before Alembic fit in. Those record their schema in
`PRAGMA user_version`, 1 to 5, and have no `alembic_version` table. The revisions are
numbered to carry on from there: revision `0005` *is* legacy schema 5, the baseline where
PostgreSQL starts and both engines meet, and later revisions are 0006, 0007, ... So:

- on SQLite, revision `0005` runs the legacy steps (`storage.migrations.legacy`, frozen,
  exactly as released) after the database's user_version: all five for a new database, the
  remaining ones for an old one (none at 5). Either way it ends at schema 5, stamped `0005`,
  and takes the later revisions like any other. Every SQLite database, old or new, so has
  the same tables, down to the order of their columns;
- a PostgreSQL database takes `0005` as CREATE TABLEs (it never had legacy versions);
- a user_version above 5, or a revision this bot does not know, is a database written by a
  newer bot, and is refused rather than misread.

Rewriting the five legacy steps as Alembic revisions would have meant proving that new code
does to every old file what the released code did; running the released code itself needs
no proof.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError

from storage.migrations import legacy
from storage.migrations.legacy import MIGRATIONS

__all__ = ["BASELINE", "MIGRATIONS", "alembic_config", "head", "migrate"]

HERE = Path(__file__).parent
#: The revision that is legacy schema 5.
BASELINE = "0005"


def alembic_config(connection: sa.Connection | None = None) -> Config:
    """Alembic's configuration for `storage/migrations`, bound to `connection` when given
    (the env script then migrates that connection, in its transaction)."""
    config = Config()
    config.set_main_option("script_location", str(HERE))
    config.attributes["connection"] = connection
    return config


def head() -> str:
    """The newest revision this bot knows."""
    found = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert found is not None
    return found


def migrate(connection: sa.Connection) -> str:
    """Bring the database on `connection` to the newest revision, in the caller's transaction;
    returns that revision. Raises RuntimeError for a database of a newer bot."""
    config = alembic_config(connection)
    script = ScriptDirectory.from_config(config)
    current = MigrationContext.configure(connection).get_current_heads()
    for revision in current:
        try:
            script.get_revision(revision)
        except CommandError:
            raise RuntimeError(
                f"database schema revision {revision} is newer than this bot knows "
                f"({script.get_current_head()})"
            ) from None
    if connection.dialect.name == "sqlite":
        version = legacy.user_version(connection)
        if version > len(MIGRATIONS):
            raise RuntimeError(
                f"database schema version {version} is newer than this bot knows "
                f"({len(MIGRATIONS)})"
            )
    command.upgrade(config, "head")
    return head()
