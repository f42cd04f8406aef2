"""Why a job ended as it did: stable codes, stored in `jobs.reason` and worded by `bot.words`.

A code never changes once released: old rows keep it, and the catalogs word it in each
language. The API's own words for a failure, when the user should read them, are stored
beside the code, in `jobs.api_reason`.
"""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    """Why a job was refused, stopped, failed or not delivered."""

    # --- The image, before anything is charged (REJECTED) --------------------------------
    # One code per `bot.image.firstframe.ImageProblem`, with the same value.
    TOO_LARGE = "too_large"  # the file is bigger than the model takes
    NOT_AN_IMAGE = "not_an_image"  # the bytes are no image at all
    CORRUPT = "corrupt"  # an image whose header or data is broken
    UNSUPPORTED_FORMAT = "unsupported_format"  # a format neither sent nor converted
    TOO_SMALL = "too_small"  # the shorter side is too short for the model
    TOO_TALL = "too_tall"  # narrower than the model's narrowest ratio
    TOO_WIDE = "too_wide"  # wider than the model's widest ratio
    TOO_MANY_PIXELS = "too_many_pixels"  # refused before decoding (decompression-bomb guard)
    DOWNLOAD_FAILED = "download_failed"  # Telegram would not hand over the image
    SAME_VIDEO_COMING = "same_video_coming"  # the same photo and prompt were already on their way

    # --- Submission (INTERRUPTED, FAILED) -------------------------------------------------
    NOT_SUBMITTED = "not_submitted"  # stopped before reaching the paid API: nothing charged
    RESTARTED_WHILE_SUBMITTING = "restarted_while_submitting"  # a restart cut off the create
    LOST_WHILE_SUBMITTING = "lost_while_submitting"  # the create broke off, no answer on record
    OUTCOME_UNKNOWN = "outcome_unknown"  # the API never said whether it made the job
    STAYED_BUSY = "stayed_busy"  # too busy to take it for SUBMIT_PATIENCE_SECONDS: uncharged
    API_REFUSED = "api_refused"  # the API refused the request itself (`api_reason` says why)
    OUT_OF_CREDITS = "out_of_credits"  # the operator's API account has no credits left
    MISCONFIGURED = "misconfigured"  # the API refused the bot's key or route

    # --- At the video service (FAILED) ----------------------------------------------------
    API_FAILED = "api_failed"  # the API failed the generation (`api_reason`: its words, if any)
    GENERATION_LOST = "generation_lost"  # the API no longer knows the generation
    NO_VIDEO = "no_video"  # the API reported it done, without a video

    # --- Delivery (FAILED, UNDELIVERABLE, CANCELLED) --------------------------------------
    VIDEO_EXPIRED = "video_expired"  # the finished video's link died before it was sent
    CHAT_CLOSED = "chat_closed"  # Telegram says the chat is closed to the bot (blocked, removed)
    REPLY_REFUSED = "reply_refused"  # Telegram will never take the reply (after the fallbacks)
