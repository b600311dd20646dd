"""One slash command per text-to-image model, all derived from the catalog, each with `count` (one to
four images at once) and `style` (the server's styles) beside the model's own options."""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.catalog import TEXT_MODELS, Model
from bot.moderation.styles import NAME_MAX
from bot.services.imagine import MAX_COUNT, Asked
from bot.ui.app import PixazoBot
from bot.ui.commands import make_command
from bot.ui.loop import ask, style_choices

LOOP_OPTIONS: dict[str, tuple[Any, str]] = {
    "count": (app_commands.Range[int, 1, MAX_COUNT], f"How many images, 1 to {MAX_COUNT}, each with its own seed"),
    "style": (app_commands.Range[str, 1, NAME_MAX], "One of this server's styles, put around your prompt"),
}


class Models(commands.Cog):
    def __init__(self, bot: PixazoBot) -> None:
        self.bot = bot
        self.commands = [self._command_for(model) for model in TEXT_MODELS]

    def _command_for(self, model: Model) -> app_commands.Command[Any, ..., Any]:
        async def handler(interaction: discord.Interaction[PixazoBot], **options: Any) -> None:
            await generate(interaction, model, options)

        command = make_command(model.key, model.summary, model.params, handler, optional=LOOP_OPTIONS)
        command.autocomplete("style")(style_choices)
        return command

    async def cog_load(self) -> None:
        for command in self.commands:
            self.bot.tree.add_command(command)

    async def cog_unload(self) -> None:
        for command in self.commands:
            self.bot.tree.remove_command(command.name)


async def generate(interaction: discord.Interaction[PixazoBot], model: Model, options: dict[str, Any]) -> None:
    count, style = options.pop("count", None), options.pop("style", None)
    await ask(interaction, Asked(options, model=model.key, count=count, style=style))


async def setup(bot: PixazoBot) -> None:
    await bot.add_cog(Models(bot))
