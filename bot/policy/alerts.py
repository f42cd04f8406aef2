"""Messages to the admins when the operator must act: the day's cap reached, the account out
of credits, the key or route refused, or the API failing again and again.

Any step may raise an alert; it waits in an outbox, and the alerts tick sends it to every
admin in ADMIN_USER_IDS. Each reason is sent at most once an hour, so a burst of refused
requests makes one message, not hundreds.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from enum import StrEnum

from bot.engine.chat_port import Chat, ChatError

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


@dataclass
class AdminAlerts:
    """The outbox of alerts, and when each reason was last raised."""

    outbox: list[tuple[Alert, str]] = field(default_factory=list)
    last_raised: dict[Alert, float] = field(default_factory=dict)
    failures_in_a_row: int = 0

    def raise_alert(self, reason: Alert, text: str, *, now: float) -> bool:
        """Queue `text` for the admins unless `reason` was raised within the hour; returns
        whether it was queued."""
        last = self.last_raised.get(reason)
        if last is not None and now - last < ALERT_INTERVAL:
            return False
        self.last_raised[reason] = now
        self.outbox.append((reason, text))
        log.warning("alert for the admins (%s): %s", reason, text)
        return True

    def note_submission(self, *, confirmed: bool) -> bool:
        """Count a submission's end; True while the API counts as failing (the hourly limit
        of `raise_alert` keeps a long outage to one message an hour)."""
        self.failures_in_a_row = 0 if confirmed else self.failures_in_a_row + 1
        return self.failures_in_a_row >= FAILING_STREAK


async def send_alerts(chat: Chat, alerts: AdminAlerts, admins: list[int]) -> int:
    """Send every queued alert to every admin; returns how many messages went out. An admin
    who never started a chat with the bot cannot be written to: that is logged."""
    pending, alerts.outbox[:] = list(alerts.outbox), []
    sent = 0
    for reason, text in pending:
        for admin in admins:
            try:
                await chat.send_message(admin, text)
                sent += 1
            except ChatError as error:
                log.warning("could not tell admin %s of %s: %s", admin, reason, error)
    return sent
