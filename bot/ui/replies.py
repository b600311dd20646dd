"""Answering an interaction however it still can be answered."""

from __future__ import annotations

import logging

import discord

from bot.core.i18n import Text, _, render
from bot.ui.i18n import member_locale

log = logging.getLogger(__name__)
NO_PINGS = discord.AllowedMentions.none()
_DELIVERED = "delivered"  # key in Interaction.extras


def mark_delivered(interaction: discord.Interaction) -> None:
    """The interaction now carries a member's result: its messages are theirs, never to be deleted."""
    interaction.extras[_DELIVERED] = True


def delivered(interaction: discord.Interaction) -> bool:
    return bool(interaction.extras.get(_DELIVERED))


UNKNOWN_INTERACTION = 10062
ALREADY_ACKNOWLEDGED = 40060
DISCORD_TROUBLE = _("Discord had trouble taking the bot's answer just now. Please try again in a moment.")
MISSING_PERMISSION = _("Discord did not let the bot do that here: the bot lacks a permission in this channel. "
                       "A server admin can check the bot's role.")


def discord_fault(exc: discord.HTTPException) -> Text | None:
    """What to tell the member when a call to Discord failed for a reason not the bot's own (its trouble,
    its refusal of a stale interaction, a permission the server did not give); None: a bug of the bot's
    (a 400 Invalid Form Body, say), for the funnel's ERROR with its traceback."""
    if exc.status >= 500 or exc.code in (UNKNOWN_INTERACTION, ALREADY_ACKNOWLEDGED):
        return DISCORD_TROUBLE
    if exc.status == 403:
        return MISSING_PERMISSION
    return None


async def tell_discord_fault(interaction: discord.Interaction, exc: discord.HTTPException, where: str) -> None:
    """A call to Discord failed for a reason not the bot's own (`discord_fault`): one WARNING line with the
    cause, never a traceback, and a sentence to the member where anything still reaches them.

    10062 Unknown interaction: Discord dropped it (answered after its 3 seconds, or lost), and nothing
    reaches the member any more. A 5xx on the first answer (a defer) comes after discord.py's retries,
    long past those 3 seconds: only a followup can still arrive, if one of the tries was taken."""
    cause = f"HTTP {exc.status}, code {exc.code}: {exc.text[:200]}"
    if exc.code == UNKNOWN_INTERACTION:
        log.warning("%s by user %s: Discord no longer knows the interaction (%s): it was answered after Discord's "
                    "3 seconds, or Discord lost it; the member cannot be told", where, interaction.user.id, cause)
        return
    told = await _tell_after_fault(interaction, discord_fault(exc) or DISCORD_TROUBLE)
    log.warning("%s by user %s failed on Discord's side (%s); %s", where, interaction.user.id, cause,
                "the member was told so" if told else "nothing reaches the member any more")


async def _tell_after_fault(interaction: discord.Interaction, said: Text) -> bool:
    text = render(said, member_locale(interaction))
    try:
        if not interaction.response.is_done():
            try:
                await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_PINGS)
                return True
            except discord.HTTPException as exc:
                if exc.code != ALREADY_ACKNOWLEDGED:  # else Discord took a try of the first answer: follow it
                    return False
            known_deferred = True  # the first answer that failed was the defer, so @original is "thinking…"
        else:
            known_deferred = interaction.response.type is discord.InteractionResponseType.deferred_channel_message
        if known_deferred and not delivered(interaction):
            try:  # a public "thinking…" would otherwise become this answer, for everyone to see
                await interaction.delete_original_response()
            except discord.HTTPException:
                pass
        await interaction.followup.send(text, ephemeral=True, allowed_mentions=NO_PINGS)
        return True
    except discord.HTTPException:
        return False


async def reply_privately(interaction: discord.Interaction, said: Text | str, *,
                          view: discord.ui.View | None = None) -> None:
    """An ephemeral answer in the member's language, whether or not the interaction was already deferred.

    After a public "thinking…" defer, the first followup would replace that public message; so the
    thinking message is deleted first and the answer goes out as a fresh ephemeral followup. Once a
    result was delivered, @original *is* that result: it is never deleted. `view`: buttons under it.
    """
    text = render(said, member_locale(interaction))
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
