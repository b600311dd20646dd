"""/inpaint: repaint the white part of a mask, from two attached files."""

from __future__ import annotations

import asyncio
import collections
import time
from typing import Any

import discord
from discord.ext import commands

from bot.catalog import INPAINT
from bot.services.inpaint import Upload, check_pair, check_upload, ledger_inputs, precheck, prepare_inpaint
from bot.services.validation import prepare
from bot.ui.app import PixazoBot
from cogs.models import admit, make_command, member_of, run_and_post

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

    async def inpaint(self, interaction: discord.Interaction, image: discord.Attachment, mask: discord.Attachment,
                      **options: Any) -> None:
        started = time.monotonic()
        settings = self.bot.settings
        uploads = (_upload("image", image), _upload("mask", mask))
        # Everything knowable without a download is refused at once, privately and for free.
        admission = await admit(self.bot, interaction, prepare(INPAINT, options))
        declared = [precheck(upload, max_bytes=settings.inpaint_max_file_bytes) for upload in uploads]
        await interaction.response.defer(thinking=True, ephemeral=admission.private)
        user = interaction.user.id
        self._checking[user] += 1  # before the precheck awaits, so commands fired together see each other
        try:
            # A member who could not pay, or has enough going already, makes the bot download nothing.
            await self.bot.quotas.precheck(member_of(interaction), INPAINT.key, pending=self._checking[user] - 1)
            image_checked, mask_checked = await asyncio.gather(*(
                check_upload(self.bot.http_session, self.bot.offload, upload, fmt,
                             max_bytes=settings.inpaint_max_file_bytes, timeout=settings.pixazo_timeout_seconds,
                             work_timeout=settings.image_work_timeout_seconds)
                for upload, fmt in zip(uploads, declared, strict=True)
            ))
        finally:
            self._checking[user] -= 1
            if not self._checking[user]:
                del self._checking[user]
        check_pair(image_checked, mask_checked)
        prepared = prepare_inpaint(INPAINT, options, image_checked, mask_checked)
        await run_and_post(self.bot, interaction, prepared, started, admission,
                           inputs=ledger_inputs(image_checked, mask_checked), original=image)


async def setup(bot: PixazoBot) -> None:
    await bot.add_cog(Inpaint(bot))
