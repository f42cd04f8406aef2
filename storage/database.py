"""One open database, SQLite or PostgreSQL, behind the same SQLAlchemy Core engine.

The stores (`storage.jobs`, `.counts`, `.waiting`, `.prefs`) share one `Database` and write
their statements once, against `storage.schema`; what differs between the engines lives here:
how a connection is set up, how admissions take turns, that a SQLite file is held by one
process, and the dialect's INSERT (for ON CONFLICT). Several instances share a PostgreSQL
database: what each works on is claimed row by row (`storage.leases`).
"""

from __future__ import annotations

import fcntl
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import AsyncAdaptedQueuePool

from storage.migrations import migrate

#: The key of the PostgreSQL advisory lock that admissions take in turn ("PhotoAdm"). Not
#: "PhotoAni", which a bot of before the leases held for its life: one left running beside
#: instances would stop every admission, rather than be refused.
_ADMISSION_LOCK_KEY = 0x50686F746F41646D
#: The key of the one a start holds while it migrates ("PhotoMig").
_MIGRATION_LOCK_KEY = 0x50686F746F4D6967
#: The key of the one a bot in polling mode holds for its life ("PhotoPol").
_POLLING_LOCK_KEY = 0x50686F746F506F6C


class DatabaseInUse(Exception):
    """Another process holds the SQLite database: only one bot may run on a file."""


class DatabaseClosed(Exception):
    """The store was closed: it no longer holds the database, and must not reach it."""


def database_url(where: Path | str) -> URL:
    """The SQLAlchemy URL of a database given as a SQLite file or as a `DATABASE_URL`
    (`sqlite:///path`, `postgresql://user@host:port/db`); raises ValueError for any other."""
    if isinstance(where, Path):
        return URL.create("sqlite+aiosqlite", database=str(where))
    url = make_url(where)
    if url.drivername in {"sqlite", "sqlite+aiosqlite"}:
        return url.set(drivername="sqlite+aiosqlite")
    if url.drivername in {"postgresql", "postgres", "postgresql+asyncpg"}:
        return url.set(drivername="postgresql+asyncpg")
    raise ValueError(f"not a database this bot runs on: {url.drivername}://")


def password_of(where: Path | str) -> str | None:
    """The password in a `DATABASE_URL`, if any: a secret for the log's redaction."""
    return None if isinstance(where, Path) else make_url(where).password


def describe(url: URL) -> str:
    """The database as the start-up line names it: its engine and where it is, never a
    password."""
    if url.get_backend_name() == "sqlite":
        return f"SQLite {url.database}"
    where = url.set(drivername="postgresql", password=None)
    return "PostgreSQL " + where.render_as_string(hide_password=True).removeprefix("postgresql://")


def _lock_file_exclusively(path: Path) -> IO[str]:
    """An exclusive lock on `<database>.lock`, held while the returned file stays open. The
    kernel drops it when the process dies, so a crash never leaves it behind."""
    handle = path.with_name(path.name + ".lock").open("a")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise DatabaseInUse(f"{path} is in use by another running bot") from None
    return handle


#: An execution option of `Database.reads` on SQLite: no BEGIN, each SELECT its own snapshot.
_READS = "storage_reads"


def _sqlite_engine(url: URL) -> AsyncEngine:
    # One connection, as before SQLAlchemy: SQLite takes one writer at a time anyway, and the
    # stores' transactions then never meet half-way (no SQLITE_BUSY between our own
    # connections). A caller waits for the connection, not for a lock timeout.
    engine = create_async_engine(
        url,
        poolclass=AsyncAdaptedQueuePool,
        pool_size=1,
        max_overflow=0,
        # Every transaction ends in its COMMIT or ROLLBACK before the connection goes back; a
        # reset's second ROLLBACK would be one more trip to the driver's thread per statement.
        pool_reset_on_return=None,
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _set_up(dbapi_connection: Any, _record: Any) -> None:
        # The driver's own BEGIN comes only before writes, so a read-then-write would not be
        # one transaction; SQLAlchemy's "begin" below emits it for every transaction instead.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # FULL, not NORMAL: a power cut must never undo the SUBMITTING written just before a
        # paid create, or the restart would send that create again.
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.execute("PRAGMA foreign_keys=OFF")  # as ever: rows are never deleted under them
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(connection: sa.Connection) -> None:
        if not connection.get_execution_options().get(_READS):
            connection.exec_driver_sql("BEGIN")

    return engine


def _postgresql_engine(url: URL) -> AsyncEngine:
    # pre_ping: a server restarted under a long-running bot costs a reconnect, not an error.
    return create_async_engine(url, pool_size=5, max_overflow=10, pool_pre_ping=True)


@dataclass
class Database:
    """An open database: its engine, the file lock of a SQLite database, and its dialect."""

    engine: AsyncEngine
    url: URL
    _file_lock: IO[str] | None = None
    _polling_lock: AsyncConnection | None = None
    _closed: bool = False

    def __post_init__(self) -> None:
        @event.listens_for(self.engine.sync_engine, "do_connect")
        def _refuse_once_closed(*_: Any) -> None:
            # A disposed engine would quietly connect again, without the claim on the database
            # (another bot may hold it by then): after close, nothing reaches it.
            if self._closed:
                raise DatabaseClosed(f"{self.describe()} was closed")

    @classmethod
    async def open(cls, where: Path | str) -> Database:
        """Open (creating folders and schema as needed) the database at `where`: a SQLite file,
        or a `DATABASE_URL`, then migrate it to the newest schema.

        Raises DatabaseInUse when another process has the SQLite file open: SQLite takes one
        process, and its leases are never shared (see `sole_instance`). PostgreSQL takes any
        number of instances.
        """
        url = database_url(where)
        sqlite_file = url.get_backend_name() == "sqlite" and url.database not in {None, ":memory:"}
        lock = None
        if sqlite_file:
            path = Path(str(url.database))
            path.parent.mkdir(parents=True, exist_ok=True)
            lock = _lock_file_exclusively(path)
        engine = _sqlite_engine(url) if url.get_backend_name() == "sqlite" else None
        opened = cls(engine or _postgresql_engine(url), url, lock)
        try:
            async with opened.engine.begin() as connection:
                if opened.is_postgresql:
                    # Instances started together migrate one after the other: the second
                    # finds the schema current, instead of both creating the same tables.
                    await connection.execute(
                        sa.select(sa.func.pg_advisory_xact_lock(_MIGRATION_LOCK_KEY))
                    )
                await connection.run_sync(migrate)
        except BaseException:
            await opened.close()
            raise
        return opened

    async def claim_polling(self) -> None:
        """Claim the database for the one bot that polls Telegram, for as long as it stays
        open: Telegram lets one poller have the token's updates, and a second would end the
        first one's poll. Raises DatabaseInUse when another bot polls from this database. A
        SQLite file is claimed already, by its lock; on PostgreSQL a session advisory lock,
        which the server drops with the connection should the process die. Instances in
        webhook mode never claim it: any number of them share the database."""
        if not self.is_postgresql or self._polling_lock is not None:
            return
        connection = await self.engine.connect()
        taken = await connection.scalar(sa.select(sa.func.pg_try_advisory_lock(_POLLING_LOCK_KEY)))
        await connection.commit()
        if not taken:
            await connection.close()
            raise DatabaseInUse(
                f"{describe(self.url)} is in use by another running bot in polling mode (one "
                "may poll; several instances run in webhook mode)"
            )
        self._polling_lock = connection

    async def close(self) -> None:
        """Close every connection and give a SQLite file back to other processes; from then
        on, any use raises DatabaseClosed."""
        self._closed = True
        try:
            if self._polling_lock is not None:
                await self._polling_lock.close()  # and with it, the claim on polling
            await self.engine.dispose()
        finally:
            if self._file_lock is not None:
                self._file_lock.close()  # closing the file releases the lock

    @property
    def reads(self) -> AsyncEngine:
        """The engine for reads that change nothing: outside a transaction, each statement on
        its own snapshot (as SQLite's driver always read), which spares a BEGIN and a ROLLBACK
        per read. Whatever must be read and written as one goes through `engine.begin()`."""
        if self.is_postgresql:
            return self.engine.execution_options(isolation_level="AUTOCOMMIT")
        return self.engine.execution_options(**{_READS: True})

    @property
    def sole_instance(self) -> bool:
        """Whether this process is the only one that can be on the database (a SQLite file,
        held by its lock): then every lease found at start-up is of a process that died."""
        return self._file_lock is not None

    async def take_admission_turn(self, connection: AsyncConnection) -> None:
        """Wait, in the caller's transaction, until no other admission (of any instance) is
        between its counts and its write, and hold the turn until that transaction ends: two
        requests judged at once never both take the last slot. On PostgreSQL a
        transaction-scoped advisory lock; SQLite needs none, as this process's one connection
        runs one transaction at a time."""
        if self.is_postgresql:
            await connection.execute(sa.select(sa.func.pg_advisory_xact_lock(_ADMISSION_LOCK_KEY)))

    @property
    def is_postgresql(self) -> bool:
        return self.url.get_backend_name() == "postgresql"

    @property
    def insert(self) -> Callable[[sa.Table], Any]:
        """The dialect's INSERT, which has ON CONFLICT: `database.insert(table)`."""
        return postgresql.insert if self.is_postgresql else sqlite.insert

    def describe(self) -> str:
        """The engine and where it is, never a password."""
        return describe(self.url)
