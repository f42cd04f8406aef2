"""The admins' alerts (bot.policy.alerts) as two instances on one database raise and send
them: each told once, to every admin."""

from __future__ import annotations

import asyncio

from bot.engine.chat_port import ChatClosed
from bot.policy.alerts import ALERT_INTERVAL, FAILING_STREAK, AdminAlerts, Alert, send_alerts
from storage.health import AlertStore
from tests.databases import TestDatabase, two_instances
from tests.unit.engine.fakechat import FakeChat

T0 = 1_800_000_000.0
ADMINS = [999, 998]


def sent_to(chat: FakeChat, admin: int) -> list[str]:
    return [call.params["text"] for call in chat.calls if call.params["chat_id"] == admin]


async def test_an_alert_raised_by_two_instances_reaches_every_admin_once(
    database: TestDatabase,
) -> None:
    async with two_instances(database) as (first, second):
        one, other = AdminAlerts(AlertStore.of(first)), AdminAlerts(AlertStore.of(second))
        raised = await asyncio.gather(
            one.raise_alert(Alert.DAILY_CAP, "cap reached", now=T0),
            other.raise_alert(Alert.DAILY_CAP, "cap reached", now=T0 + 1),
        )
        assert sorted(raised) == [False, True]
        chat = FakeChat()
        sent = await asyncio.gather(
            send_alerts(chat, one, ADMINS, now=T0 + 2),
            send_alerts(chat, other, ADMINS, now=T0 + 2),
        )
        assert sorted(sent) == [0, 2]
        assert [sent_to(chat, admin) for admin in ADMINS] == [["cap reached"]] * 2
        assert await send_alerts(chat, one, ADMINS, now=T0 + ALERT_INTERVAL) == 0


async def test_an_admin_who_cannot_be_written_to_does_not_keep_the_others_from_hearing(
    database: TestDatabase,
) -> None:
    async with two_instances(database) as (first, _):
        alerts = AdminAlerts(AlertStore.of(first))
        await alerts.raise_alert(Alert.OUT_OF_CREDITS, "no credits", now=T0)
        chat = FakeChat()
        chat.fail("send_message", ChatClosed("blocked"), when=lambda p: p["chat_id"] == 999)
        assert await send_alerts(chat, alerts, ADMINS, now=T0) == 1
        assert sent_to(chat, 998) == ["no credits"]


async def test_unconfirmed_submissions_on_two_instances_add_up_to_one_failing_streak(
    database: TestDatabase,
) -> None:
    async with two_instances(database) as (first, second):
        instances = [AdminAlerts(AlertStore.of(first)), AdminAlerts(AlertStore.of(second))]
        failing = [
            await instances[n % 2].note_submission(confirmed=False) for n in range(FAILING_STREAK)
        ]
        assert failing == [False] * (FAILING_STREAK - 1) + [True]
        assert not await instances[0].note_submission(confirmed=True)
        assert not await instances[1].note_submission(confirmed=False)
