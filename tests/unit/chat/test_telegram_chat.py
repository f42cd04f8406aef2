"""The chat adapter against the Telegram emulator: what the engine posts arrives as Telegram
would show it, and each of Telegram's refusals comes back as the port's own error."""

from __future__ import annotations

import pytest
from telegram import Bot
from telegram.error import TimedOut

from bot.engine.chat_port import (
    AskedToWait,
    Button,
    Chat,
    ChatClosed,
    ChatError,
    ChatMoved,
    FileTooBig,
    MessageNotEditable,
    MessageRefused,
    MessageUnchanged,
    NoAnswer,
    TopicGone,
    Unreachable,
)
from bot.engine.videoshape import VideoShape
from chat.telegram_chat import TelegramChat, markup_of, port_error, reply_parameters
from tests.emulators.telegram_emulator import (
    TelegramEmulator,
    group_chat,
    message_update,
    private_chat,
    text_message,
    user,
)
from tests.images import make_image

FORUM = -100700
AGAIN = ((Button("🔁 Again", "again:7"),),)


@pytest.fixture
def chat(bot: Bot) -> Chat:
    return TelegramChat(bot)


def _user_says(emu: TelegramEmulator, chat: dict[str, object], **extra: object) -> int:
    message = text_message(chat=chat, sender=user(), text="hi", **extra)  # type: ignore[arg-type]
    emu.push_update(message_update(message))
    return int(message["message_id"])


async def test_a_message_arrives_as_a_reply_with_its_buttons(
    emu: TelegramEmulator, chat: Chat
) -> None:
    asked = _user_says(emu, private_chat(111))
    posted = await chat.send_message(111, "<b>Done</b>", reply_to=asked, keyboard=AGAIN)
    [call] = emu.calls_to("sendMessage")
    assert call.params["reply_parameters"] == {
        "message_id": asked,
        "allow_sending_without_reply": True,
    }
    shown = emu.messages[(111, posted.message_id)]
    assert posted.chat_id == 111
    assert shown["reply_markup"] == {
        "inline_keyboard": [[{"text": "🔁 Again", "callback_data": "again:7"}]]
    }


async def test_a_reply_to_a_deleted_message_becomes_a_plain_message(chat: Chat) -> None:
    posted = await chat.send_message(111, "still here", reply_to=999_999)
    assert posted.chat_id == 111


async def test_an_edit_changes_the_text_and_drops_the_buttons(
    emu: TelegramEmulator, chat: Chat
) -> None:
    posted = await chat.send_message(111, "Queued", keyboard=AGAIN)
    await chat.edit_message(111, posted.message_id, "Generating")
    shown = emu.messages[(111, posted.message_id)]
    assert shown["text"] == "Generating" and "reply_markup" not in shown


async def test_the_same_edit_twice_is_unchanged(chat: Chat) -> None:
    posted = await chat.send_message(111, "Queued")
    with pytest.raises(MessageUnchanged, match="not modified"):
        await chat.edit_message(111, posted.message_id, "Queued")


async def test_a_deleted_or_foreign_message_is_not_editable(
    emu: TelegramEmulator, chat: Chat
) -> None:
    theirs = _user_says(emu, private_chat(111))
    posted = await chat.send_message(111, "Queued")
    await chat.delete_message(111, posted.message_id)
    with pytest.raises(MessageNotEditable, match="not found"):
        await chat.edit_message(111, posted.message_id, "Generating")
    with pytest.raises(MessageNotEditable, match="can't be edited"):
        await chat.edit_message(111, theirs, "Generating")


async def test_a_group_that_became_a_supergroup_names_its_new_id(
    emu: TelegramEmulator, chat: Chat
) -> None:
    emu.upgrade_group(-4242, -1009999)
    with pytest.raises(ChatMoved) as moved:
        await chat.send_message(-4242, "hi")
    assert moved.value.new_chat_id == -1009999
    with pytest.raises(ChatMoved):
        await chat.edit_message(-4242, 1, "hi")


async def test_a_deleted_topic_is_gone(emu: TelegramEmulator, chat: Chat) -> None:
    _user_says(emu, group_chat(FORUM, forum=True), thread_id=7, is_topic_message=True)
    assert (await chat.send_message(FORUM, "in 7", thread_id=7)).chat_id == FORUM
    emu.delete_topic(FORUM, 7)
    with pytest.raises(TopicGone):
        await chat.send_message(FORUM, "in 7", thread_id=7)
    with pytest.raises(TopicGone):
        await chat.show_uploading(FORUM, thread_id=7)
    # A topic is a refusal of that message, not of the chat.
    assert issubclass(TopicGone, MessageRefused)


async def test_a_blocked_bot_finds_the_chat_closed(emu: TelegramEmulator, chat: Chat) -> None:
    emu.fail("sendMessage", 403, "Forbidden: bot was blocked by the user")
    with pytest.raises(ChatClosed) as closed:
        await chat.send_message(111, "hi")
    assert closed.value.words == "Forbidden: bot was blocked by the user"


async def test_a_bad_request_is_refused_with_telegrams_words(
    emu: TelegramEmulator, chat: Chat
) -> None:
    emu.fail("sendVideo", 400, "Bad Request: not enough rights to send videos")
    with pytest.raises(MessageRefused) as refused:
        await chat.send_video(
            111, "https://example.invalid/v.mp4", caption="c", shape=VideoShape(), answer_within=5
        )
    assert type(refused.value) is MessageRefused
    assert refused.value.words == "Not enough rights to send videos"


async def test_a_video_too_big_for_telegram_to_fetch_by_url_is_a_refusal_not_a_fetch_limit(
    emu: TelegramEmulator, chat: Chat
) -> None:
    # Delivery falls back to an upload on MessageRefused: "too big" on a send must stay one.
    emu.fail("sendVideo", 400, "Bad Request: file is too big")
    with pytest.raises(MessageRefused) as refused:
        await chat.send_video(
            111, "https://example.invalid/v.mp4", caption="c", shape=VideoShape(), answer_within=5
        )
    assert type(refused.value) is MessageRefused


def test_a_pool_timeout_is_unreachable_as_nothing_was_sent_but_a_read_timeout_is_no_answer() -> (
    None
):
    pool = TimedOut("Pool timeout: All connections in the connection pool are occupied.")
    assert type(port_error(pool)) is Unreachable
    assert type(port_error(TimedOut("Timed out"))) is NoAnswer


async def test_flood_control_says_how_long_to_wait(emu: TelegramEmulator, chat: Chat) -> None:
    emu.fail("sendMessage", 429, "Too Many Requests: retry after 7", parameters={"retry_after": 7})
    with pytest.raises(AskedToWait) as wait:
        await chat.send_message(111, "hi")
    assert wait.value.seconds == 7.0


async def test_a_failing_server_is_unreachable_not_a_refusal(
    emu: TelegramEmulator, chat: Chat
) -> None:
    emu.fail("editMessageText", 502, "Bad Gateway")
    with pytest.raises(Unreachable) as failed:
        await chat.edit_message(111, 1, "hi")
    assert not isinstance(failed.value, NoAnswer | MessageRefused)


async def test_a_video_send_unanswered_in_time_gets_no_answer(
    emu: TelegramEmulator, chat: Chat
) -> None:
    emu.set_delay("sendVideo", 1.0)
    with pytest.raises(NoAnswer):
        await chat.send_video(111, b"\x00" * 64, caption="c", shape=VideoShape(), answer_within=0.3)
    assert issubclass(NoAnswer, Unreachable)


async def test_a_video_goes_by_url_or_as_an_upload_with_its_shape(
    emu: TelegramEmulator, chat: Chat
) -> None:
    emu.reject_video_urls = True
    with pytest.raises(MessageRefused, match=r"(?i)failed to get http url content"):
        await chat.send_video(
            111, "https://example.invalid/v.mp4", caption="c", shape=VideoShape(), answer_within=5
        )
    posted = await chat.send_video(
        111,
        b"mp4 bytes",
        caption="Here it is",
        shape=VideoShape(width=720, height=1280, seconds=6),
        answer_within=5,
        reply_to=999_999,
        keyboard=AGAIN,
    )
    video = emu.messages[(111, posted.message_id)]
    assert video["caption"] == "Here it is"
    assert (video["video"]["width"], video["video"]["height"]) == (720, 1280)
    assert video["video"]["duration"] == 6
    assert emu.file_bytes(video["video"]["file_id"]) == b"mp4 bytes"
    [*_, call] = emu.calls_to("sendVideo")
    assert call.params["supports_streaming"] is True


async def test_uploading_and_a_photo_preview(emu: TelegramEmulator, chat: Chat) -> None:
    await chat.show_uploading(111)
    [action] = emu.calls_to("sendChatAction")
    assert action.params["action"] == "upload_video"
    posted = await chat.send_photo(111, make_image(64, 64), caption="Cropped", reply_to=5)
    assert "photo" in emu.messages[(111, posted.message_id)]


async def test_an_image_is_fetched_whole(emu: TelegramEmulator, chat: Chat) -> None:
    data = make_image(320, 240)
    file_id = emu.add_file(data)
    assert await chat.fetch_image(file_id, max_bytes=len(data)) == data


async def test_an_image_too_big_is_refused_before_it_is_fetched(
    emu: TelegramEmulator, chat: Chat
) -> None:
    declared = emu.add_file(b"small", file_size=10_000)
    with pytest.raises(FileTooBig) as too_big:
        await chat.fetch_image(declared, max_bytes=9_999)
    assert too_big.value.size == 10_000
    huge = emu.add_file(b"small", file_size=21 * 1024 * 1024)
    with pytest.raises(FileTooBig) as refused:
        await chat.fetch_image(huge, max_bytes=30 * 1024 * 1024)
    assert refused.value.size is None
    assert emu.file_downloads == []


def test_every_port_error_is_a_chat_error() -> None:
    for error in (ChatMoved, ChatClosed, AskedToWait, Unreachable, MessageRefused, FileTooBig):
        assert issubclass(error, ChatError)


def test_the_handlers_share_the_adapters_reply_and_markup() -> None:
    assert reply_parameters(None) is None
    reply = reply_parameters(12)
    assert reply is not None and reply.allow_sending_without_reply is True
    markup = markup_of(AGAIN)
    assert markup is not None
    assert markup.inline_keyboard[0][0].callback_data == "again:7"
    assert markup_of(None) is None
