"""A generation request's Discord side, for slash commands and buttons alike: who asks and where (read
off the interaction), the moderation gates' verdict, and the job queued with what its result needs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import discord

from bot.core.errors import UserFacingError
from bot.domain import Member
from bot.moderation.gates import Asker, Refusal
from bot.services.requests import Admission, Requester
from bot.services.validation import Prepared
from bot.ui.guard import GUILD_ONLY

if TYPE_CHECKING:
    from bot.ui.app import PixazoBot

REFUSED_REQUEST = "refused_request"  # Interaction.extras key: (Prepared, Asker) the gates refused


def member_of(interaction: discord.Interaction[Any], user: discord.abc.User | None = None) -> Member:
    """The ledger's view of `user` (default: whoever invoked) in this server; @everyone is no allowance role."""
    if interaction.guild_id is None:
        # The tree refuses guild-only commands outside servers; this keeps any other path from
        # charging a shared "guild 0".
        raise UserFacingError(GUILD_ONLY, detail="a server-only command arrived without a guild")
    user = user or interaction.user
    roles = tuple(r.id for r in getattr(user, "roles", ()) if r.id != interaction.guild_id)
    return Member(guild_id=interaction.guild_id, user_id=user.id, role_ids=roles)


def asker_of(interaction: discord.Interaction[Any]) -> Asker:
    """Who is asking and where, as the moderation gates see it."""
    channel = interaction.channel
    parent = getattr(channel, "parent", None) if isinstance(channel, discord.Thread) else None
    parent_id = getattr(channel, "parent_id", None) if isinstance(channel, discord.Thread) else None
    category_id = getattr(parent if parent is not None else channel, "category_id", None)
    # A thread is age-restricted when its channel is; discord.py's Thread.is_nsfw asks the parent.
    is_nsfw = getattr(channel, "is_nsfw", None)
    return Asker(user_id=interaction.user.id, role_ids=member_of(interaction).role_ids,
                 channel_id=interaction.channel_id, parent_id=parent_id, category_id=category_id,
                 age_restricted=bool(is_nsfw()) if callable(is_nsfw) else False)


def requester_of(interaction: discord.Interaction[Any]) -> Requester:
    user = interaction.user
    return Requester(member_of(interaction), user.display_name, user.display_avatar.url,
                     interaction.application_id, interaction.filesize_limit)


async def admit(interaction: discord.Interaction[PixazoBot], prepared: Prepared) -> Admission:
    """The moderation gates (raises the first refusal, before anything is deferred or spent)."""
    member_of(interaction)  # refuses outside a server before any lookup
    assert interaction.guild_id is not None
    asker = asker_of(interaction)
    try:
        return await interaction.client.services.requests.admit(interaction.guild_id, asker, prepared)
    except Refusal:
        # Appeals store exactly this request, should the member ask a moderator about it.
        interaction.extras[REFUSED_REQUEST] = (prepared, asker)
        raise


async def submit(interaction: discord.Interaction[PixazoBot], prepared: Prepared, admission: Admission, *,
                 inputs: dict[str, Any] | None = None, original: discord.Attachment | None = None,
                 note: str | None = None, holds_inputs: bool = False) -> None:
    """Queue the job on this interaction's token: credits reserved now (a refusal raises, nothing spent);
    the queue runs and delivers it. `note` is shown above the result ("Reroll of job #N"); `holds_inputs`:
    the interaction's message holds the files Pixazo fetches, so the result comes as a new message."""
    await interaction.client.services.requests.submit(
        prepared, requester_of(interaction), admission, channel_id=interaction.channel_id, token=interaction.token,
        inputs=inputs, note=note, thumbnail_url=None if original is None else original.url, holds_inputs=holds_inputs)
