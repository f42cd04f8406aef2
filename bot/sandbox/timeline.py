"""A stand-in job's life on the clock: queued, then generating, then its outcome."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class JobStatus(StrEnum):
    """The statuses the API reports for a MiniMax job (its schema's four)."""

    QUEUED = "queued"  # accepted, waiting for a free renderer
    GENERATING = "generating"  # the model is at work
    COMPLETED = "completed"  # the video is ready at its link
    ERROR = "error"  # the job failed; the answer's `error` says why


@dataclass(frozen=True, slots=True)
class Timeline:
    """When a job leaves each status, in ``time.monotonic()`` seconds."""

    queued_until: float  # end of "queued"
    ready_at: float  # end of "generating": the outcome from then on

    @classmethod
    def starting(
        cls, created_at: float, queued_seconds: float, generating_seconds: float
    ) -> Timeline:
        """The timeline of a job created at ``created_at``."""
        queued_until = created_at + queued_seconds
        return cls(queued_until=queued_until, ready_at=queued_until + generating_seconds)

    def status_at(self, now: float, outcome: str) -> str:
        """The status at ``now``: "queued", "generating", then ``outcome`` (any final status)."""
        return status_on_timeline(
            now, queued_until=self.queued_until, ready_at=self.ready_at, outcome=outcome
        )


def status_on_timeline(now: float, *, queued_until: float, ready_at: float, outcome: str) -> str:
    """The status at ``now`` of a job queued until ``queued_until`` and final at ``ready_at``."""
    if now < queued_until:
        return JobStatus.QUEUED.value
    if now < ready_at:
        return JobStatus.GENERATING.value
    return outcome
