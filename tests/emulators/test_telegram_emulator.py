"""Tests of the Telegram Bot API emulator, driven by the real python-telegram-bot."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from aiohttp import web
from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    Message,
    ReplyParameters,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
)
from telegram.ext import Application, ApplicationBuilder, ContextTypes, MessageHandler, filters

from tests.emulators.conftest import TOKEN
from tests.emulators.telegram_emulator import (
    CALLBACK_ANSWER_WINDOW,
    MAX_UPLOAD_SIZE,
    NOT_MODIFIED,
    TelegramEmulator,
    callback_update,
    document_message,
    group_chat,
    message_update,
    photo_message,
    photo_sizes,
    private_chat,
    text_message,
    user,
)

pytestmark = pytest.mark.asyncio

VIDEO = b"\x00\x00\x00\x18ftypmp42" + b"v" * 5000


@pytest_asyncio.fixture
async def video_server() -> AsyncIterator[str]:
    """A tiny loopback HTTP server: /video.mp4 -> VIDEO, anything else -> 404."""

    async def video(_: web.Request) -> web.Response:
        return web.Response(body=VIDEO, content_type="video/mp4")

    app = web.Application()
    app.router.add_get("/video.mp4", video)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


async def test_get_me(emu: TelegramEmulator, bot: Bot) -> None:
    me = await bot.get_me()
    assert me.id == emu.bot_id
    assert me.username == "animate_test_bot"
    assert me.is_bot and me.can_join_groups and not me.can_read_all_group_messages
    assert emu.calls[0].method == "getMe"
    assert emu.calls[0].token == TOKEN


async def test_send_message_with_reply_and_thread(emu: TelegramEmulator, bot: Bot) -> None:
    chat = group_chat(-100777, forum=True)
    hello = text_message(chat=chat, sender=user(), text="hi")
    emu.push_update(message_update(hello))

    sent = await bot.send_message(
        -100777,
        "123",
        reply_parameters=ReplyParameters(message_id=hello["message_id"]),
        message_thread_id=42,
    )
    assert sent.message_id == 1
    assert sent.text == "123"
    assert sent.message_thread_id == 42
    assert sent.is_topic_message
    assert sent.chat.type == "supergroup"
    assert sent.from_user is not None and sent.from_user.id == emu.bot_id

    call = emu.calls_to("sendMessage")[0]
    assert call.params["text"] == "123"  # raw, not json-decoded
    assert call.params["chat_id"] == -100777
    assert call.params["reply_parameters"] == {"message_id": hello["message_id"]}
    assert call.params["message_thread_id"] == 42
    assert emu.messages[(-100777, 1)]["text"] == "123"

    second = await bot.send_message(555, "again")
    third = await bot.send_message(-100777, "again")
    assert (second.message_id, second.chat.type) == (1, "private")
    assert third.message_id == 2


async def test_html_parse_mode(emu: TelegramEmulator, bot: Bot) -> None:
    sent = await bot.send_message(
        1, '<b>bold</b> &amp; <a href="https://x.y">link</a> 1&lt;2', parse_mode=ParseMode.HTML
    )
    assert sent.text == "bold & link 1<2"
    assert [(e.type, e.offset, e.length) for e in sent.entities] == [
        ("bold", 0, 4),
        ("text_link", 7, 4),
    ]
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
        await bot.send_message(1, "1 < 2 <b>x", parse_mode=ParseMode.HTML)
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await bot.send_message(1, "x" * 4097)


async def test_edit_message_text(emu: TelegramEmulator, bot: Bot) -> None:
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Go", callback_data="go")]])
    sent = await bot.send_message(111, "one", reply_markup=keyboard)
    assert sent.reply_markup == keyboard

    edited = await bot.edit_message_text("two", chat_id=111, message_id=sent.message_id)
    assert isinstance(edited, Message) and edited.text == "two"
    assert emu.messages[(111, sent.message_id)]["text"] == "two"
    # omitting reply_markup removed the keyboard, as Telegram does
    assert "reply_markup" not in emu.messages[(111, sent.message_id)]

    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_text("two", chat_id=111, message_id=sent.message_id)
    with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
        await bot.edit_message_text("x", chat_id=111, message_id=999)
    assert "exactly the same" in NOT_MODIFIED

    assert await bot.delete_message(111, sent.message_id)
    assert (111, sent.message_id) not in emu.messages
    with pytest.raises(BadRequest, match=r"(?i)message to delete not found"):
        await bot.delete_message(111, sent.message_id)


async def test_get_updates_long_poll(emu: TelegramEmulator, bot: Bot) -> None:
    assert await bot.get_updates(timeout=0) == ()

    started = time.monotonic()
    poll = asyncio.create_task(bot.get_updates(timeout=5))
    await emu.wait_for("getUpdates", 2)
    await asyncio.sleep(0.1)
    chat, sender = private_chat(), user()
    update_id = emu.push_update(message_update(text_message(chat=chat, sender=sender, text="/go")))
    updates = await asyncio.wait_for(poll, 2)
    assert time.monotonic() - started < 2
    assert [u.update_id for u in updates] == [update_id]
    message = updates[0].message
    assert message is not None and message.text == "/go"
    assert message.entities[0].type == "bot_command"

    # not acknowledged yet: delivered again; offset acknowledges it
    assert [u.update_id for u in await bot.get_updates(timeout=0)] == [update_id]
    assert await bot.get_updates(offset=update_id + 1, timeout=0) == ()
    assert await bot.get_updates(timeout=0) == ()


async def test_close_ends_long_poll(emu: TelegramEmulator, bot: Bot) -> None:
    poll = asyncio.create_task(bot.get_updates(timeout=30))
    await emu.wait_for("getUpdates")
    started = time.monotonic()
    await emu.close()
    assert await asyncio.wait_for(poll, 3) == ()
    assert time.monotonic() - started < 3


async def test_get_file_and_download(emu: TelegramEmulator, bot: Bot) -> None:
    file_id = emu.add_file(b"jpeg-bytes", file_size=12345)
    tg_file = await bot.get_file(file_id)
    assert tg_file.file_size == 12345
    assert tg_file.file_path is not None and tg_file.file_path.startswith(emu.base_file_url)
    assert await tg_file.download_as_bytearray() == bytearray(b"jpeg-bytes")
    assert emu.file_downloads == [f"photos/{file_id}.jpg"]

    with pytest.raises(BadRequest, match=r"(?i)invalid file_id"):
        await bot.get_file("nope")
    huge = emu.add_file(b"x", file_size=30 * 1024 * 1024)
    with pytest.raises(BadRequest, match=r"(?i)file is too big"):
        await bot.get_file(huge)


async def test_send_video_by_url(emu: TelegramEmulator, bot: Bot, video_server: str) -> None:
    sent = await bot.send_video(111, f"{video_server}/video.mp4", caption="done")
    assert sent.video is not None and sent.video.file_size == len(VIDEO)
    assert sent.caption == "done"
    assert emu.file_bytes(sent.video.file_id) == VIDEO

    with pytest.raises(BadRequest, match=r"(?i)failed to get HTTP URL content"):
        await bot.send_video(111, f"{video_server}/missing.mp4")
    emu.reject_video_urls = True
    with pytest.raises(BadRequest, match=r"(?i)failed to get HTTP URL content"):
        await bot.send_video(111, f"{video_server}/video.mp4")


async def test_send_video_by_bytes(emu: TelegramEmulator, bot: Bot) -> None:
    forum = group_chat(-100500, forum=True)
    emu.push_update(message_update(text_message(chat=forum, sender=user(), text="hi")))
    sent = await bot.send_video(
        -100500, InputFile(VIDEO, filename="out.mp4"), message_thread_id=3, caption="x"
    )
    assert sent.video is not None and sent.video.file_size == len(VIDEO)
    assert sent.message_thread_id == 3
    call = emu.calls_to("sendVideo")[0]
    assert call.files["video"] == VIDEO
    assert call.params["caption"] == "x"
    assert call.params["message_thread_id"] == 3


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_injected_failures(emu: TelegramEmulator, bot: Bot) -> None:
    emu.fail("sendMessage", 429, "Too Many Requests: retry after 1", parameters={"retry_after": 1})
    with pytest.raises(RetryAfter):
        await bot.send_message(111, "a")

    emu.fail("sendMessage", 403, "Forbidden: bot was blocked by the user", times=2)
    for _ in range(2):
        with pytest.raises(Forbidden, match=r"(?i)blocked"):
            await bot.send_message(111, "a")

    emu.fail(
        "sendVideo",
        400,
        "Bad Request: group chat was upgraded to a supergroup chat",
        parameters={"migrate_to_chat_id": -1009999},
    )
    with pytest.raises(ChatMigrated) as migrated:
        await bot.send_video(-5, "file-id")
    assert migrated.value.new_chat_id == -1009999

    emu.fail("sendMessage", 400, "Bad Request: chat not found")
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await bot.send_message(111, "a")

    sent = await bot.send_message(111, "finally")  # injections consumed
    assert sent.message_id == 1
    assert len(emu.calls_to("sendMessage")) == 5


async def test_wrong_token_and_unknown_method(emu: TelegramEmulator, bot: Bot) -> None:
    with pytest.raises(InvalidToken):
        async with Bot("999:wrong", base_url=emu.base_url, base_file_url=emu.base_file_url):
            pass
    assert emu.calls[-1].token == "999:wrong"
    with pytest.raises(EndPointNotFound):
        await bot.do_api_request("noSuchMethod")


async def test_delay_and_wait_for_timeout(emu: TelegramEmulator, bot: Bot) -> None:
    emu.set_delay("sendChatAction", 0.3)
    started = time.monotonic()
    assert await bot.send_chat_action(111, "typing")
    assert time.monotonic() - started >= 0.3
    assert emu.calls_to("sendChatAction")[0].params["action"] == "typing"

    with pytest.raises(AssertionError, match="sendChatAction x1"):
        await emu.wait_for("sendMessage", timeout=0.1)
    calls = await emu.wait_for("sendChatAction", where=lambda c: c.params["chat_id"] == 111)
    assert len(calls) == 1


async def test_wait_for_since_a_mark_sees_only_later_calls(emu: TelegramEmulator, bot: Bot) -> None:
    await bot.send_message(111, "before")
    mark = emu.mark()
    assert emu.calls_to("sendMessage", since=mark) == []
    with pytest.raises(AssertionError, match="since the mark: got 0 matching of 0"):
        await emu.wait_for("sendMessage", since=mark, timeout=0.1)

    later = asyncio.create_task(emu.wait_for("sendMessage", since=mark))
    await asyncio.sleep(0.1)
    assert not later.done()
    await bot.send_message(111, "after")
    [call] = await asyncio.wait_for(later, 2)
    assert call.params["text"] == "after"
    assert [c.params["text"] for c in emu.calls_to("sendMessage")] == ["before", "after"]


async def test_builders_parse_with_ptb(emu: TelegramEmulator, bot: Bot) -> None:
    sender = user(222, username="ann")
    chat = group_chat(forum=True)
    sizes = photo_sizes("big", 1280, 960, 400_000)
    assert [(s["width"], s["file_size"]) for s in sizes] == [
        (320, 25_000),
        (640, 100_000),
        (1280, 400_000),
    ]
    photo = photo_message(
        chat=chat,
        sender=sender,
        photo=sizes,
        caption="/animate make it move",
        thread_id=9,
        is_topic_message=True,
        media_group_id="g1",
    )
    doc = document_message(
        chat=private_chat(222),
        sender=sender,
        file_id="doc1",
        file_name="a.png",
        mime_type="image/png",
        file_size=10,
    )
    sent = await bot.send_message(
        222,
        "pick",
        reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("A", callback_data="a")]]),
    )
    for raw in (
        message_update(photo),
        message_update(doc),
        callback_update(sender=sender, message=emu.messages[(222, sent.message_id)], data="a"),
    ):
        emu.push_update(raw)
    updates = await bot.get_updates(timeout=0)
    parsed = [Update.de_json(u.to_dict(), bot) for u in updates]
    first = parsed[0].message
    assert first is not None and first.photo[-1].file_id == "big"
    assert first.caption_entities[0].type == "bot_command"
    assert first.caption_entities[0].length == len("/animate")
    assert first.message_thread_id == 9 and first.is_topic_message
    assert first.message_id >= 1000
    second = parsed[1].message
    assert second is not None and second.document is not None
    assert second.document.mime_type == "image/png"
    query = parsed[2].callback_query
    assert query is not None and query.data == "a" and query.message is not None
    assert await query.answer()


async def test_application_polling_replies(emu: TelegramEmulator) -> None:
    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        text = f"echo: {update.effective_message.text}"
        await update.effective_message.reply_text(text, do_quote=True)

    app: Application = (  # type: ignore[type-arg]
        ApplicationBuilder()
        .token(TOKEN)
        .base_url(emu.base_url)
        .base_file_url(emu.base_file_url)
        .build()
    )
    app.add_handler(MessageHandler(filters.TEXT, echo))
    await app.initialize()
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0.0, timeout=1)
    try:
        chat = private_chat(111)
        incoming = text_message(chat=chat, sender=user(111), text="hello")
        emu.push_update(message_update(incoming))
        [reply] = await emu.wait_for("sendMessage", timeout=5)
        assert reply.params["chat_id"] == 111
        assert reply.params["text"] == "echo: hello"
        assert reply.params["reply_parameters"]["message_id"] == incoming["message_id"]
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()
    assert emu.calls_to("deleteWebhook")
    # the update was acknowledged on shutdown
    assert await asyncio.wait_for(_ack_count(emu), 1) == 0


async def _ack_count(emu: TelegramEmulator) -> int:
    async with Bot(TOKEN, base_url=emu.base_url) as bot:
        return len(await bot.get_updates(timeout=0))


async def test_photo_document_caption_and_markup(emu: TelegramEmulator, bot: Bot) -> None:
    photo = await bot.send_photo(111, InputFile(b"png", filename="p.png"), caption="pic")
    assert photo.photo[-1].file_size == 3 and photo.caption == "pic"
    by_id = await bot.send_photo(111, photo.photo[-1].file_id)
    assert by_id.photo[-1].file_id == photo.photo[-1].file_id
    doc = await bot.send_document(111, InputFile(b"%PDF", filename="a.pdf"))
    assert doc.document is not None and doc.document.file_name == "a.pdf"
    assert emu.calls_to("sendDocument")[0].files == {"document": b"%PDF"}

    edited = await bot.edit_message_caption(
        111, photo.message_id, caption="<i>new</i>", parse_mode="HTML"
    )
    assert isinstance(edited, Message) and edited.caption == "new"
    assert edited.caption_entities[0].type == "italic"
    text = await bot.send_message(111, "t")
    with pytest.raises(BadRequest, match=r"(?i)no caption"):
        await bot.edit_message_caption(111, text.message_id, caption="c")

    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("A", callback_data="a")]])
    marked = await bot.edit_message_reply_markup(111, photo.message_id, reply_markup=keyboard)
    assert isinstance(marked, Message) and marked.reply_markup == keyboard
    with pytest.raises(BadRequest, match=r"(?i)not modified"):
        await bot.edit_message_reply_markup(111, photo.message_id, reply_markup=keyboard)

    assert await bot.set_my_commands([("animate", "Animate a photo")])
    assert [c.command for c in await bot.get_my_commands()] == ["animate"]
    assert emu.calls_to("setMyCommands")[0].params["commands"] == [
        {"command": "animate", "description": "Animate a photo"}
    ]

    # the bot may delete (but not edit) a message a user sent
    incoming = text_message(chat=private_chat(111), sender=user(111), text="hey")
    emu.push_update(message_update(incoming))
    with pytest.raises(BadRequest, match=r"(?i)can't be edited"):
        await bot.edit_message_text("x", chat_id=111, message_id=incoming["message_id"])
    assert await bot.delete_message(111, incoming["message_id"])


# --------------------------------------------------------------------------- refusals


# The older reply_to_message_id form is sent raw: the library no longer offers it.
@pytest.mark.filterwarnings("ignore:Please use 'Bot.sendMessage':telegram.warnings.PTBUserWarning")
async def test_reply_to_a_message_not_in_the_chat_is_refused(
    emu: TelegramEmulator, bot: Bot
) -> None:
    chat = group_chat(-100500)
    seen_only_in_a_reply = text_message(chat=chat, sender=user(222), text="an old message")
    incoming = text_message(chat=chat, sender=user(), text="hi", reply_to=seen_only_in_a_reply)
    emu.push_update(message_update(incoming))
    elsewhere = text_message(chat=private_chat(111), sender=user(), text="hi")
    emu.push_update(message_update(elsewhere))
    own = await bot.send_message(-100500, "mine")

    for target in (incoming["message_id"], seen_only_in_a_reply["message_id"], own.message_id):
        await bot.send_message(-100500, "ok", reply_parameters=ReplyParameters(target))
    await bot.do_api_request(
        "sendMessage",
        api_kwargs={"chat_id": -100500, "text": "old form", "reply_to_message_id": own.message_id},
    )

    await bot.delete_message(-100500, own.message_id)
    for missing in (999_999, elsewhere["message_id"], own.message_id):
        with pytest.raises(BadRequest, match=r"^Message to be replied not found$"):
            await bot.send_message(-100500, "x", reply_parameters=ReplyParameters(missing))
        with pytest.raises(BadRequest, match=r"^Message to be replied not found$"):
            await bot.do_api_request(
                "sendMessage",
                api_kwargs={"chat_id": -100500, "text": "x", "reply_to_message_id": missing},
            )
    with pytest.raises(BadRequest, match=r"^Message to be replied not found$"):
        await bot.send_video(-100500, "video-file-id", reply_parameters=ReplyParameters(999_999))
    assert len(emu.messages) == 4  # nothing refused was posted

    allowed = await bot.send_message(
        -100500, "a", reply_parameters=ReplyParameters(999_999, allow_sending_without_reply=True)
    )
    assert allowed.reply_to_message is None
    await bot.do_api_request(
        "sendMessage",
        api_kwargs={
            "chat_id": -100500,
            "text": "old form",
            "reply_to_message_id": 999_999,
            "allow_sending_without_reply": True,
        },
    )
    # A reply to a message of another chat names that chat.
    await bot.send_message(
        -100500, "b", reply_parameters=ReplyParameters(elsewhere["message_id"], chat_id=111)
    )


async def test_thread_outside_a_forum_is_refused(emu: TelegramEmulator, bot: Bot) -> None:
    group, forum = group_chat(-100500), group_chat(-100700, forum=True)
    for chat in (group, forum, private_chat(111)):
        emu.push_update(message_update(text_message(chat=chat, sender=user(), text="hi")))

    for chat_id in (-100500, 111, -100999):  # a plain group, a private chat, an unknown chat
        with pytest.raises(BadRequest, match=r"^Message thread not found$"):
            await bot.send_message(chat_id, "x", message_thread_id=7)
        with pytest.raises(BadRequest, match=r"^Message thread not found$"):
            await bot.send_video(chat_id, "video-file-id", message_thread_id=7)
        with pytest.raises(BadRequest, match=r"^Message thread not found$"):
            await bot.send_chat_action(chat_id, "upload_video", message_thread_id=7)
    assert emu.messages == {}

    in_topic = await bot.send_message(-100700, "x", message_thread_id=7)
    assert in_topic.message_thread_id == 7 and in_topic.is_topic_message
    assert await bot.send_chat_action(-100700, "upload_video", message_thread_id=7)
    assert (await bot.send_message(-100500, "no topic")).message_thread_id is None


async def test_callback_data_over_64_bytes_is_refused(emu: TelegramEmulator, bot: Bot) -> None:
    def keyboard(data: str) -> InlineKeyboardMarkup:
        return InlineKeyboardMarkup([[InlineKeyboardButton("A", callback_data=data)]])

    fits = "é" * 32  # 64 bytes in UTF-8
    sent = await bot.send_message(111, "pick", reply_markup=keyboard(fits))
    assert emu.messages[(111, sent.message_id)]["reply_markup"] == keyboard(fits).to_dict()

    too_long = fits + "x"
    with pytest.raises(BadRequest, match=r"^Button_data_invalid$"):
        await bot.send_message(111, "pick", reply_markup=keyboard(too_long))
    with pytest.raises(BadRequest, match=r"^Button_data_invalid$"):
        await bot.edit_message_text(
            "other", chat_id=111, message_id=sent.message_id, reply_markup=keyboard(too_long)
        )
    with pytest.raises(BadRequest, match=r"^Button_data_invalid$"):
        await bot.edit_message_reply_markup(111, sent.message_id, reply_markup=keyboard(too_long))
    assert list(emu.messages) == [(111, sent.message_id)]
    assert emu.messages[(111, sent.message_id)]["text"] == "pick"


async def test_callback_answer_over_200_characters_is_refused(
    emu: TelegramEmulator, bot: Bot
) -> None:
    message = await bot.send_message(111, "pick")
    first, second = (
        callback_update(sender=user(), message=emu.messages[(111, message.message_id)], data="a")
        for _ in range(2)
    )
    emu.push_update(first)
    emu.push_update(second)

    with pytest.raises(BadRequest, match=r"^Message_too_long$"):
        await bot.answer_callback_query(first["callback_query"]["id"], "я" * 201)
    # The refused answer did not use the query up.
    assert await bot.answer_callback_query(first["callback_query"]["id"], "я" * 200)
    assert await bot.answer_callback_query(second["callback_query"]["id"])


async def test_callback_query_answered_twice_or_unknown_is_refused(
    emu: TelegramEmulator, bot: Bot
) -> None:
    message = await bot.send_message(111, "pick")
    tap = callback_update(sender=user(), message=emu.messages[(111, message.message_id)], data="a")
    emu.push_update(tap)
    query_id = tap["callback_query"]["id"]

    assert await bot.answer_callback_query(query_id, "done")
    with pytest.raises(BadRequest, match=r"^Query is too old and response timeout expired"):
        await bot.answer_callback_query(query_id)
    with pytest.raises(BadRequest, match=r"(?i)or query ID is invalid$"):
        await bot.answer_callback_query("never-sent")


async def test_callback_query_answered_too_late_is_refused() -> None:
    async with (
        TelegramEmulator(TOKEN, callback_answer_window=0.3) as emu,
        Bot(TOKEN, base_url=emu.base_url) as bot,
    ):
        message = await bot.send_message(111, "pick")
        late, in_time = (
            callback_update(
                sender=user(), message=emu.messages[(111, message.message_id)], data="a"
            )
            for _ in range(2)
        )
        emu.push_update(late)
        await asyncio.sleep(0.4)
        emu.push_update(in_time)
        with pytest.raises(BadRequest, match=r"^Query is too old and response timeout expired"):
            await bot.answer_callback_query(late["callback_query"]["id"])
        assert await bot.answer_callback_query(in_time["callback_query"]["id"])
    assert CALLBACK_ANSWER_WINDOW == 15 * 60  # Telegram's own, by default


async def test_upload_over_50_mb_is_refused_with_413(emu: TelegramEmulator, bot: Bot) -> None:
    limit = 50 * 1024 * 1024
    assert limit == MAX_UPLOAD_SIZE
    for size in (limit + 1, limit + 20 * 1024 * 1024):  # over the limit, and over what is read
        with pytest.raises(NetworkError, match=r"^Request Entity Too Large$"):
            await bot.send_video(111, InputFile(b"v" * size, filename="big.mp4"))
    assert emu.messages == {}
    assert [c.method for c in emu.calls] == ["getMe", "sendVideo", "sendVideo"]

    sent = await bot.send_video(111, InputFile(b"v" * limit, filename="just.mp4"))
    assert sent.video is not None and sent.video.file_size == limit
