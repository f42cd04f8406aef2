"""The language bound per update: read anywhere below `use_language`, its own in each task."""

from __future__ import annotations

import asyncio

import pytest

from bot.words.current import current_language, current_words, use_language
from bot.words.texts import ENGLISH, LANGUAGES, RUSSIAN, Words


def test_outside_any_binding_the_words_are_english() -> None:
    assert current_language() is None
    assert current_words() is ENGLISH


def test_a_bound_language_is_read_below_and_the_outer_one_comes_back() -> None:
    with use_language("ru-RU") as words:
        assert words is RUSSIAN and current_words() is RUSSIAN
        assert current_language() == "ru-RU"
        with use_language("pt-br") as inner:
            assert inner is LANGUAGES["pt_BR"] is current_words()
        assert current_words() is RUSSIAN
    assert current_words() is ENGLISH and current_language() is None


def test_the_outer_language_comes_back_after_an_error() -> None:
    with use_language("fa"), pytest.raises(RuntimeError), use_language("uk"):
        raise RuntimeError("the handler broke")
    assert current_words() is ENGLISH


def test_an_unknown_language_speaks_english() -> None:
    with use_language("xx") as words:
        assert words is ENGLISH is current_words()


async def test_two_concurrent_tasks_keep_their_own_language() -> None:
    turns: list[str] = []

    async def handle(code: str) -> list[str]:
        seen = []
        with use_language(code):
            for _ in range(3):
                await asyncio.sleep(0)  # the other task runs in between
                turns.append(code)
                seen.append(str(current_words().locale))
        assert current_language() is None
        return seen

    russian, persian = await asyncio.gather(handle("ru"), handle("fa"))
    assert russian == ["ru"] * 3 and persian == ["fa"] * 3
    assert turns[:2] == ["ru", "fa"]  # they did interleave
    assert current_words() is ENGLISH


async def test_a_task_started_inside_a_binding_keeps_that_language() -> None:
    async def words_after_a_pause() -> Words:
        await asyncio.sleep(0.01)
        return current_words()

    with use_language("tr"):
        follower = asyncio.create_task(words_after_a_pause())
    assert current_words() is ENGLISH  # left the block before the task read it
    assert (await follower) is LANGUAGES["tr"]
