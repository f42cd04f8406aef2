"""Intake: turn a message into a request, check it, record it, and submit it."""

from __future__ import annotations

import logging
import re

from telegram import Bot, Message, ReplyParameters, Update
from telegram.error import BadRequest, TelegramError
from telegram.ext import ContextTypes

from bot import texts
from bot.aimlapi import MAX_PROMPT_CHARS
from bot.firstframe import (
    ImageProblem,
    ImageRejected,
    check_declared_size,
    prepare_first_frame_async,
)
from bot.progress import show_progress
from bot.services import Services, services_of
from bot.submission import SubmitOutcome, submit
from storage import NOT_SUBMITTED, Job, JobState, NewJob

log = logging.getLogger(__name__)

#: `/animate` or `/animate@botname` at the start of a caption or text, then the prompt.
ANIMATE_COMMAND = re.compile(r"^/animate(?:@(?P<bot>[A-Za-z0-9_]+))?(?=\s|$)", re.IGNORECASE)

_OUTCOME_TEXTS = {
    SubmitOutcome.BUSY: texts.SERVICE_BUSY,
    SubmitOutcome.OUT_OF_CREDITS: texts.SERVICE_OUT_OF_CREDITS,
    SubmitOutcome.MISCONFIGURED: texts.SERVICE_MISCONFIGURED,
    SubmitOutcome.UNKNOWN: texts.OUTCOME_UNKNOWN,
}


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


def image_of(message: Message) -> tuple[str, int | None] | None:
    """The file id and declared size of a message's image: the largest photo size, or the
    document (whatever its declared type: the bytes decide)."""
    if message.photo:
        largest = max(message.photo, key=lambda size: size.width * size.height)
        return largest.file_id, largest.file_size
    if message.document:
        return message.document.file_id, message.document.file_size
    return None


async def answer(message: Message, text: str) -> Message:
    """Reply to a message in its chat and topic; a deleted original does not stop the reply."""
    return await message.reply_text(
        text,
        reply_parameters=ReplyParameters(
            message_id=message.message_id, allow_sending_without_reply=True
        ),
    )


async def on_private_image(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A photo or file in a private chat: its caption is the prompt."""
    message = update.effective_message
    if message is None:
        return
    services = services_of(context.bot_data)
    caption = message.caption or ""
    if not caption.strip() and message.media_group_id:
        # Only one photo of an album carries the caption: answer the rest once, not per photo.
        if await services.store.note_album(
            message.chat_id, message.media_group_id, now=services.clock()
        ):
            await answer(message, texts.ALBUM_NOTICE)
        return
    prompt = command_prompt(caption, services.bot_username)
    if prompt is None:
        if caption.startswith("/"):
            return  # a command for another bot
        prompt = caption.strip()
    if not prompt:
        await answer(message, texts.NEED_CAPTION)
        return
    await take_request(services, context, request=message, photo=message, prompt=prompt)


async def on_group_image(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A photo or file in a group whose caption starts with /animate."""
    message = update.effective_message
    if message is None:
        return
    services = services_of(context.bot_data)
    prompt = command_prompt(message.caption or "", services.bot_username)
    if prompt is None:
        return  # addressed to another bot
    if not prompt:
        await answer(message, texts.ANIMATE_NEEDS_PROMPT)
        return
    await take_request(services, context, request=message, photo=message, prompt=prompt)


async def on_animate_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """`/animate <prompt>` sent as a reply to a photo."""
    message = update.effective_message
    if message is None or message.text is None:
        return
    services = services_of(context.bot_data)
    prompt = command_prompt(message.text, services.bot_username) or ""
    target = message.reply_to_message
    # In a forum, a message that replies to nothing points at the topic's opening message.
    if target is not None and target.forum_topic_created is not None:
        target = None
    if target is None:
        await answer(message, texts.ANIMATE_NEEDS_PHOTO)
        return
    if image_of(target) is None:
        await answer(message, texts.ANIMATE_REPLY_NOT_PHOTO)
        return
    if not prompt:
        await answer(message, texts.ANIMATE_NEEDS_PROMPT)
        return
    await take_request(services, context, request=message, photo=target, prompt=prompt)


async def on_private_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Plain text in a private chat: point at what the bot does."""
    if update.effective_message is not None:
        await answer(update.effective_message, texts.PRIVATE_TEXT_HINT)


async def take_request(
    services: Services,
    context: ContextTypes.DEFAULT_TYPE,
    *,
    request: Message,
    photo: Message,
    prompt: str,
) -> None:
    """Check, record and submit one request, keeping the user informed in one message."""
    if len(prompt) > MAX_PROMPT_CHARS:
        await answer(request, texts.prompt_too_long(len(prompt), MAX_PROMPT_CHARS))
        return
    image = image_of(photo)
    if image is None:
        await answer(request, texts.ANIMATE_REPLY_NOT_PHOTO)
        return
    file_id, declared_size = image
    user = request.from_user
    job = await services.store.record_request(
        NewJob(
            chat_id=request.chat_id,
            request_message_id=request.message_id,
            photo_message_id=photo.message_id,
            thread_id=request.message_thread_id if request.is_topic_message else None,
            user_id=user.id if user else request.chat_id,
            prompt=prompt,
            prompt_optimizer=services.settings.prompt_optimizer,
            file_id=file_id,
        ),
        now=services.clock(),
    )
    if job is None:
        log.info(
            "chat %s message %s was already taken; ignoring the repeat",
            request.chat_id,
            request.message_id,
        )
        return
    try:
        status = await answer(request, texts.RECEIVED)
    except TelegramError as error:
        # The acknowledgement is a courtesy; the request itself goes on.
        log.warning("job %s: could not acknowledge (%s)", job.id, error)
    else:
        job = await services.store.update(
            job.id, now=services.clock(), status_message_id=status.message_id
        )
    await check_and_submit(context.bot, services, job, declared_size)


async def check_and_submit(
    bot: Bot, services: Services, job: Job, declared_size: int | None = None
) -> Job:
    """Download the job's image, check and encode it, and submit it to the paid API, telling
    the user each outcome in the job's status message. Returns the job as it ends up.

    Never raises: an unexpected error leaves the job interrupted, for the tick to explain.
    """
    try:
        return await _check_and_submit(bot, services, job, declared_size)
    except Exception:
        log.exception("job %s: checking or submitting failed", job.id)
        current = await services.store.get(job.id)
        if current.state is JobState.RECEIVED:
            error: str | None = NOT_SUBMITTED
        elif current.state is JobState.SUBMITTING:
            error = current.error or "lost while submitting"
        else:
            return current
        return await services.store.update(
            job.id,
            now=services.clock(),
            state=JobState.INTERRUPTED,
            error=error,
            next_poll_at=services.clock(),
        )


async def _check_and_submit(
    bot: Bot, services: Services, job: Job, declared_size: int | None
) -> Job:
    store, clock = services.store, services.clock
    try:
        check_declared_size(declared_size)
        data = await _download(bot, job.file_id, declared_size)
        async with services.image_slots:
            frame = await prepare_first_frame_async(data)
    except ImageRejected as rejection:
        job = await store.update(
            job.id, now=clock(), state=JobState.REJECTED, error=rejection.problem.value
        )
        return await show_progress(bot, services, job, texts.image_refused(rejection))
    except TelegramError as error:
        log.warning("job %s: could not download the image: %s", job.id, error)
        job = await store.update(
            job.id, now=clock(), state=JobState.REJECTED, error="download failed"
        )
        return await show_progress(bot, services, job, texts.DOWNLOAD_FAILED)
    job = await store.update(job.id, now=clock(), image_sha256=frame.sha256)
    submission = await submit(services, job, frame)
    if submission.outcome is SubmitOutcome.ACCEPTED:
        text = texts.QUEUED
    elif submission.outcome is SubmitOutcome.REFUSED:
        text = texts.submission_failed(submission.reason or "no reason given")
    else:
        text = _OUTCOME_TEXTS[submission.outcome]
    return await show_progress(bot, services, submission.job, text)


async def _download(bot: Bot, file_id: str, size: int | None) -> bytes:
    try:
        file = await bot.get_file(file_id)
    except BadRequest as error:
        if "too big" in error.message.lower():
            raise ImageRejected(ImageProblem.TOO_LARGE, size_bytes=size) from error
        raise
    check_declared_size(file.file_size)
    return bytes(await file.download_as_bytearray())
