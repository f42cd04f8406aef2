"""Ticks overlap, since a tick hands its jobs to a task and returns: no job is done twice, each
claimed with its lease."""

from __future__ import annotations

import asyncio
from pathlib import Path

from storage import JobState, NewJob
from tests.conftest import TestClock, make_settings, running_bot, services
from tests.emulators.aimlapi_emulator import AimlApiEmulator
from tests.emulators.telegram_emulator import TelegramEmulator


async def test_overlapping_ticks_never_work_on_the_same_job_twice(
    tmp_path: Path, telegram: TelegramEmulator, aiml: AimlApiEmulator, clock: TestClock
) -> None:
    # An hour between ticks: only the two calls below move jobs on.
    settings = make_settings(tmp_path, telegram, aiml, poll_interval_seconds=3600)
    async with running_bot(settings, clock) as app:
        found = services(app)
        for number in range(5):
            job = await found.store.record_request(
                NewJob(
                    chat_id=111,
                    request_message_id=100 + number,
                    photo_message_id=100 + number,
                    thread_id=None,
                    user_id=111,
                    prompt=f"job {number}",
                    prompt_optimizer=True,
                    file_id="f",
                ),
                now=clock(),
            )
            assert job is not None
            await found.store.update(
                job.id, now=clock(), state=JobState.TIMED_OUT, next_poll_at=clock()
            )
        telegram.set_delay("sendMessage", 0.5)  # each notice is slow to send

        first, second = await asyncio.gather(
            found.poller.advance_due_jobs(), found.poller.advance_due_jobs()
        )
        jobs = await found.store.jobs_for_user(111)

    assert first + second == 5
    assert len(telegram.calls_to("sendMessage")) == 5
    # Each let go once done, its claimer kept as the last to have worked on it.
    assert {(job.lease_owner, job.lease_until) for job in jobs} == {(found.leases.owner, None)}
