"""SQLite storage of jobs: plain records in, plain records out."""

from storage.jobs import (
    DOWNLOAD_FAILED,
    GENERATION_LOST,
    LOST_WHILE_SUBMITTING,
    NO_VIDEO,
    NOT_SUBMITTED,
    RESTARTED_DURING_SUBMIT,
    SAME_VIDEO_COMING,
    STAYED_BUSY,
    VIDEO_EXPIRED,
    DatabaseInUse,
    Job,
    JobState,
    JobStore,
    NewJob,
)

__all__ = [
    "DOWNLOAD_FAILED",
    "GENERATION_LOST",
    "LOST_WHILE_SUBMITTING",
    "NOT_SUBMITTED",
    "NO_VIDEO",
    "RESTARTED_DURING_SUBMIT",
    "SAME_VIDEO_COMING",
    "STAYED_BUSY",
    "VIDEO_EXPIRED",
    "DatabaseInUse",
    "Job",
    "JobState",
    "JobStore",
    "NewJob",
]
