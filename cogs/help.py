"""/help: derived from the synced commands, the catalog's costs and the settings, never hand-kept."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.core.i18n import Text, _, option_name
from bot.core.text import credits
from bot.services.quotas import PERSONAL_OFF
from bot.ui.app import PixazoBot
from bot.ui.embeds import COLOUR
from bot.ui.i18n import for_member
from bot.ui.installs import anywhere
from bot.ui.replies import NO_PINGS
from bot.ui.requests import member_of

FIELD_MAX = 1024
COMMANDS_HEADING = _("Commands")
ADMIN_HEADING = _("For server admins (Manage Server)")


BUTTONS = _("Reroll: the same again with a new seed, for you. Edit: change the prompt or settings and run it. "
            "Details: every setting and the command that makes it again. Delete: removes the message (yours, or "
            "anyone's with Manage Messages). Report: asks this server's moderators to look at it. Reroll and Edit "
            "cost you the model's price.")
PERSONAL_BUTTONS = _("Reroll: the same again with a new seed. Edit: change the prompt or settings and run it. "
                     "Details: every setting and the command that makes it again. Delete: removes the message "
                     "(where only you see it, Dismiss does). Only you can press them; Reroll and Edit cost you the "
                     "model's price in personal credits.")


def batches(most: int, personal: bool) -> Text:
    """How a batch works; where no server decides there are no server styles, and /settings keeps the
    defaults of the member's personal use."""
    if personal:
        return _("`{count}` (up to {most}) on /imagine or any model's command makes that many images, each with its "
                 "own seed, in one message. Use 1…4 posts one of them alone, free; Reroll all makes the set again. "
                 "Each image is charged on its own, and one that fails costs nothing. /settings keeps your defaults "
                 "for where your personal credits pay (here and in DMs).", count=option_name("count"), most=most)
    return _("`{count}` (up to {most}) on /imagine or any model's command makes that many images, each with its own "
             "seed, in one message. Use 1…4 posts one of them alone, free; Reroll all makes the set again. Each "
             "image is charged on its own, and one that fails costs nothing. `{style}` puts one of this server's "
             "styles around your prompt; /settings keeps your defaults here.", count=option_name("count"), most=most,
             style=option_name("style"))


def chunks(lines: list[str], limit: int = FIELD_MAX) -> list[str]:
    """Lines joined into as few field values as fit Discord's limit."""
    out: list[str] = []
    for line in lines:
        if out and len(out[-1]) + 1 + len(line) <= limit:
            out[-1] += "\n" + line
        else:
            out.append(line[:limit])
    return out


def shown(command: app_commands.Command | app_commands.Group) -> tuple[Text, Text]:
    """A command's name and description as its synced localizations read them."""
    kind = "group" if isinstance(command, app_commands.Group) else "command"
    return Text(command.name, context=f"{kind} name"), Text(command.description, context=f"{kind} description")


class Help(commands.Cog):
    def __init__(self, bot: PixazoBot) -> None:
        self.bot = bot

    @app_commands.command(name="help", description="What each command does, what it costs, and your credits")
    @anywhere
    async def help(self, interaction: discord.Interaction[PixazoBot]) -> None:
        member = member_of(interaction)
        view = await self.bot.services.quotas.view(member)
        settings = self.bot.settings
        t = for_member(interaction)
        embed = discord.Embed(title=t(_("How this bot works")), colour=COLOUR)
        listed = sorted((c for c in self.bot.tree.get_commands(guild=None) if not isinstance(c, app_commands.ContextMenu)),
                        key=lambda c: c.name)
        # Members' commands first; those Discord offers only to admins (default_permissions) after, marked.
        # Where no server that added the bot decides, its admin commands are not offered: not listed either.
        for heading, admin in ((COMMANDS_HEADING, False), (ADMIN_HEADING, True))[:1 if member.personal else 2]:
            lines = [f"/{t(shown(c)[0])}: {t(shown(c)[1])}" for c in listed
                     if (c.default_permissions is not None) is admin]
            for n, value in enumerate(chunks(lines)):
                embed.add_field(name=t(heading) if n == 0 else t(_("{heading} (more)", heading=heading)), value=value,
                                inline=False)
        embed.add_field(name=t(_("Cost per image")), value="\n".join(
            f"/{key}: {t(credits(cost))}" for key, cost in view.costs.items()), inline=False)
        snap = view.snapshot
        if not member.personal:
            credits_here = _("{left} left today of {allowance}", left=snap.left, allowance=snap.allowance)
        elif self.bot.services.quotas.personal_on:
            credits_here = _("{left} personal credits left today of {allowance}: they pay where no server decides "
                             "(DMs, and servers that have not added the bot, where only you see the results)",
                             left=snap.left, allowance=snap.allowance)
        else:
            credits_here = PERSONAL_OFF
        embed.add_field(name=t(_("Your credits")), value=t(credits_here), inline=False)
        embed.add_field(name=t(_("The queue")), value=t(_(
            "{at_once} images are made at a time; the rest wait their turn, one of each member before a second of "
            "anyone's. You may have {mine} waiting or running. A job that waits over {minutes} minutes is dropped, "
            "and a failed or cancelled one costs nothing.", at_once=settings.pixazo_max_concurrency, mine=view.max_jobs,
            minutes=int(settings.queue_max_wait_seconds // 60))), inline=False)
        embed.add_field(name=t(_("Several at once, pick one")), value=t(batches(settings.batch_max_images, member.personal)),
                        inline=False)
        embed.add_field(name=t(_("The buttons on a result")), value=t(PERSONAL_BUTTONS if member.personal else BUTTONS),
                        inline=False)
        if not member.personal:
            inpaint = credits(view.costs.get("inpaint", 0))
            embed.add_field(name="Push a picture further", value=(
                "Under every result: Zoom Out 1.5× or 2× (the picture smaller, a new border painted around it), Pan "
                "← → ↑ ↓ (half as much again that way), Vary Region (repaint a half, the centre, the border or the "
                "white of your own mask). On any message with a picture, yours too: Apps ▸ Inpaint this… or Apps ▸ "
                f"Zoom out this. Each opens a form with the prompt, and costs {inpaint}, as /inpaint."), inline=False)
        retention = settings.history_retention_days
        kept = (_("Your prompts and settings, for /history and the buttons, for {days} days. /forget clears them now.",
                  days=retention) if retention else
                _("Your prompts and settings, for /history and the buttons. /forget clears them now."))
        embed.add_field(name=t(_("What the bot keeps")), value=t(kept), inline=False)
        await interaction.response.send_message(embed=embed, ephemeral=True, allowed_mentions=NO_PINGS)


async def setup(bot: PixazoBot) -> None:
    await bot.add_cog(Help(bot))
