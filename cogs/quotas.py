"""/quotas …: a server's admins set allowances, grant credits and look at usage.

Hidden from members without Manage Server by default, and checked again at run time, since a
server can override who sees a command.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.core.errors import InvalidInput
from bot.core.i18n import Text, _
from bot.core.text import code_span, credits, plain, relative_time
from bot.domain.records import JobRecord
from bot.services.quotas import SOURCES
from bot.services.results import STATES
from bot.services.usage_view import DAYS as USAGE_DAYS
from bot.services.validation import CREDITS_PER_DAY, EXTRA_CREDITS, SERVER_CREDITS_PER_DAY, whole_number
from bot.ui.app import PixazoBot
from bot.ui.checks import actor, admin_check, guild_of
from bot.ui.embeds import COLOUR, TITLE_MAX
from bot.ui.i18n import for_member
from bot.ui.installs import server_only
from bot.ui.replies import NO_PINGS
from bot.ui.requests import member_of
from bot.ui.usage import server_usage_message

# Discord's client enforces these ranges; a raw client does not, so each command checks again.
Credits = app_commands.Range[int, CREDITS_PER_DAY.low, CREDITS_PER_DAY.high]
Extra = app_commands.Range[int, EXTRA_CREDITS.low, EXTRA_CREDITS.high]
ServerCredits = app_commands.Range[int, SERVER_CREDITS_PER_DAY.low, SERVER_CREDITS_PER_DAY.high]


@server_only
@app_commands.default_permissions(manage_guild=True)
class QuotaAdmin(commands.GroupCog, group_name="quotas", group_description="Set members' image credit allowances"):
    def __init__(self, bot: PixazoBot) -> None:
        self.bot = bot
        super().__init__()

    async def interaction_check(self, interaction: discord.Interaction[Any]) -> bool:
        return await admin_check(interaction)

    async def _done(self, interaction: discord.Interaction[PixazoBot], text: Text) -> None:
        await interaction.followup.send(for_member(interaction)(text), ephemeral=True, allowed_mentions=NO_PINGS)

    async def _set(self, interaction: discord.Interaction[PixazoBot], scope: str, target_id: int, credits_per_day: int | None,
                   *, applied: Text, removed: Text) -> None:
        if credits_per_day is not None:
            credits_per_day = whole_number("credits_per_day", credits_per_day, CREDITS_PER_DAY)
        await self.bot.services.quotas.set_allowance(guild_of(interaction), scope, target_id, credits_per_day,
                                                     actor_id=actor(interaction))
        await self._done(interaction, removed if credits_per_day is None else applied)

    @app_commands.command(name="default", description="Daily credits for every member of this server (empty: bot's default)")
    @app_commands.describe(credits_per_day="Credits each member gets per day (renews 00:00 UTC)")
    async def default(self, interaction: discord.Interaction[PixazoBot], credits_per_day: Credits | None = None) -> None:
        fallback = credits(self.bot.settings.quota_default_daily_credits)
        await self._set(interaction, "default", 0, credits_per_day,
                        applied=_("Every member now gets {credits} a day, unless a role or member allowance says "
                                  "otherwise.", credits=credits(credits_per_day or 0)),
                        removed=_("Removed this server's default; members get the bot's {credits} a day.",
                                  credits=fallback))

    @app_commands.command(name="role", description="Daily credits for members with a role (leave empty to remove)")
    @app_commands.describe(role="The role", credits_per_day="Credits per day; members get their best role's")
    async def role(self, interaction: discord.Interaction[PixazoBot], role: discord.Role,
                   credits_per_day: Credits | None = None) -> None:
        if role.id == interaction.guild_id:
            # Every member has @everyone, and allowances never count it: it would be stored and never apply.
            raise InvalidInput(_("@everyone is the whole server: use `/quotas default` for that."))
        await self._set(interaction, "role", role.id, credits_per_day,
                        applied=_("Members with {role} now get {credits} a day (the highest of their roles counts).",
                                  role=role.mention, credits=credits(credits_per_day or 0)),
                        removed=_("Removed the allowance of {role}.", role=role.mention))

    @app_commands.command(name="member", description="Daily credits for one member (leave empty to remove)")
    @app_commands.describe(member="The member", credits_per_day="Credits per day; overrides roles and the default")
    async def member(self, interaction: discord.Interaction[PixazoBot], member: discord.Member,
                     credits_per_day: Credits | None = None) -> None:
        await self._set(interaction, "member", member.id, credits_per_day,
                        applied=_("{member} now gets {credits} a day.", member=member.mention,
                                  credits=credits(credits_per_day or 0)),
                        removed=_("Removed {member}'s own allowance; roles and the default apply.",
                                  member=member.mention))

    @app_commands.command(name="grant", description="Give a member extra credits for today")
    @app_commands.describe(member="The member", extra_credits="Extra credits, usable until 00:00 UTC")
    async def grant(self, interaction: discord.Interaction[PixazoBot], member: discord.Member, extra_credits: Extra) -> None:
        extra_credits = whole_number("extra_credits", extra_credits, EXTRA_CREDITS)
        await self.bot.services.quotas.grant(guild_of(interaction), member.id, extra_credits,
                                             actor_id=actor(interaction))
        await self._done(interaction, _("Gave {member} {credits} extra for today.", member=member.mention,
                                        credits=credits(extra_credits)))

    @app_commands.command(name="reset", description="Forget a member's usage today, giving back their daily credits")
    @app_commands.describe(member="The member")
    async def reset(self, interaction: discord.Interaction[PixazoBot], member: discord.Member) -> None:
        await self.bot.services.quotas.reset(guild_of(interaction), member.id, actor_id=actor(interaction))
        await self._done(interaction, _("Reset {member}'s usage for today.", member=member.mention))

    @app_commands.command(name="budget", description="A daily credit ceiling for the whole server (empty: none)")
    @app_commands.describe(credits_per_day="Credits all members together may spend per day (renews 00:00 UTC)")
    async def budget(self, interaction: discord.Interaction[PixazoBot], credits_per_day: ServerCredits | None = None) -> None:
        if credits_per_day is not None:
            credits_per_day = whole_number("credits_per_day", credits_per_day, SERVER_CREDITS_PER_DAY)
        quotas = self.bot.services.quotas
        await quotas.set_budget(guild_of(interaction), credits_per_day, actor_id=actor(interaction))
        snap = (await quotas.view(member_of(interaction))).snapshot
        if snap.guild_budget is None:
            text = _("This server has no daily budget now; only each member's own allowance limits them.")
        else:
            text = _("This server's members may now spend {credits} a day in all; {used} used today, it renews "
                     "{renews}.", credits=credits(snap.guild_budget), used=snap.guild_used,
                     renews=relative_time(snap.renews_at))
        await self._done(interaction, text)

    @app_commands.command(name="usage", description="A member's credits and recent jobs, or without one the server's")
    @app_commands.describe(member=f"The member (leave empty: the whole server, last {USAGE_DAYS} days, with a chart)")
    async def usage(self, interaction: discord.Interaction[PixazoBot], member: discord.Member | None = None) -> None:
        quotas = self.bot.services.quotas
        if member is None:
            timeout = self.bot.settings.image_work_timeout_seconds
            summary = await quotas.server_usage(guild_of(interaction), offload=self.bot.offload, timeout=timeout)
            guild_name = interaction.guild.name if interaction.guild else None
            embed, chart = await server_usage_message(summary, guild_name=guild_name, offload=self.bot.offload,
                                                      timeout=timeout, t=for_member(interaction))
            await quotas.looked_at_server(guild_of(interaction), actor_id=actor(interaction))
            await interaction.followup.send(embed=embed, file=chart or discord.utils.MISSING, ephemeral=True,
                                            allowed_mentions=NO_PINGS)
            return
        view, jobs = await quotas.usage_of(member_of(interaction, member), actor_id=actor(interaction))
        snap, t = view.snapshot, for_member(interaction)
        embed = discord.Embed(title=t(_("Usage of {member}", member=plain(member.display_name, TITLE_MAX - 9))),
                              colour=COLOUR)
        embed.add_field(name=t(_("Left today")), value=str(snap.left))
        embed.add_field(name=t(_("Used today")), value=str(snap.used))
        embed.add_field(name=t(_("Allowance")), value=t(_("{allowance} ({source}) + {granted} granted",
                                                          allowance=snap.allowance,
                                                          source=SOURCES.get(snap.source, snap.source),
                                                          granted=snap.granted)))
        embed.add_field(name=t(_("Running now")), value=str(snap.in_flight))
        embed.add_field(name=t(_("Renews")), value=relative_time(snap.renews_at))
        if snap.guild_budget is not None:
            embed.add_field(name=t(_("Server budget")), value=t(_("{used} of {budget} used today", used=snap.guild_used,
                                                                  budget=snap.guild_budget)))
        lines = [_job_line(job, t) for job in jobs] or [t(_("No jobs yet."))]
        embed.add_field(name=t(_("Recent jobs")), value="\n".join(lines)[:1024], inline=False)
        await interaction.followup.send(embed=embed, ephemeral=True, allowed_mentions=NO_PINGS)


def _job_line(job: JobRecord, t: Callable[[Text | str], str]) -> str:
    when = f"<t:{int(job['created_at'])}:R>"
    # Stored errors hold outside text (Pixazo's reasons, file names): quoted, never rendered.
    failed = job["state"] == "failed" and job["error"]
    state = t(STATES.get(job["state"], job["state"])) + (f" ({code_span(job['error'], 62)})" if failed else "")
    return f"#{job['id']} /{job['model']} · {t(credits(job['cost']))} · {state} · {when}"


async def setup(bot: PixazoBot) -> None:
    await bot.add_cog(QuotaAdmin(bot))
