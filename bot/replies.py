"""Answering an interaction however it still can be answered."""

from __future__ import annotations

import logging

import discord

log = logging.getLogger(__name__)
NO_PINGS = discord.AllowedMentions.none()
_DELIVERED = "delivered"  # key in Interaction.extras


def mark_delivered(interaction: discord.Interaction) -> None:
    """The interaction now carries a member's result: its messages are theirs, never to be deleted."""
    interaction.extras[_DELIVERED] = True


def delivered(interaction: discord.Interaction) -> bool:
    return bool(interaction.extras.get(_DELIVERED))


async def reply_privately(interaction: discord.Interaction, text: str, *, view: discord.ui.View | None = None) -> None:
    """An ephemeral answer, whether or not the interaction was already deferred.

    After a public "thinking…" defer, the first followup would replace that public message; so the
    thinking message is deleted first and the answer goes out as a fresh ephemeral followup. Once a
    result was delivered, @original *is* that result: it is never deleted. `view`: buttons under it.
    """
    extra: dict = {} if view is None else {"view": view}
    try:
        if not interaction.response.is_done():
            await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_PINGS, **extra)
            return
        if (interaction.response.type is discord.InteractionResponseType.deferred_channel_message
                and not delivered(interaction)):
            try:
                await interaction.delete_original_response()
            except discord.HTTPException as exc:
                log.info("could not remove the thinking message of interaction %s: %s", interaction.id, exc)
        await interaction.followup.send(text, ephemeral=True, allowed_mentions=NO_PINGS, **extra)
    except discord.HTTPException as exc:
        # The token may have expired (15 minutes) or the channel vanished: nothing left to answer.
        log.warning("could not tell user %s %r: %s", interaction.user.id, text, exc)
