"""Reports: a member's report of a posted result goes to the review channel with Keep / Remove. Once a
result has REPORTS_HIDE_AFTER open reports, its message is edited to hide the image until a moderator
decides: Keep shows it again (from the copy the review post carries), Remove deletes the message.

One decision settles every open report of the result (the store's `decide_review`).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

import discord
from discord.ext import commands

from bot import presses
from bot.app import PixazoBot, answer_error, answer_form
from bot.domain.audit import AuditAction
from bot.domain.records import JobRecord, prompt_of
from bot.domain.reviews import ACTIONS, REPORT_ACTION, AlreadyReviewed, ReviewKind, ReviewRecord, ReviewState
from bot.embeds import COLOUR, PROMPT_SHOWN_MAX
from bot.errors import UserFacingError
from bot.image_check import Detection, ImageCheckFailed, screen
from bot.moderation.config import IMAGE_CHECK, IMAGE_THRESHOLD, REPORTS_HIDE_AFTER, REVIEW_CHANNEL
from bot.replies import NO_PINGS
from bot.services.generation import Outcome
from bot.services.validation import clean_text
from bot.text import code_block, plain
from cogs.report_button import ALREADY_REPORTED, REPORT_MODAL, REPORT_REASON_MAX, reporting_channel
from cogs.results import remember_result, result_view, submitted_values
from cogs.reviews import (
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

HIDDEN = "This image is hidden while a moderator looks at it."
GONE = "That image is already gone."
THANKS = "Thank you; a moderator will look at it."


async def submit_report(interaction: discord.Interaction, job_id: int) -> None:
    bot: PixazoBot = interaction.client  # type: ignore[assignment]
    job = await presses.pressed(interaction, presses.JOB, job_id, what="report form")
    config = await bot.moderation.config(job["guild_id"])
    review_channel = reporting_channel(config)
    reason = clean_text(submitted_values(interaction.data).get("reason", ""))[:REPORT_REASON_MAX] or None
    await interaction.response.defer(ephemeral=True, thinking=True)
    result = await _result_message(bot, job)
    if result is None:
        raise UserFacingError(GONE, detail=f"report of job {job_id}: its result message is gone")
    reporter = interaction.user.id
    try:
        review_id, pending = await bot.store.open_review(job["guild_id"], job_id, ReviewKind.REPORT, reporter,
                                                         channel_id=result.channel.id, reason=reason)
    except AlreadyReviewed:
        raise UserFacingError(ALREADY_REPORTED, detail=f"user {reporter} reported job {job_id} again") from None
    review = await bot.store.review(review_id)
    assert review is not None
    open_reports = await bot.store.open_reviews(job_id, ReviewKind.REPORT)
    hidden = any(detail_of(r).get("hidden") for r in open_reports)
    try:
        posted = await _post_report(bot, review_channel, review, job, result, reason, pending, hidden)
    except discord.HTTPException as exc:
        await bot.store.drop_review(review_id)
        raise UserFacingError("The bot could not post in the review channel, so nothing was reported; please tell a "
                              "moderator.", detail=f"review channel {review_channel} refused a report of job "
                                                   f"{job_id}: HTTP {exc.status}: {exc.text}") from None
    await bot.store.set_review_message(review_id, posted.channel.id, posted.id)
    said = THANKS
    if not hidden and pending >= int(config.get(REPORTS_HIDE_AFTER)):
        if await _hide(bot, review, result):
            said += " It is hidden until then."
    await interaction.followup.send(said, ephemeral=True, allowed_mentions=NO_PINGS)
    await record(bot, review, reporter, REPORT_ACTION, job["user_id"], reason=reason)


async def _result_message(bot: PixazoBot, job: JobRecord) -> discord.Message | None:
    channel_id, message_id = job.get("result_channel_id"), job.get("result_message_id")
    if not channel_id or not message_id:
        return None
    try:
        return await bot.get_partial_messageable(channel_id, guild_id=job["guild_id"]).fetch_message(message_id)
    except discord.NotFound:
        return None


async def _post_report(bot: PixazoBot, channel_id: int, review: ReviewRecord, job: JobRecord, result: discord.Message,
                       reason: str | None, pending: int, hidden: bool) -> discord.Message:
    """The report in the review channel, with a copy of the image (what Keep puts back)."""
    embed = discord.Embed(title=f"Report of job #{job['id']}", colour=COLOUR,
                          description=code_block(prompt_of(job) or "(forgotten)", PROMPT_SHOWN_MAX))
    embed.add_field(name="Reported by", value=f"<@{review['user_id']}>")
    embed.add_field(name="Made by", value=f"<@{job['user_id']}>")
    embed.add_field(name="Where", value=result.jump_url)
    embed.add_field(name="Reason", value=plain(reason, 1000) if reason else "none given", inline=False)
    embed.add_field(name="Open reports", value=str(pending))
    file = None
    if result.attachments:
        attachment = result.attachments[0]
        file = await attachment.to_file(spoiler=attachment.is_spoiler())
        if not file.spoiler:
            embed.set_image(url=f"attachment://{file.filename}")
    elif hidden:
        embed.add_field(name="Image", value="Already hidden; an earlier report of it holds a copy.", inline=False)
    elif result.embeds and result.embeds[0].image and result.embeds[0].image.url:
        embed.set_image(url=result.embeds[0].image.url)  # posted as Pixazo's link
    kwargs: dict[str, Any] = {"content": f"<@{review['user_id']}> reported an image by <@{job['user_id']}>.",
                              "embed": embed, "allowed_mentions": NO_PINGS,
                              "view": review_buttons(KeepButton(review["id"]), RemoveButton(review["id"]))}
    if file is not None:
        kwargs["file"] = file
    return await bot.get_partial_messageable(channel_id, guild_id=job["guild_id"]).send(**kwargs)


async def _hide(bot: PixazoBot, review: ReviewRecord, result: discord.Message) -> bool:
    """Hide the image; what it looked like is kept on this report's row, to be put back by Keep."""
    saved = {"hidden": True, "embed": result.embeds[0].to_dict() if result.embeds else None,
             "content": result.content}
    await bot.store.set_review_detail(review["id"], json.dumps(saved))
    placeholder = discord.Embed(description=HIDDEN, colour=COLOUR)
    try:
        await result.edit(content=result.content or None, embed=placeholder, attachments=[],
                          view=result_view(review["job_id"]), allowed_mentions=NO_PINGS)
    except discord.HTTPException as exc:
        log.warning("job %d: could not hide its reported result %s: HTTP %s %s", review["job_id"], result.id,
                    exc.status, exc.text)
        await bot.store.set_review_detail(review["id"], None)
        return False
    log.info("job %d: result %s hidden after a report (review %d)", review["job_id"], result.id, review["id"])
    return True


async def decide_report(interaction: discord.Interaction, review_id: int, status: ReviewState) -> None:
    bot: PixazoBot = interaction.client  # type: ignore[assignment]
    token = (await review_to_decide(interaction, review_id))["interaction_token"]
    await interaction.response.defer(ephemeral=True, thinking=True)
    moderator = interaction.user.id
    decision = await bot.store.decide_review(review_id, status, decided_by=moderator)
    if decision is None or not decision.won:
        said = already(decision.review) if decision else "This review is no longer known to the bot."
        await interaction.followup.send(said, ephemeral=True, allowed_mentions=NO_PINGS)
        return
    group = [decision.review, *decision.also]
    job = await bot.store.job(decision.review["job_id"])
    if job is None:
        raise UserFacingError(presses.JOB.unknown, detail=f"review {review_id}: job {decision.review['job_id']} is gone")
    if detail_of(decision.review).get("held"):  # held by the image check: never posted yet
        await _decide_held(interaction, job, {**decision.review, "interaction_token": token}, status)
        return
    if status is ReviewState.KEPT:
        said = await _keep(bot, job, group)
    else:
        said = await _remove(bot, job)
    verb = "Kept" if status is ReviewState.KEPT else "Removed"
    for review in group:
        await mark_decided(bot, review, f"{verb} by <@{moderator}>.", decided_view(review["id"]))
    await interaction.followup.send(said, ephemeral=True, allowed_mentions=NO_PINGS)
    reasons = [r["reason"] or "" for r in group if r.get("reason")]
    await record(bot, decision.review, moderator, ACTIONS[status], job["user_id"], reason="; ".join(reasons) or None,
                 reports=[r["id"] for r in group])


async def _keep(bot: PixazoBot, job: JobRecord, group: list[ReviewRecord]) -> str:
    holder = next((r for r in group if detail_of(r).get("hidden")), None)
    if holder is None:
        return "Kept; the image stays as it is."
    result = await _result_message(bot, job)
    if result is None:
        return "Kept, but its message is gone."
    saved = detail_of(holder)
    file = await copy_of_image(bot, holder["review_channel_id"], holder["review_message_id"])
    embed = restored_embed(saved.get("embed") or {}, file) if saved.get("embed") else None
    try:
        await result.edit(content=saved.get("content") or None, embed=embed, attachments=[file] if file else [],
                          view=result_view(job["id"]), allowed_mentions=NO_PINGS)
    except discord.HTTPException as exc:
        log.warning("job %d: kept, but its result %s could not be shown again: HTTP %s %s", job["id"], result.id,
                    exc.status, exc.text)
        return "Kept, but Discord would not let the bot show the image again; the review post has a copy."
    return "Kept; the image is shown again."


async def _remove(bot: PixazoBot, job: JobRecord) -> str:
    result = await _result_message(bot, job)
    if result is None:
        return "Removed; its message was already gone."
    try:
        await result.delete()
    except discord.NotFound:
        return "Removed; its message was already gone."
    except discord.HTTPException as exc:
        log.warning("job %d: removal decided, but its result %s could not be deleted: HTTP %s %s", job["id"],
                    result.id, exc.status, exc.text)
        return "Removed, but Discord would not let the bot delete the message."
    log.info("job %d: result %s removed by a moderator's decision", job["id"], result.id)
    return "Removed; the message is deleted."


# -- the image check: a result held back before it was posted --------------------------------------

CHECK_FAILED = ("The bot could not check this image before posting it, so it was not posted and no credits were "
                "spent. Please try again.")


async def check_image(bot: PixazoBot, job: JobRecord, outcome: Outcome) -> Detection | None:
    """What holds this result back, if anything: the image check runs for results bound for a channel
    that is not age-restricted, where the server has it on (the default) and the bot has it installed.

    A check that cannot say (timeout, unreadable image, model failure) fails closed: nothing is posted
    unchecked where the server asked for the check, and since the member gets nothing and the fault is
    the bot's, the job fails and its credits are refunded (the caller's UserFacingError path)."""
    delivery = json.loads(job.get("delivery") or "{}")
    if delivery.get("age_restricted") or delivery.get("spoiler") or not bot.image_check.available:
        return None
    config = await bot.moderation.config(job["guild_id"])
    if not config.get(IMAGE_CHECK):
        return None
    threshold = config.get(IMAGE_THRESHOLD) or bot.settings.image_check_threshold
    try:
        return await screen(bot.image_check, bot.offload, outcome.image.data, threshold=threshold,
                            timeout=bot.settings.image_check_timeout_seconds)
    except ImageCheckFailed as exc:
        raise UserFacingError(CHECK_FAILED, detail=f"job {job['id']}: the image check failed: {exc}") from None


def _finding(finding: Detection) -> str:
    return f"{finding.words}, {finding.score:.0%} sure"


async def hold_flagged(bot: PixazoBot, job: JobRecord, embed: discord.Embed, file: discord.File | None,
                       finding: Detection, *, tell: Callable[[str], Awaitable[None]]) -> None:
    """A result the image check held: nothing is posted where it was asked for. It goes to the review
    channel (when the server has one) as a report that Keep posts, and the member is told privately.
    The job succeeds: the image was made, so its credits are spent, as for a rejected approval."""
    config = await bot.moderation.config(job["guild_id"])
    review_channel = config.get(REVIEW_CHANNEL)
    review_id = None if review_channel is None else await _post_held(bot, job, int(review_channel), embed, file,
                                                                        finding)
    said = (f"The image check found what looks like {_finding(finding)} in your image, so it was not posted here: "
            "this channel is not age-restricted. ")
    said += ("The server's moderators can look at it and post it. " if review_id is not None else
             "An age-restricted channel can show such images. ")
    await tell(said + "Its credits stay spent, since the image was made.")
    log.info("job %d: held by the image check (%s); review %s", job["id"], _finding(finding), review_id)
    try:
        await bot.store.record_action(job["guild_id"], bot.user.id if bot.user else 0, AuditAction.HELD.value,
                                      job["user_id"], {"job_id": job["id"], "channel_id": job["channel_id"],
                                                       "found": _finding(finding), "review_id": review_id})
    except Exception as exc:
        log.warning("job %d: could not record that the image check held it: %s: %s", job["id"],
                    type(exc).__name__, exc)


async def _post_held(bot: PixazoBot, job: JobRecord, channel_id: int, embed: discord.Embed,
                     file: discord.File | None, finding: Detection) -> int | None:
    """The held image in the review channel, as a spoiler, with Keep (post it) and Remove (leave it)."""
    delivery = json.loads(job.get("delivery") or "{}")
    saved = {"held": True, "embed": embed.to_dict(), "note": delivery.get("note")}
    application_id = delivery.get("application_id")
    try:
        review_id, _ = await bot.store.open_review(
            job["guild_id"], job["id"], ReviewKind.REPORT, job["user_id"], channel_id=job["channel_id"],
            reason=f"image check: {_finding(finding)}", application_id=int(application_id) if application_id else None,
            token=job.get("interaction_token"), token_expires_at=job["created_at"] + TOKEN_LIFETIME_SECONDS,
            detail=json.dumps(saved))
    except AlreadyReviewed:  # the same job delivered twice: the first post stands
        log.info("job %d was already held for review; not posted again", job["id"])
        return None
    review = discord.Embed.from_dict(embed.to_dict())
    review.set_image(url=None)  # the copy below is a spoiler: moderators open it when they choose
    review.add_field(name="Made by", value=f"<@{job['user_id']}>")
    review.add_field(name="For channel", value=f"<#{job['channel_id']}>")
    review.add_field(name="Image check", value=_finding(finding), inline=False)
    kwargs: dict[str, Any] = {
        "content": f"The image check held an image by <@{job['user_id']}> for <#{job['channel_id']}>. "
                   "Keep posts it there; Remove leaves it unposted.",
        "embed": review, "allowed_mentions": NO_PINGS,
        "view": review_buttons(KeepButton(review_id), RemoveButton(review_id))}
    if file is not None:
        file.spoiler = True
        kwargs["file"] = file
    try:
        posted = await bot.get_partial_messageable(channel_id, guild_id=job["guild_id"]).send(**kwargs)
    except discord.HTTPException as exc:
        await bot.store.drop_review(review_id)
        log.warning("job %d: held by the image check, but review channel %s refused it: HTTP %s %s", job["id"],
                    channel_id, exc.status, exc.text)
        return None
    await bot.store.set_review_message(review_id, posted.channel.id, posted.id)
    return review_id


async def _decide_held(interaction: discord.Interaction, job: JobRecord, review: ReviewRecord,
                       status: ReviewState) -> None:
    """Keep posts the held image where it was asked for (as Approve does); Remove leaves it unposted."""
    bot: PixazoBot = interaction.client  # type: ignore[assignment]
    moderator = interaction.user.id
    where = f"<#{review['channel_id']}>"
    if status is ReviewState.KEPT:
        posted = await _post_kept(bot, job, review, moderator)
        if posted is None:
            await bot.store.reopen_review(review["id"], decided_by=moderator, token=review["interaction_token"])
            await interaction.followup.send(f"Discord would not let the bot post in {where}, so the image is still "
                                            "waiting here; try again once the bot can post there.",
                                            ephemeral=True, allowed_mentions=NO_PINGS)
            return
        await mark_decided(bot, review, f"Kept by <@{moderator}>; posted in {where}: {posted.jump_url}",
                           decided_view(review["id"]))
        await interaction.followup.send(f"Kept; posted in {where}.", ephemeral=True, allowed_mentions=NO_PINGS)
        told = await tell_member(bot, review, f"A moderator looked at your image the image check held, and posted it "
                                              f"in {where}: {posted.jump_url}")
        await record(bot, review, moderator, ACTIONS[status], job["user_id"], message_id=posted.id, told=told)
        return
    await mark_decided(bot, review, f"Removed by <@{moderator}>; the image stays unposted.", decided_view(review["id"]))
    await interaction.followup.send("Removed; the image stays unposted.", ephemeral=True, allowed_mentions=NO_PINGS)
    told = await tell_member(bot, review, f"A moderator looked at your image the image check held, and it stays "
                                          f"unposted in {where}.")
    await record(bot, review, moderator, ACTIONS[status], job["user_id"], told=told)


async def _post_kept(bot: PixazoBot, job: JobRecord, review: ReviewRecord, moderator: int) -> discord.Message | None:
    saved = detail_of(review)
    file = await copy_of_image(bot, review["review_channel_id"], review["review_message_id"])
    if file is not None:
        file.spoiler = False  # a moderator looked and chose to post it as the result it is
    embed = restored_embed(saved.get("embed") or {}, file)
    note = f" {saved['note']}" if saved.get("note") else ""
    kwargs: dict[str, Any] = {"content": f"<@{job['user_id']}>'s image, posted by <@{moderator}> after the image "
                                         f"check held it.{note}",
                              "embed": embed, "allowed_mentions": NO_PINGS, "view": result_view(job["id"])}
    if file is not None:
        kwargs["file"] = file
    channel = bot.get_partial_messageable(review["channel_id"] or 0, guild_id=review["guild_id"])
    try:
        posted = await channel.send(**kwargs)
    except discord.HTTPException as exc:
        log.warning("review %d: kept, but channel %s refused the held image: HTTP %s %s", review["id"],
                    review["channel_id"], exc.status, exc.text)
        return None
    await remember_result(bot, job["id"], posted)
    return posted


def decided_view(review_id: int) -> discord.ui.View:
    return review_buttons(KeepButton(review_id), RemoveButton(review_id), disabled=True)


class KeepButton(discord.ui.DynamicItem[discord.ui.Button], template=rf"review:keep:(?P<review>{presses.ID})"):
    def __init__(self, review_id: int) -> None:
        super().__init__(discord.ui.Button(label="Keep", emoji="👍", style=discord.ButtonStyle.success,
                                           custom_id=f"review:keep:{review_id}"))
        self.review_id = review_id

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Item[Any],
                             match: re.Match[str], /) -> KeepButton:
        return cls(int(match["review"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        try:
            await decide_report(interaction, self.review_id, ReviewState.KEPT)
        except Exception as exc:
            await answer_error(interaction, exc, "Keep button")


class RemoveButton(discord.ui.DynamicItem[discord.ui.Button], template=rf"review:remove:(?P<review>{presses.ID})"):
    def __init__(self, review_id: int) -> None:
        super().__init__(discord.ui.Button(label="Remove", emoji="🗑️", style=discord.ButtonStyle.danger,
                                           custom_id=f"review:remove:{review_id}"))
        self.review_id = review_id

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Item[Any],
                             match: re.Match[str], /) -> RemoveButton:
        return cls(int(match["review"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        try:
            await decide_report(interaction, self.review_id, ReviewState.REMOVED)
        except Exception as exc:
            await answer_error(interaction, exc, "Remove button")


class Reports(commands.Cog):
    def __init__(self, bot: PixazoBot) -> None:
        self.bot = bot

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(KeepButton, RemoveButton)

    @commands.Cog.listener()
    async def on_interaction(self, interaction: discord.Interaction) -> None:
        await answer_form(interaction, REPORT_MODAL, lambda i, m: submit_report(i, int(m["job"])), "Report form")


async def setup(bot: PixazoBot) -> None:
    await bot.add_cog(Reports(bot))
