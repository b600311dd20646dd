"""/imagine: one command for members who don't care which model; and /settings, a member's defaults in
this server (applied wherever an option is left out)."""

from __future__ import annotations

from typing import Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.catalog import ASPECT_RATIOS, PROMPT_MAX_LENGTH, SEED_MAX, TEXT_MODELS
from bot.core.i18n import Text, _, _n
from bot.moderation.styles import NAME_MAX
from bot.services.imagine import MAX_COUNT, Asked
from bot.ui.app import PixazoBot
from bot.ui.i18n import for_member, model_choice
from bot.ui.installs import anywhere
from bot.ui.loop import ask, style_choices
from bot.ui.replies import NO_PINGS
from bot.ui.requests import member_of
from bot.ui.settings_view import settings_embed

MODEL_CHOICES = [app_commands.Choice(name=model_choice(m), value=m.key) for m in TEXT_MODELS]  # data: not translated
Ratio = Literal[ASPECT_RATIOS]  # type: ignore[valid-type]  # the catalog's shapes
Count = app_commands.Range[int, 1, MAX_COUNT]
OnOff = Literal["on", "off"]


class Imagine(commands.Cog):
    def __init__(self, bot: PixazoBot) -> None:
        self.bot = bot

    @app_commands.command(name="imagine", description="Make images from a prompt; the model, style and count "
                                                      "are yours to pick or come from /settings")
    @anywhere
    @app_commands.describe(prompt="What to draw", model="Which model (default: yours in /settings, or the server's)",
                           style="One of this server's styles, put around your prompt",
                           count=f"How many images, 1 to {MAX_COUNT}, each with its own seed",
                           aspect_ratio="Shape of the image", negative_prompt="What to keep out of the image",
                           seed="Seed of the first image, to make the same again (random when empty)")
    @app_commands.choices(model=MODEL_CHOICES)
    @app_commands.autocomplete(style=style_choices)
    async def imagine(self, interaction: discord.Interaction[PixazoBot],
                      prompt: app_commands.Range[str, 1, PROMPT_MAX_LENGTH], model: str | None = None,
                      style: app_commands.Range[str, 1, NAME_MAX] | None = None, count: Count | None = None,
                      aspect_ratio: Ratio | None = None,
                      negative_prompt: app_commands.Range[str, 1, PROMPT_MAX_LENGTH] | None = None,
                      seed: app_commands.Range[int, 0, SEED_MAX] | None = None) -> None:
        options = {"prompt": prompt, "negative_prompt": negative_prompt, "seed": seed}
        await ask(interaction, Asked(options, model=model, count=count, style=style, aspect_ratio=aspect_ratio,
                                     imagine=True))

    # Per member per server; where no server decides (DMs, servers that did not add the bot), the
    # member's personal defaults, as personal credits pay there.
    settings = anywhere(app_commands.Group(name="settings", description="Your defaults in this server, or for "
                                                                        "your personal use"))

    @settings.command(name="show", description="Your defaults in this server")
    async def settings_show(self, interaction: discord.Interaction[PixazoBot]) -> None:
        await self._answer(interaction, "")

    @settings.command(name="set", description="Set your defaults here (`none` clears a text value)")
    @app_commands.describe(model="/imagine's model", aspect_ratio="Shape of /imagine's images",
                           count=f"How many images, 1 to {MAX_COUNT}", negative_prompt="What to keep out (none: clear)",
                           style="A style of this server (none: clear)",
                           only_me="Results shown to you alone, where this server allows it")
    @app_commands.choices(model=[*MODEL_CHOICES, app_commands.Choice(name="The server's default", value="none")])
    @app_commands.autocomplete(style=style_choices)
    async def settings_set(self, interaction: discord.Interaction[PixazoBot], model: str | None = None,
                           aspect_ratio: Ratio | None = None, count: Count | None = None,
                           negative_prompt: app_commands.Range[str, 1, PROMPT_MAX_LENGTH] | None = None,
                           style: app_commands.Range[str, 1, NAME_MAX] | None = None,
                           only_me: OnOff | None = None) -> None:
        member = member_of(interaction)
        config = await self.bot.services.moderation.config(member.guild_id)
        given = {"model": model, "aspect_ratio": aspect_ratio, "count": count, "negative_prompt": negative_prompt,
                 "style": style, "private": None if only_me is None else only_me == "on"}
        await self.bot.services.imagine.set_defaults(member, given, config)
        await self._answer(interaction, _("Saved."))

    @settings.command(name="reset", description="Clear all your defaults in this server")
    async def settings_reset(self, interaction: discord.Interaction[PixazoBot]) -> None:
        cleared = await self.bot.services.imagine.reset(member_of(interaction))
        await self._answer(interaction, _n("Cleared {n} default.", "Cleared {n} defaults.", cleared) if cleared else
                           _("You had no defaults here."))

    async def _answer(self, interaction: discord.Interaction[PixazoBot], said: Text | str) -> None:
        member = member_of(interaction)
        config = await self.bot.services.moderation.config(member.guild_id)
        defaults = await self.bot.services.imagine.defaults(member)
        t = for_member(interaction)
        await interaction.response.send_message(t(said) or None, embed=settings_embed(defaults, config, t),
                                                ephemeral=True, allowed_mentions=NO_PINGS)


async def setup(bot: PixazoBot) -> None:
    await bot.add_cog(Imagine(bot))
