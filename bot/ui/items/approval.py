"""Approval mode: in a channel with approval on, a finished image goes to the review channel first, and
is posted where it was asked for only once a moderator presses Approve.

The job succeeds (its credits spent) once the review post exists: the image was made, whatever the
moderator decides. The `reviews` row keeps everything a decision needs, so Approve and Reject work
after a restart, and the buttons carry its id.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

import discord

from bot.core.errors import UserFacingError
from bot.core.i18n import Text, _
from bot.core.text import end_sentence, plain
from bot.domain.records import JobRecord
from bot.domain.reviews import ACTIONS, ReviewKind, ReviewRecord, ReviewState
from bot.services.reviews import locale_of
from bot.services.validation import clean_text
from bot.ui import presses
from bot.ui.delivery import edit_original, interaction_webhook
from bot.ui.forms import REASON_MAX, reject_form
from bot.ui.i18n import for_guild, for_member, words
from bot.ui.items.base import Form, Interaction, Press, finished_view
from bot.ui.items.results import result_view
from bot.ui.items.reviews import (
    NOT_A_MODERATOR,
    decided_by_other,
    mark_decided,
    post_for_review,
    post_held_result,
    tell_member,
    to_decide,
)
from bot.ui.replies import NO_PINGS

if TYPE_CHECKING:
    from bot.ui.app import PixazoBot

log = logging.getLogger(__name__)
Words = Callable[[Text | str], str]
TOLD = {"followup": _("Rejected; they were told privately."), "dm": _("Rejected; they were told by DM."),
        "not told": _("Rejected; they could not be told (no DMs).")}

WAITING = _("Your image is ready and waiting for a moderator's approval; you will be told here, or by DM, what they "
            "decide.")


async def hold_for_review(bot: PixazoBot, job: JobRecord, embed: discord.Embed, file: discord.File | None) -> None:
    """The courier's delivery in approval mode: the result goes to the review channel with Approve and
    Reject. Raises (the job fails, nothing spent) only when the review post cannot be made."""
    delivery = job["delivery"]
    assert delivery is not None and delivery.review is not None, "approval mode is in the delivery"
    t = for_guild(bot, job["guild_id"])  # the review channel reads the server's language
    review = discord.Embed.from_dict(embed.to_dict())
    review.add_field(name=t(_("Requested by")), value=f"<@{job['user_id']}>")
    review.add_field(name=t(_("For channel")), value=f"<#{job['channel_id']}>")
    content = t(_("Waiting for approval: an image by {member} for {channel}.", member=f"<@{job['user_id']}>",
                  channel=f"<#{job['channel_id']}>"))
    saved = {"embed": embed.to_dict(), "note": delivery.note, "locale": delivery.locale}
    try:
        held = await post_for_review(bot, job, delivery.review, ReviewKind.APPROVAL, saved,
                                     {"content": content, "embed": review, "file": file},
                                     lambda review_id: finished_view(ApproveButton(review_id, t),
                                                                     RejectButton(review_id, t)))
    except discord.HTTPException as exc:
        raise UserFacingError(_("The bot could not post your image in the review channel, so no credits were spent; "
                                "please tell a moderator."),
                              detail=f"review channel {delivery.review} refused job {job['id']}: HTTP {exc.status}: "
                                     f"{exc.text}") from None
    if held is None:
        return
    review_id = held[0]
    log.info("job %d waits for approval in channel %s (review %d)", job["id"], delivery.review, review_id)
    token = job.get("interaction_token")
    if not token:
        return
    try:
        await edit_original(interaction_webhook(bot, delivery.application_id, token),
                            content=words(delivery.locale)(WAITING), view=None)
    except discord.HTTPException as exc:  # a courtesy: the decision tells them again
        log.info("job %d: could not say it waits for approval: HTTP %s", job["id"], exc.status)


def decided_view(review_id: int, t: Words | None = None) -> discord.ui.View:
    return finished_view(ApproveButton(review_id, t), RejectButton(review_id, t), disabled=True)


class ApproveButton(Press, template=rf"review:approve:(?P<review>{presses.ID})"):
    subject, what, where, id_group = presses.REVIEW, "review decision", "Approve button", "review"
    who, refusal = presses.Who.MODERATOR, NOT_A_MODERATOR

    def __init__(self, review_id: int, t: Words | None = None) -> None:
        super().__init__(review_id, discord.ui.Button(label=(t or str)(_("Approve")), emoji="✅",
                                                      style=discord.ButtonStyle.success,
                                                      custom_id=f"review:approve:{review_id}"))

    async def act(self, interaction: Interaction, review: ReviewRecord) -> None:
        token = to_decide(review)["interaction_token"]
        await interaction.response.defer(ephemeral=True, thinking=True)
        bot, moderator, t = interaction.client, interaction.user.id, for_member(interaction)
        decision = await bot.services.reviews.decide(self.row_id, ReviewState.APPROVED, moderator)
        if (lost := decided_by_other(decision)) is not None or decision is None:
            await interaction.followup.send(t(lost or ""), ephemeral=True, allowed_mentions=NO_PINGS)
            return
        # The decision cleared the request's token from the ledger; this answer is its last use.
        review = {**decision.review, "interaction_token": token}
        posted = await _post_approved(bot, review, moderator)
        where = f"<#{review['channel_id']}>"
        if posted is None:
            # Nothing was posted: the review waits again, so the image is not lost behind a dead decision.
            await bot.services.reviews.reopen(self.row_id, moderator, token)
            await interaction.followup.send(t(_("Discord would not let the bot post in {channel}, so the image is "
                                                "still waiting here; try again once the bot can post there.",
                                                channel=where)), ephemeral=True, allowed_mentions=NO_PINGS)
            return
        await mark_decided(bot, review, _("Approved by {moderator}; posted in {channel}: {link}",
                                          moderator=f"<@{moderator}>", channel=where, link=posted.jump_url),
                           decided_view(self.row_id, for_guild(bot, review["guild_id"])))
        await interaction.followup.send(t(_("Approved; posted in {channel}.", channel=where)), ephemeral=True,
                                        allowed_mentions=NO_PINGS)
        told = await tell_member(bot, review, _("A moderator approved your image; it is posted in {channel}: {link}",
                                                channel=where, link=posted.jump_url))
        await bot.services.reviews.record(review, moderator, ACTIONS[ReviewState.APPROVED], review["user_id"],
                                          message_id=posted.id, told=told)


async def _post_approved(bot: PixazoBot, review: ReviewRecord, moderator: int) -> discord.Message | None:
    """The result in the channel it was asked in, as a normal message with the usual buttons."""
    said = for_guild(bot, review["guild_id"])(_("{member}'s image, approved by {moderator}.",
                                                member=f"<@{review['user_id']}>", moderator=f"<@{moderator}>"))
    return await post_held_result(bot, review, said, result_view(review["job_id"], locale=locale_of(review)))


class RejectButton(Press, template=rf"review:reject:(?P<review>{presses.ID})"):
    subject, what, where, id_group = presses.REVIEW, "review decision", "Reject button", "review"
    who, refusal = presses.Who.MODERATOR, NOT_A_MODERATOR

    def __init__(self, review_id: int, t: Words | None = None) -> None:
        super().__init__(review_id, discord.ui.Button(label=(t or str)(_("Reject")), emoji="✖️",
                                                      style=discord.ButtonStyle.danger,
                                                      custom_id=f"review:reject:{review_id}"))

    async def act(self, interaction: Interaction, review: ReviewRecord) -> None:
        to_decide(review)
        await interaction.response.send_modal(reject_form(self.row_id, for_member(interaction)))


class RejectForm(Form):
    pattern = re.compile(rf"^review:reject-modal:(?P<review>{presses.ID})$")
    subject, what, where, id_group = presses.REVIEW, "review decision", "Reject form", "review"
    who, refusal = presses.Who.MODERATOR, NOT_A_MODERATOR

    @classmethod
    async def act(cls, interaction: Interaction, review: ReviewRecord, values: dict[str, str]) -> None:
        token = to_decide(review)["interaction_token"]
        reason = clean_text(values.get("reason", ""))[:REASON_MAX] or None
        await interaction.response.defer(ephemeral=True, thinking=True)
        bot, moderator, t = interaction.client, interaction.user.id, for_member(interaction)
        decision = await bot.services.reviews.decide(review["id"], ReviewState.REJECTED, moderator, reason=reason)
        if (lost := decided_by_other(decision)) is not None or decision is None:
            await interaction.followup.send(t(lost or ""), ephemeral=True, allowed_mentions=NO_PINGS)
            return
        review = {**decision.review, "interaction_token": token}
        why: Text | str = plain(reason, REASON_MAX) if reason else _("no reason was given")
        await mark_decided(bot, review, _("Rejected by {moderator}: {reason}", moderator=f"<@{moderator}>", reason=why),
                           decided_view(review["id"], for_guild(bot, review["guild_id"])))
        told = await tell_member(bot, review, _rejection(review, why, await bot.services.reviews.succeeded(
            review["job_id"])))  # about credits only what the ledger says
        await interaction.followup.send(t(TOLD[told]), ephemeral=True, allowed_mentions=NO_PINGS)
        await bot.services.reviews.record(review, moderator, ACTIONS[ReviewState.REJECTED], review["user_id"],
                                          reason=reason, told=told)


def _rejection(review: ReviewRecord, why: Text | str, spent: bool) -> Text:
    """What the member reads when a moderator rejects their image (their credits: what the ledger says)."""
    channel = f"<#{review['channel_id']}>"
    if isinstance(why, Text):  # no reason given
        if spent:
            return _("A moderator did not approve your image for {channel}: no reason was given. Its credits stay "
                     "spent, since the image was made.", channel=channel)
        return _("A moderator did not approve your image for {channel}: no reason was given.", channel=channel)
    values = {"channel": channel, "reason": why, "stop": "" if end_sentence(why) == why else "."}
    if spent:
        return _("A moderator did not approve your image for {channel}: {reason}{stop} Its credits stay spent, since "
                 "the image was made.", **values)
    return _("A moderator did not approve your image for {channel}: {reason}{stop}", **values)
