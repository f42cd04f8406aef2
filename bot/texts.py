"""Every text a user reads, in one place. Messages are HTML: dynamic parts are escaped here."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

from bot.access import DailyLimitReached, TooManyActive, UsageReport, hours_minutes
from bot.firstframe import ImageProblem, ImageRejected
from bot.imagefix import Fix
from bot.stats import StatsReport
from storage.jobs import Job, JobState
from storage.line import Cancelled

MAX_CAPTION_CHARS = 1024
MAX_MESSAGE_CHARS = 4096

HELP = (
    "<b>I turn a photo into a short video</b> 🎬\n\n"
    "Send me a photo with a caption that says what should happen, for example "
    "<i>she smiles and waves</i>. In about 3 minutes I reply to your photo with a "
    "6-second video.\n\n"
    "<b>In a group</b>, start the caption with <code>/animate</code>, or reply to a photo "
    "with <code>/animate what should happen</code>.\n\n"
    "<b>Image rules:</b> JPG or PNG, up to 20 MB, the shorter side over 300 px, and no "
    "more elongated than 5:2 either way (from 2:5 portrait to 5:2 landscape, exclusive).\n\n"
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
    "😔 I could not download your photo from Telegram. Nothing was charged. Please send it again."
)

QUEUED = (
    "✅ Queued. Your video should be ready in about 3 minutes: I will reply to your photo. "
    "/status shows how it is going."
)

NO_JOBS = "You have no jobs yet. Send a photo with a caption to start one."


def prompt_too_long(length: int, limit: int) -> str:
    return (
        f"Your prompt is {length} characters long; the limit is {limit}. "
        "Please shorten it and send the photo again."
    )


def _mb(size_bytes: int) -> str:
    return f"{size_bytes / (1024 * 1024):.1f} MB"


def image_refused(rejection: ImageRejected) -> str:
    """Why an image cannot be used, and what would work instead."""
    size = (
        f"{rejection.width}×{rejection.height} px"
        if rejection.width is not None and rejection.height is not None
        else "this size"
    )
    problem = rejection.problem
    if problem is ImageProblem.TOO_LARGE:
        got = f" ({_mb(rejection.size_bytes)})" if rejection.size_bytes else ""
        return f"This file is too large{got}. Please send an image of at most 20 MB."
    if problem is ImageProblem.NOT_AN_IMAGE:
        return "This file is not an image I can read. Please send a JPG or PNG photo."
    if problem is ImageProblem.CORRUPT:
        return (
            "This image looks damaged: it could not be read to the end. "
            "Please send it again, or save it anew as JPG or PNG."
        )
    if problem is ImageProblem.UNSUPPORTED_FORMAT:
        kind = escape(rejection.image_format or "this format")
        return (
            f"{kind} images are not supported by the video model. "
            "Please send a JPG or PNG, or send it as a photo rather than as a file."
        )
    if problem is ImageProblem.TOO_SMALL:
        return (
            f"This image is too small ({size}): its shorter side must be over 300 px. "
            "Please send a larger photo."
        )
    if problem is ImageProblem.TOO_TALL:
        return (
            f"This image is too tall and narrow ({size}). The width must be more than 2/5 of "
            "the height. Please crop it closer to a square, or to at most 2:5 portrait."
        )
    if problem is ImageProblem.TOO_WIDE:
        return (
            f"This image is too wide ({size}). The width must be less than 5/2 of the height. "
            "Please crop it closer to a square, or to at most 5:2 landscape."
        )
    return (
        f"This image has too many pixels ({size}). "
        "Please send a smaller image (up to about 50 megapixels)."
    )


def submission_failed(reason: str) -> str:
    return f"😔 The video service refused this request: {escape(reason)}. Nothing was charged."


SERVICE_BUSY = (
    "😔 The video service is busy right now and did not take your request; nothing was "
    "charged. Please send the photo again in a few minutes."
)

SERVICE_OUT_OF_CREDITS = (
    "😔 I can't take new videos right now: the bot's video service account has run out "
    "of credits. Please try again later."
)

SERVICE_MISCONFIGURED = (
    "😔 I can't reach the video service right now because of a problem on the bot's side. "
    "The operator can see it in the logs. Please try again later."
)

OUTCOME_UNKNOWN = (
    "⚠️ The video service did not confirm your request, so I can't tell whether it went "
    "through. If no video arrives in a few minutes, please send the photo again."
)

INTERRUPTED = (
    "⚠️ I lost track of your request while sending it to the video service (the bot "
    "restarted or hit an error), so I can't tell whether it went through. If no video "
    "arrives in a few minutes, please send the photo again."
)

INTERRUPTED_BEFORE_SUBMIT = (
    "⚠️ Something went wrong before your photo reached the video service, so nothing was "
    "charged. Please send the photo again."
)


def generation_failed(reason: str | None) -> str:
    because = f": {escape(reason)}" if reason else ""
    return (
        f"😔 The video service could not make this video{because}. "
        "You can send the photo again, maybe with another prompt or another photo."
    )


def timed_out(minutes: int) -> str:
    return (
        f"⏱ This video took longer than {minutes} minutes, so I stopped waiting for it. "
        "Please send the photo again later."
    )


def shorten(text: str, limit: int) -> str:
    """Cut plain text to at most `limit` characters, with an ellipsis when cut."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def duration(seconds: float) -> str:
    """A short span for people: "45 s", "3 min 05 s", "1 h 02 min"."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def video_caption(prompt: str, made_in: float | None = None) -> str:
    """The delivered video's caption: the prompt, cut to fit, and how long it took."""
    head = "🎬 "
    tail = f"\n⏱ made in {duration(made_in)}" if made_in is not None else ""
    # Telegram counts the caption after HTML parsing, so the limit applies to the plain text.
    room = MAX_CAPTION_CHARS - len(head) - len(tail)
    return head + escape(shorten(prompt, room)) + tail


def _elapsed(seconds: float) -> str:
    # Whole ten seconds: finer steps would only make edits that tell nothing new.
    return duration(seconds // 10 * 10)


def progress_queued(elapsed: float) -> str:
    return (
        f"🕒 Queued at the video service ({_elapsed(elapsed)} so far). "
        "A video usually takes about 3 minutes in all: I will reply to your photo."
    )


def progress_generating(elapsed: float) -> str:
    return (
        f"⚙️ Generating your video: {_elapsed(elapsed)} so far, usually about 3 minutes "
        "in all. I will reply to your photo."
    )


def video_too_large(url: str) -> str:
    return (
        "🎬 Your video is ready but too large to send here. "
        f'<a href="{escape(url, quote=True)}">Download it</a>; '
        "the link expires in a few hours."
    )


_STATE_LABELS = {
    JobState.RECEIVED: ("📥", "checking the photo"),
    JobState.REJECTED: ("⛔", "photo refused"),
    JobState.SUBMITTING: ("📤", "sending"),
    JobState.QUEUED: ("🕒", "queued"),
    JobState.GENERATING: ("⚙️", "generating"),
    JobState.COMPLETED: ("📦", "sending the video"),
    JobState.DELIVERED: ("✅", "done"),
    JobState.FAILED: ("❌", "failed"),
    JobState.TIMED_OUT: ("⏱", "timed out"),
    JobState.INTERRUPTED: ("⚠️", "interrupted"),
    JobState.UNDELIVERABLE: ("🚫", "not delivered"),
    JobState.WAITING: ("⏳", "waiting in line"),
    JobState.CANCELLED: ("✖️", "cancelled"),
}


def ago(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    if seconds < 86400:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86400} d ago"


def message_link(chat_id: int, message_id: int, thread_id: int | None = None) -> str | None:
    """A t.me link to a message, where Telegram has one: in supergroups (for their members),
    not in private chats or basic groups."""
    text = str(chat_id)
    if not text.startswith("-100"):
        return None
    path = f"{text[4:]}/{thread_id}/{message_id}" if thread_id else f"{text[4:]}/{message_id}"
    return f"https://t.me/c/{path}"


def _job_detail(job: Job, now: float, place: int | None) -> str:
    sent = ago(now - job.created_at)
    if job.state is JobState.WAITING and place is not None:
        return f"{sent} · place {place} in line"
    if job.state in (JobState.QUEUED, JobState.GENERATING):
        return f"{sent} · {_elapsed(now - (job.submitted_at or job.created_at))} so far"
    return sent


def status_list(jobs: Sequence[Job], *, now: float, places: Mapping[int, int] | None = None) -> str:
    """The /status reply: the caller's jobs, newest first, each with its state, its place in
    line or time so far, the prompt cut short and a link to the photo where one exists."""
    if not jobs:
        return NO_JOBS
    places = places or {}
    lines = ["<b>Your jobs</b>, newest first:"]
    for job in jobs:
        icon, label = _STATE_LABELS[job.state]
        head = f"{icon} <b>{label}</b> · {_job_detail(job, now, places.get(job.id))}"
        link = message_link(job.chat_id, job.photo_message_id, job.thread_id)
        if link is not None:
            head += f' · <a href="{escape(link, quote=True)}">photo</a>'
        lines.append(f"{head}\n    <i>{escape(shorten(job.prompt, 60))}</i>")
    return "\n".join(lines)


# --- Access and budgets -------------------------------------------------------------------


def not_allowed(user_id: int) -> str:
    return (
        "🔒 Sorry, this bot makes videos only for people its operator has allowed. "
        f"Your user id is <code>{user_id}</code>: send it to the operator to ask for access."
    )


def _duration(seconds: float) -> str:
    hours, minutes = hours_minutes(seconds)
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"


def _videos(count: int) -> str:
    return f"{count} video" if count == 1 else f"{count} videos"


def too_many_active(verdict: TooManyActive) -> str:
    return (
        f"✋ You already have {_videos(verdict.active)} on the way, and the most at once is "
        f"{verdict.limit}. Please send this photo again when one is done (/status shows them)."
    )


def daily_limit_reached(verdict: DailyLimitReached) -> str:
    return (
        f"✋ You have reached today's limit: {verdict.used} of {verdict.limit} videos. "
        f"Your count starts again at 00:00 UTC, in {_duration(verdict.resets_in)}. "
        "Videos that fail do not count."
    )


def waiting_in_line(place: int) -> str:
    return (
        "⏳ Many videos are being made right now, so your photo waits in line: it is "
        f"<b>number {place}</b>. I will send it to the animator as soon as a place frees up. "
        "/cancel takes it out of the line at no charge."
    )


CANCELLED_WAITING = "✖️ Cancelled: taken out of the line. Nothing was charged."

CANCELLED_SUBMITTED = (
    "✖️ Cancelled: I stopped following this video. The video service had already taken it, "
    "so its credits are spent."
)


def usage_today(report: UsageReport) -> str:
    """The /status footer: the caller's budget today."""
    if not report.allowed:
        return (
            f"🔒 You have no access to this bot yet. Your user id is <code>{report.user_id}</code>"
            ": send it to the operator to ask for access."
        )
    active = f"On the way: {report.active} of {report.active_limit} at once."
    if report.admin:
        return f"<b>Today</b> (UTC): {report.today} videos, no daily limit for admins. {active}"
    left = max(0, report.daily_limit - report.today)
    return (
        f"<b>Today</b> (UTC): {report.today} of {report.daily_limit} videos used, {left} left; "
        f"the count starts again at 00:00 UTC, in {_duration(report.resets_in)}. {active}"
    )


def _jobs(count: int) -> str:
    return f"{count} job" if count == 1 else f"{count} jobs"


def cancel_report(cancelled: Cancelled) -> str:
    """The /cancel reply: what was done, with counts."""
    lines = []
    if cancelled.waiting:
        lines.append(
            f"✖️ Took {_jobs(len(cancelled.waiting))} out of the line. Nothing was charged."
        )
    if cancelled.stopped:
        lines.append(
            f"✖️ Stopped following {_jobs(len(cancelled.stopped))} already sent to the video "
            "service. The service cannot take them back, so their credits are spent, and "
            "their videos will not be sent."
        )
    if cancelled.busy:
        lines.append(
            f"⏳ {_jobs(cancelled.busy)} could not be stopped: being sent to the video service "
            "or finished and on the way to you right now."
        )
    return "\n".join(lines) if lines else "You have nothing to cancel."


ADMINS_ONLY = "🔒 This command is for the bot's admins."

ALLOW_USAGE = (
    "Usage: <code>/allow 123456789</code>, with the person's Telegram user id "
    "(they see it when the bot refuses them)."
)

DENY_USAGE = "Usage: <code>/deny 123456789</code>, with the person's Telegram user id."


def user_allowed(user_id: int, *, was_open: bool) -> str:
    text = f"✅ User <code>{user_id}</code> may now make videos."
    if was_open:
        text += (
            "\nNote: the bot was open to everyone. From now on only allowed people and "
            "groups can make videos."
        )
    return text


def user_denied(user_id: int, *, cancelled: int) -> str:
    text = f"🚫 User <code>{user_id}</code> can no longer make videos, in private or in groups."
    if cancelled:
        text += f" {_jobs(cancelled).capitalize()} of theirs left the line, uncharged."
    return text


def cannot_deny_admin(user_id: int) -> str:
    return (
        f"User <code>{user_id}</code> is an admin (ADMIN_USER_IDS), and admins always have "
        "access. Remove them from the settings instead."
    )


def _seconds(value: float | None) -> str:
    if value is None:
        return "–"
    seconds = round(value)
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s"
    return f"{minutes // 60} h {minutes % 60} min"


def stats_report(report: StatsReport) -> str:
    """The /stats reply, for admins."""
    if report.success_rate is None:
        success = "nothing finished yet"
    else:
        success = (
            f"{report.delivered_week} of {report.finished_week} finished "
            f"({report.success_rate:.0%})"
        )
    lines = [
        "<b>Stats</b>",
        f"Today (UTC): {report.requests_today} requests, {report.submitted_today} sent to "
        "the video service",
        f"Last 7 days: {report.requests_week} requests, {report.submitted_week} sent",
        f"Delivered (7 days): {success}",
        f"Submission to delivery: median {_seconds(report.median_seconds)}, "
        f"p95 {_seconds(report.p95_seconds)}",
    ]
    if report.failures:
        lines.append("<b>Failures</b> (7 days):")
        for failure in report.failures:
            _, label = _STATE_LABELS[failure.state]
            reason = escape(shorten(failure.error, 80)) if failure.error else "no reason given"
            lines.append(f"• {label}: {reason} × {failure.count}")
    else:
        lines.append("No failures in the last 7 days.")
    lines.append(
        f"Now: {report.in_flight} of {report.in_flight_limit} at the video service, "
        f"{report.waiting} waiting in line"
    )
    return "\n".join(lines)


# --- Buttons ------------------------------------------------------------------------------
# Callback answers (toasts and alerts) are plain text, not HTML, and at most 200 characters.

BUTTON_AGAIN = "🔁 Again"
BUTTON_RETRY = "🔁 Try again"
BUTTON_CANCEL = "✖️ Cancel"

_FIX_BUTTONS = {
    Fix.CROP: "✂️ Crop to fit",
    Fix.PAD: "🖼 Pad with blur",
    Fix.UPSCALE: "🔍 Upscale to 720 px",
}
_FIXING = {
    Fix.CROP: "✂️ Cropping your photo to fit…",
    Fix.PAD: "🖼 Padding your photo with a blurred background…",
    Fix.UPSCALE: "🔍 Enlarging your photo…",
}
_FIXED = {Fix.CROP: "✂️ Cropped", Fix.PAD: "🖼 Padded", Fix.UPSCALE: "🔍 Upscaled"}

FIXES_OFFERED = "👇 Or tap a button below and I will fix the photo for you."

NOT_YOUR_BUTTON = "🔒 Only the person who sent this photo can use this button."
ON_ITS_WAY = "🔁 On its way!"
ALREADY_ON_ITS_WAY = "⏳ Already on its way."
BUTTON_OUTDATED = "This button no longer works."
OUT_OF_THE_LINE = "✖️ Out of the line. Nothing was charged."
ALREADY_LEFT_THE_LINE = (
    "It has already left the line and is on its way to the video service. "
    "/cancel stops following it."
)


def fix_button(fix: Fix) -> str:
    return _FIX_BUTTONS[fix]


def image_refused_with_fixes(rejection: ImageRejected) -> str:
    """A refusal with buttons under it that can fix the image."""
    return image_refused(rejection) + "\n\n" + FIXES_OFFERED


def fixing(fix: Fix) -> str:
    """The status message while a chosen fix is applied."""
    return _FIXING[fix]


def fix_preview(fix: Fix, width: int, height: int) -> str:
    """The caption of the fixed image's preview."""
    return f"{_FIXED[fix]} to {width}×{height}: this is what will be animated."


def queued(*, converted_from: str | None = None, image_format: str = "JPEG") -> str:
    """QUEUED, saying when the image was converted to a format the model takes."""
    if converted_from is None:
        return QUEUED
    return f"{QUEUED}\n(converted from {escape(converted_from)} to {escape(image_format)})"


# --- Settings -----------------------------------------------------------------------------

SETTINGS_IN_PRIVATE = "⚙️ Settings are personal: send me /settings in a private chat."
NOT_YOUR_SETTINGS = "🔒 These are someone else's settings."


def settings(*, prompt_optimizer: bool, chosen: bool) -> str:
    """The /settings message. `chosen`: the user picked the value (else it is the default)."""
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


def optimizer_button(prompt_optimizer: bool) -> str:
    """The button that switches the optimizer away from `prompt_optimizer`."""
    return "✍️ Use my words exactly" if prompt_optimizer else "✨ Let the service improve them"


def optimizer_saved(prompt_optimizer: bool) -> str:
    return "✨ Prompt optimizer on." if prompt_optimizer else "✍️ Prompt optimizer off."
