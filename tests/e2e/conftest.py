"""The end-to-end suite runs whole on each storage engine: every test asks for `database`."""

from __future__ import annotations

import pytest

from tests.databases import TestDatabase


@pytest.fixture(autouse=True)
def _on_each_engine(database: TestDatabase) -> TestDatabase:
    return database
