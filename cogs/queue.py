"""The queue's Discord side: the waiting notice, delivery by the job's own row, and Cancel.

Every job is delivered from its row (application id + interaction token), never from a live
interaction object, so a job resumed after a restart is delivered exactly like one queued a second
ago. When Discord no longer takes the token (15 minutes, 401 Invalid Webhook Token / 404 Unknown
Webhook), the result goes to the channel as a normal message naming the requester, without a ping.
"""

from __future__ import annotations

import json
import logging
import re
from types import SimpleNamespace
from typing import Any

import discord
from discord.ext import commands

from bot import presses
from bot.app import PixazoBot, answer_error
from bot.domain import JobState
from bot.domain.records import JobRecord
from bot.embeds import TooLargeToPost, file_stem, result_message
from bot.errors import UserFacingError
from bot.imaging import fit_off_loop
from bot.replies import NO_PINGS
from bot.services.generation import Outcome
from cogs.approval import hold_for_review
from cogs.reports import check_image, hold_flagged
from cogs.results import remember_result, result_view

log = logging.getLogger(__name__)

TOKEN_GONE = (401, 404)  # 401 Invalid Webhook Token (expired), 404 Unknown Webhook
NOT_YOURS = "Only the member who asked for this image, or someone who can manage messages here, can cancel it."
ALREADY = {JobState.SUCCEEDED: "This image is already finished.",
           JobState.FAILED: "This image already ended; its credits were refunded.",
           JobState.CANCELLED: "This image was already cancelled."}


class CancelButton(discord.ui.DynamicItem[discord.ui.Button], template=rf"queue:cancel:(?P<job>{presses.ID})"):
    """Persistent: the custom_id carries the job id, so a click works after a restart."""

    def __init__(self, job_id: int) -> None:
        super().__init__(discord.ui.Button(label="Cancel", style=discord.ButtonStyle.secondary,
                                           custom_id=f"queue:cancel:{job_id}"))
        self.job_id = job_id

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Item[Any],
                             match: re.Match[str], /) -> CancelButton:
        return cls(int(match["job"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        try:
            await cancel_job(interaction, self.job_id)
        except Exception as exc:  # the slash commands' funnel: every error gets an answer
            await answer_error(interaction, exc, "Cancel button")


async def cancel_job(interaction: discord.Interaction, job_id: int) -> None:
    bot: PixazoBot = interaction.client  # type: ignore[assignment]
    job = await presses.pressed(interaction, presses.JOB, job_id, what="cancel", who=presses.Who.OWNER_OR_MODERATOR,
                                refusal=NOT_YOURS)
    state = JobState(job["state"])
    if state in ALREADY:
        raise UserFacingError(ALREADY[state], detail=f"job {job_id} is already {state}")
    before, after = await bot.store.cancel(job_id, interaction.user.id)
    if after is not JobState.CANCELLED or before is JobState.CANCELLED:
        raise UserFacingError(ALREADY.get(after or state, "This image can no longer be cancelled."),
                              detail=f"job {job_id} was {after} when cancelled")
    bot.queue.cancelled(job_id)
    log.info("job %d (%s) cancelled by user %s; its credits are refunded", job_id, before, interaction.user.id)
    await interaction.response.edit_message(
        content=f"Cancelled by <@{interaction.user.id}>; no credits were spent.", embed=None, view=None,
        allowed_mentions=NO_PINGS)


def cancel_view(job_id: int) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(CancelButton(job_id))
    # Finished at once: the webhook must not file it under "@original"; the dynamic item answers clicks.
    view.stop()
    return view


class WebhookCourier:
    def __init__(self, bot: PixazoBot) -> None:
        self.bot = bot

    def _webhook(self, job: JobRecord) -> discord.Webhook | None:
        token = job.get("interaction_token")
        if not token:
            return None
        delivery = json.loads(job.get("delivery") or "{}")
        # The interaction's own webhook (type 3), as Interaction.followup builds it.
        data: Any = {"id": delivery["application_id"], "type": 3, "token": token}
        return discord.Webhook.from_state(data=data, state=self.bot._connection)

    async def notice(self, job: JobRecord, text: str, *, cancellable: bool) -> None:
        webhook = self._webhook(job)
        if webhook is None:
            return
        # "@original", not an id: discord.py puts it in the route as given.
        await webhook.edit_message("@original", content=text,  # type: ignore[call-overload]
                                   view=cancel_view(job["id"]) if cancellable else None, allowed_mentions=NO_PINGS)

    async def _message(self, job: JobRecord, outcome: Outcome) -> tuple[discord.Embed, discord.File | None]:
        delivery = json.loads(job.get("delivery") or "{}")
        settings = self.bot.settings
        upload = await fit_off_loop(self.bot.offload, outcome.image.data, outcome.image.format, file_stem(outcome),
                                    delivery.get("filesize_limit") or 10 * 1024 * 1024,
                                    timeout=settings.image_work_timeout_seconds)
        requester = SimpleNamespace(display_name=delivery.get("requester") or f"member {job['user_id']}",
                                    display_avatar=SimpleNamespace(url=delivery.get("avatar_url")))
        thumbnail = delivery.get("thumbnail_url")
        original = SimpleNamespace(url=thumbnail) if thumbnail else None
        try:
            return result_message(outcome, requester=requester, upload=upload, original=original,  # type: ignore[arg-type]
                                  spoiler=bool(delivery.get("spoiler")))
        except TooLargeToPost as exc:
            raise UserFacingError("The image came back too large to post here, and Pixazo gave no link to it.",
                                  detail=f"result too large: {exc}") from None

    async def deliver(self, job: JobRecord, outcome: Outcome, *, noticed: bool) -> None:
        if json.loads(job.get("delivery") or "{}").get("review"):  # approval mode: a moderator decides first
            await hold_for_review(self.bot, job, *await self._message(job, outcome))
            return
        finding = await check_image(self.bot, job, outcome)  # the image check, outside age-restricted channels
        if finding is not None:
            await hold_flagged(self.bot, job, *await self._message(job, outcome), finding,
                               tell=lambda text: self.tell(job, text, noticed=noticed))
            return
        webhook = self._webhook(job)
        status = "no interaction token"
        note = json.loads(job.get("delivery") or "{}").get("note")  # "Reroll of job #N"
        if webhook is not None:
            embed, file = await self._message(job, outcome)
            try:
                if noticed:  # the notice becomes the result
                    posted = await webhook.edit_message(  # type: ignore[call-overload]
                        "@original", content=note, embed=embed, attachments=[file] if file else [],
                        view=result_view(job["id"]), allowed_mentions=NO_PINGS)
                else:  # still "thinking…": the first followup replaces it
                    kwargs: dict[str, Any] = {"embed": embed, "allowed_mentions": NO_PINGS, "wait": True,
                                              "view": result_view(job["id"]), "content": note}
                    if file is not None:
                        kwargs["file"] = file
                    posted = await webhook.send(**kwargs)
                await remember_result(self.bot, job["id"], posted)
                return
            except discord.HTTPException as exc:
                if exc.status not in TOKEN_GONE:
                    raise UserFacingError("Discord would not take the finished image, so no credits were spent. "
                                          "Please try again.",
                                          detail=f"followup refused: HTTP {exc.status}: {exc.text}") from None
                status = f"HTTP {exc.status} {exc.text}"
        log.info("job %d: the interaction token is gone (%s); posting the result in channel %s instead",
                 job["id"], status, job["channel_id"])
        embed, file = await self._message(job, outcome)
        channel = self.bot.get_partial_messageable(job["channel_id"] or 0, guild_id=job["guild_id"])
        try:
            kwargs = {"content": f"<@{job['user_id']}> {note or ''}".rstrip(), "embed": embed, "allowed_mentions": NO_PINGS,
                      "view": result_view(job["id"])}
            if file is not None:
                kwargs["file"] = file
            posted = await channel.send(**kwargs)
        except discord.HTTPException as exc:
            raise UserFacingError("Discord would not take the finished image, so no credits were spent.",
                                  detail=f"interaction token gone and channel {job['channel_id']} refused the result:"
                                         f" HTTP {exc.status}: {exc.text}") from None
        await remember_result(self.bot, job["id"], posted)

    async def tell(self, job: JobRecord, text: str, *, noticed: bool) -> None:
        """A private word where the token still works (the public "thinking…" or notice removed first);
        else a short message in the channel, naming the member without a ping. A notice Discord would
        not remove does not keep the member from being told: the word goes out all the same, and the
        notice is made to say it too (it would otherwise stay "Generating…")."""
        webhook = self._webhook(job)
        if webhook is not None:
            kept: discord.HTTPException | None = None  # why @original could not be removed
            try:
                try:
                    await webhook.delete_message("@original")  # type: ignore[arg-type]
                except discord.NotFound:
                    pass
                except discord.HTTPException as exc:
                    if exc.status in TOKEN_GONE:
                        raise
                    kept = exc
                    log.info("job %d: could not remove its notice (HTTP %s); telling user %s all the same",
                             job["id"], exc.status, job["user_id"])
                try:
                    await webhook.send(text, ephemeral=True, allowed_mentions=NO_PINGS)
                except discord.HTTPException:
                    if kept is None:
                        raise
                    await self._replace_notice(webhook, text)  # the notice is the one place left to say it
                    return
                if kept is not None:
                    # A public "thinking…" was replaced by that followup (Discord's rule for the first
                    # one); a notice ("Generating…") was not, and would go on saying so: it says this too.
                    try:
                        await self._replace_notice(webhook, text)
                    except discord.HTTPException as exc:
                        log.info("job %d: its notice still could not be replaced (HTTP %s)", job["id"], exc.status)
                return
            except discord.HTTPException as exc:
                if exc.status not in TOKEN_GONE:
                    log.warning("job %d: could not tell user %s %r: HTTP %s", job["id"], job["user_id"], text,
                                exc.status)
                    return
        try:
            channel = self.bot.get_partial_messageable(job["channel_id"] or 0, guild_id=job["guild_id"])
            await channel.send(f"<@{job['user_id']}> {text}", allowed_mentions=NO_PINGS)
        except discord.HTTPException as exc:
            log.warning("job %d: could not tell user %s %r in the channel either: HTTP %s", job["id"], job["user_id"],
                        text, exc.status)


    @staticmethod
    async def _replace_notice(webhook: discord.Webhook, text: str) -> None:
        await webhook.edit_message("@original", content=text, embeds=[], attachments=[],  # type: ignore[call-overload]
                                   view=None, allowed_mentions=NO_PINGS)


class Queue(commands.Cog):
    def __init__(self, bot: PixazoBot) -> None:
        self.bot = bot

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(CancelButton)
        queue = getattr(self.bot, "queue", None)  # a bare commands.Bot (the extension-loading test) has none
        if queue is not None:
            queue.courier = WebhookCourier(self.bot)
            queue.start()


async def setup(bot: PixazoBot) -> None:
    await bot.add_cog(Queue(bot))
