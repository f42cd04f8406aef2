"""Storage of jobs, on SQLite or PostgreSQL: plain records in, plain records out."""

from storage.jobs import (
    DatabaseInUse,
    Job,
    JobState,
    JobStore,
    NewJob,
)
from storage.reasons import Reason

__all__ = [
    "DatabaseInUse",
    "Job",
    "JobState",
    "JobStore",
    "NewJob",
    "Reason",
]
