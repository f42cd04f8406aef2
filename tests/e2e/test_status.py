"""/status: the caller's own jobs, newest first, with their state and age."""

from __future__ import annotations

from typing import Any

import pytest

from bot.wiring.application import BotApp
from bot.words.texts import ENGLISH, shorten
from tests.conftest import TestClock, eventually, send_photo
from tests.emulators.aimlapi_emulator import AimlApiEmulator
from tests.emulators.telegram_emulator import (
    TelegramEmulator,
    group_chat,
    message_update,
    parse_html,
    private_chat,
    text_message,
    user,
)

ANN = user(111, "Ann")
ANN_CHAT = private_chat(111)
BOB = user(222, "Bob")
BOB_CHAT = private_chat(222)
GROUP = group_chat(-100500)

#: Keeps every new job "queued" until a test moves it on.
FOREVER = 10**6


@pytest.fixture(autouse=True)
def ready_at_first_status_call(aiml: AimlApiEmulator) -> None:
    """Every job ends at its first status call, so a test takes a fraction of a second; the
    poll schedule itself is tested on its own."""
    aiml.queued_polls = 0
    aiml.generating_polls = 0


async def start_job(
    telegram: TelegramEmulator,
    aiml: AimlApiEmulator,
    *,
    chat: dict[str, Any],
    sender: dict[str, Any],
    prompt: str,
    in_group: bool = False,
) -> str:
    """Send a photo, wait until the paid API took it, and return its generation id."""
    caption = f"/animate {prompt}" if in_group else prompt
    send_photo(telegram, chat=chat, sender=sender, caption=caption)
    await eventually(
        lambda: any(job.prompt == prompt for job in aiml.jobs.values()),
        what=f"{prompt!r} to be created",
    )
    [generation_id] = [gid for gid, job in aiml.jobs.items() if job.prompt == prompt]
    # A status call comes only from a job the bot recorded as submitted: from then on /status
    # shows it at the API, whichever engine stored it and however long that took.
    await eventually(lambda: aiml.jobs[generation_id].polls >= 1, what=f"{prompt!r} to be recorded")
    return generation_id


async def finish_job(
    telegram: TelegramEmulator,
    *,
    chat: dict[str, Any],
    sender: dict[str, Any],
    prompt: str,
    in_group: bool = False,
) -> None:
    """Send a photo and wait for its video."""
    caption = f"/animate {prompt}" if in_group else prompt
    sent = send_photo(telegram, chat=chat, sender=sender, caption=caption)
    await telegram.wait_for(
        "sendVideo",
        where=lambda c: c.params["reply_parameters"]["message_id"] == sent.message_id,
        timeout=15,
    )


async def status_reply(
    telegram: TelegramEmulator, *, chat: dict[str, Any], sender: dict[str, Any]
) -> str:
    """Ask /status and return the reply as the user reads it (HTML parsed to plain text)."""
    command = text_message(chat=chat, sender=sender, text="/status")
    telegram.push_update(message_update(command))
    [reply] = await telegram.wait_for(
        "sendMessage",
        where=lambda c: (
            c.params.get("reply_parameters", {}).get("message_id") == command["message_id"]
        ),
    )
    assert reply.params["chat_id"] == chat["id"]
    plain, _ = parse_html(str(reply.params["text"]))
    return plain


def entries(text: str, prompts: list[str]) -> list[str]:
    """Split a status reply into one block per job, in the order the prompts appear."""
    found = sorted((text.index(p), p) for p in prompts)
    blocks, start = [], 0
    for at, prompt in found:
        blocks.append(text[start : at + len(prompt)])
        start = at + len(prompt)
    return blocks


async def test_status_lists_own_jobs_newest_first_with_state_and_age(
    bot: BotApp, telegram: TelegramEmulator, aiml: AimlApiEmulator, clock: TestClock
) -> None:
    aiml.queued_polls = FOREVER
    long_prompt = ("Tom & Jerry run around the kitchen table " * 3).strip()
    shown = shorten(long_prompt, 60)
    assert shown.endswith("…") and len(shown) == 60

    ready = await start_job(telegram, aiml, chat=ANN_CHAT, sender=ANN, prompt="the cat yawns")
    aiml.complete_now(ready)
    await telegram.wait_for("sendVideo", timeout=15)
    clock.advance(9 * 60)

    broken = await start_job(telegram, aiml, chat=ANN_CHAT, sender=ANN, prompt="the dog barks")
    aiml.set_status(broken, "error")
    await telegram.wait_for("sendMessage", where=lambda c: "could not make" in c.params["text"])
    clock.advance(3 * 60)

    busy = await start_job(telegram, aiml, chat=ANN_CHAT, sender=ANN, prompt="a bird sings")
    polls_before = aiml.jobs[busy].polls
    aiml.set_status(busy, "generating")
    # The second poll after the change is only made once the first one's news was stored.
    await eventually(
        lambda: aiml.jobs[busy].polls >= polls_before + 2, what="generating to be seen"
    )

    await start_job(telegram, aiml, chat=ANN_CHAT, sender=ANN, prompt=long_prompt)

    text = await status_reply(telegram, chat=ANN_CHAT, sender=ANN)
    order = [shown, "a bird sings", "the dog barks", "the cat yawns"]
    assert sorted(order, key=text.index) == order, text
    assert long_prompt not in text
    newest, rendering, failed, done = entries(text, order)
    assert "queued" in newest and "just now" in newest
    assert "generating" in rendering and "just now" in rendering
    assert "failed" in failed and "3 min ago" in failed
    assert "done" in done and "12 min ago" in done


async def test_status_says_plainly_when_there_are_no_jobs(
    bot: BotApp, telegram: TelegramEmulator, aiml: AimlApiEmulator
) -> None:
    text = await status_reply(telegram, chat=ANN_CHAT, sender=ANN)
    assert text.startswith(parse_html(ENGLISH.NO_JOBS)[0])
    assert "no jobs" in text


async def test_status_never_shows_another_users_jobs(
    bot: BotApp, telegram: TelegramEmulator, aiml: AimlApiEmulator
) -> None:
    aiml.queued_polls = FOREVER
    await start_job(telegram, aiml, chat=BOB_CHAT, sender=BOB, prompt="bob's secret dream")

    text = await status_reply(telegram, chat=ANN_CHAT, sender=ANN)
    assert text.startswith(parse_html(ENGLISH.NO_JOBS)[0])
    assert "bob's secret dream" not in text

    await start_job(telegram, aiml, chat=ANN_CHAT, sender=ANN, prompt="ann's own wish")
    text = await status_reply(telegram, chat=ANN_CHAT, sender=ANN)
    assert "ann's own wish" in text
    assert "bob's secret dream" not in text


async def test_status_in_a_group_shows_only_that_groups_jobs(
    bot: BotApp, telegram: TelegramEmulator, aiml: AimlApiEmulator
) -> None:
    other_group = group_chat(-100900, title="Work")
    for chat, sender, prompt in [
        (ANN_CHAT, ANN, "a private moment"),
        (GROUP, ANN, "the group picnic"),
        (GROUP, BOB, "bob in the group"),
        (other_group, ANN, "the office party"),
    ]:
        await finish_job(telegram, chat=chat, sender=sender, prompt=prompt, in_group=chat["id"] < 0)

    in_group = await status_reply(telegram, chat=GROUP, sender=ANN)
    assert "the group picnic" in in_group
    assert "a private moment" not in in_group
    assert "bob in the group" not in in_group
    assert "the office party" not in in_group

    in_private = await status_reply(telegram, chat=ANN_CHAT, sender=ANN)
    for prompt in ("a private moment", "the group picnic", "the office party"):
        assert prompt in in_private
    assert "bob in the group" not in in_private


async def test_status_lists_a_refused_photo_as_refused(
    bot: BotApp, telegram: TelegramEmulator, aiml: AimlApiEmulator
) -> None:
    send_photo(telegram, chat=ANN_CHAT, sender=ANN, caption="the tiny cat", size=(300, 600))
    await telegram.wait_for("editMessageText", where=lambda c: "too small" in c.params["text"])

    text = await status_reply(telegram, chat=ANN_CHAT, sender=ANN)
    assert "the tiny cat" in text
    assert "refused" in text
    assert aiml.charged == 0
