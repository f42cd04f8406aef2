"""The job engine's meter port: the events of its work that an operator counts.

The engine knows no metrics library. Each step that reports is handed a `Meter` and calls one
method per event, with the engine's own codes; the wiring implements it once, with
prometheus-client (`bot.wiring.metrics`). `NO_METER` does nothing, for unit tests and tools.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from bot.engine.submission import SubmitOutcome
    from bot.image.firstframe import ImageProblem
    from storage import Job


class DeliveryPath(StrEnum):
    """How a finished video reached its chat."""

    URL = "url"  # Telegram fetched it by the API's link itself
    UPLOAD = "upload"  # the bot downloaded it and uploaded the file
    LINK = "link"  # too large to upload, or the chat takes no video: the link, as a message


class Meter(Protocol):
    """What the engine reports. Each method is called once per event, never raises, and
    returns at once (it only counts)."""

    def create_ended(self, outcome: SubmitOutcome) -> None:
        """A create call to the paid API ended with `outcome` (a busy answer, tried again
        later, is one call of its own)."""

    def quota_refunded(self, job: Job) -> None:
        """`job` just ended in a way that gives its place in the day's count back: refused,
        failed, timed out, never sent, or cancelled while it waited (its state and reason
        say which)."""

    def image_refused(self, problem: ImageProblem) -> None:
        """A job's image could not be used as a first frame, for `problem`."""

    def video_sent(self, path: DeliveryPath) -> None:
        """A finished video reached its chat by `path`."""

    def video_delivered(self, status_calls: int) -> None:
        """A job was recorded as delivered, after `status_calls` answered status calls."""


class NullMeter:
    """A meter that counts nothing."""

    def create_ended(self, outcome: SubmitOutcome) -> None:
        return None

    def quota_refunded(self, job: Job) -> None:
        return None

    def image_refused(self, problem: ImageProblem) -> None:
        return None

    def video_sent(self, path: DeliveryPath) -> None:
        return None

    def video_delivered(self, status_calls: int) -> None:
        return None


#: The meter of a bot that is not measured.
NO_METER: Meter = NullMeter()
