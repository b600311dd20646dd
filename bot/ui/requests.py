"""A generation request's Discord side, for slash commands and buttons alike: who asks and where (read
off the interaction), the moderation gates' verdict, and the job queued with what its result needs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import discord

from bot.domain import PERSONAL, Member
from bot.moderation.gates import Asker, Refusal
from bot.services.requests import AS_ASKED, Admission, Made, Requester
from bot.services.validation import Prepared
from bot.ui.i18n import member_locale
from bot.ui.installs import private_here, scope_of

if TYPE_CHECKING:
    from bot.ui.app import PixazoBot

REFUSED_REQUEST = "refused_request"  # Interaction.extras key: (Prepared, Asker) the gates refused


def member_of(interaction: discord.Interaction[Any], user: discord.abc.User | None = None) -> Member:
    """The ledger's view of `user` (default: whoever invoked) where this happens: in a server that added
    the bot, its member (@everyone is no allowance role); anywhere else, their personal credits."""
    user = user or interaction.user
    scope = scope_of(interaction)
    if scope == PERSONAL:
        return Member(guild_id=PERSONAL, user_id=user.id)
    roles = tuple(r.id for r in getattr(user, "roles", ()) if r.id != interaction.guild_id)
    return Member(guild_id=scope, user_id=user.id, role_ids=roles)


def asker_of(interaction: discord.Interaction[Any]) -> Asker:
    """Who is asking and where, as the moderation gates see it."""
    channel = interaction.channel
    parent = getattr(channel, "parent", None) if isinstance(channel, discord.Thread) else None
    parent_id = getattr(channel, "parent_id", None) if isinstance(channel, discord.Thread) else None
    category_id = getattr(parent if parent is not None else channel, "category_id", None)
    # A thread is age-restricted when its channel is; discord.py's Thread.is_nsfw asks the parent. Where no
    # server decides, nothing is: the explicit-terms filter and the image check always apply.
    is_nsfw = getattr(channel, "is_nsfw", None)
    member = member_of(interaction)
    return Asker(user_id=interaction.user.id, role_ids=member.role_ids,
                 channel_id=interaction.channel_id, parent_id=parent_id, category_id=category_id,
                 age_restricted=not member.personal and callable(is_nsfw) and bool(is_nsfw()))


def requester_of(interaction: discord.Interaction[Any]) -> Requester:
    user = interaction.user
    return Requester(member_of(interaction), user.display_name, user.display_avatar.url,
                     interaction.application_id, interaction.filesize_limit,
                     locale=member_locale(interaction))


async def admit(interaction: discord.Interaction[PixazoBot], prepared: Prepared) -> Admission:
    """The moderation gates (raises the first refusal, before anything is deferred or spent). Where no
    server decides: the bot's own rules, personal credits (refused here if the bot offers none), and in a
    server that did not add the bot, a result for the member's eyes only."""
    member = member_of(interaction)
    interaction.client.services.quotas.check_open(member)
    asker = asker_of(interaction)
    try:
        return await interaction.client.services.requests.admit(member.guild_id, asker, prepared,
                                                                private=private_here(interaction))
    except Refusal:
        # Appeals store exactly this request, should the member ask a moderator about it.
        interaction.extras[REFUSED_REQUEST] = (prepared, asker)
        raise


async def submit(interaction: discord.Interaction[PixazoBot], prepared: Prepared, admission: Admission, *,
                 inputs: dict[str, Any] | None = None, original: discord.Attachment | None = None,
                 note: str | None = None, holds_inputs: bool = False, made: Made = AS_ASKED) -> None:
    """Queue the job on this interaction's token: credits reserved now (a refusal raises, nothing spent);
    the queue runs and delivers it. `note` is shown above the result ("Reroll of job #N"); `holds_inputs`:
    the interaction's message holds the files Pixazo fetches, so the result comes as a new message."""
    await interaction.client.services.requests.submit(
        prepared, requester_of(interaction), admission, channel_id=interaction.channel_id, token=interaction.token,
        inputs=inputs, note=note, thumbnail_url=None if original is None else original.url, holds_inputs=holds_inputs,
        made=made)


async def submit_batch(interaction: discord.Interaction[PixazoBot], prepared: tuple[Prepared, ...],
                       admission: Admission, made: Made, *, note: str | None = None) -> None:
    """Queue one image as `submit` does, or a batch of them at once (all or nothing): one message for all."""
    if len(prepared) == 1:
        await submit(interaction, prepared[0], admission, note=note, made=made)
        return
    await interaction.client.services.requests.submit_batch(
        prepared, requester_of(interaction), admission, channel_id=interaction.channel_id, token=interaction.token,
        made=made, note=note)
