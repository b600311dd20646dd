"""Reports: a member's report of a posted result goes to the review channel with Keep / Remove. Once a
result has REPORTS_HIDE_AFTER open reports, its message is edited to hide the image until a moderator
decides: Keep shows it again (from the copy the review post carries), Remove deletes the message.

One decision settles every open report of the result (the store's `decide_review`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import discord

from bot.core.errors import UserFacingError
from bot.core.i18n import Text, _
from bot.core.text import code_block, plain
from bot.domain import PERSONAL
from bot.domain.detections import Detection
from bot.domain.records import JobRecord, prompt_of
from bot.domain.reviews import ACTIONS, REPORT_ACTION, ReviewKind, ReviewRecord, ReviewState
from bot.services.reviews import detail_of, finding_text, reporting_channel
from bot.ui import presses
from bot.ui.delivery import result_view as job_view
from bot.ui.embeds import COLOUR, PROMPT_SHOWN_MAX
from bot.ui.i18n import for_guild, for_member
from bot.ui.items.base import Interaction, Press, finished_view
from bot.ui.items.reviews import (
    NOT_A_MODERATOR,
    copy_of_image,
    decided_by_other,
    mark_decided,
    post_for_review,
    post_held_result,
    restored_embed,
    tell_member,
    to_decide,
)
from bot.ui.replies import NO_PINGS

if TYPE_CHECKING:
    from bot.ui.app import PixazoBot

log = logging.getLogger(__name__)

Words = Callable[[Text | str], str]
HIDDEN = _("This image is hidden while a moderator looks at it.")
GONE = _("That image is already gone.")
THANKS = _("Thank you; a moderator will look at it.")
THANKS_HIDDEN = _("Thank you; a moderator will look at it. It is hidden until then.")
WAITING_HERE = _("Discord would not let the bot post in {channel}, so the image is still waiting here; try again once "
                 "the bot can post there.")


async def submit_report(interaction: Interaction, job: JobRecord, reason: str | None) -> None:
    """The Report form's answer: the report goes to the review channel, and hides the result once enough
    reports are open."""
    bot = interaction.client
    desk = bot.services.reviews
    job_id = job["id"]
    config = await bot.services.moderation.config(job["guild_id"])
    review_channel = reporting_channel(config)
    await interaction.response.defer(ephemeral=True, thinking=True)
    result = await _result_message(bot, job)
    if result is None:
        raise UserFacingError(GONE, detail=f"report of job {job_id}: its result message is gone")
    reporter = interaction.user.id
    review, pending, hidden = await desk.report(job, reporter, result.channel.id, reason)
    try:
        posted = await _post_report(bot, review_channel, review, job, result, reason, pending, hidden)
    except discord.HTTPException as exc:
        await desk.drop(review["id"])
        raise UserFacingError(_("The bot could not post in the review channel, so nothing was reported; please tell "
                                "a moderator."), detail=f"review channel {review_channel} refused a report of job "
                                                   f"{job_id}: HTTP {exc.status}: {exc.text}") from None
    await desk.posted(review["id"], posted.channel.id, posted.id)
    said = THANKS
    if not hidden and pending >= await desk.hide_after(job["guild_id"]):
        if await _hide(bot, review, job, result):
            said = THANKS_HIDDEN
    await interaction.followup.send(for_member(interaction)(said), ephemeral=True, allowed_mentions=NO_PINGS)
    await desk.record(review, reporter, REPORT_ACTION, job["user_id"], reason=reason)


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
    """The report in the review channel (in the server's language), with a copy of the image (what Keep puts back)."""
    t = for_guild(bot, job["guild_id"])
    embed = discord.Embed(title=t(_("Report of job #{job}", job=job["id"])), colour=COLOUR,
                          description=code_block(prompt_of(job) or t(_("(forgotten)")), PROMPT_SHOWN_MAX))
    embed.add_field(name=t(_("Reported by")), value=f"<@{review['user_id']}>")
    embed.add_field(name=t(_("Made by")), value=f"<@{job['user_id']}>")
    embed.add_field(name=t(_("Where")), value=result.jump_url)
    embed.add_field(name=t(_("Reason")), value=plain(reason, 1000) if reason else t(_("none given")), inline=False)
    embed.add_field(name=t(_("Open reports")), value=str(pending))
    file = None
    if result.attachments:
        attachment = result.attachments[0]
        file = await attachment.to_file(spoiler=attachment.is_spoiler())
        if not file.spoiler:
            embed.set_image(url=f"attachment://{file.filename}")
    elif hidden:
        embed.add_field(name=t(_("Image")), value=t(_("Already hidden; an earlier report of it holds a copy.")),
                        inline=False)
    elif result.embeds and result.embeds[0].image and result.embeds[0].image.url:
        embed.set_image(url=result.embeds[0].image.url)  # posted as Pixazo's link
    kwargs: dict[str, Any] = {"content": t(_("{reporter} reported an image by {member}.",
                                             reporter=f"<@{review['user_id']}>", member=f"<@{job['user_id']}>")),
                              "embed": embed, "allowed_mentions": NO_PINGS,
                              "view": finished_view(KeepButton(review["id"], t), RemoveButton(review["id"], t))}
    if file is not None:
        kwargs["file"] = file
    return await bot.get_partial_messageable(channel_id, guild_id=job["guild_id"]).send(**kwargs)


async def _hide(bot: PixazoBot, review: ReviewRecord, job: JobRecord, result: discord.Message) -> bool:
    """Hide the image; what it looked like is kept on this report's row, to be put back by Keep."""
    saved = {"hidden": True, "embed": result.embeds[0].to_dict() if result.embeds else None,
             "content": result.content}
    await bot.services.reviews.keep_hidden(review["id"], saved)
    placeholder = discord.Embed(description=for_guild(bot, review["guild_id"])(HIDDEN), colour=COLOUR)
    try:
        await result.edit(content=result.content or None, embed=placeholder, attachments=[],
                          view=job_view(job["id"], job.get("delivery")), allowed_mentions=NO_PINGS)
    except discord.HTTPException as exc:
        log.warning("job %d: could not hide its reported result %s: HTTP %s %s", review["job_id"], result.id,
                    exc.status, exc.text)
        await bot.services.reviews.keep_hidden(review["id"], None)
        return False
    log.info("job %d: result %s hidden after a report (review %d)", review["job_id"], result.id, review["id"])
    return True


async def decide_report(interaction: Interaction, review: ReviewRecord, status: ReviewState) -> None:
    token = to_decide(review)["interaction_token"]
    await interaction.response.defer(ephemeral=True, thinking=True)
    bot, moderator, t = interaction.client, interaction.user.id, for_member(interaction)
    desk = bot.services.reviews
    decision = await desk.decide(review["id"], status, moderator)
    if (lost := decided_by_other(decision)) is not None or decision is None:
        await interaction.followup.send(t(lost or ""), ephemeral=True, allowed_mentions=NO_PINGS)
        return
    group = [decision.review, *decision.also]
    job = await desk.job(decision.review["job_id"])
    if job is None:
        raise UserFacingError(presses.JOB.unknown, detail=f"review {review['id']}: job {decision.review['job_id']} "
                                                          "is gone")
    if detail_of(decision.review).get("held"):  # held by the image check: never posted yet
        held: ReviewRecord = {**decision.review, "interaction_token": token}
        await _decide_held(interaction, job, held, status)
        return
    said = await _keep(bot, job, group) if status is ReviewState.KEPT else await _remove(bot, job)
    by = (_("Kept by {moderator}.") if status is ReviewState.KEPT else _("Removed by {moderator}.")).msgid
    for decided in group:
        await mark_decided(bot, decided, Text(by, {"moderator": f"<@{moderator}>"}),
                           decided_view(decided["id"], for_guild(bot, decided["guild_id"])))
    await interaction.followup.send(t(said), ephemeral=True, allowed_mentions=NO_PINGS)
    reasons = [r["reason"] or "" for r in group if r.get("reason")]
    await desk.record(decision.review, moderator, ACTIONS[status], job["user_id"], reason="; ".join(reasons) or None,
                      reports=[r["id"] for r in group])


async def _keep(bot: PixazoBot, job: JobRecord, group: list[ReviewRecord]) -> Text:
    holder = next((r for r in group if detail_of(r).get("hidden")), None)
    if holder is None:
        return _("Kept; the image stays as it is.")
    result = await _result_message(bot, job)
    if result is None:
        return _("Kept, but its message is gone.")
    saved = detail_of(holder)
    file = await copy_of_image(bot, holder["review_channel_id"], holder["review_message_id"])
    embed = restored_embed(saved.get("embed") or {}, file) if saved.get("embed") else None
    try:
        await result.edit(content=saved.get("content") or None, embed=embed, attachments=[file] if file else [],
                          view=job_view(job["id"], job.get("delivery")), allowed_mentions=NO_PINGS)
    except discord.HTTPException as exc:
        log.warning("job %d: kept, but its result %s could not be shown again: HTTP %s %s", job["id"], result.id,
                    exc.status, exc.text)
        return _("Kept, but Discord would not let the bot show the image again; the review post has a copy.")
    return _("Kept; the image is shown again.")


async def _remove(bot: PixazoBot, job: JobRecord) -> Text:
    result = await _result_message(bot, job)
    if result is None:
        return _("Removed; its message was already gone.")
    try:
        await result.delete()
    except discord.NotFound:
        return _("Removed; its message was already gone.")
    except discord.HTTPException as exc:
        log.warning("job %d: removal decided, but its result %s could not be deleted: HTTP %s %s", job["id"],
                    result.id, exc.status, exc.text)
        return _("Removed, but Discord would not let the bot delete the message.")
    log.info("job %d: result %s removed by a moderator's decision", job["id"], result.id)
    return _("Removed; the message is deleted.")


# -- the image check: a result held back before it was posted --------------------------------------

async def hold_flagged(bot: PixazoBot, job: JobRecord, embed: discord.Embed, file: discord.File | None,
                       finding: Detection) -> Callable[[bool], Text]:
    """A result the image check held: nothing is posted where it was asked for. It goes to the review
    channel (when the server has one) as a report that Keep posts. The job succeeds: the image was made,
    so its credits are spent, as for a rejected approval. Returns what the member is told privately
    once the ledger has settled the job: given whether it has the credits spent, since only then may
    they read that they stay spent."""
    review_channel = await bot.services.reviews.review_channel(job["guild_id"])
    review_id = None if review_channel is None else await _post_held(bot, job, review_channel, embed, file, finding)
    await bot.services.reviews.record_held(job, bot.user.id if bot.user else 0, finding, review_id)
    found = finding_text(finding)
    if job["guild_id"] == PERSONAL:  # a DM, or a server that did not add the bot: no channel of it is
        said = (_("The image check found what looks like {finding} in your image, so it was not shown: outside "
                  "age-restricted channels of servers that added it, the bot shows no such images.", finding=found),
                _("The image check found what looks like {finding} in your image, so it was not shown: outside "
                  "age-restricted channels of servers that added it, the bot shows no such images. Its credits "
                  "stay spent, since the image was made.", finding=found))
    elif review_id is not None:
        said = (_("The image check found what looks like {finding} in your image, so it was not posted here: this "
                  "channel is not age-restricted. The server's moderators can look at it and post it.", finding=found),
                _("The image check found what looks like {finding} in your image, so it was not posted here: this "
                  "channel is not age-restricted. The server's moderators can look at it and post it. Its credits "
                  "stay spent, since the image was made.", finding=found))
    else:
        said = (_("The image check found what looks like {finding} in your image, so it was not posted here: this "
                  "channel is not age-restricted. An age-restricted channel can show such images.", finding=found),
                _("The image check found what looks like {finding} in your image, so it was not posted here: this "
                  "channel is not age-restricted. An age-restricted channel can show such images. Its credits "
                  "stay spent, since the image was made.", finding=found))
    return lambda spent: said[spent]


async def _post_held(bot: PixazoBot, job: JobRecord, channel_id: int, embed: discord.Embed,
                     file: discord.File | None, finding: Detection) -> int | None:
    """The held image in the review channel, as a spoiler, with Keep (post it) and Remove (leave it)."""
    delivery = job["delivery"]
    saved = {"held": True, "embed": embed.to_dict(), "note": None if delivery is None else delivery.note,
             "locale": "en-US" if delivery is None else delivery.locale}
    t = for_guild(bot, job["guild_id"])
    review = discord.Embed.from_dict(embed.to_dict())
    review.set_image(url=None)  # the copy below is a spoiler: moderators open it when they choose
    review.add_field(name=t(_("Made by")), value=f"<@{job['user_id']}>")
    review.add_field(name=t(_("For channel")), value=f"<#{job['channel_id']}>")
    review.add_field(name=t(_("Image check")), value=t(finding_text(finding)), inline=False)
    content = t(_("The image check held an image by {member} for {channel}. Keep posts it there; Remove leaves it "
                  "unposted.", member=f"<@{job['user_id']}>", channel=f"<#{job['channel_id']}>"))
    if file is not None:
        file.spoiler = True
    try:
        held = await post_for_review(bot, job, channel_id, ReviewKind.REPORT, saved,
                                     {"content": content, "embed": review, "file": file},
                                     lambda review_id: finished_view(KeepButton(review_id, t),
                                                                     RemoveButton(review_id, t)),
                                     reason=f"image check: {finding_text(finding)}")
    except discord.HTTPException as exc:
        log.warning("job %d: held by the image check, but review channel %s refused it: HTTP %s %s", job["id"],
                    channel_id, exc.status, exc.text)
        return None
    return None if held is None else held[0]


async def _decide_held(interaction: Interaction, job: JobRecord, review: ReviewRecord, status: ReviewState) -> None:
    """Keep posts the held image where it was asked for (as Approve does); Remove leaves it unposted."""
    bot, t = interaction.client, for_member(interaction)
    moderator = interaction.user.id
    where = f"<#{review['channel_id']}>"
    view = decided_view(review["id"], for_guild(bot, review["guild_id"]))
    if status is ReviewState.KEPT:
        posted = await _post_kept(bot, job, review, moderator)
        if posted is None:
            await bot.services.reviews.reopen(review["id"], moderator, review["interaction_token"])
            await interaction.followup.send(t(_(WAITING_HERE.msgid, channel=where)), ephemeral=True,
                                            allowed_mentions=NO_PINGS)
            return
        await mark_decided(bot, review, _("Kept by {moderator}; posted in {channel}: {link}", moderator=f"<@{moderator}>",
                                          channel=where, link=posted.jump_url), view)
        await interaction.followup.send(t(_("Kept; posted in {channel}.", channel=where)), ephemeral=True,
                                        allowed_mentions=NO_PINGS)
        told = await tell_member(bot, review, _("A moderator looked at your image the image check held, and posted it "
                                                "in {channel}: {link}", channel=where, link=posted.jump_url))
        await bot.services.reviews.record(review, moderator, ACTIONS[status], job["user_id"], message_id=posted.id,
                                          told=told)
        return
    await mark_decided(bot, review, _("Removed by {moderator}; the image stays unposted.", moderator=f"<@{moderator}>"),
                       view)
    await interaction.followup.send(t(_("Removed; the image stays unposted.")), ephemeral=True,
                                    allowed_mentions=NO_PINGS)
    told = await tell_member(bot, review, _("A moderator looked at your image the image check held, and it stays "
                                            "unposted in {channel}.", channel=where))
    await bot.services.reviews.record(review, moderator, ACTIONS[status], job["user_id"], told=told)


async def _post_kept(bot: PixazoBot, job: JobRecord, review: ReviewRecord, moderator: int) -> discord.Message | None:
    said = for_guild(bot, review["guild_id"])(_("{member}'s image, posted by {moderator} after the image check held "
                                                "it.", member=f"<@{job['user_id']}>", moderator=f"<@{moderator}>"))
    # Unspoiled: a moderator looked and chose to post it as the result it is.
    return await post_held_result(bot, review, said, job_view(job["id"], job.get("delivery")), unspoil=True)


def decided_view(review_id: int, t: Words | None = None) -> discord.ui.View:
    return finished_view(KeepButton(review_id, t), RemoveButton(review_id, t), disabled=True)


class KeepButton(Press, template=rf"review:keep:(?P<review>{presses.ID})"):
    subject, what, where, id_group = presses.REVIEW, "review decision", "Keep button", "review"
    who, refusal = presses.Who.MODERATOR, NOT_A_MODERATOR

    def __init__(self, review_id: int, t: Words | None = None) -> None:
        super().__init__(review_id, discord.ui.Button(label=(t or str)(_("Keep")), emoji="👍",
                                                      style=discord.ButtonStyle.success,
                                                      custom_id=f"review:keep:{review_id}"))

    async def act(self, interaction: Interaction, review: ReviewRecord) -> None:
        await decide_report(interaction, review, ReviewState.KEPT)


class RemoveButton(Press, template=rf"review:remove:(?P<review>{presses.ID})"):
    subject, what, where, id_group = presses.REVIEW, "review decision", "Remove button", "review"
    who, refusal = presses.Who.MODERATOR, NOT_A_MODERATOR

    def __init__(self, review_id: int, t: Words | None = None) -> None:
        super().__init__(review_id, discord.ui.Button(label=(t or str)(_("Remove")), emoji="🗑️",
                                                      style=discord.ButtonStyle.danger,
                                                      custom_id=f"review:remove:{review_id}"))

    async def act(self, interaction: Interaction, review: ReviewRecord) -> None:
        await decide_report(interaction, review, ReviewState.REMOVED)
