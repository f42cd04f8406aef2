"""Helpers for access and budget tests: a user's commands and what they read back."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from storage import Job, JobState, JobStore
from tests.conftest import Sent, eventually, send_photo
from tests.emulators.aimlapi_emulator import AimlApiEmulator
from tests.emulators.telegram_emulator import (
    RecordedCall,
    TelegramEmulator,
    message_update,
    parse_html,
    text_message,
)

#: Keeps every new job "queued" at the API until a test calls `complete_now`.
FOREVER = 10**6


def plain(call: RecordedCall) -> str:
    """A sent or edited text as the user reads it (HTML parsed to plain text)."""
    text, _ = parse_html(str(call.params["text"]))
    return text


def replies_to(telegram: TelegramEmulator, message_id: int) -> list[RecordedCall]:
    """Every sendMessage that replies to the user's message `message_id`."""
    return [
        call
        for call in telegram.calls_to("sendMessage")
        if call.params.get("reply_parameters", {}).get("message_id") == message_id
    ]


async def reply_to(telegram: TelegramEmulator, message_id: int) -> str:
    """Wait for the bot's first reply to the user's message, and return it as plain text."""
    await eventually(lambda: bool(replies_to(telegram, message_id)), what="a reply")
    return plain(replies_to(telegram, message_id)[0])


async def command(
    telegram: TelegramEmulator, *, chat: dict[str, Any], sender: dict[str, Any], text: str
) -> str:
    """Send a command and return the bot's reply as plain text."""
    message = text_message(chat=chat, sender=sender, text=text)
    telegram.push_update(message_update(message))
    return await reply_to(telegram, int(message["message_id"]))


async def until(check: Callable[[], Awaitable[bool]], *, what: str) -> None:
    """Wait until the async `check()` holds; fail the test with `what` if it never does."""
    deadline = time.monotonic() + 10.0
    while True:
        if await check():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def two_quiet_polls(telegram: TelegramEmulator, *, since: int) -> None:
    """Wait until the bot, with no update pending, long-polled twice in full after the mark
    `since` (`TelegramEmulator.mark`): two seconds, a hundred ticks and four of the longest
    back-offs the tests allow, in which anything the bot still meant to send or ask would
    have been. A check that nothing more happens after some point waits for this first."""
    await telegram.wait_for("getUpdates", 3, since=since)


def status_texts(telegram: TelegramEmulator, chat_id: int) -> list[str]:
    """Every status text the bot sent or edited in a chat, oldest first."""
    calls = [
        call
        for call in telegram.calls
        if call.method.lower() in ("sendmessage", "editmessagetext")
        and call.params.get("chat_id") == chat_id
    ]
    return [plain(call) for call in calls]


async def status_says(telegram: TelegramEmulator, chat_id: int, words: str) -> None:
    """Wait until the bot told the chat `words` (in a new or an edited message)."""
    await eventually(
        lambda: any(words in text for text in status_texts(telegram, chat_id)),
        what=f"{words!r} in chat {chat_id}",
    )


async def jobs_in_line(store: JobStore, user_id: int) -> list[Job]:
    """The user's jobs, newest first, once each waiting one has its status message on record.

    The bot records a status message's id only after Telegram has answered the send, so a
    test that saw the message arrive must still wait for the row to catch up.
    """
    jobs: list[Job] = []

    async def recorded() -> bool:
        nonlocal jobs
        jobs = await store.jobs_for_user(user_id)
        waiting = [job for job in jobs if job.state is JobState.WAITING]
        return all(job.status_message_id is not None for job in waiting)

    await until(recorded, what=f"the status messages of user {user_id}'s waiting jobs")
    return jobs


async def created(aiml: AimlApiEmulator, prompt: str) -> str:
    """Wait until the paid API created the job with this prompt; return its generation id."""
    await eventually(
        lambda: any(job.prompt == prompt for job in aiml.jobs.values()),
        what=f"{prompt!r} to be created",
    )
    [generation_id] = [gid for gid, job in aiml.jobs.items() if job.prompt == prompt]
    return generation_id


async def video_for(telegram: TelegramEmulator, sent: Sent) -> None:
    """Wait for the video that answers the photo `sent`."""
    await telegram.wait_for(
        "sendVideo",
        where=lambda c: c.params["reply_parameters"]["message_id"] == sent.message_id,
        timeout=15,
    )


def photo(
    telegram: TelegramEmulator, *, chat: dict[str, Any], sender: dict[str, Any], prompt: str
) -> Sent:
    """Send a photo with its prompt: as the caption in private, after /animate in a group."""
    caption = prompt if chat["type"] == "private" else f"/animate {prompt}"
    return send_photo(telegram, chat=chat, sender=sender, caption=caption)
