"""Inline keyboards: the buttons under the bot's messages, and the callback data they carry.

Callback data is short (Telegram allows 64 bytes): an action and a job id (`again:42`,
`retry:42`, `cancel:42`), a job id and a fix (`fix:42:crop`), a setting (`opt:off`), or a pack
of videos to buy (`buy:5:250`). The
patterns here are the ones `bot/wiring/application.py` routes on, so the format lives in one place.

Keyboards are the chat port's plain data (`bot.engine.chat_port.Button` rows), used alike by
the pipeline's steps (the check's fix buttons, the line's cancel button, delivery's again and
retry buttons) and by the handlers in `handlers/` that act on the taps; the chat adapter turns
them into Telegram's markup. A job's buttons speak the job's language (the one its user had
when asking).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from bot.engine.chat_port import Button, Keyboard
from bot.image.fixes import Fix
from bot.policy.payments import StarPack
from bot.words.texts import English, texts_for
from storage import Job

AGAIN_PATTERN = re.compile(r"^again:(?P<job>\d+)$")
RETRY_PATTERN = re.compile(r"^retry:(?P<job>\d+)$")
CANCEL_PATTERN = re.compile(r"^cancel:(?P<job>\d+)$")
FIX_PATTERN = re.compile(rf"^fix:(?P<job>\d+):(?P<fix>{'|'.join(fix.value for fix in Fix)})$")
OPTIMIZER_PATTERN = re.compile(r"^opt:(?P<value>on|off)$")
BUY_PATTERN = re.compile(r"^buy:(?P<videos>\d+):(?P<stars>\d+)$")
STOP_PAID_PATTERN = re.compile(
    r"^(?P<choice>stop|keep):(?P<user>\d+):(?P<chat>-?\d+):(?P<up_to>\d+)$"
)


def _one(text: str, data: str) -> Keyboard:
    return ((Button(text, data),),)


def again_markup(job: Job) -> Keyboard:
    """The button "🔁 Again", under a delivered video: the same photo and prompt, anew."""
    return _one(texts_for(job.language).BUTTON_AGAIN, f"again:{job.id}")


def retry_markup(job: Job) -> Keyboard:
    """The button "🔁 Try again", under a failure or timeout notice: the same job anew."""
    return _one(texts_for(job.language).BUTTON_RETRY, f"retry:{job.id}")


def cancel_markup(job: Job) -> Keyboard:
    """The "✖️ Cancel" button under the status message of a job waiting in the line."""
    return _one(texts_for(job.language).BUTTON_CANCEL, f"cancel:{job.id}")


def fix_markup(job: Job, fixes: Sequence[Fix]) -> Keyboard:
    """One button per fix, in the order given (best first), under an image's refusal."""
    words = texts_for(job.language)
    return (tuple(Button(words.fix_button(fix), f"fix:{job.id}:{fix}") for fix in fixes),)


def stop_paid_markup(user_id: int, chat_id: int | None, up_to: int, words: English) -> Keyboard:
    """Under /cancel's question about videos already paid for: stop following them, or keep
    them. `chat_id` 0 (None) means all the user's chats, as /cancel in private; `up_to` is
    the newest job the question is about, so a late tap never stops a video asked for since."""
    scope = f"{user_id}:{chat_id or 0}:{up_to}"
    return (
        (
            Button(words.BUTTON_STOP_PAID, f"stop:{scope}"),
            Button(words.BUTTON_KEEP_PAID, f"keep:{scope}"),
        ),
    )


def settings_markup(prompt_optimizer: bool, words: English) -> Keyboard:
    """The /settings button that switches the prompt optimizer to the other value, in the
    language of `words` (the user's)."""
    return _one(
        words.optimizer_button(prompt_optimizer), f"opt:{'off' if prompt_optimizer else 'on'}"
    )


def buy_markup(packs: Sequence[StarPack], words: English) -> Keyboard:
    """The packs on sale, a button each (`buy:5:250`): a tap brings that pack's invoice."""
    return tuple(
        (Button(words.pack_button(pack), f"buy:{pack.videos}:{pack.stars}"),) for pack in packs
    )
