"""The Telegram emulator's forum topics: a deleted topic takes its messages with it."""

from __future__ import annotations

import pytest
from telegram import Bot, ReplyParameters
from telegram.error import BadRequest

from tests.emulators.telegram_emulator import (
    TelegramEmulator,
    group_chat,
    message_update,
    text_message,
    user,
)

FORUM = -100700


async def test_a_deleted_topic_refuses_sends_and_loses_its_messages(
    emu: TelegramEmulator, bot: Bot
) -> None:
    chat = group_chat(FORUM, forum=True)
    asked = text_message(chat=chat, sender=user(), text="hi", thread_id=7, is_topic_message=True)
    elsewhere = text_message(
        chat=chat, sender=user(), text="hey", thread_id=8, is_topic_message=True
    )
    emu.push_update(message_update(asked))
    emu.push_update(message_update(elsewhere))
    answer = await bot.send_message(FORUM, "in 7", message_thread_id=7)
    kept = await bot.send_message(FORUM, "in 8", message_thread_id=8)

    emu.delete_topic(FORUM, 7)

    with pytest.raises(BadRequest, match=r"^Message thread not found$"):
        await bot.send_message(FORUM, "x", message_thread_id=7)
    with pytest.raises(BadRequest, match=r"^Message thread not found$"):
        await bot.send_video(FORUM, "video-file-id", message_thread_id=7)
    with pytest.raises(BadRequest, match=r"^Message thread not found$"):
        await bot.send_chat_action(FORUM, "upload_video", message_thread_id=7)
    with pytest.raises(BadRequest, match=r"^Message to edit not found$"):
        await bot.edit_message_text("edited", chat_id=FORUM, message_id=answer.message_id)
    with pytest.raises(BadRequest, match=r"^Message to be replied not found$"):
        await bot.send_message(FORUM, "re", reply_parameters=ReplyParameters(asked["message_id"]))
    # The rest of the forum is untouched.
    assert (FORUM, kept.message_id) in emu.messages
    await bot.send_message(FORUM, "re", reply_parameters=ReplyParameters(elsewhere["message_id"]))
    main = await bot.send_message(FORUM, "in the main chat")
    assert main.message_thread_id is None
