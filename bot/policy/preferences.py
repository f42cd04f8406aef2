"""A user's preferences, over the settings' defaults."""

from __future__ import annotations

from dataclasses import dataclass

from bot.wiring.services import Services
from storage.prefs import PrefsStore


@dataclass(frozen=True, slots=True)
class Prefs:
    """What applies to a user's next job."""

    prompt_optimizer: bool
    chosen: bool  # the user picked prompt_optimizer; else it is the PROMPT_OPTIMIZER setting


async def prefs_of(services: Services, user_id: int) -> Prefs:
    """The user's preferences, the settings filling in what they never chose."""
    own = await PrefsStore.of(services.store).prompt_optimizer(user_id)
    if own is None:
        return Prefs(prompt_optimizer=services.settings.prompt_optimizer, chosen=False)
    return Prefs(prompt_optimizer=own, chosen=True)


async def set_prompt_optimizer(services: Services, user_id: int, value: bool) -> Prefs:
    """Store the user's choice for `prompt_optimizer`; returns the preferences now."""
    await PrefsStore.of(services.store).set_prompt_optimizer(user_id, value, now=services.clock())
    return Prefs(prompt_optimizer=value, chosen=True)
