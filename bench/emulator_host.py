"""The two emulators in a process of their own, driven with JSON lines over stdin and stdout.

The bot under measurement runs in the benchmark's process. Were the emulators in it too, their
own work (parsing 24 MB request bodies, decoding images, serving downloads) would count against
the bot's event loop, CPU and memory. Here they run on the other core, as a remote API would.
Both processes read the same `time.monotonic()` clock, so timestamps compare across them.

`python -m bench.emulator_host CONFIG` is the child; `EmulatorHost` is the parent's handle.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from PIL import Image

from bot.sandbox.serving import Lifecycle
from bot.wiring.settings import Settings
from tests.conftest import API_KEY, TOKEN
from tests.emulators.aimlapi_emulator import AimlApiEmulator
from tests.emulators.telegram_emulator import (
    RecordedCall,
    TelegramEmulator,
    document_message,
    message_update,
    photo_message,
    photo_sizes,
    private_chat,
    text_message,
    user,
)

ROOT = Path(__file__).resolve().parents[1]
_LINE_LIMIT = 64 * 1024 * 1024  # an answer may list every job and call of a run


class _Host:
    """The child's side: answers one command at a time."""

    def __init__(self, telegram: TelegramEmulator, aiml: AimlApiEmulator) -> None:
        self.telegram = telegram
        self.aiml = aiml
        # batch name -> (chat id, message id, monotonic time it was pushed)
        self.pushed: dict[str, list[tuple[int, int, float]]] = {}

    async def handle(self, op: str, args: dict[str, Any]) -> dict[str, Any]:
        handler = getattr(self, f"op_{op}", None)
        if handler is None:
            raise ValueError(f"unknown op {op!r}")
        result: dict[str, Any] = await handler(**args)
        return result

    async def op_push_photos(
        self,
        *,
        files: list[str],
        count: int,
        first_user: int,
        caption: str,
        batch: str,
        as_document: bool = False,
    ) -> dict[str, Any]:
        """Push `count` image messages from as many users at once, cycling over `files`."""
        stored = []
        for name in files:
            data, size = await asyncio.to_thread(_read_image, name)
            stored.append((self.telegram.add_file(data), size, len(data), Path(name).suffix))
        pushed = self.pushed.setdefault(batch, [])
        for index in range(count):
            uid = first_user + index
            file_id, (width, height), nbytes, suffix = stored[index % len(stored)]
            if as_document:
                message = document_message(
                    chat=private_chat(uid),
                    sender=user(uid),
                    file_id=file_id,
                    file_name=f"picture{suffix}",
                    mime_type="image/png" if suffix == ".png" else "image/jpeg",
                    file_size=nbytes,
                    caption=caption,
                )
            else:
                message = photo_message(
                    chat=private_chat(uid),
                    sender=user(uid),
                    photo=photo_sizes(file_id, width, height, nbytes),
                    caption=caption,
                )
            self.telegram.push_update(message_update(message))
            pushed.append((uid, int(message["message_id"]), time.monotonic()))
        return {"pushed": count}

    async def op_push_texts(
        self, *, count: int, first_user: int, text: str, batch: str
    ) -> dict[str, Any]:
        """Push `count` text messages from as many users at once."""
        pushed = self.pushed.setdefault(batch, [])
        for index in range(count):
            uid = first_user + index
            message = text_message(chat=private_chat(uid), sender=user(uid), text=text)
            self.telegram.push_update(message_update(message))
            pushed.append((uid, int(message["message_id"]), time.monotonic()))
        return {"pushed": count}

    async def op_acks(self, *, batch: str) -> dict[str, Any]:
        """Per pushed message of `batch`: seconds from its push to the first sendMessage that
        replies to it, or None."""
        first: dict[tuple[int, int], float] = {}
        for call in self.telegram.calls_to("sendMessage"):
            reply = call.params.get("reply_parameters")
            if not isinstance(reply, dict):
                continue
            key = (int(call.params["chat_id"]), int(reply["message_id"]))
            first.setdefault(key, call.at)
        latencies = [
            first[(chat, message)] - at if (chat, message) in first else None
            for chat, message, at in self.pushed.get(batch, [])
        ]
        return {"latencies": latencies}

    async def op_wait(
        self, *, method: str, count: int, within: float, contains: str = ""
    ) -> dict[str, Any]:
        """Wait for `count` calls of `method` whose text or caption contains `contains`."""

        def matches(call: RecordedCall) -> bool:
            text = call.params.get("text") or call.params.get("caption") or ""
            return contains in str(text)

        try:
            calls = await self.telegram.wait_for(method, count, timeout=within, where=matches)
        except AssertionError as error:
            return {"ok": False, "error": str(error)}
        return {"ok": True, "count": len(calls)}

    async def op_create_times(self) -> dict[str, Any]:
        """When each create was let through the account's rate limit, monotonic."""
        return {"at": self.aiml.rate_passed}

    async def op_saying(self, *, methods: list[str], words: str) -> dict[str, Any]:
        """How many calls of `methods` have a text or caption that contains `words`."""
        found = [
            call
            for method in methods
            for call in self.telegram.calls_to(method)
            if words in str(call.params.get("text") or call.params.get("caption") or "")
        ]
        return {"count": len(found)}

    async def op_calls(self, *, method: str) -> dict[str, Any]:
        """Every call of `method`: when it arrived, and its chat."""
        return {
            "calls": [
                {"at": call.at, "chat_id": call.params.get("chat_id")}
                for call in self.telegram.calls_to(method)
            ]
        }

    async def op_counts(self) -> dict[str, Any]:
        return {
            "creates": len(self.aiml.creates),
            "polls": len(self.aiml.polls),
            "charged": self.aiml.charged,
            "telegram": dict(Counter(call.method for call in self.telegram.calls)),
        }

    async def op_jobs(self) -> dict[str, Any]:
        """Every job the AI/ML emulator created: its times (monotonic) and status calls."""
        return {
            "jobs": {
                job.generation_id: {
                    "created_at": job.created_at,
                    "completed_at": job.completed_at,
                    "polls": job.polls,
                    "status": job.status,
                }
                for job in self.aiml.jobs.values()
            }
        }

    async def op_set_delay(self, *, endpoint: str, seconds: float) -> dict[str, Any]:
        if endpoint not in ("create", "poll", "video"):
            raise ValueError(endpoint)
        self.aiml.set_delay(endpoint, seconds)  # type: ignore[arg-type]
        return {}


def _read_image(name: str) -> tuple[bytes, tuple[int, int]]:
    with Image.open(name) as image:
        size = image.size
    return Path(name).read_bytes(), size


def _write(answer: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(answer) + "\n")
    sys.stdout.flush()


async def _serve(config: dict[str, Any]) -> None:
    # The benchmarks measure the bot, not the account's rate: unlimited unless they ask.
    aiml_options: dict[str, Any] = {"creates_per_window": None, **config.get("aiml", {})}
    if aiml_options.get("timeline") is not None:
        aiml_options["timeline"] = tuple(aiml_options["timeline"])
    async with (
        TelegramEmulator(TOKEN) as telegram,
        AimlApiEmulator(API_KEY, **aiml_options) as aiml,
    ):
        host = _Host(telegram, aiml)
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=_LINE_LIMIT)
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        _write(
            {
                "telegram_base_url": telegram.base_url,
                "telegram_base_file_url": telegram.base_file_url,
                "aimlapi_base_url": aiml.base_url,
            }
        )
        while line := await reader.readline():
            request = json.loads(line)
            if request["op"] == "quit":
                _write({})
                return
            try:
                _write(await host.handle(request["op"], request.get("args", {})))
            except Exception as error:
                _write({"error": f"{type(error).__name__}: {error}"})


class EmulatorHost(Lifecycle):
    """The parent's handle on a child process that runs both emulators.

    `aiml` holds `AimlApiEmulator` keyword arguments (`timeline` as a list).
    """

    def __init__(self, *, aiml: dict[str, Any] | None = None) -> None:
        self._config = {"aiml": aiml or {}}
        self._process: asyncio.subprocess.Process | None = None
        self._lock = asyncio.Lock()
        self.urls: dict[str, str] = {}

    async def start(self) -> None:
        """Start the child and read the emulators' addresses from it."""
        self._process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.emulator_host",
            json.dumps(self._config),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            cwd=ROOT,
            limit=_LINE_LIMIT,
        )
        self.urls = await self._read()

    async def close(self) -> None:
        """Ask the child to quit; kill it when it does not within 10 s."""
        process = self._process
        if process is None:
            return
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.call("quit"), timeout=10)
        try:
            await asyncio.wait_for(process.wait(), timeout=10)
        except TimeoutError:
            process.kill()
            await process.wait()
        self._process = None

    async def _read(self) -> dict[str, Any]:
        assert self._process is not None and self._process.stdout is not None
        line = await self._process.stdout.readline()
        if not line:
            raise RuntimeError("the emulator process ended")
        answer: dict[str, Any] = json.loads(line)
        if "error" in answer:
            raise RuntimeError(f"emulator host: {answer['error']}")
        return answer

    async def call(self, op: str, **args: Any) -> dict[str, Any]:
        """Run one command in the child and return its answer."""
        assert self._process is not None and self._process.stdin is not None
        async with self._lock:
            self._process.stdin.write((json.dumps({"op": op, "args": args}) + "\n").encode())
            await self._process.stdin.drain()
            return await self._read()

    def settings(self, database_path: Path, **overrides: Any) -> Settings:
        """The bot's settings, pointed at these emulators, with the product's defaults."""
        values: dict[str, Any] = {
            "telegram_bot_token": TOKEN,
            "aimlapi_key": API_KEY,
            "telegram_base_url": self.urls["telegram_base_url"],
            "telegram_base_file_url": self.urls["telegram_base_file_url"],
            "aimlapi_base_url": self.urls["aimlapi_base_url"],
            "database_path": database_path,
        }
        values.update(overrides)
        return Settings(_env_file=None, **values)


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(json.loads(sys.argv[1])))


if __name__ == "__main__":
    main()
