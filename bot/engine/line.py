"""The local line: requests over MAX_ACTIVE_JOBS wait here, and go to the paid API in order.

A waiting job is a WAITING row that keeps its Telegram file_id; nothing is downloaded or
charged until it leaves the line. The line survives restarts: it is the jobs table.
"""

from __future__ import annotations

import asyncio
import logging

from telegram import Bot
from telegram.error import Forbidden, TelegramError

from bot.engine.keyboards import cancel_markup
from bot.engine.pipeline import check_and_submit
from bot.engine.progress import show_progress
from bot.wiring.services import Services
from bot.words.texts import texts_for
from storage import Job, JobState, Reason
from storage.waiting import Cancelled, LineStore

log = logging.getLogger(__name__)


async def take_from_line(services: Services) -> list[int]:
    """Take waiting jobs off the head of the line, first come first served, while fewer than
    MAX_ACTIVE_JOBS are in flight and the create calls' pace allows; returns their ids. Each
    taken job is RECEIVED and holds its slot until `advance_line` (or a restart's recovery)
    sends it on.
    """
    pacer = services.pacer
    if not pacer.ready():
        return []  # the API asked for a pause, or the next create's turn has not come
    async with services.admission_lock:
        taken = await LineStore.of(services.store).claim(
            max_in_flight=services.settings.max_active_jobs,
            now=services.clock(),
            # Paced: one at a time, so that no image waits in memory for its turn.
            most=1 if pacer.rate is not None else None,
        )
    for job_id in taken:
        log.info("job %s leaves the line", job_id)
    return taken


async def advance_line(bot: Bot, services: Services, taken: list[int]) -> None:
    """Check and submit the jobs taken from the line (`bot.engine.pipeline`), all at once, while the
    jobs still waiting are shown their new places.

    One job's failure never stops the others; never raises.
    """
    results = await asyncio.gather(
        update_places(bot, services),
        *(_submit(bot, services, job_id) for job_id in taken),
        return_exceptions=True,
    )
    for result in results:
        if isinstance(result, Exception):  # the database itself failed: nothing to tell anyone
            log.error("moving the line failed", exc_info=result)


async def _submit(bot: Bot, services: Services, job_id: int) -> None:
    try:
        await check_and_submit(bot, services, await services.store.get(job_id))
    except Exception:
        # A claimed job holds a slot: never leave it RECEIVED, or the slot is lost.
        log.exception("job %s: submitting from the line failed", job_id)
        job = await services.store.get(job_id)
        if job.state is JobState.RECEIVED:
            await services.store.update(
                job_id,
                now=services.clock(),
                state=JobState.INTERRUPTED,
                reason=Reason.NOT_SUBMITTED,
                next_poll_at=services.clock(),
            )


async def update_places(bot: Bot, services: Services) -> None:
    """Edit the status message of each waiting job whose place changed since it was shown.

    A user who blocked the bot leaves the line, uncharged. A pass that finds another still
    running leaves the work to it and to the passes after it. Never raises.
    """
    if services.showing_places.locked():
        return
    async with services.showing_places:
        await _update_places(bot, services)


async def _update_places(bot: Bot, services: Services) -> None:
    line, store = LineStore.of(services.store), services.store
    try:
        places = await line.places()
    except Exception:
        log.exception("could not read the line")
        return
    for entry in places:
        if entry.shown == entry.place:
            continue
        try:
            job = await store.get(entry.job_id)
            if job.state is not JobState.WAITING:
                continue  # cancelled meanwhile
            await _show_place(bot, services, line, job, entry.place)
        except Forbidden as error:
            log.info(
                "job %s: the chat is closed to the bot (%s); out of the line", entry.job_id, error
            )
            await store.update(
                entry.job_id,
                now=services.clock(),
                state=JobState.CANCELLED,
                reason=Reason.CHAT_CLOSED,
                next_poll_at=None,
            )
        except Exception as error:  # the place is shown again next tick
            log.info("job %s: could not show its place in line (%s)", entry.job_id, error)


async def show_place_in_line(bot: Bot, services: Services, job: Job) -> Job:
    """Tell a job that just joined the line its place, in its status message."""
    line = LineStore.of(services.store)
    place = await line.place_of(job.id)
    if place is None:
        return job  # it already left the line: its status message tells the rest
    return await _show_place(bot, services, line, job, place)


async def _show_place(bot: Bot, services: Services, line: LineStore, job: Job, place: int) -> Job:
    # Noted before it is shown, so that intake and the tick never both show the same place;
    # forgotten again when showing fails, so that the tick tries again.
    await line.note_shown(job.id, place)
    try:
        # The button stays while the job waits: each place shown carries it again. The first
        # edit after the job leaves the line has no buttons, and so removes it.
        return await show_progress(
            bot,
            services,
            job,
            texts_for(job.language).busy_in_line(place)
            if job.busy_since is not None
            else texts_for(job.language).waiting_in_line(place),
            reply_markup=cancel_markup(job),
        )
    except BaseException:
        await line.forget_shown(job.id)
        raise


async def cancel_jobs(
    bot: Bot,
    services: Services,
    user_id: int,
    *,
    chat_id: int | None,
    stop_submitted: bool,
    job_id: int | None = None,
    up_to: int | None = None,
) -> Cancelled:
    """Cancel a user's jobs waiting in line (never charged) and, with `stop_submitted`, stop
    following those the paid API already has (their credits are spent); only the jobs of
    `chat_id` when given, only the job `job_id` when given, none newer than the job `up_to`
    when given. Each cancelled job's status message
    says so, in the job's language. Returns what was done.
    """
    cancelled = await LineStore.of(services.store).cancel(
        user_id,
        chat_id=chat_id,
        stop_submitted=stop_submitted,
        now=services.clock(),
        job_id=job_id,
        up_to=up_to,
    )
    for job_id in (*cancelled.waiting, *cancelled.stopped):
        try:
            job = await services.store.get(job_id)
            words = texts_for(job.language)
            uncharged = job_id in cancelled.waiting
            text = words.CANCELLED_WAITING if uncharged else words.CANCELLED_SUBMITTED
            await show_progress(bot, services, job, text)
        except TelegramError as error:
            log.info("job %s: could not mark its status as cancelled (%s)", job_id, error)
    if cancelled.waiting or cancelled.stopped:
        log.info(
            "user %s cancelled %d waiting and %d submitted job(s)",
            user_id,
            len(cancelled.waiting),
            len(cancelled.stopped),
        )
    return cancelled
