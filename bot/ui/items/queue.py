"""Cancel, under a job's waiting notice (persistent: the custom_id carries the job id)."""

from __future__ import annotations

import logging
from collections.abc import Callable

import discord

from bot.core.errors import UserFacingError
from bot.core.i18n import Text, _
from bot.domain import JobState
from bot.domain.records import JobRecord
from bot.domain.reviews import OutForReview
from bot.ui import presses
from bot.ui.delivery import locale_of
from bot.ui.i18n import words
from bot.ui.items.base import Interaction, Press
from bot.ui.replies import NO_PINGS

log = logging.getLogger(__name__)

NOT_YOURS = _("Only the member who asked for this image, or someone who can manage messages here, can cancel it.")
ALREADY = {JobState.SUCCEEDED: _("This image is already finished."),
           JobState.FAILED: _("This image already ended; its credits were refunded."),
           JobState.CANCELLED: _("This image was already cancelled.")}
# Its review post is on its way to the review channel, or there: a moderator decides on it now.
OUT_FOR_REVIEW = _("This image is already made and waits for the server's moderators, so it can no longer be "
                   "cancelled.")


class CancelButton(Press, template=rf"queue:cancel:(?P<job>{presses.ID})"):
    subject = presses.JOB
    what, where = "cancel", "Cancel button"
    who, refusal = presses.Who.OWNER_OR_MODERATOR, NOT_YOURS

    def __init__(self, job_id: int, t: Callable[[Text | str], str] = str) -> None:
        super().__init__(job_id, discord.ui.Button(label=t(_("Cancel")), style=discord.ButtonStyle.secondary,
                                                   custom_id=f"queue:cancel:{job_id}"))

    async def act(self, interaction: Interaction, job: JobRecord) -> None:
        if job.get("batch_id") is not None:
            await cancel_batch(interaction, job)
            return
        job_id = job["id"]
        state = job["state"]
        if state in ALREADY:
            raise UserFacingError(ALREADY[state], detail=f"job {job_id} is already {state}")
        try:
            before, after = await interaction.client.services.queue.cancel(job, interaction.user.id)
        except OutForReview:
            raise UserFacingError(OUT_FOR_REVIEW, detail=f"job {job_id} is out for review") from None
        if after is not JobState.CANCELLED or before is JobState.CANCELLED:
            raise UserFacingError(ALREADY.get(after or state) or _("This image can no longer be cancelled."),
                                  detail=f"job {job_id} was {after} when cancelled")
        log.info("job %d (%s) cancelled by user %s; its credits are refunded", job_id, before, interaction.user.id)
        await interaction.response.edit_message(
            content=words(locale_of(job))(_("Cancelled by {member}; no credits were spent.",
                                             member=f"<@{interaction.user.id}>")), embed=None, view=None,
            allowed_mentions=NO_PINGS)


async def cancel_batch(interaction: Interaction, job: JobRecord) -> None:
    """Cancel under a batch: every image of it not made yet is cancelled and refunded; those made stay."""
    from bot.ui.batch import batch_embed, batch_view, done_in, held_in

    services = interaction.client.services
    batch = int(job["batch_id"] or job["id"])
    open_rows = [r for r in await services.lookups.batch(batch) if r["state"] in (JobState.QUEUED, JobState.RUNNING)]
    if not open_rows:
        raise UserFacingError(_("These images already ended."), detail=f"batch {batch} has no open job")
    kept = 0
    for row in open_rows:
        try:
            await services.queue.cancel(row, interaction.user.id)
        except OutForReview:  # made, and on its way to the moderators: it stays
            kept += 1
    if kept == len(open_rows):
        raise UserFacingError(OUT_FOR_REVIEW, detail=f"batch {batch}: its open jobs are out for review")
    log.info("batch %d: %d image(s) cancelled by user %s; their credits are refunded", batch, len(open_rows) - kept,
             interaction.user.id)
    rows = await services.lookups.batch(batch)
    done = done_in(interaction.message) if interaction.message is not None else set()
    said = words(locale_of(job))(_("Cancelled by {member}; no credits were spent for the images not made.",
                                   member=f"<@{interaction.user.id}>"))
    if not done:
        await interaction.response.edit_message(content=said, embed=None, view=None, allowed_mentions=NO_PINGS)
        return
    held = held_in(interaction.message, rows) if interaction.message is not None else frozenset()
    await interaction.response.edit_message(content=said, embed=batch_embed(rows, done, held),
                                            view=batch_view(rows, done), allowed_mentions=NO_PINGS)
