"""What /settings shows: a member's defaults in this server, and what applies where they set nothing."""

from __future__ import annotations

from typing import Any

import discord

from bot.catalog import MODELS
from bot.core.text import code_block, code_span
from bot.domain import PERSONAL
from bot.moderation.config import IMAGINE_MODEL, PRIVATE_RESULTS, GuildConfig
from bot.ui.embeds import COLOUR

NOT_SET = "not set"
PERSONAL_TITLE = "Your defaults where your personal credits pay (DMs, servers that have not added the bot)"


def settings_embed(defaults: dict[str, Any], config: GuildConfig) -> discord.Embed:
    personal = config.guild_id == PERSONAL  # DMs and servers that did not add the bot: the member's own
    embed = discord.Embed(title=PERSONAL_TITLE if personal else "Your defaults in this server", colour=COLOUR,
                          description="Used wherever you leave an option out; an option you give always wins.")
    server_model = config.get(IMAGINE_MODEL)
    model = defaults.get("model")
    embed.add_field(name="Model for /imagine", value=f"/{model}" if model in MODELS else
                    f"{NOT_SET} (the {'bot' if personal else 'server'}'s: /{server_model})")
    embed.add_field(name="Aspect ratio", value=str(defaults.get("aspect_ratio") or f"{NOT_SET} (1:1)"))
    embed.add_field(name="Count", value=str(defaults.get("count") or f"{NOT_SET} (1)"))
    style = defaults.get("style")
    if style and style not in config.styles:
        shown_style = f"{code_span(style, 40)} (no longer offered here: not used)"
    else:
        shown_style = code_span(style, 40) if style else NOT_SET
    embed.add_field(name="Style", value=shown_style)
    allowed = bool(config.get(PRIVATE_RESULTS))
    only_me = "on" if defaults.get("private") else "off"
    if personal:
        only_me = "always, where a server has not added the bot; a DM is yours anyway"
    elif not allowed:
        only_me += " (this server does not offer it)"
    embed.add_field(name="Results only to me", value=only_me)
    negative = defaults.get("negative_prompt")
    embed.add_field(name="Negative prompt", value=code_block(str(negative), 1000) if negative else NOT_SET, inline=False)
    return embed
