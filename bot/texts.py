"""Every text a user reads, in one place. Messages are HTML: dynamic parts are escaped here."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from bot.firstframe import ImageProblem, ImageRejected
from storage.jobs import Job, JobState

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
    "/status shows your jobs."
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


def video_caption(prompt: str) -> str:
    head = "🎬 "
    # Telegram counts the caption after HTML parsing, so the limit applies to the plain text.
    return head + escape(shorten(prompt, MAX_CAPTION_CHARS - len(head)))


def video_too_large(url: str) -> str:
    return (
        "🎬 Your video is ready but too large to send here. "
        f'<a href="{escape(url, quote=True)}">Download it</a>; '
        "the link expires in a few hours."
    )


_STATE_LABELS = {
    JobState.SUBMITTING: ("📤", "sending"),
    JobState.QUEUED: ("🕒", "queued"),
    JobState.GENERATING: ("⚙️", "generating"),
    JobState.COMPLETED: ("📦", "sending the video"),
    JobState.DELIVERED: ("✅", "done"),
    JobState.FAILED: ("❌", "failed"),
    JobState.TIMED_OUT: ("⏱", "timed out"),
    JobState.INTERRUPTED: ("⚠️", "interrupted"),
    JobState.UNDELIVERABLE: ("🚫", "not delivered"),
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


def status_list(jobs: Sequence[Job], *, now: float) -> str:
    """The /status reply: the caller's jobs, newest first."""
    if not jobs:
        return NO_JOBS
    lines = ["<b>Your jobs</b>, newest first:"]
    for job in jobs:
        icon, label = _STATE_LABELS[job.state]
        prompt = escape(shorten(job.prompt, 60))
        lines.append(f"{icon} <b>{label}</b> · {ago(now - job.created_at)}\n    <i>{prompt}</i>")
    return "\n".join(lines)
