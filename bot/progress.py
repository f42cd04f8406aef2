"""The job's status message: one message per job, edited as the job moves on."""

from __future__ import annotations

import logging

from telegram import Bot, ReplyParameters
from telegram.error import BadRequest

from bot.services import Services
from storage import Job

log = logging.getLogger(__name__)


async def show_progress(bot: Bot, services: Services, job: Job, text: str) -> Job:
    """Put `text` in the job's status message: edit it when there is one, else send one as a
    reply to the photo. Returns the job with its status message id recorded."""
    if job.status_message_id is not None:
        try:
            await bot.edit_message_text(text, chat_id=job.chat_id, message_id=job.status_message_id)
            return job
        except BadRequest as error:
            if "not modified" in error.message.lower():
                return job
            log.info("job %s: status message not editable (%s); sending anew", job.id, error)
    message = await bot.send_message(
        job.chat_id,
        text,
        message_thread_id=job.thread_id,
        reply_parameters=ReplyParameters(
            message_id=job.request_message_id, allow_sending_without_reply=True
        ),
    )
    return await services.store.update(
        job.id, now=services.clock(), status_message_id=message.message_id
    )
