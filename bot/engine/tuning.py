"""The clock and the timings every step of the job engine is built with."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

#: Seconds since the epoch, as `time.time` gives them; tests hand in a clock of their own.
Clock = Callable[[], float]


@dataclass(frozen=True, slots=True)
class Tuning:
    """Timings that tests and benchmarks shorten; the defaults are the product's."""

    submit_backoff_seconds: float = 5.0  # first pause of a request the API was busy for,
    max_submit_pause_seconds: float = 300.0  # doubled at each busy answer, up to this
    busy_pause_seconds: float = 5.0  # every create waits this long after a busy answer
    paced_creates_per_minute: float = 20.0  # kept to once the API answered 429 (bot.aimlapi.pacing)
    max_backoff_seconds: float = 300.0  # ceiling of a job's poll or delivery backoff
    missing_generation_polls: int = 3  # 404s in a row before a generation counts as lost
    # Tries of a reply the chat refuses (no right to post there, say), with the poll backoff
    # between them (~25 min in all), in case the chat's admins mend it; then it is given up.
    refused_reply_attempts: int = 10
    late_poll_seconds: float = 300.0  # how often a job past JOB_TIMEOUT_SECONDS is checked
    late_patience_seconds: float = 6 * 3600.0  # after submission; then it is given up
    due_batch: int = 1000  # most jobs one tick takes on
    create_timeout_seconds: float = 60.0  # a create call unanswered this long is ambiguous
    progress_edit_private: float = 10.0  # least seconds between progress edits, private chats
    progress_edit_group: float = 30.0  # the same in groups, where Telegram allows fewer edits
    images_at_once: int = 2  # images being downloaded and checked at once: each up to ~250 MB
    frames_at_once: int = 2  # encoded frames waiting for (or in) their create call: ~30 MB each
