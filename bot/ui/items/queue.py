"""Cancel, under a job's waiting notice (persistent: the custom_id carries the job id)."""

from __future__ import annotations

import logging

import discord

from bot.core.errors import UserFacingError
from bot.domain import JobState
from bot.domain.records import JobRecord
from bot.ui import presses
from bot.ui.items.base import Interaction, Press
from bot.ui.replies import NO_PINGS

log = logging.getLogger(__name__)

NOT_YOURS = "Only the member who asked for this image, or someone who can manage messages here, can cancel it."
ALREADY = {JobState.SUCCEEDED: "This image is already finished.",
           JobState.FAILED: "This image already ended; its credits were refunded.",
           JobState.CANCELLED: "This image was already cancelled."}


class CancelButton(Press, template=rf"queue:cancel:(?P<job>{presses.ID})"):
    subject = presses.JOB
    what, where = "cancel", "Cancel button"
    who, refusal = presses.Who.OWNER_OR_MODERATOR, NOT_YOURS

    def __init__(self, job_id: int) -> None:
        super().__init__(job_id, discord.ui.Button(label="Cancel", style=discord.ButtonStyle.secondary,
                                                   custom_id=f"queue:cancel:{job_id}"))

    async def act(self, interaction: Interaction, job: JobRecord) -> None:
        job_id = job["id"]
        state = job["state"]
        if state in ALREADY:
            raise UserFacingError(ALREADY[state], detail=f"job {job_id} is already {state}")
        before, after = await interaction.client.services.queue.cancel(job, interaction.user.id)
        if after is not JobState.CANCELLED or before is JobState.CANCELLED:
            raise UserFacingError(ALREADY.get(after or state, "This image can no longer be cancelled."),
                                  detail=f"job {job_id} was {after} when cancelled")
        log.info("job %d (%s) cancelled by user %s; its credits are refunded", job_id, before, interaction.user.id)
        await interaction.response.edit_message(
            content=f"Cancelled by <@{interaction.user.id}>; no credits were spent.", embed=None, view=None,
            allowed_mentions=NO_PINGS)
