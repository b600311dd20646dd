"""Approval mode: in a channel with approval on, a finished image goes to the review channel first, and
is posted where it was asked for only once a moderator presses Approve.

The job succeeds (its credits spent) once the review post exists: the image was made, whatever the
moderator decides. The `reviews` row keeps everything a decision needs, so Approve and Reject work
after a restart, and the buttons carry its id.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

import discord
from discord.ext import commands

from bot import presses
from bot.app import PixazoBot, answer_error, answer_form
from bot.domain import JobState, StoreBusy
from bot.domain.records import JobRecord
from bot.domain.reviews import ACTIONS, AlreadyReviewed, ReviewKind, ReviewRecord, ReviewState
from bot.errors import UserFacingError
from bot.replies import NO_PINGS
from bot.services.validation import clean_text
from bot.text import end_sentence, plain
from cogs.results import remember_result, result_view, submitted_values
from cogs.reviews import (
    REASON_MAX,
    TOKEN_LIFETIME_SECONDS,
    already,
    copy_of_image,
    detail_of,
    mark_decided,
    record,
    restored_embed,
    review_buttons,
    review_to_decide,
    tell_member,
)

log = logging.getLogger(__name__)

WAITING = "Your image is ready and waiting for a moderator's approval; you will be told here, or by DM, what they decide."
REJECT_TITLE = "Reject this image"
REJECT_MODAL = re.compile(rf"^review:reject-modal:(?P<review>{presses.ID})$")


def _webhook(bot: PixazoBot, job: JobRecord, application_id: int) -> discord.Webhook | None:
    token = job.get("interaction_token")
    if not token:
        return None
    data: Any = {"id": application_id, "type": 3, "token": token}
    return discord.Webhook.from_state(data=data, state=bot._connection)


async def hold_for_review(bot: PixazoBot, job: JobRecord, embed: discord.Embed, file: discord.File | None) -> None:
    """The courier's delivery in approval mode: the result goes to the review channel with Approve and
    Reject. Raises (the job fails, nothing spent) only when the review post cannot be made."""
    delivery = json.loads(job.get("delivery") or "{}")
    channel_id = int(delivery["review"])
    application_id = int(delivery["application_id"])
    saved = {"embed": embed.to_dict(), "note": delivery.get("note")}
    try:
        review_id, _ = await bot.store.open_review(
            job["guild_id"], job["id"], ReviewKind.APPROVAL, job["user_id"], channel_id=job["channel_id"],
            application_id=application_id, token=job.get("interaction_token"),
            token_expires_at=job["created_at"] + TOKEN_LIFETIME_SECONDS, detail=json.dumps(saved))
    except AlreadyReviewed:
        # The same job delivered twice (a run cut short after its review post): the first post stands.
        log.info("job %d already waits for approval; not posted for review again", job["id"])
        return
    review = discord.Embed.from_dict(embed.to_dict())
    review.add_field(name="Requested by", value=f"<@{job['user_id']}>")
    review.add_field(name="For channel", value=f"<#{job['channel_id']}>")
    content = f"Waiting for approval: an image by <@{job['user_id']}> for <#{job['channel_id']}>."
    kwargs: dict[str, Any] = {"content": content, "embed": review, "allowed_mentions": NO_PINGS,
                              "view": review_buttons(ApproveButton(review_id), RejectButton(review_id))}
    if file is not None:
        kwargs["file"] = file
    channel = bot.get_partial_messageable(channel_id, guild_id=job["guild_id"])
    try:
        posted = await channel.send(**kwargs)
    except discord.HTTPException as exc:
        await bot.store.drop_review(review_id)
        raise UserFacingError("The bot could not post your image in the review channel, so no credits were spent; "
                              "please tell a moderator.",
                              detail=f"review channel {channel_id} refused job {job['id']}: HTTP {exc.status}: "
                                     f"{exc.text}") from None
    await bot.store.set_review_message(review_id, posted.channel.id, posted.id)
    log.info("job %d waits for approval in channel %s (review %d)", job["id"], channel_id, review_id)
    webhook = _webhook(bot, job, application_id)
    if webhook is None:
        return
    try:
        await webhook.edit_message("@original", content=WAITING, view=None,  # type: ignore[call-overload]
                                   allowed_mentions=NO_PINGS)
    except discord.HTTPException as exc:  # a courtesy: the decision tells them again
        log.info("job %d: could not say it waits for approval: HTTP %s", job["id"], exc.status)


def decided_view(review_id: int) -> discord.ui.View:
    return review_buttons(ApproveButton(review_id), RejectButton(review_id), disabled=True)


class ApproveButton(discord.ui.DynamicItem[discord.ui.Button], template=rf"review:approve:(?P<review>{presses.ID})"):
    def __init__(self, review_id: int) -> None:
        super().__init__(discord.ui.Button(label="Approve", emoji="✅", style=discord.ButtonStyle.success,
                                           custom_id=f"review:approve:{review_id}"))
        self.review_id = review_id

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Item[Any],
                             match: re.Match[str], /) -> ApproveButton:
        return cls(int(match["review"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        try:
            await approve(interaction, self.review_id)
        except Exception as exc:
            await answer_error(interaction, exc, "Approve button")


async def approve(interaction: discord.Interaction, review_id: int) -> None:
    bot: PixazoBot = interaction.client  # type: ignore[assignment]
    token = (await review_to_decide(interaction, review_id))["interaction_token"]
    await interaction.response.defer(ephemeral=True, thinking=True)
    moderator = interaction.user.id
    decision = await bot.store.decide_review(review_id, ReviewState.APPROVED, decided_by=moderator)
    if decision is None or not decision.won:
        said = already(decision.review) if decision else "This review is no longer known to the bot."
        await interaction.followup.send(said, ephemeral=True, allowed_mentions=NO_PINGS)
        return
    # The decision cleared the request's token from the ledger; this answer is its last use.
    review: ReviewRecord = {**decision.review, "interaction_token": token}
    posted = await _post_approved(bot, review, moderator)
    where = f"<#{review['channel_id']}>"
    if posted is None:
        # Nothing was posted: the review waits again, so the image is not lost behind a dead decision.
        await bot.store.reopen_review(review_id, decided_by=moderator, token=token)
        await interaction.followup.send(f"Discord would not let the bot post in {where}, so the image is still "
                                        "waiting here; try again once the bot can post there.",
                                        ephemeral=True, allowed_mentions=NO_PINGS)
        return
    await mark_decided(bot, review, f"Approved by <@{moderator}>; posted in {where}: {posted.jump_url}",
                       decided_view(review_id))
    await interaction.followup.send(f"Approved; posted in {where}.", ephemeral=True, allowed_mentions=NO_PINGS)
    told = await tell_member(bot, review, f"A moderator approved your image; it is posted in {where}: "
                                          f"{posted.jump_url}")
    await record(bot, review, moderator, ACTIONS[ReviewState.APPROVED], review["user_id"],
                 message_id=posted.id, told=told)


async def _post_approved(bot: PixazoBot, review: ReviewRecord, moderator: int) -> discord.Message | None:
    """The result in the channel it was asked in, as a normal message with the usual buttons."""
    saved = detail_of(review)
    file = await copy_of_image(bot, review["review_channel_id"], review["review_message_id"])
    embed = restored_embed(saved.get("embed") or {}, file)
    note = f" {saved['note']}" if saved.get("note") else ""
    kwargs: dict[str, Any] = {"content": f"<@{review['user_id']}>'s image, approved by <@{moderator}>.{note}",
                              "embed": embed, "allowed_mentions": NO_PINGS, "view": result_view(review["job_id"])}
    if file is not None:
        kwargs["file"] = file
    channel = bot.get_partial_messageable(review["channel_id"] or 0, guild_id=review["guild_id"])
    try:
        posted = await channel.send(**kwargs)
    except discord.HTTPException as exc:
        log.warning("review %d: approved, but channel %s refused the result: HTTP %s %s", review["id"],
                    review["channel_id"], exc.status, exc.text)
        return None
    await remember_result(bot, review["job_id"], posted)
    return posted


class RejectButton(discord.ui.DynamicItem[discord.ui.Button], template=rf"review:reject:(?P<review>{presses.ID})"):
    def __init__(self, review_id: int) -> None:
        super().__init__(discord.ui.Button(label="Reject", emoji="✖️", style=discord.ButtonStyle.danger,
                                           custom_id=f"review:reject:{review_id}"))
        self.review_id = review_id

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Item[Any],
                             match: re.Match[str], /) -> RejectButton:
        return cls(int(match["review"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        try:
            await review_to_decide(interaction, self.review_id)
            await interaction.response.send_modal(RejectModal(self.review_id))
        except Exception as exc:
            await answer_error(interaction, exc, "Reject button")


class RejectModal(discord.ui.Modal):
    """The form only: its submission is answered by `Approval.on_interaction` from the review's row,
    so a form opened before a restart still works when submitted after it."""

    def __init__(self, review_id: int) -> None:
        super().__init__(title=REJECT_TITLE, custom_id=f"review:reject-modal:{review_id}", timeout=None)
        self.add_item(discord.ui.TextInput(label="Reason (shown to the member)", custom_id="reason",
                                           style=discord.TextStyle.paragraph, required=False, max_length=REASON_MAX))
        self.stop()


async def reject(interaction: discord.Interaction, review_id: int) -> None:
    bot: PixazoBot = interaction.client  # type: ignore[assignment]
    token = (await review_to_decide(interaction, review_id))["interaction_token"]
    reason = clean_text(submitted_values(interaction.data).get("reason", ""))[:REASON_MAX] or None
    await interaction.response.defer(ephemeral=True, thinking=True)
    moderator = interaction.user.id
    decision = await bot.store.decide_review(review_id, ReviewState.REJECTED, decided_by=moderator, reason=reason)
    if decision is None or not decision.won:
        said = already(decision.review) if decision else "This review is no longer known to the bot."
        await interaction.followup.send(said, ephemeral=True, allowed_mentions=NO_PINGS)
        return
    review: ReviewRecord = {**decision.review, "interaction_token": token}
    why = plain(reason, REASON_MAX) if reason else "no reason was given"
    await mark_decided(bot, review, f"Rejected by <@{moderator}>: {why}", decided_view(review_id))
    text = end_sentence(f"A moderator did not approve your image for <#{review['channel_id']}>: {why}")
    if await _succeeded(bot, review["job_id"]):  # about credits only what the ledger says
        text += " Its credits stay spent, since the image was made."
    told = await tell_member(bot, review, text)
    said = {"followup": "they were told privately", "dm": "they were told by DM",
            "not told": "they could not be told (no DMs)"}[told]
    await interaction.followup.send(f"Rejected; {said}.", ephemeral=True, allowed_mentions=NO_PINGS)
    await record(bot, review, moderator, ACTIONS[ReviewState.REJECTED], review["user_id"], reason=reason, told=told)


async def _succeeded(bot: PixazoBot, job_id: int) -> bool:
    """Whether the ledger has the job succeeded (its credits spent); a ledger that can't answer now
    says nothing, and neither does the sentence."""
    try:
        job = await bot.store.job(job_id)
    except StoreBusy:
        return False
    return job is not None and job["state"] == JobState.SUCCEEDED


class Approval(commands.Cog):
    def __init__(self, bot: PixazoBot) -> None:
        self.bot = bot

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(ApproveButton, RejectButton)

    @commands.Cog.listener()
    async def on_interaction(self, interaction: discord.Interaction) -> None:
        await answer_form(interaction, REJECT_MODAL, lambda i, m: reject(i, int(m["review"])), "Reject form")


async def setup(bot: PixazoBot) -> None:
    await bot.add_cog(Approval(bot))
