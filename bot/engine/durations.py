"""How long a video usually takes at the video service, learned from the jobs it finished.

Users are told how long to expect, and a job that runs past it is called slower than usual
rather than left to look stuck. Until a few jobs have finished, the expectation is the API's
observed timeline: about 3 minutes from submission to a finished video.
"""

from __future__ import annotations

import collections
import statistics
from collections.abc import Iterable

#: The observed time from submission to a finished video (shared/reference/aimlapi.md).
USUAL_SECONDS = 180.0
#: Finished jobs needed before their own times replace USUAL_SECONDS.
MIN_SAMPLES = 5
#: The most recent finished jobs the expectation is learned from.
KEEP = 50


class GenerationTimes:
    """The last KEEP submission-to-finish times, and the typical one among them."""

    def __init__(self, seconds: Iterable[float] = ()) -> None:
        self._seconds: collections.deque[float] = collections.deque(maxlen=KEEP)
        for value in seconds:
            self.add(value)

    def add(self, seconds: float) -> None:
        """Learn from a job the video service just finished, `seconds` after submission."""
        if seconds > 0:
            self._seconds.append(seconds)

    @property
    def typical(self) -> float:
        """The median of the recent times; USUAL_SECONDS while fewer than MIN_SAMPLES."""
        if len(self._seconds) < MIN_SAMPLES:
            return USUAL_SECONDS
        return statistics.median(self._seconds)

    def running_late(self, elapsed: float) -> bool:
        """Whether a job `elapsed` seconds after submission is clearly slower than usual:
        half as long again as the typical job, and a minute past it at least."""
        typical = self.typical
        return elapsed > max(1.5 * typical, typical + 60.0)
