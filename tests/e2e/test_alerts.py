"""A bot-wide daily cap, and the admins told when only the operator can mend things."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.conftest import TestClock, eventually, make_settings, running_bot
from tests.e2e.conversation import (
    photo,
    plain,
    status_says,
    status_texts,
    two_quiet_polls,
    video_for,
)
from tests.emulators.aimlapi_emulator import AimlApiEmulator
from tests.emulators.telegram_emulator import TelegramEmulator, private_chat, user

ADMIN = user(999, "Olga")
ADMIN_CHAT = private_chat(999)
USERS = [user(uid, f"U{uid}") for uid in (201, 202, 203)]


def alerts(telegram: TelegramEmulator, words: str) -> list[str]:
    """The admin alerts sent to the admin's chat that say `words`."""
    return [
        plain(call)
        for call in telegram.calls_to("sendMessage")
        if call.params["chat_id"] == 999 and "Admin alert" in plain(call) and words in plain(call)
    ]


def told_at_least(telegram: TelegramEmulator, times: int) -> Callable[[], bool]:
    """Whether user 201 was told at least `times` times that the account is out of credits."""

    def check() -> bool:
        told = sum("run out of credits" in text for text in status_texts(telegram, 201))
        return told >= times

    return check


async def test_the_bots_daily_cap_refuses_everyone_past_it_and_tells_the_admins_once(
    tmp_path: Path, telegram: TelegramEmulator, aiml: AimlApiEmulator, clock: TestClock
) -> None:
    aiml.queued_polls = aiml.generating_polls = 0
    settings = make_settings(tmp_path, telegram, aiml, daily_jobs_total=2, admin_user_ids=[999])
    async with running_bot(settings, clock):
        aiml.fail_next_job()  # a failed video gives its place in the cap back
        photo(telegram, chat=private_chat(201), sender=USERS[0], prompt="flagged")
        await status_says(telegram, 201, "could not make this video")
        for sender in USERS[:2]:
            sent = photo(telegram, chat=private_chat(sender["id"]), sender=sender, prompt="ok")
            await video_for(telegram, sent)
        photo(telegram, chat=private_chat(203), sender=USERS[2], prompt="one too many")
        await status_says(telegram, 203, "made all the videos it can today (2)")
        photo(telegram, chat=ADMIN_CHAT, sender=ADMIN, prompt="admins too")
        await status_says(telegram, 999, "made all the videos it can today (2)")
        await telegram.wait_for("sendMessage", where=lambda c: "daily cap" in c.params["text"])
        mark = telegram.mark()
        await two_quiet_polls(telegram, since=mark)
        # The next day the cap starts again.
        clock.advance(86400)
        sent = photo(telegram, chat=private_chat(203), sender=USERS[2], prompt="tomorrow")
        await video_for(telegram, sent)
    assert aiml.charged == 4
    assert len(alerts(telegram, "daily cap of 2 videos")) == 1


async def test_an_empty_account_is_told_to_the_admins_at_most_once_an_hour(
    tmp_path: Path, telegram: TelegramEmulator, aiml: AimlApiEmulator, clock: TestClock
) -> None:
    settings = make_settings(tmp_path, telegram, aiml, admin_user_ids=[999])
    async with running_bot(settings, clock):
        for told in (1, 2):
            aiml.inject("create", 403, {"statusCode": 403, "message": "Insufficient credits"})
            photo(telegram, chat=private_chat(201), sender=USERS[0], prompt=f"try {told}")
            await eventually(told_at_least(telegram, told), what=f"refusal {told}")
        await telegram.wait_for("sendMessage", where=lambda c: "out of credits" in c.params["text"])
        await two_quiet_polls(telegram, since=telegram.mark())
        assert len(alerts(telegram, "out of credits")) == 1
        clock.advance(3601)
        aiml.inject("create", 403, {"statusCode": 403, "message": "Insufficient credits"})
        photo(telegram, chat=private_chat(202), sender=USERS[1], prompt="an hour later")
        await telegram.wait_for(
            "sendMessage", 2, where=lambda c: "out of credits (Insufficient" in c.params["text"]
        )
    assert len(alerts(telegram, "Insufficient credits")) == 2
    assert aiml.charged == 0


async def test_an_api_that_keeps_failing_is_told_to_the_admins(
    tmp_path: Path, telegram: TelegramEmulator, aiml: AimlApiEmulator, clock: TestClock
) -> None:
    settings = make_settings(tmp_path, telegram, aiml, admin_user_ids=[999])
    aiml.inject("create", 502, times=3)
    async with running_bot(settings, clock):
        for n, sender in enumerate(USERS):
            photo(telegram, chat=private_chat(sender["id"]), sender=sender, prompt=f"p{n}")
            await status_says(telegram, sender["id"], "did not confirm")
        await telegram.wait_for(
            "sendMessage", where=lambda c: "last 3 requests" in c.params["text"]
        )
    assert len(alerts(telegram, "ended without a confirmed job (last: Bad gateway)")) == 1
