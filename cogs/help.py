"""/help: derived from the synced commands, the catalog's costs and the settings, never hand-kept."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.core.text import credits
from bot.services.quotas import PERSONAL_OFF
from bot.ui.app import PixazoBot
from bot.ui.embeds import COLOUR
from bot.ui.installs import anywhere
from bot.ui.replies import NO_PINGS
from bot.ui.requests import member_of

FIELD_MAX = 1024
ADMIN_HEADING = "For server admins (Manage Server)"


BUTTONS = ("Reroll: the same again with a new seed, for you. Edit: change the prompt or settings and run it. "
           "Details: every setting and the command that makes it again. Delete: removes the message (yours, or "
           "anyone's with Manage Messages). Report: asks this server's moderators to look at it. Reroll and Edit "
           "cost you the model's price.")
PERSONAL_BUTTONS = ("Reroll: the same again with a new seed. Edit: change the prompt or settings and run it. "
                    "Details: every setting and the command that makes it again. Delete: removes the message "
                    "(where only you see it, Dismiss does). Only you can press them; Reroll and Edit cost you the "
                    "model's price in personal credits.")


def chunks(lines: list[str], limit: int = FIELD_MAX) -> list[str]:
    """Lines joined into as few field values as fit Discord's limit."""
    out: list[str] = []
    for line in lines:
        if out and len(out[-1]) + 1 + len(line) <= limit:
            out[-1] += "\n" + line
        else:
            out.append(line[:limit])
    return out


class Help(commands.Cog):
    def __init__(self, bot: PixazoBot) -> None:
        self.bot = bot

    @app_commands.command(name="help", description="What each command does, what it costs, and your credits")
    @anywhere
    async def help(self, interaction: discord.Interaction[PixazoBot]) -> None:
        member = member_of(interaction)
        view = await self.bot.services.quotas.view(member)
        settings = self.bot.settings
        embed = discord.Embed(title="How this bot works", colour=COLOUR)
        listed = sorted((c for c in self.bot.tree.get_commands(guild=None) if not isinstance(c, app_commands.ContextMenu)),
                        key=lambda c: c.name)
        # Members' commands first; those Discord offers only to admins (default_permissions) after, marked.
        # Where no server that added the bot decides, its admin commands are not offered: not listed either.
        for heading, admin in (("Commands", False), (ADMIN_HEADING, True))[:1 if member.personal else 2]:
            lines = [f"/{c.name}: {c.description}" for c in listed if (c.default_permissions is not None) is admin]
            for n, value in enumerate(chunks(lines)):
                embed.add_field(name=heading if n == 0 else f"{heading} (more)", value=value, inline=False)
        embed.add_field(name="Cost per image", value="\n".join(
            f"/{key}: {credits(cost)}" for key, cost in view.costs.items()), inline=False)
        snap = view.snapshot
        if not member.personal:
            credits_here = f"{snap.left} left today of {snap.allowance}"
        elif self.bot.services.quotas.personal_on:
            credits_here = (f"{snap.left} personal credits left today of {snap.allowance}: they pay where no server "
                            "decides (DMs, and servers that have not added the bot, where only you see the results)")
        else:
            credits_here = PERSONAL_OFF
        embed.add_field(name="Your credits", value=credits_here, inline=False)
        embed.add_field(name="The queue", value=(
            f"{settings.pixazo_max_concurrency} images are made at a time; the rest wait their turn, one of each "
            f"member before a second of anyone's. You may have {view.max_jobs} waiting or running. A job that "
            f"waits over {int(settings.queue_max_wait_seconds // 60)} minutes is dropped, and a failed or "
            "cancelled one costs nothing."), inline=False)
        embed.add_field(name="The buttons on a result", value=PERSONAL_BUTTONS if member.personal else BUTTONS,
                        inline=False)
        if not member.personal:
            inpaint = credits(view.costs.get("inpaint", 0))
            embed.add_field(name="Push a picture further", value=(
                "Under every result: Zoom Out 1.5× or 2× (the picture smaller, a new border painted around it), Pan "
                "← → ↑ ↓ (half as much again that way), Vary Region (repaint a half, the centre, the border or the "
                "white of your own mask). On any message with a picture, yours too: Apps ▸ Inpaint this… or Apps ▸ "
                f"Zoom out this. Each opens a form with the prompt, and costs {inpaint}, as /inpaint."), inline=False)
        retention = settings.history_retention_days
        embed.add_field(name="What the bot keeps", value=(
            "Your prompts and settings, for /history and the buttons"
            + (f", for {retention} days" if retention else "") + ". /forget clears them now."), inline=False)
        await interaction.response.send_message(embed=embed, ephemeral=True, allowed_mentions=NO_PINGS)


async def setup(bot: PixazoBot) -> None:
    await bot.add_cog(Help(bot))
