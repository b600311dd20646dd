"""What approval mode and reports share in the review channel: a result held there before it is posted
(approval, or the image check), who may decide, the decided post, a copy of the image, the held result
posted where it was asked for, and telling a member privately (the request's own token while it lives,
else a DM)."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import discord

from bot.core.errors import UserFacingError
from bot.core.i18n import Text, _, render
from bot.domain.records import JobRecord
from bot.domain.reviews import ReviewKind, ReviewRecord, ReviewState
from bot.services.reviews import already, detail_of, locale_of
from bot.ui.delivery import TOKEN_GONE, interaction_webhook
from bot.ui.i18n import for_guild
from bot.ui.replies import NO_PINGS

if TYPE_CHECKING:
    from bot.ui.app import PixazoBot

log = logging.getLogger(__name__)

NOT_A_MODERATOR = _("Only members who can manage messages in this channel can decide on images here.")
UNKNOWN = _("This review is no longer known to the bot.")


async def post_for_review(bot: PixazoBot, job: JobRecord, channel_id: int, kind: ReviewKind, saved: dict[str, Any],
                          message: dict[str, Any], buttons: Callable[[int], discord.ui.View], *,
                          reason: str | None = None) -> tuple[int, discord.Message] | None:
    """A result not posted yet, held in the review channel: its pending review (keeping `saved`), then
    `message` (content, embed, file) with the review's buttons, recorded on the review's row. None when
    the job already has one (the same job delivered twice: the first post stands); raises the
    channel's discord.HTTPException, the review dropped, when it refuses the post.

    From the review's opening, a member's Cancel is refused (a Cancel that came first: NoLongerRunning,
    nothing posted): the post may reach the channel whatever the bot does once it is sent. Once posted,
    a moderator may decide on it, so the job must end delivered: the record is retried while the ledger
    is busy or down, as a settle is. Only if it never lands (shutdown first, an error) is the post
    deleted before the job ends otherwise, so no decision acts on an image whose credits went back; the
    job then runs again (shutdown) or is refunded."""
    desk = bot.services.reviews
    review_id = await desk.hold(job, kind, saved, reason=reason)
    if review_id is None:
        return None
    kwargs: dict[str, Any] = {**{k: v for k, v in message.items() if v is not None}, "allowed_mentions": NO_PINGS,
                              "view": buttons(review_id)}
    try:
        posted = await bot.get_partial_messageable(channel_id, guild_id=job["guild_id"]).send(**kwargs)
    except discord.HTTPException:
        await desk.drop(review_id)
        raise
    try:
        recorded = await desk.held_posted(job["id"], review_id, posted.channel.id, posted.id)
    except BaseException:
        await _withdraw(bot, review_id, posted)
        raise
    if not recorded:
        await _withdraw(bot, review_id, posted)
        raise asyncio.CancelledError()  # shutdown: the job goes back to the queue, made again at the next start
    return review_id, posted


async def _withdraw(bot: PixazoBot, review_id: int, posted: discord.Message) -> None:
    """A review post that could not be recorded is deleted, and its review dropped (if the ledger takes
    it now; else the job's next run posts under it again: ReviewDesk.hold)."""
    try:
        await posted.delete()
        log.warning("review %d: its post %s could not be recorded, so it was deleted", review_id, posted.id)
    except discord.HTTPException as exc:
        log.error("review %d: its post %s could not be recorded, nor deleted (HTTP %s %s)", review_id, posted.id,
                  exc.status, exc.text)
    try:
        await bot.services.reviews.drop(review_id)
    except Exception as exc:
        log.info("review %d: could not drop it (%s: %s); the job's next run posts under it again", review_id,
                 type(exc).__name__, exc)


async def post_held_result(bot: PixazoBot, review: ReviewRecord, said: str, view: discord.ui.View, *,
                           unspoil: bool = False) -> discord.Message | None:
    """A held result (Approve, or Keep of what the image check held) posted in the channel it was asked
    in, as a normal message with the usual buttons, from the copy its review post keeps (`unspoil`: no
    longer a spoiler). None when that channel refuses it."""
    saved = detail_of(review)
    file = await copy_of_image(bot, review["review_channel_id"], review["review_message_id"])
    if file is not None and unspoil:
        file.spoiler = False
    embed = restored_embed(saved.get("embed") or {}, file)
    note = f" {saved['note']}" if saved.get("note") else ""
    kwargs: dict[str, Any] = {"content": f"{said}{note}", "embed": embed, "allowed_mentions": NO_PINGS, "view": view}
    if file is not None:
        kwargs["file"] = file
    channel = bot.get_partial_messageable(review["channel_id"] or 0, guild_id=review["guild_id"])
    try:
        posted = await channel.send(**kwargs)
    except discord.HTTPException as exc:
        log.warning("review %d: %s, but channel %s refused the held result: HTTP %s %s", review["id"],
                    review["status"], review["channel_id"], exc.status, exc.text)
        return None
    await bot.services.results.remember(review["job_id"], posted.channel.id, posted.id)
    return posted


def to_decide(review: ReviewRecord) -> ReviewRecord:
    """The pending review a moderator pressed on, or the one sentence saying why not."""
    if review["status"] != ReviewState.PENDING:
        raise UserFacingError(already(review), detail=f"review {review['id']} was already {review['status']}")
    return review


async def mark_decided(bot: PixazoBot, review: ReviewRecord, said: Text | str, view: discord.ui.View) -> None:
    """The review post shows the decision (in the server's language), its buttons disabled. A post that
    cannot be edited costs only that: the decision is in the ledger."""
    text = for_guild(bot, review["guild_id"])(said)
    channel_id, message_id = review.get("review_channel_id"), review.get("review_message_id")
    if not channel_id or not message_id:
        return
    message = bot.get_partial_messageable(channel_id, guild_id=review["guild_id"]).get_partial_message(message_id)
    try:
        await message.edit(content=text[:2000], view=view, allowed_mentions=NO_PINGS)
    except discord.HTTPException as exc:
        log.warning("review %d: could not mark its post %s as decided: HTTP %s %s", review["id"], message_id,
                    exc.status, exc.text)


async def copy_of_image(bot: PixazoBot, channel_id: int | None, message_id: int | None) -> discord.File | None:
    """The image attached to a bot message (a review post keeps one), as a file to post again."""
    if not channel_id or not message_id:
        return None
    channel = bot.get_partial_messageable(channel_id)
    try:
        message = await channel.fetch_message(message_id)
        if not message.attachments:
            return None
        attachment = message.attachments[0]
        return await attachment.to_file(spoiler=attachment.is_spoiler())
    except discord.HTTPException as exc:
        log.warning("could not copy the image of message %s in channel %s: HTTP %s %s", message_id, channel_id,
                    exc.status, exc.text)
        return None


def restored_embed(saved: dict[str, Any], file: discord.File | None) -> discord.Embed:
    """A result's embed as it was saved, its image pointing at the file posted with it again."""
    embed = discord.Embed.from_dict(saved)
    image = (saved.get("image") or {}).get("url", "")
    if file is not None and not file.spoiler and (image.startswith("attachment://") or _on_cdn(image)):
        embed.set_image(url=f"attachment://{file.filename}")
    return embed


def _on_cdn(url: str) -> bool:
    return bool(re.search(r"/attachments/\d+/", url))


async def tell_member(bot: PixazoBot, review: ReviewRecord, said: Text | str) -> str:
    """Tell the requester privately, in their language: an ephemeral followup on their request while its
    token lives, else a DM. Returns how they were told ("followup", "dm", "not told")."""
    text = render(said, locale_of(review))
    token, application_id = review.get("interaction_token"), review.get("application_id")
    expires = review.get("token_expires_at") or 0
    if token and application_id and bot.services.reviews.now() < expires:
        try:
            await interaction_webhook(bot, application_id, token).send(text, ephemeral=True, allowed_mentions=NO_PINGS)
            return "followup"
        except discord.HTTPException as exc:
            if exc.status not in TOKEN_GONE:
                log.warning("review %d: could not tell user %s on their request: HTTP %s", review["id"],
                            review["user_id"], exc.status)
    try:
        dm = await bot.create_dm(discord.Object(review["user_id"]))
        await dm.send(text, allowed_mentions=NO_PINGS)
        return "dm"
    except discord.HTTPException as exc:
        # 50007: they take no DMs from this server's members. Nothing else reaches them privately.
        log.warning("review %d: could not tell user %s by DM either (HTTP %s, code %s); they were not told: %r",
                    review["id"], review["user_id"], exc.status, exc.code, text)
        return "not told"


def decided_by_other(decision: Any) -> Text | None:
    """The sentence for a press that lost the race (or found no review), None for the winner."""
    if decision is None:
        return UNKNOWN
    return None if decision.won else already(decision.review)


