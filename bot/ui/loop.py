"""The loop's requests, for /imagine and every model's own command alike: the member's defaults and the
server's style applied (bot/services/imagine.py), the gates, then one image or a batch queued; and the
style option's autocomplete, from the server's styles."""

from __future__ import annotations

from dataclasses import replace

import discord
from discord import app_commands

from bot.services.imagine import Asked, only_me, plan
from bot.services.requests import Made
from bot.ui.app import PixazoBot
from bot.ui.installs import scope_of
from bot.ui.requests import admit, member_of, submit_batch

CHOICES_MAX = 25  # Discord's most choices in one autocomplete answer


async def ask(interaction: discord.Interaction[PixazoBot], asked: Asked) -> None:
    # Every refusal is raised before anything is deferred or spent, so the answer is ephemeral.
    member = member_of(interaction)
    services = interaction.client.services
    config = await services.moderation.config(member.guild_id)
    planned = plan(asked, await services.imagine.defaults(member), config,
                   max_count=interaction.client.settings.batch_max_images)
    admission = replace(await admit(interaction, planned.prepared[0]), only_me=planned.private)
    await interaction.response.defer(thinking=True, ephemeral=admission.private)
    await submit_batch(interaction, planned.prepared, admission, Made(planned.style, planned.from_defaults))


async def only_me_here(interaction: discord.Interaction[PixazoBot]) -> bool:
    """The member's "results only to me" here (their /settings, where this server allows it), for a request
    that is none of the loop's (an edit of a result, a message menu's)."""
    member = member_of(interaction)
    services = interaction.client.services
    return only_me(await services.imagine.defaults(member), await services.moderation.config(member.guild_id))


async def style_choices(interaction: discord.Interaction[PixazoBot], current: str) -> list[app_commands.Choice[str]]:
    """The server's styles whose name or text holds what the member typed so far."""
    # Where no server decides: the bot's own configuration, which has no styles.
    config = await interaction.client.services.moderation.config(scope_of(interaction))
    typed = current.strip().lower()
    found = [(name, text) for name, text in sorted(config.styles.items()) if typed in name or typed in text.lower()]
    return [app_commands.Choice(name=f"{name}: {text}"[:100], value=name) for name, text in found[:CHOICES_MAX]]
