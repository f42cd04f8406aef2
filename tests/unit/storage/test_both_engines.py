"""The tests' own promise about engines: without a PostgreSQL server its runs skip with one
line, unless REQUIRE_POSTGRES=1 (CI), when a missing server fails the run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
#: Nothing listens on port 1.
NO_SERVER = "postgresql://postgres@127.0.0.1:1/postgres"


def _pytest(**env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != "REQUIRE_POSTGRES"}
    environment.update(TEST_POSTGRES_URL=NO_SERVER, **env)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:randomly",
            "tests/unit/storage/test_schema.py",
        ],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_without_a_server_the_postgresql_runs_skip_with_one_line() -> None:
    result = _pytest()
    assert result.returncode == 0, result.stdout + result.stderr
    skipped = [line for line in result.stdout.splitlines() if line.startswith("SKIPPED")]
    assert len(skipped) == 1, result.stdout
    assert "PostgreSQL not reachable at postgresql://postgres@127.0.0.1:1/postgres" in skipped[0]
    assert "1 passed, 1 skipped" in result.stdout


def test_with_require_postgres_a_missing_server_fails_the_run() -> None:
    result = _pytest(REQUIRE_POSTGRES="1")
    assert result.returncode != 0
    assert "PostgreSQL not reachable" in result.stdout + result.stderr
    assert "REQUIRE_POSTGRES=1" in result.stdout + result.stderr
    assert "passed" not in result.stdout
