"""SQLite storage of jobs: plain records in, plain records out."""

from storage.jobs import (
    NOT_SUBMITTED,
    RESTARTED_DURING_SUBMIT,
    Job,
    JobState,
    JobStore,
    NewJob,
)

__all__ = [
    "NOT_SUBMITTED",
    "RESTARTED_DURING_SUBMIT",
    "Job",
    "JobState",
    "JobStore",
    "NewJob",
]
