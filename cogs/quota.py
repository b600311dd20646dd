"""/quota: what a member has left, and what things cost."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.core.i18n import _
from bot.core.text import credits, relative_time
from bot.services.quotas import PERSONAL_OFF, SOURCES
from bot.ui.app import PixazoBot
from bot.ui.embeds import COLOUR
from bot.ui.i18n import for_member
from bot.ui.installs import anywhere
from bot.ui.replies import NO_PINGS
from bot.ui.requests import member_of

PERSONAL_CREDITS = _("These pay for images where no server decides: DMs, group DMs, and servers that have not "
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
            await interaction.followup.send(for_member(interaction)(PERSONAL_OFF), ephemeral=True,
                                            allowed_mentions=NO_PINGS)
            return
        view = await quotas.view(member)
        snap = view.snapshot
        t = for_member(interaction)
        embed = discord.Embed(title=t(_("Your personal image credits") if member.personal else _("Your image credits")),
                              colour=COLOUR)
        if member.personal:
            embed.description = t(PERSONAL_CREDITS)
        embed.add_field(name=t(_("Left today")), value=str(snap.left))
        embed.add_field(name=t(_("Used today")), value=str(snap.used))
        allowance = t(_("{allowance} a day ({source})", allowance=snap.allowance, source=SOURCES.get(snap.source,
                                                                                                     snap.source)))
        if snap.granted:
            allowance += t(_(" + {granted} granted today", granted=snap.granted))
        embed.add_field(name=t(_("Allowance")), value=allowance)
        embed.add_field(name=t(_("Renews")), value=relative_time(snap.renews_at))
        embed.add_field(name=t(_("Running now")), value=t(_("{running} of {limit} at a time", running=snap.in_flight,
                                                            limit=view.max_jobs)))
        embed.add_field(name=t(_("Cost per image")),
                        value="\n".join(f"/{key}: {t(credits(cost))}" for key, cost in view.costs.items()),
                        inline=False)
        await interaction.followup.send(embed=embed, ephemeral=True, allowed_mentions=NO_PINGS)


async def setup(bot: PixazoBot) -> None:
    await bot.add_cog(Quota(bot))
