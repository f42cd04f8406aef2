"""Faults in either peer: nothing is charged twice, and the user always hears how it ended."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pytest import MonkeyPatch

from bot.engine import delivery
from bot.image.fixes import Fix
from bot.wiring.application import BotApp
from bot.words.texts import ENGLISH
from storage import JobState
from storage.counts import AccessStore
from tests.conftest import (
    FAST,
    TestClock,
    eventually,
    make_settings,
    running_bot,
    send_photo,
    services,
)
from tests.e2e.conversation import two_quiet_polls, video_for
from tests.e2e.taps import bot_message, bot_messages, buttons, saying, tap
from tests.emulators.aimlapi_emulator import AimlApiEmulator
from tests.emulators.telegram_emulator import TelegramEmulator, group_chat, private_chat, user
from tests.images import make_image

ANN = user(111, "Ann")
ANN_CHAT = private_chat(111)


def _edits(telegram: TelegramEmulator) -> list[str]:
    return [str(c.params["text"]) for c in telegram.calls_to("editMessageText")]


async def _queued(telegram: TelegramEmulator) -> None:
    await telegram.wait_for("editMessageText", where=lambda c: "Queued" in c.params["text"])


# --- Submitting ---------------------------------------------------------------------------


async def test_busy_api_is_retried_and_the_job_is_charged_once(
    bot: BotApp, telegram: TelegramEmulator, aiml: AimlApiEmulator
) -> None:
    aiml.inject("create", 503, times=1)
    aiml.inject("create", 408, times=1)
    send_photo(telegram, chat=ANN_CHAT, sender=ANN, caption="waves")
    await telegram.wait_for("sendVideo", timeout=15)
    assert len(aiml.creates) == 3
    assert aiml.charged == 1


async def test_rate_limited_submission_waits_as_long_as_retry_after_asks(
    bot: BotApp, telegram: TelegramEmulator, aiml: AimlApiEmulator
) -> None:
    aiml.inject("create", 429, headers={"Retry-After": "0.6"})
    send_photo(telegram, chat=ANN_CHAT, sender=ANN, caption="waves")
    await _queued(telegram)
    first, second = aiml.creates
    assert second.at - first.at >= 0.6  # the API's own wish, not a speed target
    assert aiml.charged == 1


async def test_server_error_after_sending_is_not_resubmitted(
    bot: BotApp, telegram: TelegramEmulator, aiml: AimlApiEmulator
) -> None:
    aiml.inject("create", 500, create_job=True)
    send_photo(telegram, chat=ANN_CHAT, sender=ANN, caption="waves")
    await telegram.wait_for("editMessageText", where=lambda c: "confirm" in c.params["text"])
    assert len(aiml.creates) == 1
    assert aiml.charged == 1  # the API did make it, and we did not pay a second time
    assert "may have been charged" in _edits(telegram)[-1]


async def test_gateway_timeout_is_not_resubmitted(
    bot: BotApp, telegram: TelegramEmulator, aiml: AimlApiEmulator
) -> None:
    aiml.inject("create", 504)
    send_photo(telegram, chat=ANN_CHAT, sender=ANN, caption="waves")
    await telegram.wait_for("editMessageText", where=lambda c: "confirm" in c.params["text"])
    assert len(aiml.creates) == 1


async def test_create_call_that_times_out_is_not_resubmitted(
    bot: BotApp, telegram: TelegramEmulator, aiml: AimlApiEmulator
) -> None:
    aiml.set_delay("create", FAST.create_timeout_seconds + 1)
    send_photo(telegram, chat=ANN_CHAT, sender=ANN, caption="waves")
    await telegram.wait_for(
        "editMessageText", where=lambda c: "confirm" in c.params["text"], timeout=15
    )
    assert len(aiml.creates) == 1


async def test_validation_refusal_says_why_and_is_not_retried(
    bot: BotApp, telegram: TelegramEmulator, aiml: AimlApiEmulator
) -> None:
    aiml.inject(
        "create", 400, {"statusCode": 400, "message": "Body validation error! prompt: unsafe"}
    )
    send_photo(telegram, chat=ANN_CHAT, sender=ANN, caption="waves")
    await telegram.wait_for("editMessageText", where=lambda c: "refused" in c.params["text"])
    assert "prompt: unsafe" in _edits(telegram)[-1]
    assert len(aiml.creates) == 1


async def test_empty_account_and_bad_key_are_explained_without_internals(
    bot: BotApp, telegram: TelegramEmulator, aiml: AimlApiEmulator
) -> None:
    aiml.inject("create", 403, {"statusCode": 403, "message": "Insufficient credits"})
    send_photo(telegram, chat=ANN_CHAT, sender=ANN, caption="one")
    await telegram.wait_for("editMessageText", where=lambda c: "credits" in c.params["text"])
    aiml.inject("create", 401)
    send_photo(telegram, chat=ANN_CHAT, sender=ANN, caption="two")
    await telegram.wait_for("editMessageText", where=lambda c: "operator" in c.params["text"])
    assert not any("401" in text or "Unauthorized" in text for text in _edits(telegram))


# --- Polling ------------------------------------------------------------------------------


async def test_status_errors_back_off_and_the_video_still_arrives(
    bot: BotApp, telegram: TelegramEmulator, aiml: AimlApiEmulator
) -> None:
    aiml.inject("poll", 500, times=2)
    aiml.inject("poll", 429)
    aiml.inject("poll", 200, "{not json")
    aiml.inject("poll", 503, delay=0.2)
    send_photo(telegram, chat=ANN_CHAT, sender=ANN, caption="one")
    send_photo(telegram, chat=ANN_CHAT, sender=ANN, caption="two")
    videos = await telegram.wait_for("sendVideo", 2, timeout=20)
    assert {v.params["caption"].splitlines()[0] for v in videos} == {"🎬 one", "🎬 two"}
    assert aiml.charged == 2


async def test_generation_the_api_no_longer_knows_is_explained_not_polled_forever(
    bot: BotApp, telegram: TelegramEmulator, aiml: AimlApiEmulator
) -> None:
    aiml.unknown_id_status = 404
    send_photo(telegram, chat=ANN_CHAT, sender=ANN, caption="waves")
    await _queued(telegram)
    aiml.jobs.clear()
    [notice] = await telegram.wait_for(
        "sendMessage", where=lambda c: "lost track" in c.params["text"], timeout=15
    )
    polls = len(aiml.polls)
    await two_quiet_polls(telegram, since=telegram.mark())
    assert len(aiml.polls) == polls
    assert notice.params["chat_id"] == 111


async def test_undocumented_status_is_polled_late_and_until_the_job_is_given_up(
    tmp_path: Path, telegram: TelegramEmulator, aiml: AimlApiEmulator, clock: TestClock
) -> None:
    settings = make_settings(tmp_path, telegram, aiml, job_timeout_seconds=600)
    # No pause between edits: a progress edit just before the job turns late would otherwise
    # hold the late notice back until the next slow check.
    async with running_bot(settings, clock, dataclasses.replace(FAST, progress_edit_private=0)):
        send_photo(telegram, chat=ANN_CHAT, sender=ANN, caption="waves")
        await _queued(telegram)
        [generation_id] = aiml.jobs
        aiml.set_status(generation_id, "thinking-hard")
        polls_before = len(aiml.polls)
        await eventually(lambda: len(aiml.polls) >= polls_before + 3, what="odd-status polls")
        clock.advance(601)
        await telegram.wait_for(
            "editMessageText", where=lambda c: "Your video is late" in c.params["text"]
        )
        clock.advance(FAST.late_patience_seconds)
        [notice] = await telegram.wait_for(
            "sendMessage", where=lambda c: "did not finish this video in 6 h" in c.params["text"]
        )
        assert notice.params["reply_parameters"]["message_id"] > 0
    assert not telegram.calls_to("sendVideo")


# --- Delivering ---------------------------------------------------------------------------


async def test_video_telegram_cannot_fetch_is_uploaded_instead(
    bot: BotApp, telegram: TelegramEmulator, aiml: AimlApiEmulator
) -> None:
    telegram.reject_video_urls = True
    send_photo(telegram, chat=ANN_CHAT, sender=ANN, caption="waves")
    by_url, upload = await telegram.wait_for("sendVideo", 2, timeout=15)
    assert isinstance(by_url.params["video"], str)
    assert upload.files["video"] == aiml.video_bytes
    assert upload.params["reply_parameters"]["message_id"] > 0
    actions = telegram.calls_to("sendChatAction")
    assert actions and actions[0].params["action"] == "upload_video"
    for request in aiml.video_requests:
        assert request.header("Authorization") is None


async def test_video_too_large_to_upload_is_sent_as_an_expiring_link(
    tmp_path: Path, telegram: TelegramEmulator, clock: TestClock
) -> None:
    telegram.reject_video_urls = True
    async with AimlApiEmulator("k", video_size=51 * 1024 * 1024) as aiml:
        settings = make_settings(tmp_path, telegram, aiml, aimlapi_key="k")
        async with running_bot(settings, clock):
            send_photo(telegram, chat=ANN_CHAT, sender=ANN, caption="waves")
            [link] = await telegram.wait_for(
                "sendMessage", where=lambda c: "Download it" in c.params["text"], timeout=20
            )
    assert "expires" in link.params["text"]
    assert len(telegram.calls_to("sendVideo")) == 1  # only the URL attempt


async def test_expired_video_link_is_explained(
    tmp_path: Path, telegram: TelegramEmulator, clock: TestClock
) -> None:
    async with AimlApiEmulator("k", link_ttl=0) as aiml:
        settings = make_settings(tmp_path, telegram, aiml, aimlapi_key="k")
        async with running_bot(settings, clock):
            send_photo(telegram, chat=ANN_CHAT, sender=ANN, caption="waves")
            await telegram.wait_for(
                "sendMessage", where=lambda c: "expired" in c.params["text"], timeout=15
            )


async def test_telegram_flood_limit_delays_the_video_but_does_not_lose_it(
    bot: BotApp, telegram: TelegramEmulator, aiml: AimlApiEmulator
) -> None:
    telegram.fail(
        "sendVideo", 429, "Too Many Requests: retry after 1", parameters={"retry_after": 1}, times=3
    )
    send_photo(telegram, chat=ANN_CHAT, sender=ANN, caption="waves")
    calls = await telegram.wait_for("sendVideo", 4, timeout=20)
    assert all(c.params["chat_id"] == 111 for c in calls)
    await telegram.wait_for("deleteMessage")  # delivered: the status makes way
    await two_quiet_polls(telegram, since=telegram.mark())
    assert len(telegram.calls_to("sendVideo")) == 4  # three refusals, one success


async def test_blocked_bot_marks_the_job_undeliverable_and_stops(
    bot: BotApp, telegram: TelegramEmulator, aiml: AimlApiEmulator
) -> None:
    telegram.fail("sendVideo", 403, "Forbidden: bot was blocked by the user", times=5)
    send_photo(telegram, chat=ANN_CHAT, sender=ANN, caption="waves")
    await telegram.wait_for("sendVideo")
    await telegram.wait_for("deleteMessage")  # given up: the status makes way
    await two_quiet_polls(telegram, since=telegram.mark())
    assert len(telegram.calls_to("sendVideo")) == 1


async def test_group_that_became_a_supergroup_still_gets_its_video(
    bot: BotApp, telegram: TelegramEmulator, aiml: AimlApiEmulator
) -> None:
    telegram.fail(
        "sendVideo",
        400,
        "Bad Request: group chat was upgraded to a supergroup chat",
        parameters={"migrate_to_chat_id": -1009999},
    )
    group = group_chat(-4242)
    group["type"] = "group"
    send_photo(telegram, chat=group, sender=ANN, caption=f"/animate@{telegram.bot_username} hi")
    first, second = await telegram.wait_for("sendVideo", 2, timeout=15)
    assert first.params["chat_id"] == -4242
    assert second.params["chat_id"] == -1009999


async def test_deleted_topic_falls_back_to_the_main_chat(
    bot: BotApp, telegram: TelegramEmulator, aiml: AimlApiEmulator
) -> None:
    forum = group_chat(-100777, forum=True)
    send_photo(
        telegram,
        chat=forum,
        sender=ANN,
        caption="/animate hi",
        thread_id=55,
        is_topic_message=True,
    )
    await _queued(telegram)
    telegram.fail("sendVideo", 400, "Bad Request: message thread not found")
    first, second = await telegram.wait_for("sendVideo", 2, timeout=15)
    assert first.params["message_thread_id"] == 55
    assert "message_thread_id" not in second.params


async def test_topic_deleted_before_the_first_status_still_gets_status_and_video_in_the_chat(
    bot: BotApp, telegram: TelegramEmulator, aiml: AimlApiEmulator
) -> None:
    forum = group_chat(-100777, forum=True)
    send_photo(
        telegram,
        chat=forum,
        sender=ANN,
        caption="/animate hi",
        thread_id=55,
        is_topic_message=True,
    )
    telegram.delete_topic(-100777, 55)  # before the bot has even seen the request
    [video] = await telegram.wait_for("sendVideo", timeout=15)
    assert "message_thread_id" not in video.params
    acks = [c for c in telegram.calls_to("sendMessage") if "Got it" in c.params["text"]]
    assert [c.params.get("message_thread_id") for c in acks] == [55, None]
    queued = await telegram.wait_for(
        "editMessageText", where=lambda c: "Queued" in c.params["text"]
    )
    assert queued[0].params["chat_id"] == -100777
    await telegram.wait_for("deleteMessage")  # delivered: the status in the chat makes way
    assert not telegram.calls_to("sendMessage", since=telegram.calls.index(acks[-1]) + 1)


async def test_refusal_into_a_deleted_topic_is_answered_in_the_main_chat(
    bot: BotApp, telegram: TelegramEmulator, aiml: AimlApiEmulator
) -> None:
    await AccessStore.of(services(bot).store).set_override(
        111, allowed=False, changed_by=None, now=time.time()
    )
    forum = group_chat(-100777, forum=True)
    send_photo(
        telegram,
        chat=forum,
        sender=ANN,
        caption="/animate hi",
        thread_id=55,
        is_topic_message=True,
    )
    telegram.delete_topic(-100777, 55)
    first, second = await telegram.wait_for("sendMessage", 2)
    assert first.params["message_thread_id"] == 55
    assert "message_thread_id" not in second.params
    assert second.params["text"] == first.params["text"]
    assert "only for people its operator has allowed" in second.params["text"]
    assert aiml.charged == 0


async def test_slow_video_send_is_waited_for_and_posted_once(
    bot: BotApp, telegram: TelegramEmulator, aiml: AimlApiEmulator
) -> None:
    telegram.set_delay("sendVideo", 5.5)  # longer than python-telegram-bot's default 5 s
    send_photo(telegram, chat=ANN_CHAT, sender=ANN, caption="waves")
    await telegram.wait_for("sendVideo", timeout=15)
    await telegram.wait_for("deleteMessage", timeout=15)  # delivered: the status makes way
    assert len(telegram.calls_to("sendVideo")) == 1


async def test_chat_that_refuses_videos_gets_the_link_instead(
    bot: BotApp, telegram: TelegramEmulator, aiml: AimlApiEmulator
) -> None:
    telegram.fail("sendVideo", 400, "Bad Request: not enough rights to send videos", times=2)
    send_photo(telegram, chat=ANN_CHAT, sender=ANN, caption="waves")
    [link] = await telegram.wait_for(
        "sendMessage", where=lambda c: "would not let me post" in c.params["text"], timeout=15
    )
    assert "/videos/" in link.params["text"]
    assert link.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"].startswith(
        "again:"
    )
    await telegram.wait_for("deleteMessage")  # the status message is not left saying "Generating"


async def test_refusal_that_cannot_be_shown_in_the_status_message_is_explained_anyway(
    bot: BotApp, telegram: TelegramEmulator, aiml: AimlApiEmulator
) -> None:
    aiml.inject("create", 403, {"statusCode": 403, "message": "Insufficient credits"})
    # The acknowledgement is gone, and a new message does not get through, this once.
    telegram.fail(
        "editMessageText",
        400,
        "Bad Request: message to edit not found",
        times=5,
        when=_saying("run out of credits"),
    )
    telegram.fail("sendMessage", 500, "Internal Server Error", when=_saying("run out of credits"))
    sent = send_photo(telegram, chat=ANN_CHAT, sender=ANN, caption="waves")
    _, anew = await telegram.wait_for(
        "sendMessage", 2, where=lambda c: "run out of credits" in c.params["text"]
    )
    await two_quiet_polls(telegram, since=telegram.mark())
    assert len(bot_messages(telegram, 111, saying("run out of credits"))) == 1
    assert anew.params["reply_parameters"]["message_id"] == sent.message_id
    assert aiml.charged == 0


async def test_unanswered_send_after_a_refused_one_is_sent_again_not_taken_as_delivered(
    bot: BotApp, telegram: TelegramEmulator, aiml: AimlApiEmulator, monkeypatch: MonkeyPatch
) -> None:
    # A send Telegram answers with an error posted nothing; one it never answers may have.
    # The first must not use up the one more try the second is owed.
    monkeypatch.setattr(delivery, "SEND_VIDEO_SECONDS", 1.0)
    telegram.fail("sendVideo", 502, "Bad Gateway")
    send_photo(telegram, chat=ANN_CHAT, sender=ANN, caption="waves")
    await telegram.wait_for("sendVideo", timeout=15)
    telegram.set_delay("sendVideo", 1.5)  # longer than the bot waits: the send goes unanswered
    await telegram.wait_for("sendVideo", 2)
    telegram.set_delay("sendVideo", 0)
    [*_, third] = await telegram.wait_for("sendVideo", 3, timeout=15)
    await telegram.wait_for("deleteMessage")  # delivered: the status makes way
    [job] = await services(bot).store.jobs_for_user(111)
    assert job.state is JobState.DELIVERED
    posted = [m for m in telegram.messages.values() if "video" in m]
    assert job.video_message_id == posted[-1]["message_id"]
    assert third.params["chat_id"] == 111


def _saying(words: str) -> Callable[[dict[str, Any]], bool]:
    return lambda params: words in str(params.get("text", ""))


async def test_image_refusal_that_gets_no_answer_twice_reaches_the_user_once_with_its_fix(
    bot: BotApp, telegram: TelegramEmulator, aiml: AimlApiEmulator
) -> None:
    # Neither the edit that shows the refusal nor the new message after it gets an answer.
    telegram.fail("editMessageText", 502, "Bad Gateway", when=_saying("fix the photo"))
    telegram.fail("sendMessage", 500, "Internal Server Error", when=_saying("fix the photo"))
    send_photo(
        telegram,
        chat=ANN_CHAT,
        sender=ANN,
        caption="waves",
        image=make_image(600, 300),
        size=(600, 300),
    )
    refusal = await bot_message(telegram, 111, saying("fix the photo"), "the refusal")
    assert buttons(refusal) == [(ENGLISH.fix_button(Fix.UPSCALE), "fix:1:upscale")]
    await two_quiet_polls(telegram, since=telegram.mark())
    assert len(bot_messages(telegram, 111, saying("fix the photo"))) == 1
    tries = [c for c in telegram.calls if _saying("fix the photo")(c.params)]
    assert [c.method for c in tries] == ["editMessageText", "sendMessage", "editMessageText"]
    assert not bot_messages(telegram, 111, saying("Got it"))  # no "Checking…" left behind
    [job] = await services(bot).store.jobs_for_user(111)
    assert job.state is JobState.REJECTED and job.next_poll_at is None
    assert aiml.charged == 0


async def test_api_refusal_whose_edit_gets_no_answer_is_sent_as_a_new_message(
    bot: BotApp, telegram: TelegramEmulator, aiml: AimlApiEmulator
) -> None:
    aiml.inject(
        "create", 400, {"statusCode": 400, "message": "Body validation error! prompt: unsafe"}
    )
    telegram.fail("editMessageText", 500, "Internal Server Error", when=_saying("unsafe"))
    sent = send_photo(telegram, chat=ANN_CHAT, sender=ANN, caption="waves")
    await bot_message(telegram, 111, saying("prompt: unsafe"), "the refusal")
    await two_quiet_polls(telegram, since=telegram.mark())
    assert len(bot_messages(telegram, 111, saying("prompt: unsafe"))) == 1
    [edit] = [c for c in telegram.calls_to("editMessageText") if "unsafe" in c.params["text"]]
    [anew] = [c for c in telegram.calls_to("sendMessage") if "unsafe" in c.params["text"]]
    assert anew.params["text"] == edit.params["text"]  # the refusal itself, not a later notice
    assert anew.params["reply_parameters"]["message_id"] == sent.message_id
    assert not bot_messages(telegram, 111, saying("Got it"))  # the old status made way


async def test_fix_tapped_while_its_refusal_is_still_being_retold_is_made_once(
    bot: BotApp, telegram: TelegramEmulator, aiml: AimlApiEmulator
) -> None:
    # The refusal reached the chat without Telegram saying so, and the bot keeps retrying it;
    # the user taps the fix it offers meanwhile.
    aiml.queued_polls = aiml.generating_polls = 0
    for method in ("editMessageText", "sendMessage"):
        telegram.fail(method, 502, "Bad Gateway", times=1000, when=_saying("fix the photo"))
    sent = send_photo(
        telegram,
        chat=ANN_CHAT,
        sender=ANN,
        caption="waves",
        image=make_image(600, 300),
        size=(600, 300),
    )
    await telegram.wait_for(
        "editMessageText", 3, where=lambda c: "fix the photo" in c.params["text"]
    )
    [status] = bot_messages(telegram, 111, saying("Got it"))
    await tap(telegram, sender=ANN, message=status, data="fix:1:upscale")
    await video_for(telegram, sent)
    await two_quiet_polls(telegram, since=telegram.mark())
    assert len(aiml.creates) == 1
    assert len(telegram.calls_to("sendVideo")) == 1
    [job] = await services(bot).store.jobs_for_user(111)
    assert job.state is JobState.DELIVERED and job.pending_status is None


async def test_status_of_a_group_that_became_a_supergroup_lives_in_the_supergroup(
    bot: BotApp, telegram: TelegramEmulator, aiml: AimlApiEmulator
) -> None:
    old_group = {"id": -4242, "type": "group", "title": "Family"}
    send_photo(telegram, chat=old_group, sender=ANN, caption="/animate hi")
    telegram.upgrade_group(-4242, -1009999)  # before the bot says anything there
    await telegram.wait_for("sendVideo", where=lambda c: c.params["chat_id"] == -1009999)
    await telegram.wait_for("deleteMessage", where=lambda c: c.params["chat_id"] == -1009999)
    [ack] = [
        c
        for c in telegram.calls_to("sendMessage")
        if c.params["chat_id"] == -1009999 and "Got it" in c.params["text"]
    ]
    # The photo is a message of the old group: in the supergroup its id is another message's.
    assert "reply_parameters" not in ack.params
    assert len(telegram.calls_to("sendMessage", since=telegram.calls.index(ack))) == 1
    edits = telegram.calls_to("editMessageText")
    assert edits and {c.params["chat_id"] for c in edits} == {-1009999}
    assert not bot_messages(telegram, -1009999, lambda message: "text" in message)


async def test_fix_tapped_while_the_tick_is_retelling_its_refusal_still_makes_the_video(
    bot: BotApp, telegram: TelegramEmulator, aiml: AimlApiEmulator
) -> None:
    # The refusal gets no answer at first; when the tick tells it again, Telegram is slow to
    # answer, and the user taps the fix meanwhile.
    aiml.queued_polls = aiml.generating_polls = 0
    for method in ("editMessageText", "sendMessage"):
        telegram.fail(method, 502, "Bad Gateway", times=1, when=_saying("fix the photo"))
    telegram.set_delay("editMessageText", 1.5, when=_saying("fix the photo"))
    sent = send_photo(
        telegram,
        chat=ANN_CHAT,
        sender=ANN,
        caption="waves",
        image=make_image(600, 300),
        size=(600, 300),
    )
    # The first edit fails, then the new message; the tick's retelling edit is the second,
    # under way (and held for 1.5 s) when the tap comes.
    await telegram.wait_for(
        "editMessageText", 2, where=lambda c: "fix the photo" in c.params["text"]
    )
    [status] = bot_messages(telegram, 111, saying("Got it"))
    await tap(telegram, sender=ANN, message=status, data="fix:1:upscale")
    telegram.set_delay("editMessageText", 0)
    await video_for(telegram, sent)
    assert len(aiml.creates) == 1


async def test_a_failure_notice_a_blocked_chat_refuses_keeps_the_day_count_given_back(
    bot: BotApp, telegram: TelegramEmulator, aiml: AimlApiEmulator
) -> None:
    aiml.queued_polls = aiml.generating_polls = 0
    aiml.fail_next_job()
    telegram.fail(
        "sendMessage", 403, "Forbidden: bot was blocked by the user", when=_saying("could not")
    )
    send_photo(telegram, chat=ANN_CHAT, sender=ANN, caption="flagged")
    await telegram.wait_for("sendMessage", where=lambda c: "could not" in c.params["text"])
    await two_quiet_polls(telegram, since=telegram.mark())
    store = services(bot).store
    [job] = await store.jobs_for_user(111)
    counts = await AccessStore.of(store).user_counts(111, since=0)
    # It failed, uncharged for a video: blocked or not, it does not count as one made.
    assert job.state is JobState.FAILED and job.next_poll_at is None
    assert counts.today == 0
