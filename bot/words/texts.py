"""Every text a user reads, written once, in each language the bot speaks.

The words live in gettext catalogs, `locales/<lang>/LC_MESSAGES/messages.po`, which translators
edit without reading Python; Babel extracts them from this module and keeps them current (see
"Languages" in the README). A message's msgid is its English text, so English needs no catalog.

`Words` holds the logic once: each member builds its text through the gettext functions of the
catalog it is bound to, with plurals by each language's rule (the catalog's Plural-Forms) and
numbers as Babel formats them for the locale. One instance per language is made at import, from
the .po files compiled in memory; `texts_for` picks one for a user's Telegram `language_code`.

Messages are HTML: dynamic parts are escaped here. Button labels, callback answers and command
descriptions are plain text.
"""

from __future__ import annotations

import gettext
from collections.abc import Mapping, Sequence
from html import escape
from io import BytesIO
from pathlib import Path

from babel import Locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal, format_percent

from bot.image.firstframe import ImageProblem, ImageRejected
from bot.image.fixes import Fix
from bot.plaintext import shorten as shorten  # re-exported: callers know it from here
from bot.policy.access import (
    DailyCapReached,
    DailyLimitReached,
    TooManyActive,
    UsageReport,
    hours_minutes,
)
from bot.policy.payments import CheckoutRefusal, StarPack
from bot.policy.stats import StatsReport
from storage.jobs import Job, JobState
from storage.ledger import Purchase, StarTotals
from storage.reasons import Reason
from storage.waiting import Cancelled

MAX_CAPTION_CHARS = 1024
MAX_MESSAGE_CHARS = 4096

#: The catalogs: one folder per language, named by its locale ("ru", "pt_BR").
LOCALES_DIR = Path(__file__).resolve().parents[2] / "locales"
#: The gettext domain: the catalogs' file name.
DOMAIN = "messages"

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


# --- Language-neutral helpers -------------------------------------------------------------


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


# --- The words, in the language of a catalog ----------------------------------------------

#: The digits of the CLDR numbering systems of the languages spoken here, other than Latin.
_DIGITS = {"arabext": "۰۱۲۳۴۵۶۷۸۹"}


class Words:
    """Every text the bot shows, in the language of `catalog` (formatted for `locale`).
    Constants are texts without parameters; methods build the texts that have them.

    `_`, `ngettext` and `pgettext` translate a message, then fill its `%(name)s`
    placeholders from their keyword arguments (`ngettext` also fills `count` with `n`); a
    number among them is written as `number` writes it. Babel's extractor finds the messages
    by these names.
    """

    def __init__(self, catalog: gettext.NullTranslations, locale: Locale) -> None:
        self.catalog = catalog
        self.locale = locale
        # Persian writes numbers in its own digits (CLDR's default numbering system "arabext"),
        # the other languages here in Latin ones, as Python does.
        own = _DIGITS.get(locale.default_numbering_system)
        self._digits = str.maketrans("0123456789", own) if own else None

    def _(self, message: str, /, **values: object) -> str:
        return self._fill(self.catalog.gettext(message), values)

    def ngettext(self, singular: str, plural: str, n: int, /, **values: object) -> str:
        return self._fill(self.catalog.ngettext(singular, plural, n), {"count": n, **values})

    def pgettext(self, context: str, message: str, /, **values: object) -> str:
        return self._fill(self.catalog.pgettext(context, message), values)

    def _fill(self, text: str, values: Mapping[str, object]) -> str:
        if not values:
            return text
        return text % {
            name: self.number(value)
            if isinstance(value, int | float) and not isinstance(value, bool)
            else value
            for name, value in values.items()
        }

    def number(self, value: float, *, digits: int = 0) -> str:
        """`value` as the locale writes it, zero-padded to at least `digits` digits: Babel's
        formatting in the locale's default numbering system, in its own digits (Persian
        "۱۲٬۳۴۵"), and Python's plain `str` in the languages written in Latin digits
        ("12345"), as they always read."""
        if self._digits is None:
            return f"{value:0{digits}}" if digits else str(value)
        return self.digits(
            format_decimal(
                value,
                format="0" * digits if digits else None,
                locale=self.locale,
                numbering_system="default",
            )
        )

    def digits(self, text: str) -> str:
        """`text` with its Latin digits written in the locale's own (Babel formats in a
        numbering system's signs, not its digits)."""
        return text.translate(self._digits) if self._digits is not None else text

    def _image_size(self, rejection: ImageRejected) -> str | None:
        if rejection.width is None or rejection.height is None:
            return None
        # Unlike a count, a size is written without group separators: "1000×380".
        return self.digits(f"{rejection.width}×{rejection.height} px")

    # --- Commands (plain text, the menus registered at start-up) --------------------------

    @property
    def PRIVATE_COMMANDS(self) -> CommandMenu:
        return (
            ("help", self.pgettext("command", "How to use the bot and the image rules")),
            ("status", self.pgettext("command", "Your jobs")),
            ("animate", self.pgettext("command", "Reply to a photo: /animate what should happen")),
            ("cancel", self.pgettext("command", "Cancel your jobs")),
            ("settings", self.pgettext("command", "Prompt optimizer on or off")),
            ("id", self.pgettext("command", "Your Telegram id")),
        )

    @property
    def GROUP_COMMANDS(self) -> CommandMenu:
        return (
            ("animate", self.pgettext("command", "Reply to a photo: /animate what should happen")),
            ("status", self.pgettext("command", "Your jobs in this group")),
            ("help", self.pgettext("command", "How to use the bot")),
            ("cancel", self.pgettext("command", "Cancel your jobs in this group")),
            ("id", self.pgettext("command", "Your id and this group's")),
        )

    # --- Intake -----------------------------------------------------------------------------

    def help(self, typical: float, *, group: bool = False) -> str:
        """/start and /help; `typical`: the seconds a video usually takes. In a group
        (`group`), how to ask there comes first."""
        about = self.about(typical)
        private = self._(
            "Send me a photo with a caption that says what should happen, for example "
            "<i>she smiles and waves</i>. It usually takes %(about)s; then I reply to your "
            "photo with a 6-second video.",
            about=about,
        )
        in_group = self._(
            "<b>In a group</b>, start the caption with <code>/animate</code>, or reply to a "
            "photo with <code>/animate what should happen</code>."
        )
        if group:
            in_group = self._(
                "<b>Here in the group</b>, start a photo's caption with <code>/animate</code> "
                "and say what should happen, for example <code>/animate she smiles and "
                "waves</code>, or reply to a photo with <code>/animate what should happen</code>. "
                "It usually takes %(about)s; then I reply to the photo with a 6-second video.",
                about=about,
            )
            private = self._("In a private chat with me, a photo and its caption are enough.")
        return "\n\n".join(
            [
                self._("<b>I turn a photo into a short video</b> 🎬"),
                *((in_group, private) if group else (private, in_group)),
                self._(
                    "<b>Image rules:</b> JPG or PNG, up to 20 MB, the shorter side over 300 px, "
                    "and no more elongated than 5:2 either way (from 2:5 portrait to 5:2 "
                    "landscape, exclusive)."
                ),
                self._(
                    "/status shows your jobs and what you have left today; /cancel cancels them."
                ),
                self._(
                    "The video service may reword your prompt to improve the video. End a prompt "
                    "with <code>--exact</code> to have it used as written; /settings makes that "
                    "your default."
                ),
            ]
        )

    @property
    def PRIVATE_TEXT_HINT(self) -> str:
        return self._(
            "Send me a <b>photo</b> with a caption that says what should happen in the video. "
            "/help explains more."
        )

    @property
    def NEED_CAPTION(self) -> str:
        return self._(
            "What should happen in the video? Send the photo again with a caption, for example "
            "<i>the cat turns its head and blinks</i>, or reply to it with "
            "<code>/animate the cat turns its head and blinks</code>."
        )

    @property
    def ANIMATE_NEEDS_PROMPT(self) -> str:
        return self._(
            "Add what should happen after the command, for example "
            "<code>/animate the dog wags its tail</code>."
        )

    @property
    def ANIMATE_NEEDS_PHOTO(self) -> str:
        return self._(
            "Reply to a photo with <code>/animate what should happen</code>, or send a photo "
            "with <code>/animate what should happen</code> as its caption."
        )

    @property
    def ANIMATE_REPLY_NOT_PHOTO(self) -> str:
        return self._(
            "The message you replied to has no photo. Reply to a photo (JPG or PNG) with "
            "<code>/animate what should happen</code>."
        )

    @property
    def ALBUM_NOTICE(self) -> str:
        return self._(
            "I make one video per photo, from the photo that carries the caption. To animate "
            "the others, send each one on its own with its own caption."
        )

    @property
    def RECEIVED(self) -> str:
        return self._("📥 Got it! Checking your photo and sending it to the animator…")

    @property
    def DOWNLOAD_FAILED(self) -> str:
        return self._(
            "😔 I could not download your photo from Telegram. Nothing was charged. "
            "Please send it again."
        )

    def same_video_coming(self, first_photo: str | None) -> str:
        """The same photo and prompt are already being made for this user: no second charge.
        `first_photo`: a link to the earlier request, where Telegram has one."""
        # Translators: the photo this reply points at, as in "I will answer your first one".
        earlier = self._("your first one")
        if first_photo:
            earlier = f'<a href="{escape(first_photo)}">{earlier}</a>'
        return self._(
            "🔁 This photo with this prompt is already being made into a video for you, so I "
            "did not start the same video twice, and this request does not count against your "
            "daily limit. I will answer %(earlier)s: with the video, or with what went wrong. "
            "For another version, tap 🔁 Again under that video, or send the photo with a "
            "different prompt.",
            earlier=earlier,
        )

    def about(self, seconds: float) -> str:
        """A rough span, for what to expect: "about 15 seconds", "about 3 minutes"."""
        if seconds < 55:
            count = max(5, round(seconds / 5) * 5)
            return self.ngettext("about %(count)s second", "about %(count)s seconds", count)
        minutes = max(1, round(seconds / 60))
        return self.ngettext("about %(count)s minute", "about %(count)s minutes", minutes)

    def queued(
        self, *, typical: float, converted_from: str | None = None, image_format: str = "JPEG"
    ) -> str:
        """The job is at the video service; `typical`: seconds a video usually takes. Says when
        the image was converted to a format the model takes."""
        text = self._(
            "✅ Queued. Your video should be ready in %(about)s: I will reply to your photo. "
            "/status shows how it is going.",
            about=self.about(typical),
        )
        if converted_from is None:
            return text
        converted = self._(
            "(converted from %(source)s to %(target)s)",
            source=escape(converted_from),
            target=escape(image_format),
        )
        return f"{text}\n{converted}"

    def prompt_too_long(self, length: int, limit: int) -> str:
        return self.ngettext(
            "Your prompt is %(count)s character long; the limit is %(limit)s. "
            "Please shorten it and send the photo again.",
            "Your prompt is %(count)s characters long; the limit is %(limit)s. "
            "Please shorten it and send the photo again.",
            length,
            limit=limit,
        )

    def image_refused(self, rejection: ImageRejected, *, fixes: bool = False) -> str:
        """Why an image cannot be used, and what would work instead; with `fixes`, a last line
        that points at the buttons under it that can fix the image."""
        # Translators: stands for the image's size in pixels when it is not known.
        size = self._image_size(rejection) or self._("this size")
        problem = rejection.problem
        if problem is ImageProblem.TOO_LARGE and rejection.size_bytes:
            megabytes = self.digits(
                format_decimal(
                    rejection.size_bytes / (1024 * 1024),
                    format="0.0",
                    locale=self.locale,
                    numbering_system="default",
                )
            )
            text = self._(
                "This file is too large (%(size)s MB). Please send an image of at most 20 MB.",
                size=megabytes,
            )
        elif problem is ImageProblem.TOO_LARGE:
            text = self._("This file is too large. Please send an image of at most 20 MB.")
        elif problem is ImageProblem.NOT_AN_IMAGE:
            text = self._("This file is not an image I can read. Please send a JPG or PNG photo.")
        elif problem is ImageProblem.CORRUPT:
            text = self._(
                "This image looks damaged: it could not be read to the end. "
                "Please send it again, or save it anew as JPG or PNG."
            )
        elif problem is ImageProblem.UNSUPPORTED_FORMAT and rejection.image_format:
            text = self._(
                "%(format)s images are not supported by the video model. "
                "Please send a JPG or PNG, or send it as a photo rather than as a file.",
                format=escape(rejection.image_format),
            )
        elif problem is ImageProblem.UNSUPPORTED_FORMAT:
            text = self._(
                "Images in this format are not supported by the video model. "
                "Please send a JPG or PNG, or send it as a photo rather than as a file."
            )
        elif problem is ImageProblem.TOO_SMALL:
            text = self._(
                "This image is too small (%(size)s): its shorter side must be over 300 px. "
                "Please send a larger photo.",
                size=size,
            )
        elif problem is ImageProblem.TOO_TALL:
            text = self._(
                "This image is too tall and narrow (%(size)s). The width must be more than 2/5 "
                "of the height. Please crop it closer to a square, or to at most 2:5 portrait.",
                size=size,
            )
        elif problem is ImageProblem.TOO_WIDE:
            text = self._(
                "This image is too wide (%(size)s). The width must be less than 5/2 of the "
                "height. Please crop it closer to a square, or to at most 5:2 landscape.",
                size=size,
            )
        else:
            text = self._(
                "This image has too many pixels (%(size)s). "
                "Please send a smaller image (up to about 50 megapixels).",
                size=size,
            )
        if fixes:
            text += "\n\n" + self._("👇 Or tap a button below and I will fix the photo for you.")
        return text

    # --- Submission and its outcomes --------------------------------------------------------

    def submission_failed(self, reason: str | None) -> str:
        """The API refused the request; `reason` is the API's own words, quoted as they are."""
        if not reason:
            return self._(
                "😔 The video service refused this request: no reason given. Nothing was charged."
            )
        return self._(
            "😔 The video service refused this request: %(reason)s. Nothing was charged.",
            reason=escape(reason),
        )

    def stayed_busy(self, patience: float) -> str:
        """The API stayed too busy to take the request for `patience` seconds."""
        return self._(
            "😔 The video service stayed too busy to take your request for %(duration)s, so I "
            "stopped trying. Nothing was charged. Please send the photo again later.",
            duration=self.duration(patience),
        )

    @property
    def SERVICE_OUT_OF_CREDITS(self) -> str:
        return self._(
            "😔 I can't take new videos right now: the bot's video service account has run out "
            "of credits. Nothing was charged. Please try again later."
        )

    @property
    def SERVICE_MISCONFIGURED(self) -> str:
        return self._(
            "😔 I can't reach the video service right now because of a problem on the bot's "
            "side. Nothing was charged. The operator can see it in the logs. Please try again "
            "later."
        )

    @property
    def OUTCOME_UNKNOWN(self) -> str:
        return self._(
            "⚠️ The video service did not confirm your request, so I can't tell whether it went "
            "through. It may have been charged, but I have no way to follow it, so no video "
            "will come from it. Sending the photo again starts a new video, charged on its "
            "own: it is up to you."
        )

    @property
    def INTERRUPTED(self) -> str:
        return self._(
            "⚠️ I lost track of your request while sending it to the video service (the bot "
            "restarted or hit an error), so I can't tell whether it went through. It may have "
            "been charged, but no video will come from it. Sending the photo again starts a "
            "new video, charged on its own: it is up to you."
        )

    @property
    def INTERRUPTED_BEFORE_SUBMIT(self) -> str:
        return self._(
            "⚠️ Something went wrong before your photo reached the video service, so nothing "
            "was charged. Please send the photo again."
        )

    def generation_failed(self, reason: Reason | None, api_reason: str | None = None) -> str:
        """No video, and why: the API's own words (`api_reason`), quoted as they are, or the
        words of the bot's own `reason` (GENERATION_LOST, VIDEO_EXPIRED, ...)."""
        if reason is None or (reason is Reason.API_FAILED and not api_reason):
            return self._(
                "😔 The video service could not make this video. "
                "You can send the photo again, maybe with another prompt or another photo."
            )
        return self._(
            "😔 The video service could not make this video: %(reason)s. "
            "You can send the photo again, maybe with another prompt or another photo.",
            reason=escape(self.failure_reason(reason, api_reason)),
        )

    def timed_out(self, waited: float) -> str:
        """A late video that never came: followed for `waited` seconds, then given up."""
        return self._(
            "⏱ The video service did not finish this video in %(duration)s, so I stopped "
            "waiting for it, and it does not count against your daily limit. Please send the "
            "photo again later.",
            duration=self.duration(waited),
        )

    # --- Progress and delivery --------------------------------------------------------------

    def duration(self, seconds: float) -> str:
        """A short span for people: "45 s", "3 min 05 s", "1 h 02 min"."""
        seconds = max(0, round(seconds))
        if seconds < 60:
            return self.pgettext("duration", "%(seconds)s s", seconds=seconds)
        minutes, seconds = divmod(seconds, 60)
        if minutes < 60:
            padded = self.number(seconds, digits=2)
            return self.pgettext(
                "duration", "%(minutes)s min %(seconds)s s", minutes=minutes, seconds=padded
            )
        hours, minutes = divmod(minutes, 60)
        padded = self.number(minutes, digits=2)
        return self.pgettext("duration", "%(hours)s h %(minutes)s min", hours=hours, minutes=padded)

    def time_left(self, seconds: float) -> str:
        """Time until a reset, rounded up to the minute: "12 h 0 min", "5 min"."""
        hours, minutes = hours_minutes(seconds)
        if hours:
            return self.pgettext(
                "duration", "%(hours)s h %(minutes)s min", hours=hours, minutes=minutes
            )
        return self.pgettext("duration", "%(minutes)s min", minutes=minutes)

    def video_caption(self, prompt: str, made_in: float | None = None) -> str:
        """The delivered video's caption: the prompt, cut to fit, and how long it took."""
        tail = ""
        if made_in is not None:
            tail = "\n" + self._("⏱ made in %(duration)s", duration=self.duration(made_in))
        return _caption("🎬 ", prompt, tail)

    def progress_queued(self, elapsed: float, typical: float, *, late: bool = False) -> str:
        """Progress while the service has not started: `elapsed` since submission, `typical`
        for a whole video; `late` when this job is clearly slower than that."""
        values = {"so_far": self.duration(_tens(elapsed)), "about": self.about(typical)}
        if late:
            return self._(
                "🕒 Still queued at the video service (%(so_far)s so far), longer than usual: a "
                "video usually takes %(about)s in all. I am still following it and will reply "
                "to your photo.",
                **values,
            )
        return self._(
            "🕒 Queued at the video service (%(so_far)s so far). A video usually takes "
            "%(about)s in all: I will reply to your photo.",
            **values,
        )

    def progress_late(self, elapsed: float) -> str:
        """Past JOB_TIMEOUT_SECONDS: the video is late, and still followed."""
        return self._(
            "🐢 Your video is late: %(so_far)s so far, far longer than usual. The video service "
            "still has it, so it will still come: I check on it every few minutes and will "
            "reply to your photo the moment it is ready.",
            so_far=self.duration(_tens(elapsed)),
        )

    def progress_generating(self, elapsed: float, typical: float, *, late: bool = False) -> str:
        """Progress while the video is made; the arguments as for `progress_queued`."""
        values = {"so_far": self.duration(_tens(elapsed)), "about": self.about(typical)}
        if late:
            return self._(
                "⚙️ Generating your video: %(so_far)s so far, longer than usual: a video usually "
                "takes %(about)s in all. I am still following it and will reply to your photo.",
                **values,
            )
        return self._(
            "⚙️ Generating your video: %(so_far)s so far, usually %(about)s in all. "
            "I will reply to your photo.",
            **values,
        )

    def video_too_large(self, url: str) -> str:
        return self._(
            '🎬 Your video is ready but too large to send here. <a href="%(url)s">Download '
            "it</a>; the link expires in a few hours.",
            url=escape(url, quote=True),
        )

    def video_refused(self, url: str) -> str:
        """Telegram would not take the video in this chat (rights, say): the link instead."""
        return self._(
            "🎬 Your video is ready, but Telegram would not let me post it in this chat. "
            '<a href="%(url)s">Download it</a>; the link expires in a few hours.',
            url=escape(url, quote=True),
        )

    # --- /status ----------------------------------------------------------------------------

    @property
    def NO_JOBS(self) -> str:
        return self._("You have no jobs yet. Send a photo with a caption to start one.")

    def state_label(self, state: JobState) -> str:
        """A job's state in a few words (plain text)."""
        return {
            JobState.RECEIVED: self.pgettext("job state", "checking the photo"),
            JobState.REJECTED: self.pgettext("job state", "photo refused"),
            JobState.SUBMITTING: self.pgettext("job state", "sending"),
            JobState.QUEUED: self.pgettext("job state", "queued"),
            JobState.GENERATING: self.pgettext("job state", "generating"),
            JobState.LATE: self.pgettext("job state", "late, still coming"),
            JobState.COMPLETED: self.pgettext("job state", "sending the video"),
            JobState.DELIVERED: self.pgettext("job state", "done"),
            JobState.FAILED: self.pgettext("job state", "failed"),
            JobState.TIMED_OUT: self.pgettext("job state", "timed out"),
            JobState.INTERRUPTED: self.pgettext("job state", "interrupted"),
            JobState.UNDELIVERABLE: self.pgettext("job state", "not delivered"),
            JobState.WAITING: self.pgettext("job state", "waiting in line"),
            JobState.CANCELLED: self.pgettext("job state", "cancelled"),
        }[state]

    def failure_reason(self, reason: Reason, api_reason: str | None = None) -> str:
        """Why a job was refused or ended without a video (plain text): the API's own words
        where it gave any, as they are, else the words of the stored `reason` code."""
        if api_reason:
            return api_reason
        pgettext = self.pgettext
        return {
            Reason.TOO_LARGE: pgettext("reason", "the photo file is too large"),
            Reason.NOT_AN_IMAGE: pgettext("reason", "the file is not a picture"),
            Reason.CORRUPT: pgettext("reason", "the photo file is damaged"),
            Reason.UNSUPPORTED_FORMAT: pgettext("reason", "the photo's format is not supported"),
            Reason.TOO_SMALL: pgettext("reason", "the photo is too small"),
            Reason.TOO_TALL: pgettext("reason", "the photo is too tall and narrow"),
            Reason.TOO_WIDE: pgettext("reason", "the photo is too wide"),
            Reason.TOO_MANY_PIXELS: pgettext("reason", "the photo has too many pixels"),
            Reason.DOWNLOAD_FAILED: pgettext("reason", "the photo could not be downloaded"),
            Reason.SAME_VIDEO_COMING: pgettext(
                "reason", "the same photo and prompt were already on their way"
            ),
            Reason.NOT_SUBMITTED: pgettext("reason", "stopped before submitting (not charged)"),
            Reason.RESTARTED_WHILE_SUBMITTING: pgettext(
                "reason", "the bot restarted while submitting"
            ),
            Reason.LOST_WHILE_SUBMITTING: pgettext("reason", "lost while submitting"),
            Reason.OUTCOME_UNKNOWN: pgettext(
                "reason", "the video service did not confirm the request"
            ),
            Reason.STAYED_BUSY: pgettext("reason", "the video service stayed too busy to take it"),
            Reason.API_REFUSED: pgettext("reason", "the video service refused the request"),
            Reason.OUT_OF_CREDITS: pgettext(
                "reason", "the video service account ran out of credits"
            ),
            Reason.MISCONFIGURED: pgettext(
                "reason", "the video service did not accept the bot's key or address"
            ),
            Reason.API_FAILED: pgettext("reason", "the video service could not make the video"),
            Reason.GENERATION_LOST: pgettext("reason", "the video service lost track of this job"),
            Reason.NO_VIDEO: pgettext("reason", "the video service finished without a video"),
            Reason.VIDEO_EXPIRED: pgettext(
                "reason", "the finished video expired before it could be sent"
            ),
            Reason.CHAT_CLOSED: pgettext("reason", "the chat is closed to the bot"),
            Reason.REPLY_REFUSED: pgettext("reason", "Telegram would not take the reply"),
        }[reason]

    def ago(self, seconds: float) -> str:
        seconds = max(0, int(seconds))
        if seconds < 60:
            return self._("just now")
        if seconds < 3600:
            return self.ngettext("%(count)s min ago", "%(count)s min ago", seconds // 60)
        if seconds < 86400:
            return self.ngettext("%(count)s h ago", "%(count)s h ago", seconds // 3600)
        return self.ngettext("%(count)s d ago", "%(count)s d ago", seconds // 86400)

    def status_list(
        self, jobs: Sequence[Job], *, now: float, places: Mapping[int, int] | None = None
    ) -> str:
        """The /status reply: the caller's jobs, newest first, each with its state, its place
        in line or time so far, the prompt cut short and a link to the photo where one
        exists."""
        if not jobs:
            return self.NO_JOBS
        places = places or {}
        photo = self.pgettext("link to the photo", "photo")
        lines = [self._("<b>Your jobs</b>, newest first:")]
        for job in jobs:
            detail = self.ago(now - job.created_at)
            place = places.get(job.id)
            if job.state is JobState.WAITING and place is not None:
                detail += " · " + self._("place %(place)s in line", place=place)
            elif job.state in _AT_THE_SERVICE:
                so_far = self.duration(_tens(now - _started(job)))
                detail += " · " + self._("%(duration)s so far", duration=so_far)
            lines.append(_job_entry(job, self.state_label(job.state), detail, photo))
        return "\n".join(lines)

    def usage_today(self, report: UsageReport) -> str:
        """The /status footer: the caller's budget today."""
        if not report.allowed:
            return self._(
                "🔒 You have no access to this bot yet. Your user id is "
                "<code>%(user_id)s</code>: send it to the operator to ask for access.",
                # Ids are text, in Latin digits in every language: they are copied, into
                # /allow and /deny, not read.
                user_id=str(report.user_id),
            )
        active = self._(
            "On the way: %(active)s of %(limit)s at once.",
            active=report.active,
            limit=report.active_limit,
        )
        if report.admin:
            return self.ngettext(
                "<b>Today</b> (UTC): %(count)s video, no daily limit for admins. %(active)s",
                "<b>Today</b> (UTC): %(count)s videos, no daily limit for admins. %(active)s",
                report.today,
                active=active,
            )
        return self.ngettext(
            "<b>Today</b> (UTC): %(used)s of %(count)s video used, %(left)s left; the count "
            "starts again at 00:00 UTC, in %(time_left)s. %(active)s",
            "<b>Today</b> (UTC): %(used)s of %(count)s videos used, %(left)s left; the count "
            "starts again at 00:00 UTC, in %(time_left)s. %(active)s",
            report.daily_limit,
            used=report.today,
            left=max(0, report.daily_limit - report.today),
            time_left=self.time_left(report.resets_in),
            active=active,
        )

    # --- Access, budgets and the line -------------------------------------------------------

    def not_allowed(self, user_id: int) -> str:
        return self._(
            "🔒 Sorry, this bot makes videos only for people its operator has allowed. Your "
            "user id is <code>%(user_id)s</code>: send it to the operator to ask for access.",
            user_id=str(user_id),
        )

    def ids(self, user_id: int, chat_id: int | None) -> str:
        """/id: the sender's own Telegram id and, in a group (`chat_id`), the group's: what
        the operator puts in the settings. Ids stay in Latin digits, to be copied."""
        lines = [self._("🪪 Your user id: <code>%(user_id)s</code>", user_id=str(user_id))]
        if chat_id is not None:
            lines.append(
                self._("👥 This group's id: <code>%(chat_id)s</code>", chat_id=str(chat_id))
            )
        lines.append(
            self._(
                "The bot's operator lets people in with these: ALLOWED_USER_IDS and "
                "ADMIN_USER_IDS for a person, ALLOWED_CHAT_IDS for a group."
            )
        )
        return "\n".join(lines)

    def too_many_active(self, verdict: TooManyActive) -> str:
        return self.ngettext(
            "✋ You already have %(count)s video on the way, and the most at once is %(limit)s. "
            "Please send this photo again when one is done (/status shows them).",
            "✋ You already have %(count)s videos on the way, and the most at once is "
            "%(limit)s. Please send this photo again when one is done (/status shows them).",
            verdict.active,
            limit=verdict.limit,
        )

    def daily_limit_reached(self, verdict: DailyLimitReached) -> str:
        return self.ngettext(
            "✋ You have reached today's limit: %(used)s of %(count)s video. Your count starts "
            "again at 00:00 UTC, in %(time_left)s. Videos that fail do not count.",
            "✋ You have reached today's limit: %(used)s of %(count)s videos. Your count starts "
            "again at 00:00 UTC, in %(time_left)s. Videos that fail do not count.",
            verdict.limit,
            used=verdict.used,
            time_left=self.time_left(verdict.resets_in),
        )

    def daily_cap_reached(self, verdict: DailyCapReached) -> str:
        """The whole bot made all the videos it may make today (DAILY_JOBS_TOTAL)."""
        return self._(
            "✋ This bot has made all the videos it can today (%(limit)s). Nothing was charged. "
            "It starts again at 00:00 UTC, in %(time_left)s: please send your photo then.",
            limit=verdict.limit,
            time_left=self.time_left(verdict.resets_in),
        )

    # --- Payments in Telegram Stars ---------------------------------------------------------

    @property
    def PAYMENT_COMMANDS(self) -> CommandMenu:
        """The commands added to the private menu while payments are on."""
        return (
            ("buy", self.pgettext("command", "Buy videos with Telegram Stars")),
            ("balance", self.pgettext("command", "Your videos left and purchases")),
            ("paysupport", self.pgettext("command", "Help with a payment")),
            ("terms", self.pgettext("command", "Terms of sale")),
        )

    def videos(self, count: int) -> str:
        """A number of videos, as a pack or a balance counts them."""
        return self.ngettext("%(count)s video", "%(count)s videos", count)

    def pack_button(self, pack: StarPack) -> str:
        """A pack's button under /buy: what it gives and what it costs."""
        return self._(
            "%(videos)s · %(stars)s ⭐", videos=self.videos(pack.videos), stars=pack.stars
        )

    def buy_prompt(self, balance: int) -> str:
        """/buy, above the packs' buttons."""
        return self._(
            "⭐ <b>Buy videos with Telegram Stars</b>\nYou have %(balance)s left. Choose a "
            "pack: Telegram asks you to confirm the payment, and the videos are yours at once. "
            "A video that fails gives its credit back.",
            balance=self.videos(balance),
        )

    @property
    def PAYMENTS_OFF(self) -> str:
        return self._(
            "This bot sells no videos: each person may make a few a day for free. /status shows "
            "what you have left today."
        )

    def invoice_title(self, pack: StarPack) -> str:
        """The invoice's title (at most 32 characters)."""
        return self._("%(videos)s from your photos", videos=self.videos(pack.videos))

    def invoice_description(self, pack: StarPack) -> str:
        """The invoice's description (at most 255 characters)."""
        return self._(
            "%(videos)s to animate your photos with this bot. The credits do not expire, and a "
            "video that fails gives its credit back.",
            videos=self.videos(pack.videos),
        )

    @property
    def BUY_IN_PRIVATE(self) -> str:
        return self._("⭐ Packs are sold in a private chat with the bot: open it and send /buy.")

    @property
    def ADMINS_NEVER_PAY(self) -> str:
        return self._("You are an admin of this bot: your videos are never charged.")

    @property
    def START_PRIVATE_FIRST(self) -> str:
        return self._(
            "⭐ The invoice goes to your private chat with the bot: open it, press Start, and "
            "tap the pack again."
        )

    @property
    def PACK_GONE(self) -> str:
        return self._("This pack is no longer on sale: send /buy for the packs on sale now.")

    def checkout_refused(self, refusal: CheckoutRefusal) -> str:
        """Why a payment is stopped before it is made (at most 255 characters, shown by
        Telegram's payment form)."""
        if refusal is CheckoutRefusal.PACK_GONE:
            return self.PACK_GONE
        if refusal is CheckoutRefusal.OTHER_USER:
            return self._(
                "This invoice was made for someone else. Send /buy to get one of your own."
            )
        return self._("This invoice is not valid any more. Send /buy for a new one.")

    def payment_received(self, videos: int, balance: int) -> str:
        return self._(
            "🎉 Thank you! %(added)s added: you now have %(balance)s. Send a photo with a "
            "caption to make one.",
            added=self.videos(videos),
            balance=self.videos(balance),
        )

    def no_credit_left(self, packs: Sequence[StarPack]) -> str:
        """A request from a user with no video left: nothing was charged, and what it costs."""
        cheapest = min(packs, key=lambda pack: pack.stars)
        return self._(
            "⭐ You have no videos left, so this photo was not sent to the video service and "
            "nothing was charged. Videos are sold in packs, from %(stars)s Stars for "
            "%(videos)s: choose one below (or send /buy), then send the photo again.",
            stars=cheapest.stars,
            videos=self.videos(cheapest.videos),
        )

    def balance_line(self, balance: int, in_use: int) -> str:
        """A user's credits, in /status and /balance."""
        line = self._("⭐ You have %(balance)s left.", balance=self.videos(balance))
        if in_use:
            line += " " + self.ngettext(
                "%(count)s more is held by a video being made, and comes back if it fails.",
                "%(count)s more are held by videos being made, and come back if they fail.",
                in_use,
            )
        return line

    def balance_report(
        self, balance: int, in_use: int, purchases: Sequence[Purchase], *, now: float
    ) -> str:
        """/balance: the credits left and the last purchases."""
        lines = [self.balance_line(balance, in_use)]
        if purchases:
            lines.append(self._("<b>Your last purchases</b>"))
            for purchase in purchases:
                entry = self._(
                    "• %(videos)s for %(stars)s ⭐, %(ago)s",
                    videos=self.videos(purchase.videos),
                    stars=purchase.stars,
                    ago=self.ago(now - purchase.bought_at),
                )
                if purchase.refunded:
                    entry += " " + self._("(refunded)")
                # Indented as a list's continuation: an id reads left to right in any script.
                lines.append(entry + f"\n    <code>{escape(purchase.charge_id)}</code>")
        else:
            lines.append(self._("No purchases yet."))
        lines.append(self._("/buy for more videos, /paysupport for help with a payment."))
        return "\n".join(lines)

    @property
    def PAYSUPPORT(self) -> str:
        return self._(
            "💬 <b>Help with a payment</b>\nWrite to the operator of this bot, and include the "
            "payment's id from /balance. A video that fails gives its credit back by itself; "
            "Stars for unused videos can be refunded. Telegram's own support cannot refund "
            "purchases made in bots."
        )

    @property
    def TERMS(self) -> str:
        return self._(
            "📄 <b>Terms</b>\nA pack gives the number of videos it names, each made from a photo "
            "and a caption you send. A video that fails, or is refused before it is made, gives "
            "its credit back. Credits do not expire. Unused credits can be refunded on request "
            "(/paysupport); a video made cannot."
        )

    @property
    def REFUND_USAGE(self) -> str:
        return self._(
            "Usage: /refund <code>charge id</code> (from the buyer's /balance), or "
            "/refund <code>charge id</code> force to refund even if some of its videos were "
            "made."
        )

    def refund_unknown(self, charge_id: str) -> str:
        return self._(
            "No purchase has the charge id <code>%(charge)s</code>.", charge=escape(charge_id)
        )

    def refund_already(self, charge_id: str) -> str:
        return self._(
            "The purchase <code>%(charge)s</code> was refunded already.", charge=escape(charge_id)
        )

    def refund_spent(self, charge_id: str, unused: int, videos: int) -> str:
        return self._(
            "The buyer of <code>%(charge)s</code> (%(videos)s) has only %(unused)s left: the rest "
            "were used or are being made. Send /refund <code>%(charge)s</code> force to refund "
            "the Stars anyway, taking back what is left.",
            unused=self.videos(unused),
            videos=self.videos(videos),
            charge=escape(charge_id),
        )

    def refund_done(self, purchase: Purchase, taken: int) -> str:
        return self._(
            "↩️ Refunded %(stars)s ⭐ to user <code>%(user_id)s</code> and took back %(taken)s.",
            stars=purchase.stars,
            user_id=str(purchase.user_id),
            taken=self.videos(taken),
        )

    def refund_failed(self, why: str) -> str:
        return self._("Telegram did not refund it: %(why)s", why=escape(why))

    def refunded_to_buyer(self, purchase: Purchase) -> str:
        """What the buyer hears of a refund."""
        return self._(
            "↩️ Your purchase of %(videos)s was refunded: %(stars)s ⭐ are back in your account.",
            videos=self.videos(purchase.videos),
            stars=purchase.stars,
        )

    def stars_line(self, totals: StarTotals) -> str:
        """/stats: the Stars taken and given back, and the credits users hold."""
        return self._(
            "⭐ Stars: %(earned)s earned, %(refunded)s refunded; %(outstanding)s held by users",
            earned=totals.earned,
            refunded=totals.refunded,
            outstanding=self.videos(totals.outstanding),
        )

    # --- Alerts for the admins (the operator must act) ---------------------------------

    def alert_daily_cap(self, verdict: DailyCapReached) -> str:
        return self.ngettext(
            "⚠️ Admin alert: the bot reached its daily cap of %(count)s video "
            "(DAILY_JOBS_TOTAL). New requests are refused until 00:00 UTC, in %(time_left)s.",
            "⚠️ Admin alert: the bot reached its daily cap of %(count)s videos "
            "(DAILY_JOBS_TOTAL). New requests are refused until 00:00 UTC, in %(time_left)s.",
            verdict.limit,
            time_left=self.time_left(verdict.resets_in),
        )

    def alert_out_of_credits(self, reason: str) -> str:
        return self._(
            "⚠️ Admin alert: the video service says the account is out of credits "
            "(%(reason)s). New videos fail until it is topped up.",
            reason=escape(reason),
        )

    def alert_misconfigured(self, reason: str) -> str:
        return self._(
            "⚠️ Admin alert: the video service refused the bot's key or endpoint "
            "(%(reason)s). Check AIMLAPI_KEY, AIMLAPI_BASE_URL and AIMLAPI_ENDPOINT.",
            reason=escape(reason),
        )

    def alert_failing(self, count: int, reason: str) -> str:
        return self.ngettext(
            "⚠️ Admin alert: the last %(count)s request to the video service ended without a "
            "confirmed job (last: %(reason)s). See the bot's log.",
            "⚠️ Admin alert: the last %(count)s requests to the video service ended without a "
            "confirmed job (last: %(reason)s). See the bot's log.",
            count,
            reason=escape(reason),
        )

    def waiting_in_line(self, place: int) -> str:
        return self._(
            "⏳ Many videos are being made right now, so your photo waits in line: it is "
            "<b>number %(place)s</b>. I will send it to the animator as soon as a place frees "
            "up. /cancel takes it out of the line at no charge.",
            place=place,
        )

    def busy_in_line(self, place: int) -> str:
        """The API was too busy to take the request: it waits in line to be tried again."""
        return self._(
            "⏳ The video service is busy right now and did not take your photo yet, so it "
            "waits in line: it is <b>number %(place)s</b>. I will keep trying, and nothing is "
            "charged until the service takes it. /cancel takes it out of the line.",
            place=place,
        )

    @property
    def CANCELLED_WAITING(self) -> str:
        return self._("✖️ Cancelled: taken out of the line. Nothing was charged.")

    @property
    def CANCELLED_SUBMITTED(self) -> str:
        return self._(
            "✖️ Cancelled: I stopped following this video. The video service had already "
            "taken it, so its credits are spent."
        )

    def cancel_report(self, cancelled: Cancelled) -> str:
        """The /cancel reply: what was done, with counts."""
        lines = []
        if cancelled.waiting:
            lines.append(
                self.ngettext(
                    "✖️ Took %(count)s job out of the line. Nothing was charged.",
                    "✖️ Took %(count)s jobs out of the line. Nothing was charged.",
                    len(cancelled.waiting),
                )
            )
        if cancelled.stopped:
            lines.append(
                self.ngettext(
                    "✖️ Stopped following %(count)s job already sent to the video service. The "
                    "service cannot take them back, so their credits are spent, and their "
                    "videos will not be sent.",
                    "✖️ Stopped following %(count)s jobs already sent to the video service. The "
                    "service cannot take them back, so their credits are spent, and their "
                    "videos will not be sent.",
                    len(cancelled.stopped),
                )
            )
        if cancelled.busy:
            lines.append(
                self.ngettext(
                    "⏳ %(count)s job could not be stopped: being sent to the video service or "
                    "finished and on the way to you right now.",
                    "⏳ %(count)s jobs could not be stopped: being sent to the video service or "
                    "finished and on the way to you right now.",
                    cancelled.busy,
                )
            )
        return "\n".join(lines) if lines else self._("You have nothing to cancel.")

    # --- Admins -----------------------------------------------------------------------------

    @property
    def ADMINS_ONLY(self) -> str:
        return self._("🔒 This command is for the bot's admins.")

    @property
    def ALLOW_USAGE(self) -> str:
        return self._(
            "Usage: <code>/allow 123456789</code>, with the person's Telegram user id "
            "(they see it when the bot refuses them)."
        )

    @property
    def DENY_USAGE(self) -> str:
        return self._("Usage: <code>/deny 123456789</code>, with the person's Telegram user id.")

    def user_allowed(self, user_id: int, *, was_open: bool) -> str:
        text = self._("✅ User <code>%(user_id)s</code> may now make videos.", user_id=str(user_id))
        if was_open:
            text += "\n" + self._(
                "Note: the bot was open to everyone. From now on only allowed people and "
                "groups can make videos."
            )
        return text

    def user_denied(self, user_id: int, *, cancelled: int) -> str:
        text = self._(
            "🚫 User <code>%(user_id)s</code> can no longer make videos, in private or in groups.",
            user_id=str(user_id),
        )
        if cancelled:
            text += " " + self.ngettext(
                "%(count)s job of theirs left the line, uncharged.",
                "%(count)s jobs of theirs left the line, uncharged.",
                cancelled,
            )
        return text

    def cannot_deny_admin(self, user_id: int) -> str:
        return self._(
            "User <code>%(user_id)s</code> is an admin (ADMIN_USER_IDS), and admins always have "
            "access. Remove them from the settings instead.",
            user_id=str(user_id),
        )

    def stats_report(self, report: StatsReport) -> str:
        """The /stats reply, for admins."""

        def span(value: float | None) -> str:
            return "–" if value is None else self.duration(value)

        if report.success_rate is None:
            success = self._("nothing finished yet")
        else:
            success = self._(
                "%(delivered)s of %(finished)s finished (%(rate)s)",
                delivered=report.delivered_week,
                finished=report.finished_week,
                rate=self.digits(
                    format_percent(
                        report.success_rate, locale=self.locale, numbering_system="default"
                    )
                ),
            )
        lines = [
            self._("<b>Stats</b>"),
            self.ngettext(
                "Today (UTC): %(count)s request, %(submitted)s sent to the video service",
                "Today (UTC): %(count)s requests, %(submitted)s sent to the video service",
                report.requests_today,
                submitted=report.submitted_today,
            ),
            self.ngettext(
                "Last 7 days: %(count)s request, %(submitted)s sent",
                "Last 7 days: %(count)s requests, %(submitted)s sent",
                report.requests_week,
                submitted=report.submitted_week,
            ),
            self._("Delivered (7 days): %(success)s", success=success),
            self._(
                "Submission to delivery: median %(median)s, p95 %(p95)s",
                median=span(report.median_seconds),
                p95=span(report.p95_seconds),
            ),
        ]
        if report.failures:
            lines.append(self._("<b>Failures</b> (7 days):"))
            for failure in report.failures:
                reason = (
                    escape(shorten(self.failure_reason(failure.reason, failure.api_reason), 80))
                    if failure.reason
                    else self._("no reason given")
                )
                lines.append(f"• {self.state_label(failure.state)}: {reason} × {failure.count}")
        else:
            lines.append(self._("No failures in the last 7 days."))
        lines.append(
            self._(
                "Now: %(in_flight)s of %(limit)s at the video service, %(waiting)s waiting in line",
                in_flight=report.in_flight,
                limit=report.in_flight_limit,
                waiting=report.waiting,
            )
        )
        if report.usage_today:
            # Translators: between the amounts of two units, as in "126 credits, 1 token".
            separator = self.pgettext("list separator", ", ")
            spent = separator.join(
                self.usage_amount(amount, unit) for unit, amount in report.usage_today.items()
            )
            lines.append(
                self._("Cost today, as the video service counts it: %(spent)s", spent=spent)
            )
        return "\n".join(lines)

    def usage_amount(self, amount: float, unit: str) -> str:
        """An amount the API reported, with its unit: "120 credits", "1 token"."""
        number = self.digits(format_decimal(amount, locale=self.locale, numbering_system="default"))
        # Plural rules in gettext take whole numbers; a fraction takes the form of 2 in the
        # languages here ("2.5 credits", "2,5 кредита").
        count = int(amount) if float(amount).is_integer() else 2
        if unit == "credits":
            return self.ngettext("%(amount)s credit", "%(amount)s credits", count, amount=number)
        if unit == "tokens":
            return self.ngettext("%(amount)s token", "%(amount)s tokens", count, amount=number)
        return f"{number} {unit}"

    # --- Buttons ----------------------------------------------------------------------------
    # Labels and callback answers (toasts and alerts) are plain text, not HTML; answers are
    # at most 200 characters.

    @property
    def BUTTON_AGAIN(self) -> str:
        return self.pgettext("button", "🔁 Again")

    @property
    def BUTTON_RETRY(self) -> str:
        return self.pgettext("button", "🔁 Try again")

    @property
    def BUTTON_CANCEL(self) -> str:
        return self.pgettext("button", "✖️ Cancel")

    @property
    def NOT_YOUR_BUTTON(self) -> str:
        return self._("🔒 Only the person who sent this photo can use this button.")

    @property
    def ON_ITS_WAY(self) -> str:
        return self._("🔁 On its way!")

    @property
    def ALREADY_ON_ITS_WAY(self) -> str:
        return self._("⏳ Already on its way.")

    @property
    def ALREADY_DONE(self) -> str:
        return self._("✅ Already done: its video, or what went wrong, is in the chat.")

    @property
    def BUTTON_STOP_PAID(self) -> str:
        return self.pgettext("button", "✖️ Stop them")

    @property
    def BUTTON_KEEP_PAID(self) -> str:
        return self.pgettext("button", "✅ Keep them")

    @property
    def KEPT_PAID(self) -> str:
        return self._("✅ Kept: those videos will still come to you.")

    def ask_stop_paid(self, count: int) -> str:
        """/cancel found videos the service already makes: ask before giving them up."""
        return self.ngettext(
            "🎬 The video service is already making %(count)s video for you. They are paid for "
            "and cannot be taken back: if you stop following them, their credits are spent and "
            "the videos will not be sent. Stop them, or keep them?",
            "🎬 The video service is already making %(count)s videos for you. They are paid for "
            "and cannot be taken back: if you stop following them, their credits are spent and "
            "the videos will not be sent. Stop them, or keep them?",
            count,
        )

    @property
    def BUTTON_OUTDATED(self) -> str:
        return self._("This button no longer works.")

    @property
    def OUT_OF_THE_LINE(self) -> str:
        return self._("✖️ Out of the line. Nothing was charged.")

    @property
    def ALREADY_LEFT_THE_LINE(self) -> str:
        return self._(
            "It has already left the line and is on its way to the video service. "
            "/cancel stops following it."
        )

    def fix_button(self, fix: Fix) -> str:
        return {
            Fix.CROP: self.pgettext("button", "✂️ Crop to fit"),
            Fix.PAD: self.pgettext("button", "🖼 Pad with blur"),
            Fix.UPSCALE: self.pgettext("button", "🔍 Upscale to 720 px"),
        }[fix]

    def fixing(self, fix: Fix) -> str:
        """The status message (and the button's answer) while a chosen fix is applied."""
        return {
            Fix.CROP: self._("✂️ Cropping your photo to fit…"),
            Fix.PAD: self._("🖼 Padding your photo with a blurred background…"),
            Fix.UPSCALE: self._("🔍 Enlarging your photo…"),
        }[fix]

    def fix_preview(self, fix: Fix, width: int, height: int) -> str:
        """The caption of the fixed image's preview."""
        # A size, not a count: without group separators, as in `_image_size`.
        size = {"width": self.digits(str(width)), "height": self.digits(str(height))}
        return {
            Fix.CROP: self._(
                "✂️ Cropped to %(width)s×%(height)s: this is what will be animated.", **size
            ),
            Fix.PAD: self._(
                "🖼 Padded to %(width)s×%(height)s: this is what will be animated.", **size
            ),
            Fix.UPSCALE: self._(
                "🔍 Upscaled to %(width)s×%(height)s: this is what will be animated.", **size
            ),
        }[fix]

    # --- Settings ---------------------------------------------------------------------------

    @property
    def SETTINGS_IN_PRIVATE(self) -> str:
        return self._("⚙️ Settings are personal: send me /settings in a private chat.")

    @property
    def NOT_YOUR_SETTINGS(self) -> str:
        return self._("🔒 These are someone else's settings.")

    def settings(self, *, prompt_optimizer: bool, chosen: bool) -> str:
        """The /settings message. `chosen`: the user picked the value (else it is the
        default)."""
        default = "" if chosen else " " + self._("(the default)")
        if prompt_optimizer:
            state = self._(
                "<b>Prompt optimizer: on</b>%(default)s\n"
                "The video service rewrites your prompt to make a better video.",
                default=default,
            )
        else:
            state = self._(
                "<b>Prompt optimizer: off</b>%(default)s\n"
                "Your prompts are used exactly as you write them.",
                default=default,
            )
        tip = self._(
            "Tip: end a prompt with <code>--exact</code> to use it exactly as written, just once."
        )
        title = self._("<b>Settings</b>")
        return f"⚙️ {title}\n\n{state}\n\n{tip}"

    def optimizer_button(self, prompt_optimizer: bool) -> str:
        """The button that switches the optimizer away from `prompt_optimizer`."""
        if prompt_optimizer:
            return self.pgettext("button", "✍️ Use my words exactly")
        return self.pgettext("button", "✨ Let the service improve them")

    def optimizer_saved(self, prompt_optimizer: bool) -> str:
        if prompt_optimizer:
            return self._("✨ Prompt optimizer on.")
        return self._("✍️ Prompt optimizer off.")


#: The name callers know the catalog's type by.
English = Words


# --- Choosing a language ------------------------------------------------------------------


def compile_catalog(po_file: Path) -> gettext.GNUTranslations:
    """A .po file compiled in memory, as `msgfmt` would write it: fuzzy and empty
    translations are left out, so their English shows instead."""
    with po_file.open("rb") as source:
        catalog = read_po(source)
    compiled = BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def _load() -> dict[str, Words]:
    po_files = sorted(LOCALES_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))
    if not po_files:
        # The catalogs sit beside the packages, in the checkout: an install that copied only
        # the packages would speak English alone, without a word about it.
        raise RuntimeError(f"no catalogs in {LOCALES_DIR}: install from the checkout (-e)")
    words = {"en": Words(gettext.NullTranslations(), Locale("en"))}
    for po_file in po_files:
        name = po_file.parent.parent.name
        words[name] = Words(compile_catalog(po_file), Locale.parse(name))
    return words


#: Every language the bot speaks, by its locale name ("en", "ru", "pt_BR").
LANGUAGES: Mapping[str, Words] = _load()

ENGLISH = LANGUAGES["en"]
RUSSIAN = LANGUAGES["ru"]

#: The translations (every language but English), by the two-letter code Telegram's command
#: menus take ("pt" for pt_BR).
TRANSLATIONS: Mapping[str, Words] = {
    name.split("_")[0]: words for name, words in LANGUAGES.items() if name != "en"
}


def texts_for(language_code: str | None) -> Words:
    """The words for a Telegram `language_code` ("ru", "ru-RU", "pt-br", "RU"): a shared
    instance, for the exact locale where there is one ("pt-br" → pt_BR), else for its
    language ("ru-RU" → ru, "pt" → pt_BR); English for any other language and for no code."""
    if not language_code:
        return ENGLISH
    language, _, region = language_code.replace("_", "-").partition("-")
    language = language.lower()
    exact = f"{language}_{region.split('-')[0].upper()}" if region else language
    return LANGUAGES.get(exact) or TRANSLATIONS.get(language) or ENGLISH
