"""The admin commands' checks (/quotas, /config): in a server, and Manage Server there."""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands

from bot.ui.guard import GUILD_ONLY


def actor(interaction: discord.Interaction[Any]) -> int:
    return interaction.user.id


def guild_of(interaction: discord.Interaction[Any]) -> int:
    # The tree's guard refuses these commands outside a server before they run; this keeps the type honest.
    if interaction.guild_id is None:
        raise app_commands.NoPrivateMessage(str(GUILD_ONLY))  # the funnel words it for the member
    return interaction.guild_id


async def admin_check(interaction: discord.Interaction[Any]) -> bool:
    """The admin commands' own check: default_permissions only hides them, and a server may show them
    to anyone, so Manage Server is checked again. Then deferred (ephemeral) before touching the
    database, which may be busy settling jobs."""
    if not interaction.permissions.manage_guild:
        raise app_commands.MissingPermissions(["manage_guild"])
    await interaction.response.defer(ephemeral=True, thinking=True)
    return True
