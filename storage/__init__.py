"""SQLite storage of jobs: plain records in, plain records out."""

from storage.jobs import (
    GENERATION_LOST,
    NO_VIDEO,
    NOT_SUBMITTED,
    RESTARTED_DURING_SUBMIT,
    VIDEO_EXPIRED,
    DatabaseInUse,
    Job,
    JobState,
    JobStore,
    NewJob,
)

__all__ = [
    "GENERATION_LOST",
    "NOT_SUBMITTED",
    "NO_VIDEO",
    "RESTARTED_DURING_SUBMIT",
    "VIDEO_EXPIRED",
    "DatabaseInUse",
    "Job",
    "JobState",
    "JobStore",
    "NewJob",
]
