"""The webhook's inbox on both engines: an update is kept once, and what was not handled to the
end is found again."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from storage import JobStore
from storage.inbox import UpdateInbox
from tests.databases import TestDatabase

T0 = 1_800_000_000.0


@pytest.fixture
async def inbox(database: TestDatabase) -> AsyncIterator[UpdateInbox]:
    store = await JobStore.open(database.where)
    try:
        yield UpdateInbox.of(store)
    finally:
        await store.close()


def _update(update_id: int, text: str = "/status") -> dict[str, object]:
    return {"update_id": update_id, "message": {"message_id": update_id, "text": text}}


async def test_an_update_is_kept_once_however_often_it_is_posted(inbox: UpdateInbox) -> None:
    assert await inbox.keep(_update(7), now=T0) is True
    assert await inbox.keep(_update(7), now=T0 + 1) is False
    assert await inbox.unhandled() == [_update(7)]


async def test_what_was_not_handled_to_the_end_is_found_again_oldest_first(
    inbox: UpdateInbox,
) -> None:
    for update_id, at in ((3, T0 + 2), (1, T0), (2, T0 + 1)):
        await inbox.keep(_update(update_id, f"привет {update_id}"), now=at)
    await inbox.mark_handled(1, now=T0 + 5)
    assert [u["update_id"] for u in await inbox.unhandled()] == [2, 3]
    assert (await inbox.unhandled())[0] == _update(2, "привет 2")  # kept as posted
    # Still known once handled: posted again, it is not taken again.
    assert await inbox.keep(_update(1), now=T0 + 6) is False


async def test_handled_updates_are_forgotten_after_a_while_and_unhandled_ones_never(
    inbox: UpdateInbox,
) -> None:
    await inbox.keep(_update(1), now=T0)
    await inbox.keep(_update(2), now=T0)
    await inbox.mark_handled(1, now=T0 + 10)
    assert await inbox.forget_handled(before=T0 + 5) == 0
    assert await inbox.forget_handled(before=T0 + 86_400) == 1
    assert [u["update_id"] for u in await inbox.unhandled()] == [2]
