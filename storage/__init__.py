"""SQLite storage of jobs: plain records in, plain records out."""

from storage.jobs import (
    RESTARTED_BEFORE_SUBMIT,
    RESTARTED_DURING_SUBMIT,
    Job,
    JobState,
    JobStore,
    NewJob,
)

__all__ = [
    "RESTARTED_BEFORE_SUBMIT",
    "RESTARTED_DURING_SUBMIT",
    "Job",
    "JobState",
    "JobStore",
    "NewJob",
]
