"""/history and /forget: what the bot keeps about a member, and removing it."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.catalog import MODELS
from bot.ui.app import PixazoBot
from bot.ui.i18n import for_member
from bot.ui.installs import anywhere
from bot.ui.items.history import FORGET_ASK, forget_question, history_page
from bot.ui.replies import NO_PINGS


class History(commands.Cog):
    def __init__(self, bot: PixazoBot) -> None:
        self.bot = bot

    @app_commands.command(name="history", description="Your images here (in this server, or your personal ones in DMs), newest first")
    @app_commands.describe(model="Only images made with this model")
    @app_commands.choices(model=[app_commands.Choice(name=key, value=key) for key in MODELS])
    @anywhere
    async def history(self, interaction: discord.Interaction[PixazoBot], model: str | None = None) -> None:
        embed, view = await history_page(interaction, interaction.user.id, model, 0)
        await interaction.response.send_message(embed=embed, view=view, ephemeral=True, allowed_mentions=NO_PINGS)

    @app_commands.command(name="forget", description="Clear the prompts and details the bot keeps about your images")
    @anywhere
    async def forget(self, interaction: discord.Interaction[PixazoBot]) -> None:
        t = for_member(interaction)
        await interaction.response.send_message(t(FORGET_ASK), view=forget_question(interaction.user.id, t),
                                                ephemeral=True, allowed_mentions=NO_PINGS)


async def setup(bot: PixazoBot) -> None:
    await bot.add_cog(History(bot))
