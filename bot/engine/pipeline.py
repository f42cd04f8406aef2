"""Check, encode and submit a recorded job, telling the user in its status message.

The pipeline's step after intake: download the job's image from Telegram, apply the fix its
user chose (if any), check and encode it (`bot.image.firstframe`), and submit it to the paid API
(`bot.engine.submission`). Each outcome (queued, the image refused with the fixes on offer, the API
busy or unsure) is shown in the job's status message. Intake calls it for a new job, the line's
tick for a job leaving the line, and the poll tick for a job a restart cut off before it
reached the API.
"""

from __future__ import annotations

import dataclasses
import io
import logging
from typing import TYPE_CHECKING

from telegram import Bot, ReplyParameters
from telegram.error import BadRequest, TelegramError

from bot.engine.keyboards import fix_markup
from bot.engine.progress import show_outcome, show_progress
from bot.engine.submission import SubmitOutcome, submit
from bot.image.firstframe import (
    FirstFrame,
    ImageProblem,
    ImageRejected,
    check_declared_size,
    prepare_first_frame_async,
)
from bot.image.fixes import Fix, apply_fix_async, fix_for, preview_async
from bot.wiring.services import Services
from bot.words.texts import English, message_link, texts_for
from storage import Job, JobState, Reason

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

log = logging.getLogger(__name__)


async def check_and_submit(
    bot: Bot,
    services: Services,
    job: Job,
    declared_size: int | None = None,
    *,
    claimed: bool = False,
) -> Job:
    """Download the job's image, check and encode it, and submit it to the paid API, telling
    the user each outcome in the job's status message. `declared_size`: the file size
    Telegram declared, refused before any download when too large (None: unknown, checked
    after). `claimed`: the caller (the poll tick) already holds the job in
    `services.in_flight`; otherwise it is held there meanwhile, and a job held by another
    step is left to it untouched, so that no job is submitted twice. Returns the job as it
    ends up.

    Never raises: an unexpected error leaves the job interrupted, for the tick to explain.
    """
    if not claimed:
        if job.id in services.in_flight:
            # Held by the tick (retelling its refusal, say): the tick takes it on once free.
            log.info("job %s: already being taken on; the tick goes on with it", job.id)
            return await services.store.update(
                job.id, now=services.clock(), next_poll_at=services.clock()
            )
        services.in_flight.add(job.id)
    try:
        if job.pending_status is not None or job.next_poll_at is not None:
            # Taken up again while its refusal was still being retold (a fix tapped under
            # it): that refusal is moot, and the tick must not take the job on as well.
            job = await services.store.update(
                job.id, now=services.clock(), pending_status=None, next_poll_at=None
            )
        return await _checked_and_submitted(bot, services, job, declared_size)
    finally:
        if not claimed:
            services.in_flight.discard(job.id)


async def _checked_and_submitted(
    bot: Bot, services: Services, job: Job, declared_size: int | None
) -> Job:
    try:
        return await _check_and_submit(bot, services, job, declared_size)
    except Exception:
        log.exception("job %s: checking or submitting failed", job.id)
        current = await services.store.get(job.id)
        if current.state is JobState.RECEIVED:
            reason = Reason.NOT_SUBMITTED
        elif current.state is JobState.SUBMITTING:
            reason = current.reason or Reason.LOST_WHILE_SUBMITTING
        else:
            return current
        return await services.store.update(
            job.id,
            now=services.clock(),
            state=JobState.INTERRUPTED,
            reason=reason,
            next_poll_at=services.clock(),
        )


async def _check_and_submit(
    bot: Bot, services: Services, job: Job, declared_size: int | None
) -> Job:
    store, clock = services.store, services.clock
    words = texts_for(job.language)
    # An image is in memory from its download until the paid API has it. While it is checked
    # (its bytes, its pixels and its base64: ~100 MB for a 20 MB PNG) it holds an image slot,
    # `images_at_once` of them; once encoded (~30 MB) it takes a frame slot, `frames_at_once`,
    # before it lets its image slot go, and holds that until the create call is answered. So a
    # slow create holds up only the frames behind it, never another photo's check, and memory
    # stays bounded however many arrive at once. The user hears after the slots are free: a
    # reply may wait on Telegram's flood limit.
    refusal: tuple[Reason, str, list[Fix]] | None = None  # why, what the user reads, fixes
    ready: FirstFrame | None = None  # checked, encoded, holding a frame slot
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
            fixes = _fixes_offered(job, rejection.problem)
            text = words.image_refused(rejection, fixes=bool(fixes))
            refusal = (Reason(rejection.problem.value), text, fixes)
        except TelegramError as error:
            log.warning("job %s: could not download the image: %s", job.id, error)
            refusal = (Reason.DOWNLOAD_FAILED, words.DOWNLOAD_FAILED, [])
        else:
            converted_from, image_format = frame.converted_from, frame.image_format
            if job.retry_of is None:
                twin = await store.note_image(job, frame.sha256, now=clock())
            else:  # Again or Try again: another video of the same, asked for on purpose
                twin = None
                await store.update(job.id, now=clock(), image_sha256=frame.sha256)
            if twin is None:
                job = dataclasses.replace(job, image_sha256=frame.sha256)
                await services.frame_slots.acquire()
                ready = frame
                del frame  # `ready` alone holds it from here
            else:
                # A double send, or an impatient second try: one video, paid for once.
                log.info("job %s: the same as job %s, which is on its way", job.id, twin.id)
                first = message_link(twin.chat_id, twin.photo_message_id, twin.thread_id)
                refusal = (Reason.SAME_VIDEO_COMING, words.same_video_coming(first), [])
    if ready is not None:
        try:
            submission = await submit(services, job, ready)
        finally:
            services.frame_slots.release()
        del ready
    if refusal is not None:
        reason, text, fixes = refusal
        job = await store.update(job.id, now=clock(), state=JobState.REJECTED, reason=reason)
        markup = fix_markup(job, fixes) if fixes else None
        return await show_outcome(bot, services, job, text, reply_markup=markup)
    if submission.outcome in (SubmitOutcome.READY, SubmitOutcome.FAILED):
        return submission.job  # already final: the tick sends the video or the explanation
    if submission.outcome is SubmitOutcome.BUSY:
        return submission.job  # back in line: the line's next pass shows its place
    if submission.outcome is SubmitOutcome.ACCEPTED:
        text = words.queued(
            typical=services.generation_times.typical,
            converted_from=converted_from,
            image_format=image_format,
        )
    elif submission.outcome is SubmitOutcome.REFUSED:
        text = words.submission_failed(submission.reason)
    else:
        text = _outcome_text(services, words, submission.outcome)
    if submission.outcome is SubmitOutcome.ACCEPTED:
        return await show_progress(bot, services, submission.job, text)  # the video will follow
    return await show_outcome(bot, services, submission.job, text)


async def show_pending_outcome(bot: Bot, services: Services, job: Job) -> Job:
    """Show the outcome that `bot.engine.progress.show_outcome` could not, with the buttons it came
    with, and leave the job with nothing more to do. Raises Telegram errors: the tick tries
    again later."""
    assert job.pending_status is not None
    fixes: list[Fix] = []
    if job.state is JobState.REJECTED and job.reason in _IMAGE_PROBLEMS:
        fixes = _fixes_offered(job, ImageProblem(job.reason))
    shown = await show_progress(
        bot,
        services,
        job,
        job.pending_status,
        reply_markup=fix_markup(job, fixes) if fixes else None,
        anew_on_failure=True,
    )
    # Only while it is still the job that was told: one taken up again meanwhile (a fix
    # tapped under the refusal) keeps the next step it was given.
    done = await services.store.update_if(
        job.id, job.state, now=services.clock(), pending_status=None, next_poll_at=None
    )
    return done if done is not None else await services.store.get(shown.id)


_IMAGE_PROBLEMS = frozenset(problem.value for problem in ImageProblem)


def _fixes_offered(job: Job, problem: ImageProblem) -> list[Fix]:
    """The fixes offered under the refusal of the job's image: none for an image fixed
    already, so that there is no loop of buttons."""
    return [] if job.image_fix else fix_for(problem)


def _outcome_text(services: Services, words: English, outcome: SubmitOutcome) -> str:
    """What the user reads when the paid API could not be asked, or did not say."""
    return {
        SubmitOutcome.STAYED_BUSY: words.stayed_busy(services.settings.submit_patience_seconds),
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
