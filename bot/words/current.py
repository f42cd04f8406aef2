"""The language of the update being handled, bound once and read anywhere below it.

As in aiogram's i18n, a context variable carries the current language, so code deep in a
handler asks `current_words()` instead of passing a language code down every call. asyncio
copies the context into each task it starts, so concurrent updates never see each other's
language, and a task started inside `use_language` keeps the language it was started with.

A handler binds the user's Telegram language code for the time it handles an update::

    async def status(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        user = update.effective_user
        with use_language(user.language_code if user else None):
            await reply(current_words().NO_JOBS)

and a background step binds the language a job was asked in: `with use_language(job.language)`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from bot.words.texts import Words, texts_for

#: The Telegram language code bound for the current update or job; None: none bound (English).
_LANGUAGE: ContextVar[str | None] = ContextVar("language", default=None)


@contextmanager
def use_language(language_code: str | None) -> Iterator[Words]:
    """Bind `language_code` (a Telegram `language_code` such as "ru" or "pt-br", or None) for
    the code run inside the block and the tasks it starts; yields its words. On leaving the
    block the language bound before it is back, even when the block raised."""
    token = _LANGUAGE.set(language_code)
    try:
        yield texts_for(language_code)
    finally:
        _LANGUAGE.reset(token)


def current_language() -> str | None:
    """The language code bound by the innermost `use_language`, or None outside any."""
    return _LANGUAGE.get()


def current_words() -> Words:
    """The words of the bound language (`texts_for` of it): English outside any
    `use_language`, and for a language the bot does not speak."""
    return texts_for(_LANGUAGE.get())


def bind_language(language_code: str | None) -> None:
    """Bind `language_code` for the rest of the current task: what the wiring does once per
    update, before any handler runs (python-telegram-bot handles each update in one task, and
    binds the next update's language before its handlers run)."""
    _LANGUAGE.set(language_code)
