"""The buttons under the bot's messages: one tap instead of retyping.

Every callback query is answered, so the button stops spinning, in the presser's language; an
answer Telegram no longer takes never stops what the tap does. A job's button acts only for
the person who sent the job: anyone else gets a short alert, and nothing changes. The buttons
themselves and their callback data are in `bot.engine.keyboards`.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from telegram import CallbackQuery, Update
from telegram.constants import ChatType
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from bot.image.fixes import Fix
from bot.wiring.steps import Steps, steps_of
from bot.words.current import current_words
from bot.words.texts import English
from chat.telegram_chat import markup_of, reply_parameters
from handlers.intake import admit_job, answer_tap, start_job
from storage import Job, JobState, NewJob
from storage.counts import AccessStore

if TYPE_CHECKING:
    from telegram import MaybeInaccessibleMessage

log = logging.getLogger(__name__)


async def on_again(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Again (under a video) and Try again (under a failure notice): the same photo, prompt
    and choices as a NEW job, admitted like any request (access, budgets, the line). The job is
    keyed by the message the button is under, so a second tap finds it and charges nothing.
    The new job speaks the presser's language as it is now."""
    tap = await _tap_on_own_job(update, context)
    if tap is None:
        return
    query, steps, job, message, words = tap.query, tap.steps, tap.job, tap.message, tap.words
    # Under a video sent after the group became a supergroup, the photo is the old group's
    # message: the new job answers the message the button is under instead.
    moved = message.chat.id != job.chat_id
    admission = await admit_job(
        steps,
        NewJob(
            chat_id=message.chat.id,
            request_message_id=message.message_id,
            photo_message_id=message.message_id if moved else job.photo_message_id,
            thread_id=None if moved else job.thread_id,
            user_id=job.user_id,
            prompt=job.prompt,
            prompt_optimizer=job.prompt_optimizer,
            file_id=job.file_id,  # Telegram keeps the photo: nothing to upload again
            language=query.from_user.language_code,
            retry_of=job.id,
            image_fix=job.image_fix,
        ),
        private=message.chat.type == ChatType.PRIVATE,
    )
    if admission.job is None:
        # Refused (the reply says why), or a second tap on the same button: the job the first
        # tap made is on its way, or already done.
        made = None if admission.refused else await _made_by(steps, message)
        await answer_tap(query, None if made is None else _progress_of(made, words))
        return
    await answer_tap(query, words.ON_ITS_WAY)
    await start_job(steps, admission.job)


async def on_cancel_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Cancel under a place in line: that one job leaves the line, uncharged."""
    tap = await _tap_on_own_job(update, context)
    if tap is None:
        return
    query, steps, job, words = tap.query, tap.steps, tap.job, tap.words
    cancelled = await steps.line.cancel_jobs(
        job.user_id, chat_id=job.chat_id, stop_submitted=False, job_id=job.id
    )
    if cancelled.waiting or (await steps.store.get(job.id)).state is JobState.CANCELLED:
        await answer_tap(query, words.OUT_OF_THE_LINE)
        return
    # It left the line meanwhile: the button is stale, and its next status edit drops it.
    await answer_tap(query, words.ALREADY_LEFT_THE_LINE, show_alert=True)


#: How long a fix tapped right after its refusal waits for the step that told it to finish.
_WAIT_FOR_THE_REFUSAL = 3.0


async def on_fix(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A fix under an image's refusal: the same job goes on with the fix, judged against the
    budgets again (the refusal never counted). The first tap takes the buttons away; a second
    finds the job no longer refused and changes nothing."""
    tap = await _tap_on_own_job(update, context)
    if tap is None:
        return
    query, steps, job, message, words = tap.query, tap.steps, tap.job, tap.message, tap.words
    fix = Fix(tap.match.group("fix"))
    admission = await steps.admission.readmit_rejected(
        job.id,
        private=message.chat.type == ChatType.PRIVATE,
        image_fix=fix.value,
        language=query.from_user.language_code,
    )
    if admission.refused:
        await answer_tap(query)
        if admission.reply is not None:  # the buttons stay, for when the budget allows
            # Under the message the button is in: its chat is the job's, or the supergroup
            # the job's group became.
            here = message.chat.id
            try:
                await context.bot.send_message(
                    here,
                    admission.reply,
                    message_thread_id=job.thread_id if here == job.chat_id else None,
                    reply_parameters=reply_parameters(message.message_id),
                    reply_markup=markup_of(admission.keyboard),
                )
            except TelegramError as error:
                log.warning("job %s: could not say why the fix waits (%s)", job.id, error)
        return
    if admission.job is None:  # the job went on with a fix already
        await answer_tap(query, _progress_of(await steps.store.get(job.id), words))
        return
    await answer_tap(query, words.fixing(fix))
    fixed: Job | None = admission.job
    if not admission.leased:
        # Another step still holds it: the one that told the refusal, about to let it go
        # (a tap right after the refusal came), or the tick retelling it. Taken once free;
        # if the tick takes it first, the tick goes on with it.
        fixed = await steps.leases.take_soon(job.id, within=_WAIT_FOR_THE_REFUSAL)
        if fixed is None or fixed.state not in (JobState.RECEIVED, JobState.WAITING):
            if fixed is not None:
                await steps.leases.release(job.id)
            return
    if fixed is None:
        return
    # The status message is the refusal: its next text comes without the buttons.
    await start_job(steps, fixed, ack=words.fixing(fix))


async def on_stop_paid(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/cancel's question about videos already paid for: stop following them, or keep them.
    Only the person who asked /cancel may answer it."""
    query = update.callback_query
    match = context.matches[0] if context.matches else None
    if query is None or match is None:
        return
    words = current_words()
    if query.from_user.id != int(match.group("user")):
        await answer_tap(query, words.NOT_YOUR_BUTTON, show_alert=True)
        return
    steps = steps_of(context.bot_data)
    await answer_tap(query)
    if match.group("choice") == "keep":
        text = words.KEPT_PAID
    else:
        chat = int(match.group("chat"))
        cancelled = await steps.line.cancel_jobs(
            query.from_user.id,
            chat_id=chat or None,
            stop_submitted=True,
            up_to=int(match.group("up_to")),
        )
        text = words.cancel_report(cancelled)
    try:
        await query.edit_message_text(text)  # the question goes, and its buttons with it
    except TelegramError as error:
        log.info("could not answer /cancel's question in place (%s)", error)


async def _made_by(steps: Steps, message: MaybeInaccessibleMessage) -> Job | None:
    """The job a button's first tap made (keyed by the message the button is under)."""
    made = await AccessStore.of(steps.store).recorded_id(message.chat.id, message.message_id)
    return None if made is None else await steps.store.get(made)


def _progress_of(job: Job | None, words: English) -> str:
    """What a repeated tap is told: the job its first tap started is on its way, or done."""
    if job is not None and not job.state.in_progress:
        return words.ALREADY_DONE
    return words.ALREADY_ON_ITS_WAY


async def on_unknown_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Any other button (from an older version of the bot): answered, nothing else."""
    if update.callback_query is not None:
        await answer_tap(update.callback_query, current_words().BUTTON_OUTDATED)


@dataclass(frozen=True, slots=True)
class _Tap:
    """A tap on a job's button by the person who sent the job."""

    query: CallbackQuery
    match: re.Match[str]  # the callback data against the handler's pattern
    steps: Steps
    job: Job
    message: MaybeInaccessibleMessage  # the message the button is under
    words: English  # the presser's texts


async def _tap_on_own_job(update: Update, context: ContextTypes.DEFAULT_TYPE) -> _Tap | None:
    """The tap, and the job its button acts on, when the person who pressed it sent the job.
    Otherwise the query is answered (an alert for a stranger) and None returned."""
    query = update.callback_query
    # The match is set by CallbackQueryHandler, against the handler's pattern.
    match = context.matches[0] if context.matches else None
    if query is None or match is None:
        return None
    steps = steps_of(context.bot_data)
    message, words = query.message, current_words()
    try:
        job = await steps.store.get(int(match.group("job")))
    except KeyError:
        job = None
    if job is None or message is None or not await _in_jobs_chat(steps, job, message):
        await answer_tap(query, words.BUTTON_OUTDATED)
        return None
    if query.from_user.id != job.user_id:
        log.info(
            "user %s pressed %r under job %s of user %s: refused",
            query.from_user.id,
            query.data,
            job.id,
            job.user_id,
        )
        await answer_tap(query, words.NOT_YOUR_BUTTON, show_alert=True)
        return None
    return _Tap(query, match, steps, job, message, words)


async def _in_jobs_chat(steps: Steps, job: Job, message: MaybeInaccessibleMessage) -> bool:
    """Whether `message` is in the job's chat, or in the supergroup that chat became (where
    what was sent for the job since went)."""
    if message.chat.id == job.chat_id:
        return True
    return await steps.store.current_chat(job.chat_id) == message.chat.id
