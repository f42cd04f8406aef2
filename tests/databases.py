"""The databases tests run on: a fresh SQLite file, or a fresh PostgreSQL database.

A test that asks for the `database` fixture runs once per engine (`tests/conftest.py`), on a
database of its own. PostgreSQL's are cheap: the schema is migrated once per run into a
template database, and each test gets `CREATE DATABASE ... TEMPLATE` of it (a file copy of a
few tables), dropped when the test ends.

The server is `TEST_POSTGRES_URL` (by default the developer's and CI's 127.0.0.1:5432, user
`postgres`). Without one, the PostgreSQL runs skip with one line, unless REQUIRE_POSTGRES=1,
which CI sets: then a missing server fails the run.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

from storage import JobStore

ENGINES = ("sqlite", "postgresql")
SERVER_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REQUIRED = os.environ.get("REQUIRE_POSTGRES", "") == "1"
NO_SERVER = (
    f"PostgreSQL not reachable at {make_url(SERVER_URL).render_as_string(hide_password=True)}: "
    "the tests' PostgreSQL runs are skipped (REQUIRE_POSTGRES=1 makes this fail the run)"
)


@dataclass(frozen=True)
class TestDatabase:
    """One test's database: where the bot finds it, as the settings would say."""

    __test__ = False  # not a test class, despite its name

    engine: str
    where: Path | str  # a SQLite file, or a PostgreSQL URL

    @property
    def settings(self) -> dict[str, Any]:
        """The settings that point the bot at this database."""
        if isinstance(self.where, Path):
            return {"database_path": self.where}
        return {"database_url": self.where}

    @property
    def environment(self) -> dict[str, str]:
        """The same, as `python -m bot` reads them from its environment."""
        if isinstance(self.where, Path):
            return {"DATABASE_PATH": str(self.where)}
        return {"DATABASE_URL": self.where}


class PostgresServer:
    """The test run's PostgreSQL server: its template database and the databases made of it.
    Names carry the process id, so parallel runs (and xdist workers) never meet."""

    def __init__(self, url: str = SERVER_URL) -> None:
        self._url = make_url(url)
        self._template = f"bot_test_{os.getpid()}_template"
        self._numbers = itertools.count(1)
        self._reachable: bool | None = None
        self._template_ready = False

    def url_of(self, name: str) -> str:
        return self._url.set(database=name).render_as_string(hide_password=False)

    async def _admin(self) -> asyncpg.Connection:
        return await asyncpg.connect(self.url_of(str(self._url.database)), timeout=5)

    async def reachable(self) -> bool:
        """Whether the server answers (asked once per run)."""
        if self._reachable is None:
            try:
                connection = await self._admin()
            except (TimeoutError, OSError, asyncpg.PostgresError):
                self._reachable = False
            else:
                await connection.close()
                self._reachable = True
        return self._reachable

    async def _make_template(self) -> None:
        admin = await self._admin()
        try:
            await self._drop_leftovers(admin)
            await admin.execute(f'DROP DATABASE IF EXISTS "{self._template}" WITH (FORCE)')
            await admin.execute(f'CREATE DATABASE "{self._template}"')
        finally:
            await admin.close()
        # Migrated as the bot migrates it; the store is closed again before the template is
        # copied (CREATE DATABASE wants no one else connected to it).
        store = await JobStore.open(self.url_of(self._template))
        await store.close()
        self._template_ready = True

    async def _drop_leftovers(self, admin: asyncpg.Connection) -> None:
        # A run killed half-way leaves its databases behind: those of a process that no longer
        # exists go. Only on this machine's server, where a process id means this machine's.
        if self._url.host not in {"127.0.0.1", "localhost", "::1"}:
            return
        names = await admin.fetch("SELECT datname FROM pg_database WHERE datname LIKE 'bot_test_%'")
        for (name,) in names:
            pid = str(name).split("_")[2]
            if pid.isdigit() and not _running(int(pid)):
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    async def create(self) -> str:
        """A new database at the newest schema, empty; returns its URL."""
        if not self._template_ready:
            await self._make_template()
        name = f"bot_test_{os.getpid()}_{next(self._numbers)}"
        admin = await self._admin()
        try:
            await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{self._template}"')
        finally:
            await admin.close()
        return self.url_of(name)

    async def drop(self, url: str) -> None:
        """Drop a database made by `create`, whoever is still connected to it."""
        admin = await self._admin()
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')
        finally:
            await admin.close()

    async def close(self) -> None:
        """Drop the template at the end of the run."""
        if self._template_ready:
            admin = await self._admin()
            try:
                await admin.execute(f'DROP DATABASE IF EXISTS "{self._template}" WITH (FORCE)')
            finally:
                await admin.close()


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's, alive
    return True


#: The run's server, shared by every test.
POSTGRES = PostgresServer()
#: Each running test's database by its tmp_path, for `make_settings(tmp_path, ...)` and
#: `BotProcess(tmp_path, ...)`: a test's folder and its database go together.
BY_FOLDER: dict[Path, TestDatabase] = {}


def database_of(folder: Path) -> TestDatabase:
    """The database of the test whose tmp_path is `folder` (or above it); a SQLite file in
    it for a test that asked for no engine."""
    for place in (folder, *folder.parents):
        if place in BY_FOLDER:
            return BY_FOLDER[place]
    return TestDatabase("sqlite", folder / "data" / "bot.sqlite3")


@asynccontextmanager
async def two_instances(database: TestDatabase) -> AsyncIterator[tuple[JobStore, JobStore]]:
    """Two instances' stores on the test's database: on PostgreSQL two stores, each with its
    own connections, as two processes would hold them; SQLite takes one process, so there the
    "instances" share the one store."""
    first = await JobStore.open(database.where)
    second = first
    try:
        if database.engine == "postgresql":
            second = await JobStore.open(database.where)
        yield first, second
    finally:
        if second is not first:
            await second.close()
        await first.close()
