"""Check, encode and submit a recorded job, telling the user in its status message.

The pipeline's step after intake: download the job's image from Telegram, apply the fix its
user chose (if any), check and encode it (`bot.image.firstframe`), and submit it to the paid API
(`bot.engine.submission`). Each outcome (queued, the image refused with the fixes on offer, the API
busy or unsure) is shown in the job's status message. Intake calls it for a new job, the line's
tick for a job leaving the line, and the poll tick for a job a restart cut off before it
reached the API.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging

from bot.engine.chat_port import Chat, ChatError, FileTooBig
from bot.engine.durations import GenerationTimes
from bot.engine.keyboards import fix_markup
from bot.engine.meter import Meter
from bot.engine.progress import StatusMessages
from bot.engine.submission import SubmitOutcome, Submitter
from bot.engine.tuning import Clock
from bot.image.firstframe import (
    MAX_FILE_BYTES,
    FirstFrame,
    ImageProblem,
    ImageRejected,
    check_declared_size,
    prepare_first_frame_async,
)
from bot.image.fixes import Fix, apply_fix_async, fix_for, preview_async
from bot.logcontext import about_job
from bot.words.texts import English, message_link, texts_for
from storage import Job, JobState, JobStore, Reason

log = logging.getLogger(__name__)


class Pipeline:
    """Checks, encodes and submits recorded jobs, telling each outcome through `progress`.

    `chat` hands over the images and shows a fixed one; `submitter` creates the generation.
    The caller holds the job's lease throughout (`bot.engine.leases`). An image is
    checked holding one of `image_slots`, and once encoded waits for its create call holding
    one of `frame_slots`. `submit_patience_seconds`: how long the API may stay busy for a
    request (what a user is told when it did). `meter` counts the images refused, and the jobs
    that end here giving the day's count back."""

    def __init__(
        self,
        chat: Chat,
        store: JobStore,
        clock: Clock,
        progress: StatusMessages,
        submitter: Submitter,
        times: GenerationTimes,
        *,
        image_slots: asyncio.Semaphore,
        frame_slots: asyncio.Semaphore,
        submit_patience_seconds: float,
        meter: Meter,
    ) -> None:
        self._chat, self._store, self._clock = chat, store, clock
        self._progress, self._submitter, self._times = progress, submitter, times
        self._image_slots, self._frame_slots = image_slots, frame_slots
        self._submit_patience = submit_patience_seconds
        self._meter = meter

    async def check_and_submit(self, job: Job, declared_size: int | None = None) -> Job:
        """Download the job's image, check and encode it, and submit it to the paid API,
        telling the user each outcome in the job's status message. `declared_size`: the file
        size Telegram declared, refused before any download when too large (None: unknown,
        checked after). The caller holds the job's lease (it recorded the job, took it from
        the line, or claimed it in the tick), so that no other step submits it too. Returns
        the job as it ends up.

        Never raises: an unexpected error leaves the job interrupted, for the tick to explain.
        """
        store, clock = self._store, self._clock
        if job.pending_status is not None or job.next_poll_at is not None:
            # Taken up again while its refusal was still being retold (a fix tapped under it):
            # that refusal is moot, and the tick must not take the job on as well.
            job = await store.update(job.id, now=clock(), pending_status=None, next_poll_at=None)
        with about_job(job.id, job.generation_id):  # every line of this step names it
            return await self._checked_and_submitted(job, declared_size)

    async def _checked_and_submitted(self, job: Job, declared_size: int | None) -> Job:
        try:
            return await self._check_and_submit(job, declared_size)
        except Exception:
            log.exception("job %s: checking or submitting failed", job.id)
            current = await self._store.get(job.id)
            if current.state is JobState.RECEIVED:
                reason = Reason.NOT_SUBMITTED
            elif current.state is JobState.SUBMITTING:
                reason = current.reason or Reason.LOST_WHILE_SUBMITTING
            else:
                return current
            interrupted = await self._store.update(
                job.id,
                now=self._clock(),
                state=JobState.INTERRUPTED,
                reason=reason,
                next_poll_at=self._clock(),
            )
            if reason is Reason.NOT_SUBMITTED:  # nothing reached the paid API
                self._meter.quota_refunded(interrupted)
            return interrupted

    async def _check_and_submit(self, job: Job, declared_size: int | None) -> Job:
        store, clock = self._store, self._clock
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
        async with self._image_slots:
            try:
                check_declared_size(declared_size)
                data = await self._download(job.file_id, declared_size)
                if job.image_fix:  # chosen under an earlier refusal of this image
                    data = await apply_fix_async(data, Fix(job.image_fix))
                frame = await prepare_first_frame_async(data)
                if job.image_fix and job.retry_of is None:  # a retry's user saw it already
                    await self._show_fixed(job, data, frame)
                del data  # only the encoded frame goes on
            except ImageRejected as rejection:
                self._meter.image_refused(rejection.problem)
                fixes = _fixes_offered(job, rejection.problem)
                text = words.image_refused(rejection, fixes=bool(fixes))
                refusal = (Reason(rejection.problem.value), text, fixes)
            except ChatError as error:
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
                    await self._frame_slots.acquire()
                    ready = frame
                    del frame  # `ready` alone holds it from here
                else:
                    # A double send, or an impatient second try: one video, paid for once.
                    log.info("job %s: the same as job %s, which is on its way", job.id, twin.id)
                    first = message_link(twin.chat_id, twin.photo_message_id, twin.thread_id)
                    refusal = (Reason.SAME_VIDEO_COMING, words.same_video_coming(first), [])
        if ready is not None:
            try:
                submission = await self._submitter.submit(job, ready)
            finally:
                self._frame_slots.release()
            del ready
        if refusal is not None:
            reason, text, fixes = refusal
            job = await store.update(job.id, now=clock(), state=JobState.REJECTED, reason=reason)
            self._meter.quota_refunded(job)
            keyboard = fix_markup(job, fixes) if fixes else None
            return await self._progress.show_outcome(job, text, keyboard=keyboard)
        if submission.outcome in (SubmitOutcome.READY, SubmitOutcome.FAILED):
            return submission.job  # already final: the tick sends the video or the explanation
        if submission.outcome is SubmitOutcome.BUSY:
            return submission.job  # back in line: the line's next pass shows its place
        if submission.outcome is SubmitOutcome.TAKEN_OVER:
            return submission.job  # another instance has it, and tells its user
        if submission.outcome is SubmitOutcome.ACCEPTED:
            text = words.queued(
                typical=self._times.typical,
                converted_from=converted_from,
                image_format=image_format,
            )
        elif submission.outcome is SubmitOutcome.REFUSED:
            text = words.submission_failed(submission.reason)
        else:
            text = self._outcome_text(words, submission.outcome)
        if submission.outcome is SubmitOutcome.ACCEPTED:
            return await self._progress.show_progress(submission.job, text)  # the video follows
        return await self._progress.show_outcome(submission.job, text)

    async def show_pending_outcome(self, job: Job) -> Job:
        """Show the outcome that `StatusMessages.show_outcome` could not, with the buttons it
        came with, and leave the job with nothing more to do. Raises the chat's errors: the
        tick tries again later."""
        assert job.pending_status is not None
        fixes: list[Fix] = []
        if job.state is JobState.REJECTED and job.reason in _IMAGE_PROBLEMS:
            fixes = _fixes_offered(job, ImageProblem(job.reason))
        shown = await self._progress.show_progress(
            job,
            job.pending_status,
            keyboard=fix_markup(job, fixes) if fixes else None,
            anew_on_failure=True,
        )
        # Only while it is still the job that was told: one taken up again meanwhile (a fix
        # tapped under the refusal) keeps the next step it was given.
        done = await self._store.update_if(
            job.id, job.state, now=self._clock(), pending_status=None, next_poll_at=None
        )
        return done if done is not None else await self._store.get(shown.id)

    def _outcome_text(self, words: English, outcome: SubmitOutcome) -> str:
        """What the user reads when the paid API could not be asked, or did not say."""
        return {
            SubmitOutcome.STAYED_BUSY: words.stayed_busy(self._submit_patience),
            SubmitOutcome.OUT_OF_CREDITS: words.SERVICE_OUT_OF_CREDITS,
            SubmitOutcome.MISCONFIGURED: words.SERVICE_MISCONFIGURED,
            SubmitOutcome.UNKNOWN: words.OUTCOME_UNKNOWN,
        }[outcome]

    async def _show_fixed(self, job: Job, data: bytes, frame: FirstFrame) -> None:
        """Show the user the fixed image before it is submitted: a small preview, as a reply
        to their photo. Sent while the image slot is held, since the frame waits for it
        anyway. Never raises: the job goes on without it."""
        assert job.image_fix is not None
        try:
            preview = await preview_async(data)
            await self._chat.send_photo(
                job.chat_id,
                preview,
                caption=texts_for(job.language).fix_preview(
                    Fix(job.image_fix), frame.width, frame.height
                ),
                thread_id=job.thread_id,
                reply_to=job.photo_message_id,
            )
        except (ImageRejected, ChatError) as error:
            log.info("job %s: could not show the fixed image (%s)", job.id, error)

    async def _download(self, file_id: str, size: int | None) -> bytes:
        """The image's bytes from the chat; refused as too large when the chat will not hand
        over a file that big, or declares it over the limit."""
        try:
            return await self._chat.fetch_image(file_id, max_bytes=MAX_FILE_BYTES)
        except FileTooBig as error:
            declared = error.size if error.size is not None else size
            raise ImageRejected(ImageProblem.TOO_LARGE, size_bytes=declared) from error


_IMAGE_PROBLEMS = frozenset(problem.value for problem in ImageProblem)


def _fixes_offered(job: Job, problem: ImageProblem) -> list[Fix]:
    """The fixes offered under the refusal of the job's image: none for an image fixed
    already, so that there is no loop of buttons."""
    return [] if job.image_fix else fix_for(problem)
