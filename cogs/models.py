"""One slash command per text-to-image model, all derived from the catalog."""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.catalog import TEXT_MODELS, Model
from bot.services.validation import prepare
from bot.ui.app import PixazoBot
from bot.ui.commands import make_command
from bot.ui.requests import admit, submit


class Models(commands.Cog):
    def __init__(self, bot: PixazoBot) -> None:
        self.bot = bot
        self.commands = [self._command_for(model) for model in TEXT_MODELS]

    def _command_for(self, model: Model) -> app_commands.Command[Any, ..., Any]:
        async def handler(interaction: discord.Interaction[PixazoBot], **options: Any) -> None:
            await generate(interaction, model, options)

        return make_command(model.key, model.summary, model.params, handler)

    async def cog_load(self) -> None:
        for command in self.commands:
            self.bot.tree.add_command(command)

    async def cog_unload(self) -> None:
        for command in self.commands:
            self.bot.tree.remove_command(command.name)


async def generate(interaction: discord.Interaction[PixazoBot], model: Model, options: dict[str, Any]) -> None:
    # Both raise before anything is deferred, so the answer is ephemeral.
    prepared = prepare(model, options)
    admission = await admit(interaction, prepared)
    await interaction.response.defer(thinking=True, ephemeral=admission.private)
    await submit(interaction, prepared, admission)


async def setup(bot: PixazoBot) -> None:
    await bot.add_cog(Models(bot))
