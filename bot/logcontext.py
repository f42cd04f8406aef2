"""What a log line is about: the job (and its generation) being worked on, the Telegram update
being handled, and the instance that logs it. Context variables, so that each asyncio task
keeps its own and no call passes them along; `bot.wiring.logs` puts them on every record.

The job engine binds a job for the time it works on it (`about_job`); the wiring binds each
update's id before any handler runs (`bind_update`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_JOB: ContextVar[int | None] = ContextVar("log_job_id", default=None)
_GENERATION: ContextVar[str | None] = ContextVar("log_generation_id", default=None)
_UPDATE: ContextVar[int | None] = ContextVar("log_update_id", default=None)
#: The process's name in the leases (`bot.engine.leases.instance_owner`), once it has one.
_instance: str | None = None


@contextmanager
def about_job(job_id: int, generation_id: str | None) -> Iterator[None]:
    """Lines logged inside the block (and in tasks it starts) are about this job."""
    job, generation = _JOB.set(job_id), _GENERATION.set(generation_id)
    try:
        yield
    finally:
        _GENERATION.reset(generation)
        _JOB.reset(job)


def bind_update(update_id: int | None) -> None:
    """Lines logged for the rest of the current task are about this update."""
    _UPDATE.set(update_id)


def name_instance(owner: str) -> None:
    """Every line from now on, in every task, names this instance: when several share one
    database, the operator sees which did what, as the leases record it."""
    global _instance
    _instance = owner


def log_context() -> dict[str, int | str]:
    """The ids bound where the caller runs, by field name; only those that are set."""
    found: dict[str, int | str | None] = {
        "instance": _instance,
        "job_id": _JOB.get(),
        "generation_id": _GENERATION.get(),
        "update_id": _UPDATE.get(),
    }
    return {name: value for name, value in found.items() if value is not None}
