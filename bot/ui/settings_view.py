"""What /settings shows: a member's defaults in this server, and what applies where they set nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import discord

from bot.catalog import MODELS
from bot.core.i18n import Text, _
from bot.core.text import code_block, code_span
from bot.domain import PERSONAL
from bot.moderation.config import IMAGINE_MODEL, PRIVATE_RESULTS, GuildConfig
from bot.ui.embeds import COLOUR

NOT_SET = _("not set")
PERSONAL_TITLE = _("Your defaults where your personal credits pay (DMs, servers that have not added the bot)")


def settings_embed(defaults: dict[str, Any], config: GuildConfig,
                   t: Callable[[Text | str], str] = str) -> discord.Embed:
    """The embed, worded by `t` (the member's language; English by default)."""
    personal = config.guild_id == PERSONAL  # DMs and servers that did not add the bot: the member's own
    embed = discord.Embed(title=t(PERSONAL_TITLE if personal else _("Your defaults in this server")), colour=COLOUR,
                          description=t(_("Used wherever you leave an option out; an option you give always wins.")))
    server_model = config.get(IMAGINE_MODEL)
    model = defaults.get("model")
    unset_model = (_("not set (the bot's: /{command})", command=server_model) if personal else
                   _("not set (the server's: /{command})", command=server_model))
    embed.add_field(name=t(_("Model for /imagine")), value=f"/{model}" if model in MODELS else t(unset_model))
    embed.add_field(name=t(_("Aspect ratio")), value=str(defaults.get("aspect_ratio") or t(_("not set (1:1)"))))
    embed.add_field(name=t(_("Count")), value=str(defaults.get("count") or t(_("not set (1)"))))
    style = defaults.get("style")
    if style and style not in config.styles:
        shown_style = t(_("{style} (no longer offered here: not used)", style=code_span(style, 40)))
    else:
        shown_style = code_span(style, 40) if style else t(NOT_SET)
    embed.add_field(name=t(_("Style")), value=shown_style)
    allowed = bool(config.get(PRIVATE_RESULTS))
    on = bool(defaults.get("private"))
    if personal:
        only_me = _("always, where a server has not added the bot; a DM is yours anyway")
    elif not allowed:
        only_me = _("on (this server does not offer it)") if on else _("off (this server does not offer it)")
    else:
        only_me = _("on") if on else _("off")
    embed.add_field(name=t(_("Results only to me")), value=t(only_me))
    negative = defaults.get("negative_prompt")
    embed.add_field(name=t(_("Negative prompt")), value=code_block(str(negative), 1000) if negative else t(NOT_SET),
                    inline=False)
    return embed
