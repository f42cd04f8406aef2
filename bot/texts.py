"""Every text a user reads, in one place, in each language the bot speaks.

`English` is the catalog; `Russian` overrides every one of its members. `texts_for` picks the
catalog for a user's Telegram `language_code`, English for any language without one.
Messages are HTML: dynamic parts are escaped here. Button labels, callback answers and
command descriptions are plain text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

from bot.access import (
    DailyCapReached,
    DailyLimitReached,
    TooManyActive,
    UsageReport,
    hours_minutes,
)
from bot.firstframe import ImageProblem, ImageRejected
from bot.imagefix import Fix
from bot.stats import StatsReport
from storage.jobs import (
    GENERATION_LOST,
    LOST_WHILE_SUBMITTING,
    NO_VIDEO,
    NOT_SUBMITTED,
    RESTARTED_DURING_SUBMIT,
    STAYED_BUSY,
    VIDEO_EXPIRED,
    Job,
    JobState,
)
from storage.line import Cancelled

MAX_CAPTION_CHARS = 1024
MAX_MESSAGE_CHARS = 4096

#: A command menu: (command, description) pairs, in the order the menu shows them.
CommandMenu = tuple[tuple[str, str], ...]

_STATE_ICONS = {
    JobState.RECEIVED: "📥",
    JobState.REJECTED: "⛔",
    JobState.SUBMITTING: "📤",
    JobState.QUEUED: "🕒",
    JobState.GENERATING: "⚙️",
    JobState.LATE: "🐢",
    JobState.COMPLETED: "📦",
    JobState.DELIVERED: "✅",
    JobState.FAILED: "❌",
    JobState.TIMED_OUT: "⏱",
    JobState.INTERRUPTED: "⚠️",
    JobState.UNDELIVERABLE: "🚫",
    JobState.WAITING: "⏳",
    JobState.CANCELLED: "✖️",
}
_AT_THE_SERVICE = (JobState.QUEUED, JobState.GENERATING, JobState.LATE)

#: The bot's own reasons for a job that failed after it reached (or may have reached) the
#: video service, as /stats words them. Those already plain English (GENERATION_LOST, say)
#: are shown as they are. Refusals are not failures: /stats does not list them.
_OWN_REASONS_EN = {
    NOT_SUBMITTED: "stopped before submitting (not charged)",
    RESTARTED_DURING_SUBMIT: "the bot restarted while submitting",
}


# --- Language-neutral helpers -------------------------------------------------------------


def shorten(text: str, limit: int) -> str:
    """Cut plain text to at most `limit` characters, with an ellipsis when cut."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def message_link(chat_id: int, message_id: int, thread_id: int | None = None) -> str | None:
    """A t.me link to a message, where Telegram has one: in supergroups (for their members),
    not in private chats or basic groups."""
    text = str(chat_id)
    if not text.startswith("-100"):
        return None
    path = f"{text[4:]}/{thread_id}/{message_id}" if thread_id else f"{text[4:]}/{message_id}"
    return f"https://t.me/c/{path}"


def _caption(head: str, prompt: str, tail: str) -> str:
    # Telegram counts the caption after HTML parsing, so the limit applies to the plain text.
    room = MAX_CAPTION_CHARS - len(head) - len(tail)
    return head + escape(shorten(prompt, room)) + tail


def _tens(seconds: float) -> float:
    # Whole ten seconds: finer steps would only make edits that tell nothing new.
    return seconds // 10 * 10


def _started(job: Job) -> float:
    return job.submitted_at or job.created_at


def _job_entry(job: Job, label: str, detail: str, photo: str) -> str:
    """One job of the /status list: icon, state, detail, a link to the photo where there is
    one, and the prompt cut short."""
    head = f"{_STATE_ICONS[job.state]} <b>{label}</b> · {detail}"
    link = message_link(job.chat_id, job.photo_message_id, job.thread_id)
    if link is not None:
        head += f' · <a href="{escape(link, quote=True)}">{photo}</a>'
    return f"{head}\n    <i>{escape(shorten(job.prompt, 60))}</i>"


def _image_size(rejection: ImageRejected) -> str | None:
    if rejection.width is None or rejection.height is None:
        return None
    return f"{rejection.width}×{rejection.height} px"


def _plural_en(count: int, one: str, many: str) -> str:
    return one if count == 1 else many


def _plural_ru(n: int, one: str, few: str, many: str) -> str:
    """The Russian form of a noun after the number `n`: one (1, 21, 101), few (2–4, 22–24),
    many (0, 5–20, 25–30, 111–114)."""
    n = abs(n)
    if n % 10 == 1 and n % 100 != 11:
        return one
    if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return few
    return many


# --- English: the catalog -----------------------------------------------------------------


class English:
    """Every text the bot shows, in English. Constants are texts without parameters; methods
    build the texts that have them. Every member is overridden in `Russian`."""

    # --- Commands (plain text, the menus registered at start-up) --------------------------

    PRIVATE_COMMANDS: CommandMenu = (
        ("help", "How to use the bot and the image rules"),
        ("status", "Your jobs"),
        ("animate", "Reply to a photo: /animate what should happen"),
        ("cancel", "Cancel your jobs"),
        ("settings", "Prompt optimizer on or off"),
    )
    GROUP_COMMANDS: CommandMenu = (
        ("animate", "Reply to a photo: /animate what should happen"),
        ("status", "Your jobs in this group"),
        ("help", "How to use the bot"),
        ("cancel", "Cancel your jobs in this group"),
    )

    # --- Intake -----------------------------------------------------------------------------

    def help(self, typical: float, *, group: bool = False) -> str:
        """/start and /help; `typical`: the seconds a video usually takes. In a group
        (`group`), how to ask there comes first."""
        private = (
            "Send me a photo with a caption that says what should happen, for example "
            f"<i>she smiles and waves</i>. It usually takes {self.about(typical)}; then I reply "
            "to your photo with a 6-second video.\n\n"
        )
        in_group = (
            "<b>In a group</b>, start the caption with <code>/animate</code>, or reply to a "
            "photo with <code>/animate what should happen</code>.\n\n"
        )
        if group:
            in_group = (
                "<b>Here in the group</b>, start a photo's caption with <code>/animate</code> "
                "and say what should happen, for example <code>/animate she smiles and "
                "waves</code>, or reply to a photo with <code>/animate what should happen</code>. "
                f"It usually takes {self.about(typical)}; then I reply to the photo with a "
                "6-second video.\n\n"
            )
            private = "In a private chat with me, a photo and its caption are enough.\n\n"
        return (
            "<b>I turn a photo into a short video</b> 🎬\n\n"
            + (in_group + private if group else private + in_group)
            + "<b>Image rules:</b> JPG or PNG, up to 20 MB, the shorter side over 300 px, and no "
            "more elongated than 5:2 either way (from 2:5 portrait to 5:2 landscape, "
            "exclusive).\n\n"
            "/status shows your jobs and what you have left today; /cancel cancels them.\n\n"
            "The video service may reword your prompt to improve the video. End a prompt with "
            "<code>--exact</code> to have it used as written; /settings makes that your default."
        )

    PRIVATE_TEXT_HINT = (
        "Send me a <b>photo</b> with a caption that says what should happen in the video. "
        "/help explains more."
    )

    NEED_CAPTION = (
        "What should happen in the video? Send the photo again with a caption, for example "
        "<i>the cat turns its head and blinks</i>, or reply to it with "
        "<code>/animate the cat turns its head and blinks</code>."
    )

    ANIMATE_NEEDS_PROMPT = (
        "Add what should happen after the command, for example "
        "<code>/animate the dog wags its tail</code>."
    )

    ANIMATE_NEEDS_PHOTO = (
        "Reply to a photo with <code>/animate what should happen</code>, or send a photo with "
        "<code>/animate what should happen</code> as its caption."
    )

    ANIMATE_REPLY_NOT_PHOTO = (
        "The message you replied to has no photo. Reply to a photo (JPG or PNG) with "
        "<code>/animate what should happen</code>."
    )

    ALBUM_NOTICE = (
        "I make one video per photo, from the photo that carries the caption. To animate the "
        "others, send each one on its own with its own caption."
    )

    RECEIVED = "📥 Got it! Checking your photo and sending it to the animator…"

    DOWNLOAD_FAILED = (
        "😔 I could not download your photo from Telegram. Nothing was charged. "
        "Please send it again."
    )

    def same_video_coming(self, first_photo: str | None) -> str:
        """The same photo and prompt are already being made for this user: no second charge.
        `first_photo`: a link to the earlier request, where Telegram has one."""
        earlier = "your first one"
        if first_photo:
            earlier = f'<a href="{escape(first_photo)}">{earlier}</a>'
        return (
            "🔁 This photo with this prompt is already being made into a video for you, so I "
            "did not start the same video twice, and this request does not count against your "
            f"daily limit. I will answer {earlier}: with the video, or with what went wrong. "
            "For another version, tap 🔁 Again under that video, or send the photo with a "
            "different prompt."
        )

    def about(self, seconds: float) -> str:
        """A rough span, for what to expect: "about 15 seconds", "about 3 minutes"."""
        if seconds < 55:
            count = max(5, round(seconds / 5) * 5)
            return f"about {count} seconds"
        minutes = max(1, round(seconds / 60))
        return f"about {minutes} {_plural_en(minutes, 'minute', 'minutes')}"

    def queued(
        self, *, typical: float, converted_from: str | None = None, image_format: str = "JPEG"
    ) -> str:
        """The job is at the video service; `typical`: seconds a video usually takes. Says when
        the image was converted to a format the model takes."""
        text = (
            f"✅ Queued. Your video should be ready in {self.about(typical)}: I will reply to "
            "your photo. /status shows how it is going."
        )
        if converted_from is None:
            return text
        return f"{text}\n(converted from {escape(converted_from)} to {escape(image_format)})"

    def prompt_too_long(self, length: int, limit: int) -> str:
        return (
            f"Your prompt is {length} characters long; the limit is {limit}. "
            "Please shorten it and send the photo again."
        )

    def image_refused(self, rejection: ImageRejected, *, fixes: bool = False) -> str:
        """Why an image cannot be used, and what would work instead; with `fixes`, a last line
        that points at the buttons under it that can fix the image."""
        size = _image_size(rejection) or "this size"
        problem = rejection.problem
        if problem is ImageProblem.TOO_LARGE:
            got = (
                f" ({rejection.size_bytes / (1024 * 1024):.1f} MB)" if rejection.size_bytes else ""
            )
            text = f"This file is too large{got}. Please send an image of at most 20 MB."
        elif problem is ImageProblem.NOT_AN_IMAGE:
            text = "This file is not an image I can read. Please send a JPG or PNG photo."
        elif problem is ImageProblem.CORRUPT:
            text = (
                "This image looks damaged: it could not be read to the end. "
                "Please send it again, or save it anew as JPG or PNG."
            )
        elif problem is ImageProblem.UNSUPPORTED_FORMAT:
            kind = escape(rejection.image_format or "this format")
            text = (
                f"{kind} images are not supported by the video model. "
                "Please send a JPG or PNG, or send it as a photo rather than as a file."
            )
        elif problem is ImageProblem.TOO_SMALL:
            text = (
                f"This image is too small ({size}): its shorter side must be over 300 px. "
                "Please send a larger photo."
            )
        elif problem is ImageProblem.TOO_TALL:
            text = (
                f"This image is too tall and narrow ({size}). The width must be more than 2/5 "
                "of the height. Please crop it closer to a square, or to at most 2:5 portrait."
            )
        elif problem is ImageProblem.TOO_WIDE:
            text = (
                f"This image is too wide ({size}). The width must be less than 5/2 of the "
                "height. Please crop it closer to a square, or to at most 5:2 landscape."
            )
        else:
            text = (
                f"This image has too many pixels ({size}). "
                "Please send a smaller image (up to about 50 megapixels)."
            )
        if fixes:
            text += "\n\n👇 Or tap a button below and I will fix the photo for you."
        return text

    # --- Submission and its outcomes --------------------------------------------------------

    def submission_failed(self, reason: str | None) -> str:
        """The API refused the request; `reason` is the API's own words, quoted as they are."""
        return (
            f"😔 The video service refused this request: {escape(reason or 'no reason given')}. "
            "Nothing was charged."
        )

    def stayed_busy(self, patience: float) -> str:
        """The API stayed too busy to take the request for `patience` seconds."""
        return (
            "😔 The video service stayed too busy to take your request for "
            f"{self.duration(patience)}, so I stopped trying. Nothing was charged. "
            "Please send the photo again later."
        )

    SERVICE_OUT_OF_CREDITS = (
        "😔 I can't take new videos right now: the bot's video service account has run out "
        "of credits. Nothing was charged. Please try again later."
    )

    SERVICE_MISCONFIGURED = (
        "😔 I can't reach the video service right now because of a problem on the bot's side. "
        "Nothing was charged. The operator can see it in the logs. Please try again later."
    )

    OUTCOME_UNKNOWN = (
        "⚠️ The video service did not confirm your request, so I can't tell whether it went "
        "through. It may have been charged, but I have no way to follow it, so no video will "
        "come from it. Sending the photo again starts a new video, charged on its own: "
        "it is up to you."
    )

    INTERRUPTED = (
        "⚠️ I lost track of your request while sending it to the video service (the bot "
        "restarted or hit an error), so I can't tell whether it went through. It may have "
        "been charged, but no video will come from it. Sending the photo again starts a new "
        "video, charged on its own: it is up to you."
    )

    INTERRUPTED_BEFORE_SUBMIT = (
        "⚠️ Something went wrong before your photo reached the video service, so nothing was "
        "charged. Please send the photo again."
    )

    def generation_failed(self, reason: str | None) -> str:
        """No video: `reason` is the API's own words, quoted as they are, or one of the bot's
        own reasons (GENERATION_LOST, VIDEO_EXPIRED: stored in English, translated by the
        other languages)."""
        because = f": {escape(reason)}" if reason else ""
        return (
            f"😔 The video service could not make this video{because}. "
            "You can send the photo again, maybe with another prompt or another photo."
        )

    def timed_out(self, waited: float) -> str:
        """A late video that never came: followed for `waited` seconds, then given up."""
        return (
            f"⏱ The video service did not finish this video in {self.duration(waited)}, so I "
            "stopped waiting for it, and it does not count against your daily limit. Please "
            "send the photo again later."
        )

    # --- Progress and delivery --------------------------------------------------------------

    def duration(self, seconds: float) -> str:
        """A short span for people: "45 s", "3 min 05 s", "1 h 02 min"."""
        seconds = max(0, round(seconds))
        if seconds < 60:
            return f"{seconds} s"
        minutes, seconds = divmod(seconds, 60)
        if minutes < 60:
            return f"{minutes} min {seconds:02d} s"
        hours, minutes = divmod(minutes, 60)
        return f"{hours} h {minutes:02d} min"

    def time_left(self, seconds: float) -> str:
        """Time until a reset, rounded up to the minute: "12 h 0 min", "5 min"."""
        hours, minutes = hours_minutes(seconds)
        return f"{hours} h {minutes} min" if hours else f"{minutes} min"

    def video_caption(self, prompt: str, made_in: float | None = None) -> str:
        """The delivered video's caption: the prompt, cut to fit, and how long it took."""
        tail = f"\n⏱ made in {self.duration(made_in)}" if made_in is not None else ""
        return _caption("🎬 ", prompt, tail)

    def progress_queued(self, elapsed: float, typical: float, *, late: bool = False) -> str:
        """Progress while the service has not started: `elapsed` since submission, `typical`
        for a whole video; `late` when this job is clearly slower than that."""
        so_far = self.duration(_tens(elapsed))
        if late:
            return (
                f"🕒 Still queued at the video service ({so_far} so far), longer than usual: a "
                f"video usually takes {self.about(typical)} in all. I am still following it and "
                "will reply to your photo."
            )
        return (
            f"🕒 Queued at the video service ({so_far} so far). A video usually takes "
            f"{self.about(typical)} in all: I will reply to your photo."
        )

    def progress_late(self, elapsed: float) -> str:
        """Past JOB_TIMEOUT_SECONDS: the video is late, and still followed."""
        return (
            f"🐢 Your video is late: {self.duration(_tens(elapsed))} so far, far longer than "
            "usual. The video service still has it, so it will still come: I check on it every "
            "few minutes and will reply to your photo the moment it is ready."
        )

    def progress_generating(self, elapsed: float, typical: float, *, late: bool = False) -> str:
        """Progress while the video is made; the arguments as for `progress_queued`."""
        so_far, usual = self.duration(_tens(elapsed)), self.about(typical)
        if late:
            return (
                f"⚙️ Generating your video: {so_far} so far, longer than usual: a video usually "
                f"takes {usual} in all. I am still following it and will reply to your photo."
            )
        return (
            f"⚙️ Generating your video: {so_far} so far, usually {usual} in all. "
            "I will reply to your photo."
        )

    def video_too_large(self, url: str) -> str:
        return (
            "🎬 Your video is ready but too large to send here. "
            f'<a href="{escape(url, quote=True)}">Download it</a>; '
            "the link expires in a few hours."
        )

    def video_refused(self, url: str) -> str:
        """Telegram would not take the video in this chat (rights, say): the link instead."""
        return (
            "🎬 Your video is ready, but Telegram would not let me post it in this chat. "
            f'<a href="{escape(url, quote=True)}">Download it</a>; '
            "the link expires in a few hours."
        )

    # --- /status ----------------------------------------------------------------------------

    NO_JOBS = "You have no jobs yet. Send a photo with a caption to start one."

    def state_label(self, state: JobState) -> str:
        """A job's state in a few words (plain text)."""
        return {
            JobState.RECEIVED: "checking the photo",
            JobState.REJECTED: "photo refused",
            JobState.SUBMITTING: "sending",
            JobState.QUEUED: "queued",
            JobState.GENERATING: "generating",
            JobState.LATE: "late, still coming",
            JobState.COMPLETED: "sending the video",
            JobState.DELIVERED: "done",
            JobState.FAILED: "failed",
            JobState.TIMED_OUT: "timed out",
            JobState.INTERRUPTED: "interrupted",
            JobState.UNDELIVERABLE: "not delivered",
            JobState.WAITING: "waiting in line",
            JobState.CANCELLED: "cancelled",
        }[state]

    def failure_reason(self, error: str) -> str:
        """Why a job ended without a video, for /stats (plain text): the bot's own reasons in
        words, anything else (the API's or Telegram's words) as it is."""
        return _OWN_REASONS_EN.get(error, error)

    def ago(self, seconds: float) -> str:
        seconds = max(0, int(seconds))
        if seconds < 60:
            return "just now"
        if seconds < 3600:
            return f"{seconds // 60} min ago"
        if seconds < 86400:
            return f"{seconds // 3600} h ago"
        return f"{seconds // 86400} d ago"

    def status_list(
        self, jobs: Sequence[Job], *, now: float, places: Mapping[int, int] | None = None
    ) -> str:
        """The /status reply: the caller's jobs, newest first, each with its state, its place
        in line or time so far, the prompt cut short and a link to the photo where one
        exists."""
        if not jobs:
            return self.NO_JOBS
        places = places or {}
        lines = ["<b>Your jobs</b>, newest first:"]
        for job in jobs:
            detail = self.ago(now - job.created_at)
            place = places.get(job.id)
            if job.state is JobState.WAITING and place is not None:
                detail += f" · place {place} in line"
            elif job.state in _AT_THE_SERVICE:
                detail += f" · {self.duration(_tens(now - _started(job)))} so far"
            lines.append(_job_entry(job, self.state_label(job.state), detail, "photo"))
        return "\n".join(lines)

    def usage_today(self, report: UsageReport) -> str:
        """The /status footer: the caller's budget today."""
        if not report.allowed:
            return (
                "🔒 You have no access to this bot yet. Your user id is "
                f"<code>{report.user_id}</code>: send it to the operator to ask for access."
            )
        active = f"On the way: {report.active} of {report.active_limit} at once."
        if report.admin:
            made = f"{report.today} {_plural_en(report.today, 'video', 'videos')}"
            return f"<b>Today</b> (UTC): {made}, no daily limit for admins. {active}"
        left = max(0, report.daily_limit - report.today)
        of = f"{report.daily_limit} {_plural_en(report.daily_limit, 'video', 'videos')}"
        return (
            f"<b>Today</b> (UTC): {report.today} of {of} used, {left} "
            f"left; the count starts again at 00:00 UTC, in {self.time_left(report.resets_in)}. "
            f"{active}"
        )

    # --- Access, budgets and the line -------------------------------------------------------

    def not_allowed(self, user_id: int) -> str:
        return (
            "🔒 Sorry, this bot makes videos only for people its operator has allowed. "
            f"Your user id is <code>{user_id}</code>: send it to the operator to ask for access."
        )

    def too_many_active(self, verdict: TooManyActive) -> str:
        videos = _plural_en(verdict.active, "video", "videos")
        return (
            f"✋ You already have {verdict.active} {videos} on the way, and the most at once is "
            f"{verdict.limit}. Please send this photo again when one is done "
            "(/status shows them)."
        )

    def daily_limit_reached(self, verdict: DailyLimitReached) -> str:
        return (
            f"✋ You have reached today's limit: {verdict.used} of {verdict.limit} "
            f"{_plural_en(verdict.limit, 'video', 'videos')}. "
            f"Your count starts again at 00:00 UTC, in {self.time_left(verdict.resets_in)}. "
            "Videos that fail do not count."
        )

    def daily_cap_reached(self, verdict: DailyCapReached) -> str:
        """The whole bot made all the videos it may make today (DAILY_JOBS_TOTAL)."""
        return (
            f"✋ This bot has made all the videos it can today ({verdict.limit}). Nothing was "
            f"charged. It starts again at 00:00 UTC, in {self.time_left(verdict.resets_in)}: "
            "please send your photo then."
        )

    # --- Alerts for the admins (the operator must act) ---------------------------------

    def alert_daily_cap(self, verdict: DailyCapReached) -> str:
        return (
            f"⚠️ Admin alert: the bot reached its daily cap of {verdict.limit} videos "
            "(DAILY_JOBS_TOTAL). New requests are refused until 00:00 UTC, in "
            f"{self.time_left(verdict.resets_in)}."
        )

    def alert_out_of_credits(self, reason: str) -> str:
        return (
            "⚠️ Admin alert: the video service says the account is out of credits "
            f"({escape(reason)}). New videos fail until it is topped up."
        )

    def alert_misconfigured(self, reason: str) -> str:
        return (
            "⚠️ Admin alert: the video service refused the bot's key or endpoint "
            f"({escape(reason)}). Check AIMLAPI_KEY, AIMLAPI_BASE_URL and AIMLAPI_ENDPOINT."
        )

    def alert_failing(self, count: int, reason: str) -> str:
        return (
            f"⚠️ Admin alert: the last {count} requests to the video service ended without a "
            f"confirmed job (last: {escape(reason)}). See the bot's log."
        )

    def waiting_in_line(self, place: int) -> str:
        return (
            "⏳ Many videos are being made right now, so your photo waits in line: it is "
            f"<b>number {place}</b>. I will send it to the animator as soon as a place frees "
            "up. /cancel takes it out of the line at no charge."
        )

    def busy_in_line(self, place: int) -> str:
        """The API was too busy to take the request: it waits in line to be tried again."""
        return (
            "⏳ The video service is busy right now and did not take your photo yet, so it "
            f"waits in line: it is <b>number {place}</b>. I will keep trying, and nothing is "
            "charged until the service takes it. /cancel takes it out of the line."
        )

    CANCELLED_WAITING = "✖️ Cancelled: taken out of the line. Nothing was charged."

    CANCELLED_SUBMITTED = (
        "✖️ Cancelled: I stopped following this video. The video service had already taken "
        "it, so its credits are spent."
    )

    def cancel_report(self, cancelled: Cancelled) -> str:
        """The /cancel reply: what was done, with counts."""

        def jobs(count: int) -> str:
            return f"{count} {_plural_en(count, 'job', 'jobs')}"

        lines = []
        if cancelled.waiting:
            lines.append(
                f"✖️ Took {jobs(len(cancelled.waiting))} out of the line. Nothing was charged."
            )
        if cancelled.stopped:
            lines.append(
                f"✖️ Stopped following {jobs(len(cancelled.stopped))} already sent to the video "
                "service. The service cannot take them back, so their credits are spent, and "
                "their videos will not be sent."
            )
        if cancelled.busy:
            lines.append(
                f"⏳ {jobs(cancelled.busy)} could not be stopped: being sent to the video "
                "service or finished and on the way to you right now."
            )
        return "\n".join(lines) if lines else "You have nothing to cancel."

    # --- Admins -----------------------------------------------------------------------------

    ADMINS_ONLY = "🔒 This command is for the bot's admins."

    ALLOW_USAGE = (
        "Usage: <code>/allow 123456789</code>, with the person's Telegram user id "
        "(they see it when the bot refuses them)."
    )

    DENY_USAGE = "Usage: <code>/deny 123456789</code>, with the person's Telegram user id."

    def user_allowed(self, user_id: int, *, was_open: bool) -> str:
        text = f"✅ User <code>{user_id}</code> may now make videos."
        if was_open:
            text += (
                "\nNote: the bot was open to everyone. From now on only allowed people and "
                "groups can make videos."
            )
        return text

    def user_denied(self, user_id: int, *, cancelled: int) -> str:
        text = f"🚫 User <code>{user_id}</code> can no longer make videos, in private or in groups."
        if cancelled:
            jobs = _plural_en(cancelled, "job", "jobs")
            text += f" {cancelled} {jobs} of theirs left the line, uncharged."
        return text

    def cannot_deny_admin(self, user_id: int) -> str:
        return (
            f"User <code>{user_id}</code> is an admin (ADMIN_USER_IDS), and admins always have "
            "access. Remove them from the settings instead."
        )

    def stats_report(self, report: StatsReport) -> str:
        """The /stats reply, for admins."""

        def span(value: float | None) -> str:
            return "–" if value is None else self.duration(value)

        if report.success_rate is None:
            success = "nothing finished yet"
        else:
            success = (
                f"{report.delivered_week} of {report.finished_week} finished "
                f"({report.success_rate:.0%})"
            )
        lines = [
            "<b>Stats</b>",
            f"Today (UTC): {report.requests_today} "
            f"{_plural_en(report.requests_today, 'request', 'requests')}, "
            f"{report.submitted_today} sent to "
            "the video service",
            f"Last 7 days: {report.requests_week} "
            f"{_plural_en(report.requests_week, 'request', 'requests')}, "
            f"{report.submitted_week} sent",
            f"Delivered (7 days): {success}",
            f"Submission to delivery: median {span(report.median_seconds)}, "
            f"p95 {span(report.p95_seconds)}",
        ]
        if report.failures:
            lines.append("<b>Failures</b> (7 days):")
            for failure in report.failures:
                reason = (
                    escape(shorten(self.failure_reason(failure.error), 80))
                    if failure.error
                    else "no reason given"
                )
                lines.append(f"• {self.state_label(failure.state)}: {reason} × {failure.count}")
        else:
            lines.append("No failures in the last 7 days.")
        lines.append(
            f"Now: {report.in_flight} of {report.in_flight_limit} at the video service, "
            f"{report.waiting} waiting in line"
        )
        if report.usage_today:
            spent = ", ".join(
                self.usage_amount(amount, unit) for unit, amount in report.usage_today.items()
            )
            lines.append(f"Cost today, as the video service counts it: {spent}")
        return "\n".join(lines)

    def usage_amount(self, amount: float, unit: str) -> str:
        """An amount the API reported, with its unit: "120 credits", "1 token"."""
        words = {"credits": ("credit", "credits"), "tokens": ("token", "tokens")}.get(unit)
        one, many = words or (unit, unit)
        return f"{amount:,.6g} {one if amount == 1 else many}"

    # --- Buttons ----------------------------------------------------------------------------
    # Labels and callback answers (toasts and alerts) are plain text, not HTML; answers are
    # at most 200 characters.

    BUTTON_AGAIN = "🔁 Again"
    BUTTON_RETRY = "🔁 Try again"
    BUTTON_CANCEL = "✖️ Cancel"

    NOT_YOUR_BUTTON = "🔒 Only the person who sent this photo can use this button."
    ON_ITS_WAY = "🔁 On its way!"
    ALREADY_ON_ITS_WAY = "⏳ Already on its way."
    ALREADY_DONE = "✅ Already done: its video, or what went wrong, is in the chat."
    BUTTON_STOP_PAID = "✖️ Stop them"
    BUTTON_KEEP_PAID = "✅ Keep them"
    KEPT_PAID = "✅ Kept: those videos will still come to you."

    def ask_stop_paid(self, count: int) -> str:
        """/cancel found videos the service already makes: ask before giving them up."""
        these = "1 video" if count == 1 else f"{count} videos"
        return (
            f"🎬 The video service is already making {these} for you. They are paid for and "
            "cannot be taken back: if you stop following them, their credits are spent and "
            "the videos will not be sent. Stop them, or keep them?"
        )

    BUTTON_OUTDATED = "This button no longer works."
    OUT_OF_THE_LINE = "✖️ Out of the line. Nothing was charged."
    ALREADY_LEFT_THE_LINE = (
        "It has already left the line and is on its way to the video service. "
        "/cancel stops following it."
    )

    def fix_button(self, fix: Fix) -> str:
        return {
            Fix.CROP: "✂️ Crop to fit",
            Fix.PAD: "🖼 Pad with blur",
            Fix.UPSCALE: "🔍 Upscale to 720 px",
        }[fix]

    def fixing(self, fix: Fix) -> str:
        """The status message (and the button's answer) while a chosen fix is applied."""
        return {
            Fix.CROP: "✂️ Cropping your photo to fit…",
            Fix.PAD: "🖼 Padding your photo with a blurred background…",
            Fix.UPSCALE: "🔍 Enlarging your photo…",
        }[fix]

    def fix_preview(self, fix: Fix, width: int, height: int) -> str:
        """The caption of the fixed image's preview."""
        done = {Fix.CROP: "✂️ Cropped", Fix.PAD: "🖼 Padded", Fix.UPSCALE: "🔍 Upscaled"}[fix]
        return f"{done} to {width}×{height}: this is what will be animated."

    # --- Settings ---------------------------------------------------------------------------

    SETTINGS_IN_PRIVATE = "⚙️ Settings are personal: send me /settings in a private chat."
    NOT_YOUR_SETTINGS = "🔒 These are someone else's settings."

    def settings(self, *, prompt_optimizer: bool, chosen: bool) -> str:
        """The /settings message. `chosen`: the user picked the value (else it is the
        default)."""
        default = "" if chosen else " (the default)"
        if prompt_optimizer:
            state = (
                f"<b>Prompt optimizer: on</b>{default}\n"
                "The video service rewrites your prompt to make a better video."
            )
        else:
            state = (
                f"<b>Prompt optimizer: off</b>{default}\n"
                "Your prompts are used exactly as you write them."
            )
        return (
            f"⚙️ <b>Settings</b>\n\n{state}\n\n"
            "Tip: end a prompt with <code>--exact</code> to use it exactly as written, just once."
        )

    def optimizer_button(self, prompt_optimizer: bool) -> str:
        """The button that switches the optimizer away from `prompt_optimizer`."""
        return "✍️ Use my words exactly" if prompt_optimizer else "✨ Let the service improve them"

    def optimizer_saved(self, prompt_optimizer: bool) -> str:
        return "✨ Prompt optimizer on." if prompt_optimizer else "✍️ Prompt optimizer off."


# --- Russian ------------------------------------------------------------------------------

#: The bot's own failure reasons (stored in English in `Job.error`), in Russian. The first
#: three are also shown to users; the rest only in /stats.
_OWN_REASONS_RU = {
    GENERATION_LOST: "видеосервис потерял это задание",
    VIDEO_EXPIRED: "готовое видео устарело, прежде чем я успел его отправить",
    NO_VIDEO: "видеосервис закончил работу, но не прислал видео",
    NOT_SUBMITTED: "остановлено до отправки (без оплаты)",
    RESTARTED_DURING_SUBMIT: "бот перезапустился во время отправки",
    LOST_WHILE_SUBMITTING: "сбой во время отправки",
    STAYED_BUSY: "видеосервис так и не освободился, чтобы принять задание",
}


def _own_reason_ru(reason: str) -> str:
    return _OWN_REASONS_RU.get(reason, reason)


def _jobs_ru(count: int) -> str:
    return f"{count} {_plural_ru(count, 'задание', 'задания', 'заданий')}"


class Russian(English):
    """Every text the bot shows, in Russian."""

    # --- Commands ---------------------------------------------------------------------------

    PRIVATE_COMMANDS: CommandMenu = (
        ("help", "Как пользоваться ботом и какие нужны картинки"),
        ("status", "Ваши задания"),
        ("animate", "Ответом на фото: /animate что должно произойти"),
        ("cancel", "Отменить ваши задания"),
        ("settings", "Улучшение описаний: вкл. или выкл."),
    )
    GROUP_COMMANDS: CommandMenu = (
        ("animate", "Ответом на фото: /animate что должно произойти"),
        ("status", "Ваши задания в этой группе"),
        ("help", "Как пользоваться ботом"),
        ("cancel", "Отменить ваши задания в этой группе"),
    )

    # --- Intake -----------------------------------------------------------------------------

    def help(self, typical: float, *, group: bool = False) -> str:
        private = (
            "Пришлите мне фото с подписью о том, что должно произойти, например "
            "<i>она улыбается и машет рукой</i>. Обычно на это уходит "
            f"{self.about(typical)}, и я отвечаю на ваше фото 6-секундным видео.\n\n"
        )
        in_group = (
            "<b>В группе</b> начните подпись с <code>/animate</code> или ответьте на фото "
            "командой <code>/animate что должно произойти</code>.\n\n"
        )
        if group:
            in_group = (
                "<b>Здесь, в группе,</b> начните подпись к фото с <code>/animate</code> и "
                "напишите, что должно произойти, например <code>/animate она улыбается и машет "
                "рукой</code>, или ответьте на фото командой <code>/animate что должно "
                f"произойти</code>. Обычно на это уходит {self.about(typical)}, и я отвечаю на "
                "фото 6-секундным видео.\n\n"
            )
            private = "В личном чате со мной достаточно фото с подписью.\n\n"
        return (
            "<b>Я превращаю фото в короткое видео</b> 🎬\n\n"
            + (in_group + private if group else private + in_group)
            + "<b>Какие нужны картинки:</b> JPG или PNG, до 20 МБ, меньшая сторона больше 300 px, "
            "соотношение сторон строго между 2:5 (вертикальная) и 5:2 (горизонтальная).\n\n"
            "/status покажет ваши задания и сколько видео ещё можно сделать сегодня; "
            "/cancel их отменит.\n\n"
            "Видеосервис может переформулировать ваше описание, чтобы видео вышло лучше. "
            "Добавьте в конце <code>--exact</code>, и описание будет использовано как есть; "
            "в /settings это можно сделать поведением по умолчанию."
        )

    PRIVATE_TEXT_HINT = (
        "Пришлите мне <b>фото</b> с подписью о том, что должно происходить на видео. "
        "Подробнее — в /help."
    )

    NEED_CAPTION = (
        "Что должно происходить на видео? Пришлите фото ещё раз с подписью, например "
        "<i>кот поворачивает голову и моргает</i>, или ответьте на него командой "
        "<code>/animate кот поворачивает голову и моргает</code>."
    )

    ANIMATE_NEEDS_PROMPT = (
        "Напишите после команды, что должно произойти, например "
        "<code>/animate собака виляет хвостом</code>."
    )

    ANIMATE_NEEDS_PHOTO = (
        "Ответьте на фото командой <code>/animate что должно произойти</code> или пришлите "
        "фото с подписью <code>/animate что должно произойти</code>."
    )

    ANIMATE_REPLY_NOT_PHOTO = (
        "В сообщении, на которое вы ответили, нет фото. Ответьте на фото (JPG или PNG) "
        "командой <code>/animate что должно произойти</code>."
    )

    ALBUM_NOTICE = (
        "Я делаю одно видео из одного фото — из того, у которого есть подпись. Чтобы оживить "
        "остальные, пришлите каждое отдельно и со своей подписью."
    )

    RECEIVED = "📥 Принято! Проверяю фото и передаю его на анимацию…"

    DOWNLOAD_FAILED = (
        "😔 Не получилось скачать ваше фото из Telegram. Ничего не списано. "
        "Пришлите его, пожалуйста, ещё раз."
    )

    def same_video_coming(self, first_photo: str | None) -> str:
        earlier = (
            f'<a href="{escape(first_photo)}">первое такое фото</a>'
            if first_photo
            else "первое такое фото"
        )
        return (
            "🔁 Видео из этого фото с этим же описанием уже делается, поэтому второе такое же я "
            "запускать не стал, и в дневной лимит этот запрос не засчитан. Я отвечу на "
            f"{earlier}: пришлю видео или расскажу, что пошло не так. Чтобы получить другой "
            "вариант, нажмите «🔁 Ещё раз» под тем видео или пришлите фото с другим описанием."
        )

    def about(self, seconds: float) -> str:
        if seconds < 55:
            count = max(5, round(seconds / 5) * 5)
            return f"около {count} {_plural_ru(count, 'секунды', 'секунд', 'секунд')}"
        minutes = max(1, round(seconds / 60))
        return f"около {minutes} {_plural_ru(minutes, 'минуты', 'минут', 'минут')}"

    def queued(
        self, *, typical: float, converted_from: str | None = None, image_format: str = "JPEG"
    ) -> str:
        text = (
            f"✅ В очереди. Обычно видео делается {self.about(typical)} — я отвечу на ваше фото. "
            "Как идут дела, покажет /status."
        )
        if converted_from is None:
            return text
        return f"{text}\n(формат {escape(converted_from)} сконвертирован в {escape(image_format)})"

    def prompt_too_long(self, length: int, limit: int) -> str:
        return (
            f"В вашем описании {length} {_plural_ru(length, 'символ', 'символа', 'символов')}, "
            f"а можно самое большее {limit}. Сократите его, пожалуйста, и пришлите фото ещё раз."
        )

    def image_refused(self, rejection: ImageRejected, *, fixes: bool = False) -> str:
        size = _image_size(rejection) or "размер неизвестен"
        problem = rejection.problem
        if problem is ImageProblem.TOO_LARGE:
            megabytes = f"{(rejection.size_bytes or 0) / (1024 * 1024):.1f}".replace(".", ",")
            got = f" ({megabytes} МБ)" if rejection.size_bytes else ""
            text = f"Этот файл слишком большой{got}. Пришлите, пожалуйста, картинку до 20 МБ."
        elif problem is ImageProblem.NOT_AN_IMAGE:
            text = (
                "Этот файл не похож на картинку, которую я умею читать. "
                "Пришлите, пожалуйста, фото в JPG или PNG."
            )
        elif problem is ImageProblem.CORRUPT:
            text = (
                "Похоже, картинка повреждена: её не удалось дочитать до конца. Пришлите её, "
                "пожалуйста, ещё раз или пересохраните в JPG или PNG."
            )
        elif problem is ImageProblem.UNSUPPORTED_FORMAT:
            kind = (
                f"в формате {escape(rejection.image_format)}"
                if rejection.image_format
                else "в этом формате"
            )
            text = (
                f"Картинки {kind} видеомодель не поддерживает. Пришлите, пожалуйста, JPG или "
                "PNG — или отправьте картинку как фото, а не как файл."
            )
        elif problem is ImageProblem.TOO_SMALL:
            text = (
                f"Картинка слишком маленькая ({size}): меньшая сторона должна быть больше "
                "300 px. Пришлите, пожалуйста, фото побольше."
            )
        elif problem is ImageProblem.TOO_TALL:
            text = (
                f"Картинка слишком высокая и узкая ({size}). Ширина должна быть больше 2/5 "
                "высоты. Обрежьте её, пожалуйста, ближе к квадрату — самое большее до 2:5 "
                "по вертикали."
            )
        elif problem is ImageProblem.TOO_WIDE:
            text = (
                f"Картинка слишком широкая ({size}). Ширина должна быть меньше 5/2 высоты. "
                "Обрежьте её, пожалуйста, ближе к квадрату — самое большее до 5:2 "
                "по горизонтали."
            )
        else:
            text = (
                f"В картинке слишком много пикселей ({size}). Пришлите, пожалуйста, картинку "
                "поменьше (примерно до 50 мегапикселей)."
            )
        if fixes:
            text += "\n\n👇 Или нажмите кнопку ниже, и я сам поправлю фото."
        return text

    # --- Submission and its outcomes --------------------------------------------------------

    def submission_failed(self, reason: str | None) -> str:
        because = f": {escape(reason)}" if reason else ", не объяснив причину"
        return f"😔 Видеосервис отклонил этот запрос{because}. Ничего не списано."

    def stayed_busy(self, patience: float) -> str:
        return (
            f"😔 Видеосервис был перегружен и {self.duration(patience)} не принимал запрос, "
            "поэтому я перестал пытаться. Ничего не списано. Пришлите фото ещё раз позже."
        )

    SERVICE_OUT_OF_CREDITS = (
        "😔 Сейчас я не могу делать новые видео: на счёте бота в видеосервисе закончились "
        "кредиты. Ничего не списано. Попробуйте, пожалуйста, позже."
    )

    SERVICE_MISCONFIGURED = (
        "😔 Сейчас я не могу связаться с видеосервисом из-за проблемы на стороне бота. "
        "Ничего не списано. Оператор увидит её в логах. Попробуйте, пожалуйста, позже."
    )

    OUTCOME_UNKNOWN = (
        "⚠️ Видеосервис не подтвердил запрос, поэтому я не знаю, принят ли он. Возможно, "
        "за него уже списаны средства, но отследить его я не могу, так что видео по нему не "
        "придёт. Если пришлёте фото ещё раз, это будет новое видео, оплаченное отдельно: "
        "решать вам."
    )

    INTERRUPTED = (
        "⚠️ Я потерял ваш запрос, пока отправлял его в видеосервис (бот перезапустился или "
        "столкнулся с ошибкой), поэтому не знаю, дошёл ли он. Возможно, за него уже списаны "
        "средства, но видео по нему не придёт. Если пришлёте фото ещё раз, это будет новое "
        "видео, оплаченное отдельно: решать вам."
    )

    INTERRUPTED_BEFORE_SUBMIT = (
        "⚠️ Что-то пошло не так ещё до того, как фото попало в видеосервис, так что ничего "
        "не списано. Пришлите фото, пожалуйста, ещё раз."
    )

    def generation_failed(self, reason: str | None) -> str:
        because = f": {escape(_own_reason_ru(reason))}" if reason else ""
        return (
            f"😔 Видеосервис не смог сделать это видео{because}. Можно прислать фото ещё раз — "
            "с другим описанием или другое фото."
        )

    def timed_out(self, waited: float) -> str:
        return (
            f"⏱ Видеосервис так и не доделал это видео за {self.duration(waited)}, поэтому я "
            "перестал его ждать; в дневной лимит оно не засчитано. Пришлите фото, пожалуйста, "
            "ещё раз чуть позже."
        )

    # --- Progress and delivery --------------------------------------------------------------

    def duration(self, seconds: float) -> str:
        """A short span for people: "45 с", "3 мин 05 с", "1 ч 02 мин"."""
        seconds = max(0, round(seconds))
        if seconds < 60:
            return f"{seconds} с"
        minutes, seconds = divmod(seconds, 60)
        if minutes < 60:
            return f"{minutes} мин {seconds:02d} с"
        hours, minutes = divmod(minutes, 60)
        return f"{hours} ч {minutes:02d} мин"

    def time_left(self, seconds: float) -> str:
        hours, minutes = hours_minutes(seconds)
        return f"{hours} ч {minutes} мин" if hours else f"{minutes} мин"

    def video_caption(self, prompt: str, made_in: float | None = None) -> str:
        tail = f"\n⏱ сделано за {self.duration(made_in)}" if made_in is not None else ""
        return _caption("🎬 ", prompt, tail)

    def progress_queued(self, elapsed: float, typical: float, *, late: bool = False) -> str:
        so_far = self.duration(_tens(elapsed))
        if late:
            return (
                f"🕒 Всё ещё в очереди видеосервиса (прошло {so_far}) — дольше обычного: обычно "
                f"всё занимает {self.about(typical)}. Я слежу за заданием и отвечу на ваше фото."
            )
        return (
            f"🕒 В очереди видеосервиса (прошло {so_far}). Обычно всё занимает "
            f"{self.about(typical)} — я отвечу на ваше фото."
        )

    def progress_late(self, elapsed: float) -> str:
        return (
            f"🐢 Видео задерживается: прошло {self.duration(_tens(elapsed))}, намного дольше "
            "обычного. Оно всё ещё в видеосервисе и обязательно придёт: я проверяю его раз в "
            "несколько минут и отвечу на ваше фото, как только оно будет готово."
        )

    def progress_generating(self, elapsed: float, typical: float, *, late: bool = False) -> str:
        so_far = self.duration(_tens(elapsed))
        if late:
            return (
                f"⚙️ Делаю видео: прошло {so_far} — дольше обычного: обычно всё занимает "
                f"{self.about(typical)}. Я слежу за заданием и отвечу на ваше фото."
            )
        return (
            f"⚙️ Делаю видео: прошло {so_far}, обычно всё занимает {self.about(typical)}. "
            "Я отвечу на ваше фото."
        )

    def video_too_large(self, url: str) -> str:
        return (
            "🎬 Видео готово, но оно слишком большое, чтобы отправить его сюда. "
            f'<a href="{escape(url, quote=True)}">Скачайте его</a>; '
            "ссылка перестанет работать через несколько часов."
        )

    def video_refused(self, url: str) -> str:
        return (
            "🎬 Видео готово, но Telegram не дал мне опубликовать его в этом чате. "
            f'<a href="{escape(url, quote=True)}">Скачайте его</a>; '
            "ссылка перестанет работать через несколько часов."
        )

    # --- /status ----------------------------------------------------------------------------

    NO_JOBS = "У вас пока нет заданий. Пришлите фото с подписью, чтобы начать."

    def state_label(self, state: JobState) -> str:
        return {
            JobState.RECEIVED: "проверяю фото",
            JobState.REJECTED: "фото не подошло",
            JobState.SUBMITTING: "отправляется",
            JobState.QUEUED: "в очереди сервиса",
            JobState.GENERATING: "создаётся",
            JobState.LATE: "задерживается, но придёт",
            JobState.COMPLETED: "отправляю видео",
            JobState.DELIVERED: "готово",
            JobState.FAILED: "не получилось",
            JobState.TIMED_OUT: "время вышло",
            JobState.INTERRUPTED: "прервано",
            JobState.UNDELIVERABLE: "не доставлено",
            JobState.WAITING: "ждёт своей очереди",
            JobState.CANCELLED: "отменено",
        }[state]

    def failure_reason(self, error: str) -> str:
        return _own_reason_ru(error)

    def ago(self, seconds: float) -> str:
        seconds = max(0, int(seconds))
        if seconds < 60:
            return "только что"
        if seconds < 3600:
            return f"{seconds // 60} мин назад"
        if seconds < 86400:
            return f"{seconds // 3600} ч назад"
        days = seconds // 86400
        return f"{days} {_plural_ru(days, 'день', 'дня', 'дней')} назад"

    def status_list(
        self, jobs: Sequence[Job], *, now: float, places: Mapping[int, int] | None = None
    ) -> str:
        if not jobs:
            return self.NO_JOBS
        places = places or {}
        lines = ["<b>Ваши задания</b>, сначала новые:"]
        for job in jobs:
            detail = self.ago(now - job.created_at)
            place = places.get(job.id)
            if job.state is JobState.WAITING and place is not None:
                detail += f" · {place}-е место в очереди"
            elif job.state in _AT_THE_SERVICE:
                detail += f" · идёт {self.duration(_tens(now - _started(job)))}"
            lines.append(_job_entry(job, self.state_label(job.state), detail, "фото"))
        return "\n".join(lines)

    def usage_today(self, report: UsageReport) -> str:
        if not report.allowed:
            return (
                "🔒 У вас пока нет доступа к этому боту. Ваш id пользователя — "
                f"<code>{report.user_id}</code>: отправьте его оператору, чтобы попросить доступ."
            )
        active = f"В работе: {report.active} из {report.active_limit} одновременно."
        if report.admin:
            return (
                f"<b>Сегодня</b> (UTC): {report.today} видео, у админов нет дневного лимита. "
                f"{active}"
            )
        left = max(0, report.daily_limit - report.today)
        return (
            f"<b>Сегодня</b> (UTC): использовано {report.today} из {report.daily_limit} видео, "
            f"осталось {left}; счётчик обнулится в 00:00 UTC, через "
            f"{self.time_left(report.resets_in)}. {active}"
        )

    # --- Access, budgets and the line -------------------------------------------------------

    def not_allowed(self, user_id: int) -> str:
        return (
            "🔒 Извините, этот бот делает видео только для тех, кому разрешил его оператор. "
            f"Ваш id пользователя — <code>{user_id}</code>: отправьте его оператору, чтобы "
            "попросить доступ."
        )

    def too_many_active(self, verdict: TooManyActive) -> str:
        return (
            f"✋ У вас уже {verdict.active} видео в работе, а одновременно можно не больше "
            f"{verdict.limit}. Пришлите это фото ещё раз, когда одно из них будет готово "
            "(их покажет /status)."
        )

    def daily_limit_reached(self, verdict: DailyLimitReached) -> str:
        return (
            f"✋ Дневной лимит исчерпан: {verdict.used} из {verdict.limit} видео. Счётчик "
            f"обнулится в 00:00 UTC, через {self.time_left(verdict.resets_in)}. "
            "Неудавшиеся видео не считаются."
        )

    def daily_cap_reached(self, verdict: DailyCapReached) -> str:
        return (
            f"✋ Бот уже сделал сегодня все видео, какие мог ({verdict.limit}). Ничего не "
            f"списано. Он снова начнёт в 00:00 UTC, через {self.time_left(verdict.resets_in)}: "
            "пришлите фото, пожалуйста, тогда."
        )

    def alert_daily_cap(self, verdict: DailyCapReached) -> str:
        return (
            f"⚠️ Для администраторов: бот достиг дневного предела в {verdict.limit} видео "
            "(DAILY_JOBS_TOTAL). Новые запросы отклоняются до 00:00 UTC, через "
            f"{self.time_left(verdict.resets_in)}."
        )

    def alert_out_of_credits(self, reason: str) -> str:
        return (
            "⚠️ Для администраторов: видеосервис сообщает, что на счёте закончились кредиты "
            f"({escape(reason)}). Новые видео не получатся, пока счёт не пополнят."
        )

    def alert_misconfigured(self, reason: str) -> str:
        return (
            "⚠️ Для администраторов: видеосервис не принял ключ или адрес бота "
            f"({escape(reason)}). Проверьте AIMLAPI_KEY, AIMLAPI_BASE_URL и AIMLAPI_ENDPOINT."
        )

    def alert_failing(self, count: int, reason: str) -> str:
        return (
            f"⚠️ Для администраторов: последние {count} запросов к видеосервису закончились "
            f"без подтверждённого задания (последний: {escape(reason)}). Подробности в логе бота."
        )

    def waiting_in_line(self, place: int) -> str:
        return (
            "⏳ Сейчас делается много видео, поэтому ваше фото ждёт в очереди: оно "
            f"<b>{place}-е по счёту</b>. Я отправлю его на анимацию, как только освободится "
            "место. /cancel бесплатно уберёт его из очереди."
        )

    def busy_in_line(self, place: int) -> str:
        return (
            "⏳ Видеосервис сейчас перегружен и пока не принял ваше фото, поэтому оно ждёт в "
            f"очереди: оно <b>{place}-е по счёту</b>. Я буду пробовать снова, и ничего не "
            "спишется, пока сервис его не примет. /cancel уберёт его из очереди."
        )

    CANCELLED_WAITING = "✖️ Отменено: убрал из очереди. Ничего не списано."

    CANCELLED_SUBMITTED = (
        "✖️ Отменено: я больше не слежу за этим видео. Видеосервис уже взял его в работу, "
        "так что кредиты потрачены."
    )

    def cancel_report(self, cancelled: Cancelled) -> str:
        lines = []
        if cancelled.waiting:
            lines.append(
                f"✖️ Убрано из очереди: {_jobs_ru(len(cancelled.waiting))}. Ничего не списано."
            )
        if cancelled.stopped:
            lines.append(
                f"✖️ Уже отправлено в видеосервис, больше не отслеживается: "
                f"{_jobs_ru(len(cancelled.stopped))}. Сервис не умеет отменять принятые "
                "задания, так что кредиты потрачены, а присылать эти видео я не буду."
            )
        if cancelled.busy:
            lines.append(
                f"⏳ Не удалось остановить: {_jobs_ru(cancelled.busy)}. Такие задания прямо "
                "сейчас отправляются в видеосервис или уже готовы и едут к вам."
            )
        return "\n".join(lines) if lines else "Отменять нечего."

    # --- Admins -----------------------------------------------------------------------------

    ADMINS_ONLY = "🔒 Эта команда только для админов бота."

    ALLOW_USAGE = (
        "Как пользоваться: <code>/allow 123456789</code> — с Telegram id пользователя "
        "(он видит его, когда бот ему отказывает)."
    )

    DENY_USAGE = "Как пользоваться: <code>/deny 123456789</code> — с Telegram id пользователя."

    def user_allowed(self, user_id: int, *, was_open: bool) -> str:
        text = f"✅ Пользователь <code>{user_id}</code> теперь может делать видео."
        if was_open:
            text += (
                "\nОбратите внимание: бот был открыт для всех. Теперь видео могут делать только "
                "разрешённые пользователи и группы."
            )
        return text

    def user_denied(self, user_id: int, *, cancelled: int) -> str:
        text = (
            f"🚫 Пользователь <code>{user_id}</code> больше не может делать видео — ни в личных "
            "сообщениях, ни в группах."
        )
        if cancelled:
            text += f" Убрано из очереди без списания: {_jobs_ru(cancelled)}."
        return text

    def cannot_deny_admin(self, user_id: int) -> str:
        return (
            f"Пользователь <code>{user_id}</code> — админ (ADMIN_USER_IDS), а у админов доступ "
            "есть всегда. Чтобы закрыть ему доступ, уберите его из настроек."
        )

    def stats_report(self, report: StatsReport) -> str:
        def span(value: float | None) -> str:
            return "–" if value is None else self.duration(value)

        if report.success_rate is None:
            success = "пока ничего не завершилось"
        else:
            success = (
                f"{report.delivered_week} из {report.finished_week} завершённых "
                f"({report.success_rate:.0%})"
            )
        lines = [
            "<b>Статистика</b>",
            f"Сегодня (UTC): запросов — {report.requests_today}, отправлено в видеосервис — "
            f"{report.submitted_today}",
            f"За 7 дней: запросов — {report.requests_week}, отправлено — {report.submitted_week}",
            f"Доставлено (за 7 дней): {success}",
            f"От отправки до доставки: медиана {span(report.median_seconds)}, "
            f"p95 {span(report.p95_seconds)}",
        ]
        if report.failures:
            lines.append("<b>Сбои</b> (за 7 дней):")
            for failure in report.failures:
                reason = (
                    escape(shorten(self.failure_reason(failure.error), 80))
                    if failure.error
                    else "причина не указана"
                )
                lines.append(f"• {self.state_label(failure.state)}: {reason} × {failure.count}")
        else:
            lines.append("За последние 7 дней сбоев не было.")
        lines.append(
            f"Сейчас: в видеосервисе {report.in_flight} из {report.in_flight_limit}, "
            f"ждут в очереди — {report.waiting}"
        )
        if report.usage_today:
            spent = ", ".join(
                self.usage_amount(amount, unit) for unit, amount in report.usage_today.items()
            )
            lines.append(f"Расход сегодня по счёту видеосервиса: {spent}")
        return "\n".join(lines)

    def usage_amount(self, amount: float, unit: str) -> str:
        forms = {
            "credits": ("кредит", "кредита", "кредитов"),
            "tokens": ("токен", "токена", "токенов"),
        }.get(unit, (unit, unit, unit))
        # A fractional amount takes the genitive singular: "2,5 кредита".
        word = _plural_ru(int(amount), *forms) if amount == int(amount) else forms[1]
        number = f"{amount:,.6g}".replace(",", " ").replace(".", ",")
        return f"{number} {word}"

    # --- Buttons ----------------------------------------------------------------------------

    BUTTON_AGAIN = "🔁 Ещё раз"
    BUTTON_RETRY = "🔁 Попробовать снова"
    BUTTON_CANCEL = "✖️ Отменить"

    NOT_YOUR_BUTTON = "🔒 Эта кнопка работает только для того, кто прислал фото."
    ON_ITS_WAY = "🔁 Уже делаю!"
    ALREADY_ON_ITS_WAY = "⏳ Уже в работе."
    ALREADY_DONE = "✅ Уже готово: видео или объяснение, что пошло не так, — в чате."
    BUTTON_STOP_PAID = "✖️ Остановить"
    BUTTON_KEEP_PAID = "✅ Оставить"
    KEPT_PAID = "✅ Оставил: эти видео всё равно придут вам."

    def ask_stop_paid(self, count: int) -> str:
        return (
            f"🎬 Видеосервис уже делает для вас видео: {count}. Они оплачены, и вернуть их "
            "нельзя: если перестать за ними следить, кредиты пропадут, а видео не придут. "
            "Остановить их или оставить?"
        )

    BUTTON_OUTDATED = "Эта кнопка больше не работает."
    OUT_OF_THE_LINE = "✖️ Убрано из очереди. Ничего не списано."
    ALREADY_LEFT_THE_LINE = (
        "Задание уже вышло из очереди и отправляется в видеосервис. "
        "/cancel остановит слежение за ним."
    )

    def fix_button(self, fix: Fix) -> str:
        return {
            Fix.CROP: "✂️ Обрезать",
            Fix.PAD: "🖼 Добавить фон",
            Fix.UPSCALE: "🔍 Увеличить до 720 px",
        }[fix]

    def fixing(self, fix: Fix) -> str:
        return {
            Fix.CROP: "✂️ Обрезаю фото под нужные пропорции…",
            Fix.PAD: "🖼 Дополняю фото размытым фоном…",
            Fix.UPSCALE: "🔍 Увеличиваю фото…",
        }[fix]

    def fix_preview(self, fix: Fix, width: int, height: int) -> str:
        done = {Fix.CROP: "✂️ Обрезано", Fix.PAD: "🖼 Дополнено", Fix.UPSCALE: "🔍 Увеличено"}[fix]
        return f"{done} до {width}×{height}: вот что будет оживлено."

    # --- Settings ---------------------------------------------------------------------------

    SETTINGS_IN_PRIVATE = "⚙️ Настройки у каждого свои: отправьте мне /settings в личном чате."
    NOT_YOUR_SETTINGS = "🔒 Это чужие настройки."

    def settings(self, *, prompt_optimizer: bool, chosen: bool) -> str:
        default = "" if chosen else " (по умолчанию)"
        if prompt_optimizer:
            state = (
                f"<b>Улучшение описаний: включено</b>{default}\n"
                "Видеосервис переписывает ваше описание, чтобы видео вышло лучше."
            )
        else:
            state = (
                f"<b>Улучшение описаний: выключено</b>{default}\n"
                "Ваши описания используются ровно так, как вы их написали."
            )
        return (
            f"⚙️ <b>Настройки</b>\n\n{state}\n\n"
            "Совет: добавьте в конце описания <code>--exact</code>, чтобы один раз использовать "
            "его дословно."
        )

    def optimizer_button(self, prompt_optimizer: bool) -> str:
        return "✍️ Брать мои слова как есть" if prompt_optimizer else "✨ Пусть сервис улучшает"

    def optimizer_saved(self, prompt_optimizer: bool) -> str:
        return (
            "✨ Улучшение описаний включено."
            if prompt_optimizer
            else "✍️ Улучшение описаний выключено."
        )


# --- Choosing a language ------------------------------------------------------------------

ENGLISH = English()
RUSSIAN = Russian()

#: The catalogs other than English, by the primary subtag of a Telegram `language_code`.
TRANSLATIONS: Mapping[str, English] = {"ru": RUSSIAN}


def texts_for(language_code: str | None) -> English:
    """The catalog for a Telegram `language_code` ("ru", "ru-RU", "RU"): a shared instance,
    English for any language without a translation, and for no code at all."""
    if not language_code:
        return ENGLISH
    primary = language_code.replace("_", "-").split("-", 1)[0].lower()
    return TRANSLATIONS.get(primary, ENGLISH)
