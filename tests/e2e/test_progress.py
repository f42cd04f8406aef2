"""Keeping the user company through the wait: one status message, edited as the job moves."""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path

from bot.engine.durations import MIN_SAMPLES
from tests.conftest import FAST, TestClock, make_settings, running_bot, send_photo
from tests.e2e.conversation import status_says, status_texts, video_for
from tests.emulators.aimlapi_emulator import AimlApiEmulator
from tests.emulators.telegram_emulator import (
    RecordedCall,
    TelegramEmulator,
    group_chat,
    message_update,
    parse_html,
    private_chat,
    text_message,
    user,
)

ANN = user(111, "Ann")
LIVELY = dataclasses.replace(FAST, progress_edit_private=0.3, progress_edit_group=0.6)


def _status_edits(telegram: TelegramEmulator, status_id: int) -> list[RecordedCall]:
    return [c for c in telegram.calls_to("editMessageText") if c.params["message_id"] == status_id]


async def test_status_message_follows_the_job_and_makes_way_for_the_video(
    tmp_path: Path, telegram: TelegramEmulator, clock: TestClock
) -> None:
    async with AimlApiEmulator("k", queued_polls=2, generating_polls=14) as aiml:
        settings = make_settings(tmp_path, telegram, aiml, aimlapi_key="k")
        async with running_bot(settings, clock, LIVELY):
            sent = send_photo(telegram, chat=private_chat(111), sender=ANN, caption="waves")
            [video] = await telegram.wait_for("sendVideo", timeout=30)

    [ack] = [c for c in telegram.calls_to("sendMessage") if "Got it" in c.params["text"]]
    assert ack.params["reply_parameters"]["message_id"] == sent.message_id
    queued = [c for c in telegram.calls_to("editMessageText") if "Queued" in c.params["text"]]
    status_id = queued[0].params["message_id"]  # the acknowledgement, edited from here on
    edits = _status_edits(telegram, status_id)
    texts = [parse_html(str(c.params["text"]))[0] for c in edits]
    assert any("Generating your video" in text and "so far" in text for text in texts)
    # Never the same text twice in a row, and never faster than the chat's edit interval.
    assert all(a != b for a, b in itertools.pairwise(texts))
    progress = [c for c in edits if "so far" in str(c.params["text"])]
    assert all(b.at - a.at >= 0.3 for a, b in itertools.pairwise(progress))

    # The status message is gone once the video is there, and the caption says how long.
    [deleted] = telegram.calls_to("deleteMessage")
    assert deleted.params["message_id"] == status_id
    assert "made in" in video.params["caption"]
    action = telegram.calls_to("sendChatAction")[-1]
    assert action.params["action"] == "upload_video" and action.at <= video.at


async def test_groups_get_fewer_progress_edits(
    tmp_path: Path, telegram: TelegramEmulator, clock: TestClock
) -> None:
    async with AimlApiEmulator("k", queued_polls=1, generating_polls=14) as aiml:
        settings = make_settings(tmp_path, telegram, aiml, aimlapi_key="k")
        async with running_bot(settings, clock, LIVELY):
            send_photo(telegram, chat=group_chat(-100600), sender=ANN, caption="/animate waves")
            await telegram.wait_for("sendVideo", timeout=30)
    progress = [
        c for c in telegram.calls_to("editMessageText") if "so far" in str(c.params["text"])
    ]
    assert progress
    assert all(b.at - a.at >= 0.6 for a, b in itertools.pairwise(progress))


async def test_status_view_shows_time_so_far_place_in_line_and_a_link_to_the_photo(
    tmp_path: Path, telegram: TelegramEmulator, clock: TestClock
) -> None:
    async with AimlApiEmulator("k", queued_polls=10**6) as aiml:
        settings = make_settings(
            tmp_path,
            telegram,
            aiml,
            aimlapi_key="k",
            max_active_jobs=1,
            max_active_jobs_per_user=3,
        )
        group = group_chat(-1001234567)
        async with running_bot(settings, clock):
            first = send_photo(telegram, chat=group, sender=ANN, caption="/animate one")
            await telegram.wait_for("editMessageText", where=lambda c: "Queued" in c.params["text"])
            send_photo(telegram, chat=group, sender=ANN, caption="/animate two")
            await telegram.wait_for("sendMessage", where=lambda c: "line" in c.params["text"])
            clock.advance(95)
            status = text_message(chat=private_chat(111), sender=ANN, text="/status")
            telegram.push_update(message_update(status))
            [reply] = await telegram.wait_for(
                "sendMessage", where=lambda c: "Your jobs" in c.params["text"]
            )
    text, entities = parse_html(str(reply.params["text"]))
    assert "place 1 in line" in text
    assert "1 min 30 s so far" in text
    links = [e["url"] for e in entities if e["type"] == "text_link"]
    assert f"https://t.me/c/1234567/{first.message_id}" in links
    assert "Today" in text


async def test_the_time_to_expect_is_learned_from_finished_videos_and_kept_on_restart(
    tmp_path: Path, telegram: TelegramEmulator, aiml: AimlApiEmulator, clock: TestClock
) -> None:
    settings = make_settings(tmp_path, telegram, aiml)
    chat = private_chat(111)
    async with running_bot(settings, clock):
        for take in range(MIN_SAMPLES + 1):
            sent = send_photo(telegram, chat=chat, sender=ANN, caption=f"take {take}")
            await video_for(telegram, sent)
    async with running_bot(settings, clock):
        sent = send_photo(telegram, chat=chat, sender=ANN, caption="after a restart")
        await video_for(telegram, sent)

    acks = [text for text in status_texts(telegram, 111) if text.startswith("✅ Queued")]
    assert len(acks) == MIN_SAMPLES + 2
    # Until five videos are done, the API's usual three minutes; then what this bot has seen
    # (here about a second a video), also after a restart.
    assert all("ready in about 3 minutes" in text for text in acks[:MIN_SAMPLES])
    assert all("ready in about 5 seconds" in text for text in acks[MIN_SAMPLES:])


async def test_a_job_slower_than_usual_is_called_so_instead_of_promising_3_minutes(
    tmp_path: Path, telegram: TelegramEmulator, clock: TestClock
) -> None:
    async with AimlApiEmulator("k", queued_polls=10**6) as aiml:
        settings = make_settings(tmp_path, telegram, aiml, aimlapi_key="k")
        async with running_bot(settings, clock, LIVELY):
            send_photo(telegram, chat=private_chat(111), sender=ANN, caption="waves")
            await status_says(telegram, 111, "Queued at the video service")
            clock.advance(400)  # more than half as long again as the usual 3 minutes
            await status_says(telegram, 111, "Still queued at the video service")

    texts = status_texts(telegram, 111)
    [late] = [text for text in texts if text.startswith("🕒 Still queued")]
    assert "6 min 40 s so far" in late or "6 min 50 s so far" in late  # a slow machine
    assert "longer than usual: a video usually takes about 3 minutes in all" in late
    assert "still following it" in late
