"""The adapter's tests run a library Bot against the Telegram emulator, as the emulator's own
tests do: the same `emu` and `bot` fixtures."""

from tests.emulators.conftest import bot, emu

__all__ = ["bot", "emu"]
