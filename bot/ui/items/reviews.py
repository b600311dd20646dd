"""What approval mode and reports share in the review channel: who may decide, the decided post, and
telling a member privately (the request's own token while it lives, else a DM).

Every decision starts with the store's conditional UPDATE (`decide_review`); only its winner posts,
hides, restores or deletes anything, so two moderators pressing at once cause one effect.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

import discord

from bot.core.errors import UserFacingError
from bot.domain.reviews import ReviewRecord, ReviewState
from bot.ui import presses
from bot.ui.app import PixazoBot
from bot.ui.replies import NO_PINGS

log = logging.getLogger(__name__)

TOKEN_GONE = (401, 404)  # 401 Invalid Webhook Token (expired), 404 Unknown Webhook
TOKEN_LIFETIME_SECONDS = 15 * 60 - 30  # Discord's 15 minutes, less a margin for a slow press
NOT_A_MODERATOR = "Only members who can manage messages in this channel can decide on images here."
DONE = {ReviewState.APPROVED: "Approved", ReviewState.REJECTED: "Rejected", ReviewState.KEPT: "Kept",
        ReviewState.REMOVED: "Removed"}
REASON_MAX = 300


def already(review: ReviewRecord) -> str:
    """The loser of a race, or a late press, is told who decided and when."""
    state = ReviewState(review["status"])
    decided_at = review.get("decided_at")
    when = f" <t:{int(decided_at)}:R>" if decided_at is not None else ""
    return f"{DONE.get(state, 'Decided')} already by <@{review['decided_by']}>{when}."


async def review_to_decide(interaction: discord.Interaction, review_id: int) -> ReviewRecord:
    """The pending review a moderator pressed on, or the one sentence saying why not."""
    # The press's own permissions: Manage Messages in the channel where the review post is.
    review: ReviewRecord = await presses.pressed(interaction, presses.REVIEW, review_id, what="review decision",
                                                 who=presses.Who.MODERATOR, refusal=NOT_A_MODERATOR)
    if review["status"] != ReviewState.PENDING:
        raise UserFacingError(already(review), detail=f"review {review_id} was already {review['status']}")
    return review


def review_buttons(*items: discord.ui.Item[Any], disabled: bool = False) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    for item in items:
        if disabled and isinstance(getattr(item, "item", None), discord.ui.Button):
            item.item.disabled = True  # type: ignore[attr-defined]
        view.add_item(item)
    # Finished at once, as the result view: the dynamic items answer presses, now and after a restart.
    view.stop()
    return view


async def mark_decided(bot: PixazoBot, review: ReviewRecord, text: str, view: discord.ui.View) -> None:
    """The review post shows the decision, its buttons disabled. A post that cannot be edited costs
    only that: the decision is in the ledger."""
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


def detail_of(review: ReviewRecord) -> dict[str, Any]:
    try:
        return json.loads(review.get("detail") or "{}")
    except ValueError:
        return {}


def restored_embed(saved: dict[str, Any], file: discord.File | None) -> discord.Embed:
    """A result's embed as it was saved, its image pointing at the file posted with it again."""
    embed = discord.Embed.from_dict(saved)
    image = (saved.get("image") or {}).get("url", "")
    if file is not None and not file.spoiler and (image.startswith("attachment://") or _on_cdn(image)):
        embed.set_image(url=f"attachment://{file.filename}")
    return embed


def _on_cdn(url: str) -> bool:
    return bool(re.search(r"/attachments/\d+/", url))


async def tell_member(bot: PixazoBot, review: ReviewRecord, text: str) -> str:
    """Tell the requester privately: an ephemeral followup on their request while its token lives,
    else a DM. Returns how they were told ("followup", "dm", "not told")."""
    token, application_id = review.get("interaction_token"), review.get("application_id")
    expires = review.get("token_expires_at") or 0
    if token and application_id and bot.store.now() < expires:
        data: Any = {"id": application_id, "type": 3, "token": token}
        webhook = discord.Webhook.from_state(data=data, state=bot._connection)
        try:
            await webhook.send(text, ephemeral=True, allowed_mentions=NO_PINGS)
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


async def record(bot: PixazoBot, review: ReviewRecord, actor_id: int, action: str, requester_id: int,
                 **detail: Any) -> None:
    """The decision in the server's record (the audit log reads it). The decision already took effect, so
    a store that will not take the row now is logged, not raised."""
    try:
        await bot.store.record_action(review["guild_id"], actor_id, action, requester_id,
                                      {"job_id": review["job_id"], "review_id": review["id"],
                                       "channel_id": review.get("channel_id"), **detail})
    except Exception as exc:
        log.warning("review %d: could not record %s by %s: %s: %s", review["id"], action, actor_id,
                    type(exc).__name__, exc)
