"""/inpaint: repaint the white part of a mask, from two attached files."""

from __future__ import annotations

import collections
from typing import Any

import discord
from discord.ext import commands

from bot.catalog import INPAINT
from bot.services.inpaint import Upload, ledger_inputs, prepare_inpaint
from bot.services.validation import prepare
from bot.ui.app import PixazoBot
from bot.ui.commands import make_command
from bot.ui.requests import admit, member_of, submit

IMAGE_HELP = "The picture to change: PNG, JPEG or WebP"
MASK_HELP = "Same size as the image: white is repainted, black is kept"


def _upload(role: str, attachment: discord.Attachment) -> Upload:
    return Upload(role, attachment.filename, attachment.url, attachment.size, attachment.content_type,
                  attachment.width, attachment.height)


class Inpaint(commands.Cog):
    def __init__(self, bot: PixazoBot) -> None:
        self.bot = bot
        # Per user: /inpaint commands whose files are being checked, not yet reserved in the ledger.
        self._checking: collections.Counter[int] = collections.Counter()
        self.command = make_command("inpaint", INPAINT.summary, INPAINT.params, self.inpaint,
                                    extra={"image": (discord.Attachment, IMAGE_HELP),
                                           "mask": (discord.Attachment, MASK_HELP)})

    async def cog_load(self) -> None:
        self.bot.tree.add_command(self.command)

    async def cog_unload(self) -> None:
        self.bot.tree.remove_command(self.command.name)

    async def inpaint(self, interaction: discord.Interaction[PixazoBot], image: discord.Attachment,
                      mask: discord.Attachment, **options: Any) -> None:
        inpainter = interaction.client.services.inpaint
        uploads = (_upload("image", image), _upload("mask", mask))
        # Everything knowable without a download is refused at once, privately and for free.
        admission = await admit(interaction, prepare(INPAINT, options))
        declared = inpainter.precheck(uploads)
        await interaction.response.defer(thinking=True, ephemeral=admission.private)
        user = interaction.user.id
        self._checking[user] += 1  # before the precheck awaits, so commands fired together see each other
        try:
            checked = await inpainter.check(member_of(interaction), INPAINT.key, uploads, declared,
                                            pending=self._checking[user] - 1)
        finally:
            self._checking[user] -= 1
            if not self._checking[user]:
                del self._checking[user]
        prepared = prepare_inpaint(INPAINT, options, *checked)
        await submit(interaction, prepared, admission, inputs=ledger_inputs(*checked), original=image)


async def setup(bot: PixazoBot) -> None:
    await bot.add_cog(Inpaint(bot))
