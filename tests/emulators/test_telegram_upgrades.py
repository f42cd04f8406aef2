"""The Telegram emulator's groups that become supergroups: the old id answers with the new."""

from __future__ import annotations

import pytest
from telegram import Bot
from telegram.error import ChatMigrated

from tests.emulators.telegram_emulator import TelegramEmulator


async def test_an_upgraded_group_answers_every_call_with_its_new_id(
    emu: TelegramEmulator, bot: Bot
) -> None:
    before = await bot.send_message(-4242, "before")
    emu.upgrade_group(-4242, -1009999)
    with pytest.raises(ChatMigrated) as sent:
        await bot.send_message(-4242, "x")
    with pytest.raises(ChatMigrated) as edited:
        await bot.edit_message_text("y", chat_id=-4242, message_id=before.message_id)
    with pytest.raises(ChatMigrated) as deleted:
        await bot.delete_message(-4242, before.message_id)
    assert {e.value.new_chat_id for e in (sent, edited, deleted)} == {-1009999}
    after = await bot.send_message(-1009999, "after")
    assert after.chat.id == -1009999
