"""The server usage view of `/quotas usage` (cogs/quotas.py) as an admin sees it: an embed with the
totals, the models and the top members, and the chart attached as its image. Not an extension."""

from __future__ import annotations

import io
import logging

import discord

from bot.core.offload import Offload, OffloadTimeout
from bot.core.text import credits, plain, truncate
from bot.services.usage_chart import FILENAME, render_chart
from bot.services.usage_view import DAYS, TOP_MEMBERS, WEEK, Spend, UsageSummary
from bot.ui.embeds import COLOUR, FIELD_VALUE_MAX, TITLE_MAX

log = logging.getLogger(__name__)
NOTHING = f"No credits spent in the last {DAYS} days."
FOOTER = ("UTC days. Failed and cancelled jobs are refunded and not counted; a reset gives a member "
          "credits back but does not change what the server spent.")
NO_CHART = " The chart took too long to draw this time; the numbers are complete."


def jobs(n: int) -> str:
    return f"{n} job" if n == 1 else f"{n} jobs"


def spend(s: Spend) -> str:
    return f"{credits(s.credits)} · {jobs(s.jobs)}"


async def server_usage_message(summary: UsageSummary, *, guild_name: str | None, offload: Offload,
                               timeout: float) -> tuple[discord.Embed, discord.File | None]:
    """The embed and its chart; without the chart (and saying so) when drawing it runs past `timeout`."""
    where = plain(guild_name, TITLE_MAX - 9) if guild_name else "this server"
    embed = discord.Embed(title=f"Usage in {where}", colour=COLOUR)
    embed.add_field(name="Today", value=spend(summary.today))
    embed.add_field(name=f"Last {WEEK} days", value=spend(summary.week))
    embed.add_field(name=f"Last {DAYS} days", value=spend(summary.month))
    models = [f"/{model} · {spend(s)}" for model, s in summary.by_model]
    embed.add_field(name=f"By model ({DAYS} days)", value=truncate("\n".join(models) or NOTHING, FIELD_VALUE_MAX),
                    inline=False)
    # <@id> text renders as the member's name; the message's AllowedMentions.none() keeps it from pinging.
    members = [f"{rank}. <@{user_id}> · {spend(s)}" for rank, (user_id, s) in enumerate(summary.top_members, 1)]
    embed.add_field(name=f"Top {TOP_MEMBERS} members ({DAYS} days)",
                    value=truncate("\n".join(members) or NOTHING, FIELD_VALUE_MAX), inline=False)
    try:
        png = await offload.run(render_chart, summary, timeout=timeout)
    except OffloadTimeout as exc:
        log.warning("the usage chart was not drawn in time (%s); sending the numbers without it", exc)
        embed.set_footer(text=FOOTER + NO_CHART)
        return embed, None
    embed.set_footer(text=FOOTER)
    embed.set_image(url=f"attachment://{FILENAME}")
    return embed, discord.File(io.BytesIO(png), filename=FILENAME)
