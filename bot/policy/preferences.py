"""A user's preferences, over the settings' defaults."""

from __future__ import annotations

from dataclasses import dataclass

from bot.engine.tuning import Clock
from storage import JobStore
from storage.prefs import PrefsStore


@dataclass(frozen=True, slots=True)
class Prefs:
    """What applies to a user's next job."""

    prompt_optimizer: bool
    chosen: bool  # the user picked prompt_optimizer; else it is the PROMPT_OPTIMIZER setting


class Preferences:
    """The users' own choices in `store`; `prompt_optimizer`: the setting for those who never
    chose."""

    def __init__(self, store: JobStore, clock: Clock, *, prompt_optimizer: bool) -> None:
        self._prefs, self._clock, self._default = PrefsStore.of(store), clock, prompt_optimizer

    async def prefs_of(self, user_id: int) -> Prefs:
        """The user's preferences, the settings filling in what they never chose."""
        own = await self._prefs.prompt_optimizer(user_id)
        if own is None:
            return Prefs(prompt_optimizer=self._default, chosen=False)
        return Prefs(prompt_optimizer=own, chosen=True)

    async def set_prompt_optimizer(self, user_id: int, value: bool) -> Prefs:
        """Store the user's choice for `prompt_optimizer`; returns the preferences now."""
        await self._prefs.set_prompt_optimizer(user_id, value, now=self._clock())
        return Prefs(prompt_optimizer=value, chosen=True)
