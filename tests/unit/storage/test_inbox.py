"""The webhook's inbox on both engines: an update is kept once, and what was not handled to the
end is taken over once its lease ran out, by one instance."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from storage import JobStore
from storage.inbox import UpdateInbox
from storage.jobs import Lease
from tests.databases import TestDatabase

T0 = 1_800_000_000.0


@pytest.fixture
async def inbox(database: TestDatabase) -> AsyncIterator[UpdateInbox]:
    store = await JobStore.open(database.where)
    try:
        yield UpdateInbox.of(store)
    finally:
        await store.close()


#: The lease of the instance that took the posts: it runs out at T0 + 30.
MINE = Lease("a/1/0001", T0 + 30)
LATER = T0 + 31


def _update(update_id: int, text: str = "/status") -> dict[str, object]:
    return {"update_id": update_id, "message": {"message_id": update_id, "text": text}}


async def test_an_update_is_kept_once_however_often_it_is_posted(inbox: UpdateInbox) -> None:
    assert await inbox.keep(_update(7), now=T0, lease=MINE) is True
    assert await inbox.keep(_update(7), now=T0 + 1, lease=Lease("b/2/0002", T0 + 31)) is False
    # Held while the instance that kept it handles it; taken over once that lease ran out.
    assert await inbox.claim_abandoned(lease=Lease("b/2/0002", T0 + 60), now=T0 + 29) == []
    assert await inbox.claim_abandoned(lease=Lease("b/2/0002", T0 + 60), now=LATER) == [_update(7)]
    # Taken over once: the next claimer finds it held again.
    assert await inbox.claim_abandoned(lease=Lease("c/3/0003", T0 + 60), now=LATER) == []


async def test_what_was_not_handled_to_the_end_is_found_again_oldest_first(
    inbox: UpdateInbox,
) -> None:
    for update_id, at in ((3, T0 + 2), (1, T0), (2, T0 + 1)):
        await inbox.keep(_update(update_id, f"привет {update_id}"), now=at, lease=MINE)
    await inbox.mark_handled(1, now=T0 + 5)
    found = await inbox.claim_abandoned(lease=Lease("b/2/0002", T0 + 90), now=LATER)
    assert [u["update_id"] for u in found] == [2, 3]
    assert found[0] == _update(2, "привет 2")  # kept as posted
    # Still known once handled: posted again, it is not taken again.
    assert await inbox.keep(_update(1), now=T0 + 6, lease=MINE) is False


async def test_handled_updates_are_forgotten_after_a_while_and_unhandled_ones_never(
    inbox: UpdateInbox,
) -> None:
    await inbox.keep(_update(1), now=T0, lease=MINE)
    await inbox.keep(_update(2), now=T0, lease=MINE)
    await inbox.mark_handled(1, now=T0 + 10)
    assert await inbox.forget_handled(before=T0 + 5) == 0
    assert await inbox.forget_handled(before=T0 + 86_400) == 1
    found = await inbox.claim_abandoned(lease=Lease("b/2/0002", T0 + 90_000), now=T0 + 86_401)
    assert [u["update_id"] for u in found] == [2]
