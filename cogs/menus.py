"""The message menus (Apps ▸ …) on any message with a picture, a member's own upload included:
"Inpaint this…" (repaint a region, or the white of the member's own mask) and "Zoom out this". Each
checks the picture as far as Discord describes it (type, size, pixels) before opening its form, whose
prompt is the result's own on one of the bot's results; the form's submission checks the file itself and
runs it (bot/ui/items/edits.py)."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.ui.app import PixazoBot
from bot.ui.edit_forms import region_form, zoom_form
from bot.ui.i18n import for_member
from bot.ui.installs import server_only
from bot.ui.items.edits import known_prompt, picture_of

INPAINT_THIS = "Inpaint this…"
ZOOM_THIS = "Zoom out this"


class Menus(commands.Cog):
    def __init__(self, bot: PixazoBot) -> None:
        self.bot = bot
        # A server's, like the edits under its results: where no server decides, none of them are offered.
        self.menus = [server_only(app_commands.ContextMenu(name=name, callback=callback))
                      for name, callback in ((INPAINT_THIS, self.inpaint_this), (ZOOM_THIS, self.zoom_this))]

    async def cog_load(self) -> None:
        for menu in self.menus:
            self.bot.tree.add_command(menu)

    async def cog_unload(self) -> None:
        for menu in self.menus:
            self.bot.tree.remove_command(menu.name, type=menu.type)

    async def inpaint_this(self, interaction: discord.Interaction[PixazoBot], message: discord.Message) -> None:
        form_id = _form_id("inpaint", interaction, message)
        await interaction.response.send_modal(region_form(form_id, await known_prompt(interaction, message),
                                                          for_member(interaction)))

    async def zoom_this(self, interaction: discord.Interaction[PixazoBot], message: discord.Message) -> None:
        form_id = _form_id("zoom", interaction, message)
        await interaction.response.send_modal(zoom_form(form_id, await known_prompt(interaction, message),
                                                        for_member(interaction)))


def _form_id(op: str, interaction: discord.Interaction[PixazoBot], message: discord.Message) -> str:
    """The form's custom_id, once the picture passed what Discord's description of it tells (a refusal is
    private and costs nothing): the member's own form, about this message."""
    interaction.client.services.edits.precheck(picture_of(message))
    return f"menu:{op}:{interaction.user.id}:{message.channel.id}:{message.id}"


async def setup(bot: PixazoBot) -> None:
    await bot.add_cog(Menus(bot))
