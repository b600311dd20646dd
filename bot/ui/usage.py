"""The server usage view of `/quotas usage` (cogs/quotas.py) as an admin sees it: an embed with the
totals, the models and the top members, and the chart attached as its image. Not an extension."""

from __future__ import annotations

import io
import logging
from collections.abc import Callable

import discord

from bot.core.i18n import Text, _, _n
from bot.core.offload import Offload, OffloadTimeout
from bot.core.text import credits, plain, truncate
from bot.services.usage_chart import FILENAME, render_chart
from bot.services.usage_view import DAYS, TOP_MEMBERS, WEEK, Spend, UsageSummary
from bot.ui.embeds import COLOUR, FIELD_VALUE_MAX, TITLE_MAX

log = logging.getLogger(__name__)
NOTHING = _("No credits spent in the last {days} days.", days=DAYS)
FOOTER = _("UTC days. Failed and cancelled jobs are refunded and not counted; a reset gives a member credits back "
           "but does not change what the server spent.")
FOOTER_NO_CHART = _("UTC days. Failed and cancelled jobs are refunded and not counted; a reset gives a member credits "
                    "back but does not change what the server spent. The chart took too long to draw this time; the "
                    "numbers are complete.")
NO_CHART = str(FOOTER_NO_CHART).removeprefix(str(FOOTER))  # the English footer's tail when the chart is missing


def spend(s: Spend) -> Text:
    return _("{credits} · {jobs}", credits=credits(s.credits), jobs=_n("{n} job", "{n} jobs", s.jobs))


async def server_usage_message(summary: UsageSummary, *, guild_name: str | None, offload: Offload,
                               timeout: float, t: Callable[[Text | str], str] = str,
                               ) -> tuple[discord.Embed, discord.File | None]:
    """The embed (worded by `t`, the admin's language) and its chart; without the chart (and saying so)
    when drawing it runs past `timeout`."""
    where = plain(guild_name, TITLE_MAX - 9) if guild_name else t(_("this server"))
    embed = discord.Embed(title=t(_("Usage in {server}", server=where)), colour=COLOUR)
    embed.add_field(name=t(_("Today")), value=t(spend(summary.today)))
    embed.add_field(name=t(_("Last {days} days", days=WEEK)), value=t(spend(summary.week)))
    embed.add_field(name=t(_("Last {days} days", days=DAYS)), value=t(spend(summary.month)))
    models = [f"/{model} · {t(spend(s))}" for model, s in summary.by_model]
    embed.add_field(name=t(_("By model ({days} days)", days=DAYS)),
                    value=truncate("\n".join(models) or t(NOTHING), FIELD_VALUE_MAX), inline=False)
    # <@id> text renders as the member's name; the message's AllowedMentions.none() keeps it from pinging.
    members = [f"{rank}. <@{user_id}> · {t(spend(s))}" for rank, (user_id, s) in enumerate(summary.top_members, 1)]
    embed.add_field(name=t(_("Top {top} members ({days} days)", top=TOP_MEMBERS, days=DAYS)),
                    value=truncate("\n".join(members) or t(NOTHING), FIELD_VALUE_MAX), inline=False)
    try:
        png = await offload.run(render_chart, summary, timeout=timeout)
    except OffloadTimeout as exc:
        log.warning("the usage chart was not drawn in time (%s); sending the numbers without it", exc)
        embed.set_footer(text=t(FOOTER_NO_CHART))
        return embed, None
    embed.set_footer(text=t(FOOTER))
    embed.set_image(url=f"attachment://{FILENAME}")
    return embed, discord.File(io.BytesIO(png), filename=FILENAME)
