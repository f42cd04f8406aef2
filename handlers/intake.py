"""Intake: turn a message into a request, check it, record it, and submit it."""

from __future__ import annotations

import io
import logging
import re
from typing import TYPE_CHECKING

from telegram import Bot, Message, ReplyParameters, Update, User
from telegram.constants import ChatType
from telegram.error import BadRequest, TelegramError
from telegram.ext import ContextTypes

from bot.admission import Admission, admit_request
from bot.aimlapi import MAX_PROMPT_CHARS
from bot.firstframe import (
    FirstFrame,
    ImageProblem,
    ImageRejected,
    check_declared_size,
    prepare_first_frame_async,
)
from bot.imagefix import Fix, apply_fix_async, fix_for, preview_async
from bot.line import show_place_in_line
from bot.prefs import prefs_of
from bot.progress import show_progress
from bot.services import Services, services_of
from bot.submission import SubmitOutcome, submit
from bot.texts import English, texts_for
from handlers.keyboards import fix_markup
from storage import NOT_SUBMITTED, Job, JobState, NewJob

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

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


def words_of(user: User | None) -> English:
    """The texts in the language of `user`: a message's sender, a button's presser."""
    return texts_for(user.language_code if user is not None else None)


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
    words = words_of(update.effective_user)
    caption = message.caption or ""
    if not caption.strip() and message.media_group_id:
        # Only one photo of an album carries the caption: answer the rest once, not per photo.
        if await services.store.note_album(
            message.chat_id, message.media_group_id, now=services.clock()
        ):
            await answer(message, words.ALBUM_NOTICE)
        return
    prompt = command_prompt(caption, services.bot_username)
    if prompt is None:
        if caption.startswith("/"):
            return  # a command for another bot
        prompt = caption.strip()
    prompt, exact = without_exact_flag(prompt)
    if not prompt:
        await answer(message, words.NEED_CAPTION)
        return
    await take_request(
        services, context, request=message, photo=message, prompt=prompt, exact=exact
    )


async def on_group_image(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A photo or file in a group whose caption starts with /animate."""
    message = update.effective_message
    if message is None:
        return
    services = services_of(context.bot_data)
    prompt = command_prompt(message.caption or "", services.bot_username)
    if prompt is None:
        return  # addressed to another bot
    prompt, exact = without_exact_flag(prompt)
    if not prompt:
        await answer(message, words_of(update.effective_user).ANIMATE_NEEDS_PROMPT)
        return
    await take_request(
        services, context, request=message, photo=message, prompt=prompt, exact=exact
    )


async def on_animate_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """`/animate <prompt>` sent as a reply to a photo."""
    message = update.effective_message
    if message is None or message.text is None:
        return
    services = services_of(context.bot_data)
    words = words_of(update.effective_user)
    prompt = command_prompt(message.text, services.bot_username) or ""
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
    prompt, exact = without_exact_flag(prompt)
    if not prompt:
        await answer(message, words.ANIMATE_NEEDS_PROMPT)
        return
    await take_request(services, context, request=message, photo=target, prompt=prompt, exact=exact)


async def on_private_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Plain text in a private chat: point at what the bot does."""
    if update.effective_message is not None:
        await answer(update.effective_message, words_of(update.effective_user).PRIVATE_TEXT_HINT)


async def take_request(
    services: Services,
    context: ContextTypes.DEFAULT_TYPE,
    *,
    request: Message,
    photo: Message,
    prompt: str,
    exact: bool = False,
) -> None:
    """Check, record and submit one request, keeping the user informed in one message.
    `exact`: the prompt ended in `--exact`, so the prompt optimizer is off for this job;
    otherwise the user's own default (/settings) applies."""
    user = request.from_user
    words = words_of(user)
    if len(prompt) > MAX_PROMPT_CHARS:
        await answer(request, words.prompt_too_long(len(prompt), MAX_PROMPT_CHARS))
        return
    image = image_of(photo)
    if image is None:
        await answer(request, words.ANIMATE_REPLY_NOT_PHOTO)
        return
    file_id, declared_size = image
    user_id = user.id if user else request.chat_id
    optimizer = False if exact else (await prefs_of(services, user_id)).prompt_optimizer
    admission = await admit_job(
        context.bot,
        services,
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
        await start_job(context.bot, services, admission.job, declared_size)


async def admit_job(bot: Bot, services: Services, request: NewJob, *, private: bool) -> Admission:
    """Judge a request against access and budgets and record it, in one step
    (bot/admission.py); a refusal is told to the user as a reply to the request's message.
    Returns the admission: `job` set when the job may go on (then pass it to `start_job`),
    `job` None and `refused` False when that message already is a job (a redelivered update,
    a second tap on a button)."""
    admission = await admit_request(services, request, private=private)
    if admission.refused:
        if admission.reply is not None:
            await bot.send_message(
                request.chat_id,
                admission.reply,
                message_thread_id=request.thread_id,
                reply_parameters=ReplyParameters(
                    message_id=request.request_message_id, allow_sending_without_reply=True
                ),
            )
    elif admission.job is None:
        log.info(
            "chat %s message %s was already taken; ignoring the repeat",
            request.chat_id,
            request.request_message_id,
        )
    return admission


async def start_job(
    bot: Bot,
    services: Services,
    job: Job,
    declared_size: int | None = None,
    *,
    ack: str | None = None,
) -> Job:
    """Carry an admitted job on: one waiting in the line is shown its place (the line submits
    it later); any other is acknowledged with `ack` (by default RECEIVED, in the job's
    language) in its status message (a reply to its request, or the message it already has),
    then checked and submitted. Returns the job as
    it ends up. The job's own failures never raise (see `check_and_submit`); a place in line
    that cannot be shown raises its Telegram error, and the line's tick shows it again."""
    if job.state is JobState.WAITING:  # the bot is at MAX_ACTIVE_JOBS: bot/line.py submits it
        return await show_place_in_line(bot, services, job)
    try:
        job = await show_progress(bot, services, job, ack or texts_for(job.language).RECEIVED)
    except TelegramError as error:
        # The acknowledgement is a courtesy; the request itself goes on.
        log.warning("job %s: could not acknowledge (%s)", job.id, error)
    return await check_and_submit(bot, services, job, declared_size)


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
    words = texts_for(job.language)
    # An image is in memory from its download until the paid API has it: its bytes, its pixels
    # and its base64, ~100 MB for a 20 MB PNG. Holding a slot all along keeps that to
    # `images_at_once` images, however many arrive at once. The user hears after the slot is
    # free: a reply may wait on Telegram's flood limit.
    refusal: tuple[str, str, list[Fix]] | None = None  # error, what the user reads, fixes
    async with services.image_slots:
        try:
            check_declared_size(declared_size)
            data = await _download(bot, job.file_id, declared_size)
            if job.image_fix:  # chosen under an earlier refusal of this image
                data = await apply_fix_async(data, Fix(job.image_fix))
            frame = await prepare_first_frame_async(data)
            if job.image_fix and job.retry_of is None:  # a retry's user saw it already
                await _show_fixed(bot, job, data, frame)
            del data  # only the encoded frame goes on
        except ImageRejected as rejection:
            # A fixed image is never offered fixes again: no loop of buttons.
            fixes = [] if job.image_fix else fix_for(rejection.problem)
            text = words.image_refused(rejection, fixes=bool(fixes))
            refusal = (rejection.problem.value, text, fixes)
        except TelegramError as error:
            log.warning("job %s: could not download the image: %s", job.id, error)
            refusal = ("download failed", words.DOWNLOAD_FAILED, [])
        else:
            converted_from, image_format = frame.converted_from, frame.image_format
            job = await store.update(job.id, now=clock(), image_sha256=frame.sha256)
            submission = await submit(services, job, frame)
    if refusal is not None:
        reason, text, fixes = refusal
        job = await store.update(job.id, now=clock(), state=JobState.REJECTED, error=reason)
        markup = fix_markup(job, fixes) if fixes else None
        return await show_progress(bot, services, job, text, reply_markup=markup)
    if submission.outcome is SubmitOutcome.ACCEPTED:
        text = words.queued(converted_from=converted_from, image_format=image_format)
    elif submission.outcome is SubmitOutcome.REFUSED:
        text = words.submission_failed(submission.reason)
    else:
        text = _outcome_text(words, submission.outcome)
    try:
        return await show_progress(bot, services, submission.job, text)
    except TelegramError as error:
        if submission.outcome is SubmitOutcome.ACCEPTED:
            raise  # the video itself will reach the user
        # A job that ends here must still be explained: the tick's notice does it, with retries.
        log.warning("job %s: could not tell the outcome (%s); the tick will", job.id, error)
        return await store.update(job.id, now=clock(), next_poll_at=clock())


def _outcome_text(words: English, outcome: SubmitOutcome) -> str:
    """What the user reads when the paid API could not be asked, or did not say."""
    return {
        SubmitOutcome.BUSY: words.SERVICE_BUSY,
        SubmitOutcome.OUT_OF_CREDITS: words.SERVICE_OUT_OF_CREDITS,
        SubmitOutcome.MISCONFIGURED: words.SERVICE_MISCONFIGURED,
        SubmitOutcome.UNKNOWN: words.OUTCOME_UNKNOWN,
    }[outcome]


async def _show_fixed(bot: Bot, job: Job, data: bytes, frame: FirstFrame) -> None:
    """Show the user the fixed image before it is submitted: a small preview, as a reply to
    their photo. Sent while the image slot is held, since the frame waits for it anyway.
    Never raises: the job goes on without it."""
    assert job.image_fix is not None
    try:
        preview = await preview_async(data)
        await bot.send_photo(
            job.chat_id,
            preview,
            caption=texts_for(job.language).fix_preview(
                Fix(job.image_fix), frame.width, frame.height
            ),
            message_thread_id=job.thread_id,
            reply_parameters=ReplyParameters(
                message_id=job.photo_message_id, allow_sending_without_reply=True
            ),
        )
    except (ImageRejected, TelegramError) as error:
        log.info("job %s: could not show the fixed image (%s)", job.id, error)


async def _download(bot: Bot, file_id: str, size: int | None) -> bytes:
    try:
        file = await bot.get_file(file_id)
    except BadRequest as error:
        if "too big" in error.message.lower():
            raise ImageRejected(ImageProblem.TOO_LARGE, size_bytes=size) from error
        raise
    check_declared_size(file.file_size)
    received = _Received()
    await file.download_to_memory(received)
    return received.value()


class _Received(io.BytesIO):
    """A download's target that keeps the bytes it is handed instead of copying them: each
    copy of a 20 MB image would hold the event loop for up to ~30 ms."""

    def __init__(self) -> None:
        super().__init__()
        self._pieces: list[bytes] = []

    def write(self, buffer: ReadableBuffer, /) -> int:
        piece = buffer if isinstance(buffer, bytes) else bytes(buffer)
        self._pieces.append(piece)
        return len(piece)

    def value(self) -> bytes:
        """Everything written, as one bytes object (the very one written, when it came whole)."""
        return self._pieces[0] if len(self._pieces) == 1 else b"".join(self._pieces)
