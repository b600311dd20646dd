"""The buttons of a batch's message: Use 1…4 (that image alone, as a normal result with the usual buttons,
at no cost: the very file on the message, no call to Pixazo) and Reroll all. Persistent: the custom_id
carries the image's job (Use) or the batch's first job (Reroll all), so a restart changes nothing."""

from __future__ import annotations

import io
import logging
from typing import Any

import discord

from bot.core.errors import UserFacingError
from bot.core.i18n import _
from bot.domain import JobState
from bot.domain.delivery import Delivery
from bot.domain.records import JobRecord
from bot.pixazo import GeneratedImage
from bot.services import results
from bot.services.generation import Outcome
from bot.services.imagine import prepare_count
from bot.services.job_rows import prepared_of
from bot.services.requests import Made
from bot.ui import presses
from bot.ui.batch import job_of
from bot.ui.embeds import result_message
from bot.ui.i18n import for_member, member_locale
from bot.ui.items.base import Interaction, Press
from bot.ui.items.results import Words, result_view
from bot.ui.replies import NO_PINGS
from bot.ui.requests import admit, member_of, submit_batch

log = logging.getLogger(__name__)

NOT_YOURS = _("Only the member who asked for these images can pick one.")
NOT_HERE = _("That image is no longer on this message.")
NOT_HANDED = _("Discord would not hand the image back just now; please try again.")


class UseButton(Press, template=rf"batch:use:(?P<job>{presses.ID})"):
    subject, what, where = presses.JOB, "use", "Use button"
    who, refusal = presses.Who.OWNER, NOT_YOURS

    def __init__(self, job_id: int, place: int = 0, t: Words = str) -> None:
        label = t(_("Use {place}", place=place) if place else _("Use"))
        super().__init__(job_id, discord.ui.Button(label=label, style=discord.ButtonStyle.primary,
                                                   custom_id=f"batch:use:{job_id}"))

    async def act(self, interaction: Interaction, job: JobRecord) -> None:
        results.not_forgotten(job, "use")
        message = interaction.message
        attachment = next((a for a in (message.attachments if message else []) if job_of(a.filename) == job["id"]),
                          None)
        # On the message means delivered: its success may be a moment from recorded (RUNNING), never refunded.
        if attachment is None or job["state"] not in (JobState.SUCCEEDED, JobState.RUNNING):
            raise UserFacingError(NOT_HERE, detail=f"use of job {job['id']}: not on message, or {job['state']}")
        delivery = job.get("delivery") or Delivery()
        await interaction.response.defer(thinking=True, ephemeral=delivery.private)
        try:
            data = await attachment.read()
        except discord.HTTPException as exc:
            raise UserFacingError(NOT_HANDED, detail=f"use of job {job['id']}: CDN HTTP {exc.status}") from None
        posted = await interaction.followup.send(**await self._result(interaction, job, data, attachment.filename),
                                                 wait=True)
        log.info("job %d: image used alone by user %s (no Pixazo call, no charge)", job["id"], interaction.user.id)
        await interaction.client.services.results.remember(job["id"], posted.channel.id, posted.id)

    async def _result(self, interaction: Interaction, job: JobRecord, data: bytes, filename: str) -> dict[str, Any]:
        from bot.core.imaging import Upload

        delivery = job.get("delivery") or Delivery()
        quota = (await interaction.client.services.quotas.view(member_of(interaction))).snapshot
        fmt = filename.rsplit(".", 1)[-1].lower()
        seconds = (job.get("finished_at") or 0.0) - (job.get("started_at") or 0.0)
        outcome = Outcome(job["id"], prepared_of(job), GeneratedImage(data, fmt, None, 1), max(0.0, seconds),
                          job["cost"], quota)
        upload = Upload(data, f"{job['model']}-{job['id']}.{fmt}")
        t = for_member(interaction)  # the member who asked, pressing: in their language now
        embed, file = result_message(outcome, requester=delivery.requester or t(_("member {id}", id=job["user_id"])),
                                     avatar_url=delivery.avatar_url, upload=upload, spoiler=delivery.spoiler,
                                     locale=member_locale(interaction))
        note = t(_("Image {place} of batch #{batch}", place=delivery.batch_index + 1,
                   batch=job.get("batch_id") or job["id"]))
        return {"content": note, "embed": embed, "file": file or discord.File(io.BytesIO(data), filename=filename),
                "view": result_view(job["id"], delivery, member_locale(interaction)), "allowed_mentions": NO_PINGS,
                "ephemeral": delivery.private}


class RerollAllButton(Press, template=rf"batch:reroll:(?P<job>{presses.ID})"):
    subject, what, where = presses.JOB, "reroll all", "Reroll all button"

    def __init__(self, job_id: int, t: Words = str) -> None:
        super().__init__(job_id, discord.ui.Button(label=t(_("Reroll all")), emoji="🎲",
                                                   style=discord.ButtonStyle.secondary,
                                                   custom_id=f"batch:reroll:{job_id}"))

    async def act(self, interaction: Interaction, job: JobRecord) -> None:
        """The same request again for whoever pressed, new seeds, as many images: checked like a slash
        command (a refusal costs nothing), then queued as one batch."""
        model = results.to_run_again(job, "reroll all")
        options = results.used_options(model, job)
        options.pop("seed", None)
        delivery = job.get("delivery") or Delivery()
        prepared = prepare_count(model, options, max(1, delivery.batch_size))
        admission = await admit(interaction, prepared[0])
        await interaction.response.defer(thinking=True, ephemeral=admission.private)
        await submit_batch(interaction, prepared, admission, Made(style=delivery.style),
                           note=for_member(interaction)(_("Reroll of batch #{batch}",
                                                          batch=job.get("batch_id") or job["id"])))
