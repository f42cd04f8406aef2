"""This instance's leases on jobs: who it is, how long a lease of its holds, and the heartbeat.

Every step that must happen once holds the job's lease while it runs (`storage.leases`). The
intake and the line record or take a job already leased to this instance; the poll tick claims
the due jobs with their leases; a step that finds a job by another way takes its lease first
and leaves it alone when another step (here or in another instance) holds it.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
from enum import StrEnum
from typing import Any

from bot.engine.tuning import Clock
from storage import Job, JobState
from storage.jobs import Lease
from storage.leases import LeaseStore


def instance_owner(name: str = "") -> str:
    """This process's name in the leases: `name` (or the host's), its pid, and a few random
    digits, so that a restarted process (pid 1 again, in a container) is never taken for the
    one before it."""
    return f"{name or socket.gethostname()}/{os.getpid()}/{secrets.token_hex(2)}"


class Leaseholder:
    """The leases `owner` takes in `store`, each holding `seconds` past its last renewal by
    the heartbeat (`renew`, every third of that).

    It also knows which jobs a step of this process is working on (`held`): a lease of this
    instance's that ran out and was taken again (by this instance's own next tick) is never
    worked on twice at once here, and the heartbeat renews only the leases of steps still
    running, so that one whose release failed runs out, and its job is taken on again."""

    def __init__(self, store: LeaseStore, clock: Clock, *, owner: str, seconds: float) -> None:
        self._store, self._clock = store, clock
        self.owner, self.seconds = owner, seconds
        self.held: set[int] = set()

    def lease(self) -> Lease:
        """A lease of this instance's, from now: for a row recorded or taken already held."""
        return Lease(self.owner, self._clock() + self.seconds)

    def hold(self, job_id: int) -> bool:
        """Note that a step works on the job under a lease recorded with it (admission's, the
        line's); False when another step of this process has it already."""
        if job_id in self.held:
            return False
        self.held.add(job_id)
        return True

    async def claim_due(self, *, limit: int) -> list[Job]:
        """The due jobs no step holds, `limit` at most, oldest due first, each leased here."""
        if limit <= 0:
            return []
        now = self._clock()
        claimed = await self._store.claim_due(
            owner=self.owner, now=now, until=now + self.seconds, limit=limit
        )
        # A job a step here still works on (its lease ran out, and this claim took it again)
        # stays that step's alone.
        return [job for job in claimed if self.hold(job.id)]

    async def take(self, job_id: int) -> Job | None:
        """The job, leased here; None while another step holds it."""
        if job_id in self.held:
            return None
        now = self._clock()
        taken = await self._store.take(job_id, owner=self.owner, now=now, until=now + self.seconds)
        if taken is None or not self.hold(job_id):
            return None
        return taken

    async def take_soon(self, job_id: int, *, within: float, every: float = 0.1) -> Job | None:
        """The job, leased here, as soon as the step holding it lets it go, within `within`
        seconds; None if it is still held then (that step, or the tick after it, goes on)."""
        deadline = self._clock() + within
        while True:
            taken = await self.take(job_id)
            if taken is not None or self._clock() >= deadline:
                return taken
            await asyncio.sleep(every)

    async def confirm(
        self, job_id: int, *, expected: JobState | None = None, **changes: Any
    ) -> Job | None:
        """The job, with `changes` written, if this instance still holds its lease (renewed
        from now) and, with `expected`, the job is still in that state; None when another
        instance took it over while this one was slow, or it moved on."""
        now = self._clock()
        changes = {key: v.value if isinstance(v, StrEnum) else v for key, v in changes.items()}
        return await self._store.confirm(
            job_id,
            owner=self.owner,
            until=now + self.seconds,
            expected=expected.value if expected is not None else None,
            updated_at=now,
            **changes,
        )

    async def release(self, job_id: int) -> None:
        """Let the job go: another step (here or elsewhere) may take it from now on."""
        self.held.discard(job_id)  # first: should the write fail, the lease runs out
        await self._store.release(job_id, owner=self.owner)

    async def renew(self) -> int:
        """The heartbeat: the lease of every job a step here works on holds `seconds` from
        now (and those of the updates being handled); returns how many jobs."""
        return await self._store.renew(
            owner=self.owner, until=self._clock() + self.seconds, job_ids=sorted(self.held)
        )

    async def release_all(self) -> int:
        """Let every job held here go (a clean stop); returns how many."""
        self.held.clear()
        return await self._store.release_all(owner=self.owner)

    async def recover_abandoned(self) -> tuple[int, int]:
        """Take over what instances that died (or stopped halfway) left between intake and the
        paid API's answer (`LeaseStore.recover_abandoned`); returns (resumed, interrupted)."""
        return await self._store.recover_abandoned(owner=self.owner, now=self._clock())
