"""Messages to the admins when the operator must act: the day's cap reached, the account out
of credits, the key or route refused, or the API failing again and again.

Any step may raise an alert; it waits in an outbox, and the alerts tick sends it to every
admin in ADMIN_USER_IDS. Each reason is sent at most once an hour, so a burst of refused
requests makes one message, not hundreds. The outbox, and the count of failing submissions,
are in the database (`storage.health.AlertStore`): however many instances run, an alert is
queued once an hour and sent once.
"""

from __future__ import annotations

import logging
from enum import StrEnum

from bot.engine.chat_port import Chat, ChatError
from storage.health import AlertStore

log = logging.getLogger(__name__)

#: Least seconds between two alerts of the same reason.
ALERT_INTERVAL = 3600.0
#: Submissions in a row that end without a confirmed job before the API counts as failing.
FAILING_STREAK = 3


class Alert(StrEnum):
    """Why the admins are told."""

    DAILY_CAP = "daily_cap"  # DAILY_JOBS_TOTAL reached: new requests are refused today
    OUT_OF_CREDITS = "out_of_credits"  # the API answered 402/403
    MISCONFIGURED = "misconfigured"  # the API refused the key (401) or the route (404)
    FAILING = "failing"  # FAILING_STREAK submissions in a row ended unconfirmed or busy


class AdminAlerts:
    """The admins' alerts, kept in `store`: the outbox, when each reason was last raised, and
    the submissions in a row that ended unconfirmed."""

    def __init__(self, store: AlertStore) -> None:
        self._store = store

    async def raise_alert(self, reason: Alert, text: str, *, now: float) -> bool:
        """Queue `text` for the admins unless `reason` was raised within the hour (by any
        instance); returns whether it was queued."""
        queued = await self._store.raise_once(reason.value, text, now=now, interval=ALERT_INTERVAL)
        if queued:
            log.warning("alert for the admins (%s): %s", reason, text)
        return queued

    async def note_submission(self, *, confirmed: bool) -> bool:
        """Count a submission's end; True while the API counts as failing (the hourly limit
        of `raise_alert` keeps a long outage to one message an hour)."""
        return await self._store.count_submission(confirmed=confirmed) >= FAILING_STREAK

    async def take_unsent(self, *, now: float) -> list[tuple[str, str]]:
        """The alerts waiting to be sent, as (reason, text), marked sent at `now`: of
        instances taking at once, each alert goes to one."""
        return await self._store.take_unsent(now=now)


async def send_alerts(chat: Chat, alerts: AdminAlerts, admins: list[int], *, now: float) -> int:
    """Send every queued alert to every admin; returns how many messages went out. An alert
    is taken once across instances (at `now`), and not sent again should this fail. An admin
    who never started a chat with the bot cannot be written to: that is logged."""
    pending = await alerts.take_unsent(now=now)
    sent = 0
    for reason, text in pending:
        for admin in admins:
            try:
                await chat.send_message(admin, text)
                sent += 1
            except ChatError as error:
                log.warning("could not tell admin %s of %s: %s", admin, reason, error)
    return sent
