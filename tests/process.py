"""The bot as an operator runs it: `python -m bot` in its own process."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from tests.conftest import API_KEY, TOKEN
from tests.databases import database_of
from tests.emulators.aimlapi_emulator import AimlApiEmulator
from tests.emulators.telegram_emulator import TelegramEmulator

REPO = Path(__file__).resolve().parents[1]


class BotProcess:
    """One run of `python -m bot` against the emulators, logging to a file."""

    def __init__(
        self,
        workdir: Path,
        telegram: TelegramEmulator,
        aiml: AimlApiEmulator,
        **settings: str,
    ) -> None:
        self.workdir = workdir
        self.log_path = workdir / "bot.log"
        self.env = {
            "PATH": os.environ.get("PATH", ""),
            "PYTHONPATH": str(REPO),
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "AIMLAPI_KEY": API_KEY,
            "TELEGRAM_BASE_URL": telegram.base_url,
            "TELEGRAM_BASE_FILE_URL": telegram.base_file_url,
            "AIMLAPI_BASE_URL": aiml.base_url,
            "DATABASE_PATH": str(workdir / "data" / "bot.sqlite3"),
            **database_of(workdir).environment,  # the test's engine, when it asked for one
            "POLL_INTERVAL_SECONDS": "0.1",
            "LOG_LEVEL": "DEBUG",
            **settings,
        }
        self._process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        with self.log_path.open("ab") as log:
            self._process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot",
                cwd=self.workdir,
                env=self.env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )

    @property
    def process(self) -> asyncio.subprocess.Process:
        assert self._process is not None, "not started"
        return self._process

    async def kill(self) -> None:
        """`kill -9`: no chance to clean up."""
        self.process.kill()
        await self.process.wait()

    async def terminate(self, timeout: float = 30.0) -> int:
        """SIGTERM, as a service manager stops it; returns the exit code."""
        self.process.send_signal(signal.SIGTERM)
        return await asyncio.wait_for(self.process.wait(), timeout)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    async def close(self) -> None:
        if self._process is not None and self._process.returncode is None:
            await self.kill()
