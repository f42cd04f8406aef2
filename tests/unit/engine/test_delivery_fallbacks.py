"""Delivery over the chat port: the video by URL, else uploaded, else as a link; notices that
follow a group that became a supergroup, and a topic that is gone."""

from __future__ import annotations

import pytest

from bot.engine.chat_port import ChatClosed, MessageRefused
from bot.engine.delivery import VideoExpired
from bot.wiring.steps import Steps
from bot.words.texts import ENGLISH
from storage import JobState, JobStore
from tests.conftest import TestClock
from tests.unit.engine.conftest import VIDEO, record_job
from tests.unit.engine.fakechat import FakeChat

URL_REFUSED = MessageRefused("Bad Request: failed to get HTTP URL content")
NO_RIGHTS = MessageRefused("Bad Request: not enough rights to send videos")


async def test_a_video_goes_by_url_as_a_reply_to_the_photo_with_again(
    steps: Steps, chat: FakeChat, store: JobStore, clock: TestClock, video_server: str
) -> None:
    url = f"{video_server}/video.mp4"
    job = await record_job(store, clock, state=JobState.COMPLETED, video_url=url, video_seconds=5.6)
    posted = await steps.poller.delivery.deliver_video(job)
    [video] = chat.in_chat(111)
    assert (posted.chat_id, posted.message_id) == (111, video.message_id)
    assert video.video == url and video.reply_to == 10
    assert "she waves" in video.text
    assert video.shape is not None and video.shape.seconds == 6
    assert video.buttons == [(ENGLISH.BUTTON_AGAIN, f"again:{job.id}")]
    assert chat.calls_to("show_uploading")


async def test_a_video_telegram_will_not_fetch_is_uploaded(
    steps: Steps, chat: FakeChat, store: JobStore, clock: TestClock, video_server: str
) -> None:
    chat.fail("send_video", URL_REFUSED, when=lambda params: params["by"] == "url")
    job = await record_job(
        store, clock, state=JobState.COMPLETED, video_url=f"{video_server}/video.mp4"
    )
    await steps.poller.delivery.deliver_video(job)
    [video] = chat.in_chat(111)
    assert video.video == VIDEO  # the very bytes, uploaded
    assert video.reply_to == 10
    assert video.buttons == [(ENGLISH.BUTTON_AGAIN, f"again:{job.id}")]


async def test_a_chat_that_refuses_the_upload_too_gets_the_link(
    steps: Steps, chat: FakeChat, store: JobStore, clock: TestClock, video_server: str
) -> None:
    url = f"{video_server}/video.mp4"
    chat.fail("send_video", NO_RIGHTS, times=2)
    job = await record_job(store, clock, state=JobState.COMPLETED, video_url=url)
    await steps.poller.delivery.deliver_video(job)
    [link] = chat.in_chat(111)
    assert link.video is None
    assert link.text == ENGLISH.video_refused(url)
    assert url in link.text and link.reply_to == 10
    assert link.buttons == [(ENGLISH.BUTTON_AGAIN, f"again:{job.id}")]


async def test_a_dead_link_is_an_expired_video_and_nothing_is_posted(
    steps: Steps, chat: FakeChat, store: JobStore, clock: TestClock, video_server: str
) -> None:
    chat.fail("send_video", URL_REFUSED)
    job = await record_job(
        store, clock, state=JobState.COMPLETED, video_url=f"{video_server}/gone.mp4"
    )
    with pytest.raises(VideoExpired):
        await steps.poller.delivery.deliver_video(job)
    assert chat.in_chat(111) == []


async def test_a_closed_chat_is_not_given_a_link(
    steps: Steps, chat: FakeChat, store: JobStore, clock: TestClock, video_server: str
) -> None:
    chat.fail("send_video", ChatClosed("Forbidden: bot was blocked by the user"))
    job = await record_job(
        store, clock, state=JobState.COMPLETED, video_url=f"{video_server}/video.mp4"
    )
    with pytest.raises(ChatClosed):
        await steps.poller.delivery.deliver_video(job)
    assert len(chat.calls_to("send_video")) == 1


async def test_a_group_that_became_a_supergroup_is_followed_and_remembered(
    steps: Steps, chat: FakeChat, store: JobStore, clock: TestClock
) -> None:
    chat.move(-4242, -1009999)
    job = await record_job(store, clock, chat_id=-4242, state=JobState.TIMED_OUT)
    await steps.poller.delivery.send_notice(job)
    [notice] = chat.in_chat(-1009999)
    assert notice.text == ENGLISH.timed_out(6 * 3600.0)
    # The photo is the old group's message: the supergroup's ids mean other messages.
    assert notice.reply_to is None
    assert notice.buttons == [(ENGLISH.BUTTON_RETRY, f"retry:{job.id}")]
    assert await store.current_chat(-4242) == -1009999

    sent_before = len(chat.calls)
    await steps.poller.delivery.send_notice(job)
    # Known to have moved: straight there, without asking the old group first.
    assert [call.params["chat_id"] for call in chat.calls[sent_before:]] == [-1009999]


async def test_a_topic_that_is_gone_gets_its_notice_in_the_main_chat(
    steps: Steps, chat: FakeChat, store: JobStore, clock: TestClock
) -> None:
    chat.delete_topic(-100777, 55)
    job = await record_job(store, clock, chat_id=-100777, thread_id=55, state=JobState.TIMED_OUT)
    await steps.poller.delivery.send_notice(job)
    [notice] = chat.in_chat(-100777)
    assert notice.thread_id is None and notice.reply_to == 10
    assert (await store.get(job.id)).thread_id is None  # the next message goes there at once
