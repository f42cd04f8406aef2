"""The running bot's steps, assembled once by the wiring: what the handlers and the ticks call.

Each step names its own needs (`bot.wiring.application` builds them); this record only hands
them to the handlers, through `steps_of(context.bot_data)`. The engine never sees it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.engine.delivery import JobChat
from bot.engine.durations import GenerationTimes
from bot.engine.leases import Leaseholder
from bot.engine.line import Line
from bot.engine.pipeline import Pipeline
from bot.engine.poller import Poller
from bot.engine.progress import StatusMessages
from bot.engine.tuning import Clock
from bot.policy.admission import Admissions
from bot.policy.alerts import AdminAlerts
from bot.policy.preferences import Preferences
from bot.wiring.settings import Settings
from storage import JobStore

STEPS_KEY = "steps"


@dataclass(frozen=True, slots=True)
class Steps:
    """The steps of a running bot, and the few facts its handlers read directly."""

    settings: Settings
    store: JobStore
    clock: Clock
    bot_username: str
    # How long videos have recently taken at the API: what /help tells users to expect.
    generation_times: GenerationTimes
    # What the admins must hear of, waiting for the alerts tick.
    alerts: AdminAlerts
    # This instance's leases on jobs: each step holds its job's while it works on it.
    leases: Leaseholder
    admission: Admissions
    preferences: Preferences
    job_chat: JobChat
    progress: StatusMessages
    pipeline: Pipeline
    line: Line
    poller: Poller


def steps_of(bot_data: dict[Any, Any]) -> Steps:
    """The running bot's steps, from the application's `bot_data`."""
    steps = bot_data[STEPS_KEY]
    assert isinstance(steps, Steps)
    return steps
