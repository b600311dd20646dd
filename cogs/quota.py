"""/quota: what a member has left, and what things cost."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.core.text import credits, relative_time
from bot.services.quotas import PERSONAL_OFF
from bot.ui.app import PixazoBot
from bot.ui.embeds import COLOUR
from bot.ui.installs import anywhere
from bot.ui.replies import NO_PINGS
from bot.ui.requests import member_of

PERSONAL_CREDITS = ("These pay for images where no server decides: DMs, group DMs, and servers that have not "
                    "added the bot. In a server that added it, that server's credits apply.")


class Quota(commands.Cog):
    def __init__(self, bot: PixazoBot) -> None:
        self.bot = bot

    @app_commands.command(name="quota", description="Your image credits: what is left today and what each model costs")
    @anywhere
    async def quota(self, interaction: discord.Interaction[PixazoBot]) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        member = member_of(interaction)
        quotas = self.bot.services.quotas
        if member.personal and not quotas.personal_on:
            await interaction.followup.send(PERSONAL_OFF, ephemeral=True, allowed_mentions=NO_PINGS)
            return
        view = await quotas.view(member)
        snap = view.snapshot
        embed = discord.Embed(title="Your personal image credits" if member.personal else "Your image credits",
                              colour=COLOUR)
        if member.personal:
            embed.description = PERSONAL_CREDITS
        embed.add_field(name="Left today", value=str(snap.left))
        embed.add_field(name="Used today", value=str(snap.used))
        allowance = f"{snap.allowance} a day ({snap.source})"
        if snap.granted:
            allowance += f" + {snap.granted} granted today"
        embed.add_field(name="Allowance", value=allowance)
        embed.add_field(name="Renews", value=relative_time(snap.renews_at))
        embed.add_field(name="Running now", value=f"{snap.in_flight} of {view.max_jobs} at a time")
        embed.add_field(name="Cost per image",
                        value="\n".join(f"/{key}: {credits(cost)}" for key, cost in view.costs.items()),
                        inline=False)
        await interaction.followup.send(embed=embed, ephemeral=True, allowed_mentions=NO_PINGS)


async def setup(bot: PixazoBot) -> None:
    await bot.add_cog(Quota(bot))
