"""Intake: decide which messages are requests, record them, and start them on their way.

A request is judged against access and budgets and recorded before anything is charged
(`bot.policy.admission`), acknowledged in its status message, then checked and submitted
(`bot.engine.pipeline`), or shown its place in the line (`bot.engine.line`). Also the small
helpers the other handlers share: a reply in the chat and
topic (`answer`) and the answer to a button's tap (`answer_tap`).
"""

from __future__ import annotations

import logging
import re

from telegram import CallbackQuery, Message, Update
from telegram.constants import ChatType
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from bot.aimlapi.client import MAX_PROMPT_CHARS
from bot.engine.chat_port import ChatError, Keyboard
from bot.policy.admission import Admission
from bot.wiring.steps import Steps, steps_of
from bot.words.current import current_words
from bot.words.texts import texts_for
from chat.telegram_chat import markup_of, reply_parameters
from storage import Job, JobState, NewJob

log = logging.getLogger(__name__)

#: `/animate` or `/animate@botname` at the start of a caption or text, then the prompt.
ANIMATE_COMMAND = re.compile(r"^/animate(?:@(?P<bot>[A-Za-z0-9_]+))?(?=\s|$)", re.IGNORECASE)
#: `--exact` at the end of a prompt: no prompt optimizer for this job. Phones often turn `--`
#: into a dash, so `—exact` counts too.
EXACT_FLAG = re.compile(r"(?:^|\s)(?:--|—)exact\s*$", re.IGNORECASE)


def command_prompt(text: str, bot_username: str) -> str | None:
    """The prompt after a leading `/animate[@bot]`; None when the text does not start with the
    command or names another bot."""
    match = ANIMATE_COMMAND.match(text)
    if match is None:
        return None
    addressed = match.group("bot")
    if addressed and addressed.lower() != bot_username.lower():
        return None
    return text[match.end() :].strip()


def without_exact_flag(prompt: str) -> tuple[str, bool]:
    """The prompt without a trailing `--exact`, and whether it had one."""
    match = EXACT_FLAG.search(prompt)
    if match is None:
        return prompt, False
    return prompt[: match.start()].strip(), True


def image_of(message: Message) -> tuple[str, int | None] | None:
    """The file id and declared size of a message's image: the largest photo size, or the
    document (whatever its declared type: the bytes decide)."""
    if message.photo:
        largest = max(message.photo, key=lambda size: size.width * size.height)
        return largest.file_id, largest.file_size
    if message.document:
        return message.document.file_id, message.document.file_size
    return None


async def answer(message: Message, text: str, *, keyboard: Keyboard | None = None) -> Message:
    """Reply to a message in its chat and topic; a deleted original does not stop the reply."""
    return await message.reply_text(
        text,
        reply_markup=markup_of(keyboard),
        reply_parameters=reply_parameters(message.message_id),
    )


async def answer_tap(
    query: CallbackQuery, text: str | None = None, *, show_alert: bool = False
) -> None:
    """Answer a button's tap, which stops its spinner, with `text` (as an alert with
    `show_alert`). Never raises: Telegram refuses an answer to a tap handled too late (after a
    restart, say), and that must not stop what the tap does, nor the reply that says why."""
    try:
        await query.answer(text, show_alert=show_alert)
    except TelegramError as error:
        log.info("could not answer a button (%s); going on", error)


async def on_private_image(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A photo or file in a private chat: its caption is the prompt."""
    message = update.effective_message
    if message is None:
        return
    steps = steps_of(context.bot_data)
    words = current_words()
    caption = message.caption or ""
    if not caption.strip() and message.media_group_id:
        # Only one photo of an album carries the caption: answer the rest once, not per photo.
        if await steps.store.note_album(message.chat_id, message.media_group_id, now=steps.clock()):
            await answer(message, words.ALBUM_NOTICE)
        return
    prompt = command_prompt(caption, steps.bot_username)
    if prompt is None:
        if caption.startswith("/"):
            return  # a command for another bot
        prompt = caption.strip()
    await take_request(
        steps, request=message, photo=message, caption=prompt, no_prompt=words.NEED_CAPTION
    )


async def on_group_image(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A photo or file in a group whose caption starts with /animate."""
    message = update.effective_message
    if message is None:
        return
    steps = steps_of(context.bot_data)
    prompt = command_prompt(message.caption or "", steps.bot_username)
    if prompt is None:
        return  # addressed to another bot
    no_prompt = current_words().ANIMATE_NEEDS_PROMPT
    await take_request(steps, request=message, photo=message, caption=prompt, no_prompt=no_prompt)


async def on_animate_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """`/animate <prompt>` sent as a reply to a photo."""
    message = update.effective_message
    if message is None or message.text is None:
        return
    steps = steps_of(context.bot_data)
    words = current_words()
    prompt = command_prompt(message.text, steps.bot_username) or ""
    target = message.reply_to_message
    # In a forum, a message that replies to nothing points at the topic's opening message.
    if target is not None and target.forum_topic_created is not None:
        target = None
    if target is None:
        await answer(message, words.ANIMATE_NEEDS_PHOTO)
        return
    if image_of(target) is None:
        await answer(message, words.ANIMATE_REPLY_NOT_PHOTO)
        return
    no_prompt = words.ANIMATE_NEEDS_PROMPT
    await take_request(steps, request=message, photo=target, caption=prompt, no_prompt=no_prompt)


async def on_private_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Plain text in a private chat: point at what the bot does."""
    if update.effective_message is not None:
        await answer(update.effective_message, current_words().PRIVATE_TEXT_HINT)


async def take_request(
    steps: Steps,
    *,
    request: Message,
    photo: Message,
    caption: str,
    no_prompt: str,
) -> None:
    """Check, record and submit one request, keeping the user informed in one message.
    `caption`: what the user wrote after any command; a trailing `--exact` turns the prompt
    optimizer off for this job (otherwise the user's own default, /settings, applies), and
    with no prompt left the user reads `no_prompt`."""
    user = request.from_user
    words = current_words()
    prompt, exact = without_exact_flag(caption)
    if not prompt:
        await answer(request, no_prompt)
        return
    if len(prompt) > MAX_PROMPT_CHARS:
        await answer(request, words.prompt_too_long(len(prompt), MAX_PROMPT_CHARS))
        return
    image = image_of(photo)
    if image is None:
        await answer(request, words.ANIMATE_REPLY_NOT_PHOTO)
        return
    file_id, declared_size = image
    user_id = user.id if user else request.chat_id
    optimizer = False if exact else (await steps.preferences.prefs_of(user_id)).prompt_optimizer
    admission = await admit_job(
        steps,
        NewJob(
            chat_id=request.chat_id,
            request_message_id=request.message_id,
            photo_message_id=photo.message_id,
            thread_id=request.message_thread_id if request.is_topic_message else None,
            user_id=user_id,
            prompt=prompt,
            prompt_optimizer=optimizer,
            file_id=file_id,
            language=user.language_code if user else None,
        ),
        private=request.chat.type == ChatType.PRIVATE,
    )
    if admission.job is not None:
        await start_job(steps, admission.job, declared_size)


async def admit_job(steps: Steps, request: NewJob, *, private: bool) -> Admission:
    """Judge a request against access and budgets and record it, in one step
    (bot/policy/admission.py); a refusal is told to the user as a reply to the request's message.
    Returns the admission: `job` set when the job may go on (then pass it to `start_job`),
    `job` None and `refused` False when that message already is a job (a redelivered update,
    a second tap on a button)."""
    admission = await steps.admission.admit_request(request, private=private)
    if admission.refused:
        if admission.reply is not None:
            await steps.job_chat.post(
                request,
                admission.reply,
                reply_to=request.request_message_id,
                keyboard=admission.keyboard,
            )
    elif admission.job is None:
        log.info(
            "chat %s message %s was already taken; ignoring the repeat",
            request.chat_id,
            request.request_message_id,
        )
    return admission


async def start_job(
    steps: Steps,
    job: Job,
    declared_size: int | None = None,
    *,
    ack: str | None = None,
) -> Job:
    """Carry an admitted job on: one waiting in the line is shown its place (the line submits
    it later); any other is acknowledged with `ack` (by default RECEIVED, in the job's
    language) in its status message (a reply to its request, or the message it already has),
    then checked and submitted (`bot.engine.pipeline.Pipeline.check_and_submit`). The job is
    leased to this instance by its admission; its lease is let go at the end. Returns the
    job as it ends up. The job's own failures never raise (see `check_and_submit`); a place in
    line that cannot be shown raises its chat error, and the line's tick shows it again."""
    try:
        if job.state is JobState.WAITING:  # the bot is at MAX_ACTIVE_JOBS: the line submits it
            return await steps.line.show_place_in_line(job)
        try:
            job = await steps.progress.show_progress(job, ack or texts_for(job.language).RECEIVED)
        except ChatError as error:
            # The acknowledgement is a courtesy; the request itself goes on.
            log.warning("job %s: could not acknowledge (%s)", job.id, error)
        return await steps.pipeline.check_and_submit(job, declared_size)
    finally:
        await steps.leases.release(job.id)
