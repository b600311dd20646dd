"""The buttons on every result: Details and Delete (persistent, the custom_id carries the job id).

Each is a `DynamicItem` registered at start, so a button on a result posted before a restart is
answered by the new process from the job's row. Errors go through `answer_error`, the funnel the
slash commands use.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

import discord
from discord.ext import commands

from bot.app import PixazoBot, answer_error
from bot.catalog import MODELS
from bot.domain.records import JobRecord
from bot.errors import UserFacingError
from bot.replies import NO_PINGS
from bot.reproduce import command_for
from bot.text import code_block, code_span, credits

log = logging.getLogger(__name__)

UNKNOWN = "That image is no longer known to the bot."
FORGOTTEN = "The details of that image were cleared (by /forget or after the history retention period)."
NOT_YOURS = "Only the member who asked for this image, or someone who can manage messages here, can delete it."
DELETED = "Deleted. The credits stay spent: the image was made."
DESCRIPTION_MAX = 4096
# Shown in full in the command; listed again they could push Details past Discord's limit.
IN_COMMAND = ("prompt", "negative_prompt")


async def job_or_refuse(interaction: discord.Interaction, job_id: int, what: str) -> JobRecord:
    bot: PixazoBot = interaction.client  # type: ignore[assignment]
    job = await bot.store.job(job_id)
    if job is None or job["guild_id"] != interaction.guild_id:
        raise UserFacingError(UNKNOWN, detail=f"{what} of unknown job {job_id} in guild {interaction.guild_id}")
    return job


def details_text(job: JobRecord) -> str:
    delivery = json.loads(job.get("delivery") or "{}")
    model = MODELS[job["model"]]
    shown = [(name, value) for name, value in delivery.get("shown", ())]
    taken = (f"{job['finished_at'] - job['started_at']:.1f} s"
             if job.get("finished_at") and job.get("started_at") else "not finished")
    lines = [f"**Job #{job['id']}** · {model.title} · asked by <@{job['user_id']}> <t:{int(job['created_at'])}:f>",
             f"State: {job['state']} · time taken: {taken} · cost: {credits(job['cost'])}"]
    lines += [f"{name.replace('_', ' ')}: {code_span(value, 200)}" for name, value in shown if name not in IN_COMMAND]
    if job.get("inputs"):
        lines.append("Made from an attached image and mask: the command needs them attached again.")
    lines.append("Make it again:")
    head = "\n".join(lines)
    return head + "\n" + code_block(command_for(model, delivery.get("prompt", ""), shown),
                                    DESCRIPTION_MAX - len(head) - 1)


class DetailsButton(discord.ui.DynamicItem[discord.ui.Button], template=r"result:details:(?P<job>[0-9]{1,19})"):
    def __init__(self, job_id: int) -> None:
        super().__init__(discord.ui.Button(label="Details", emoji="ℹ️", style=discord.ButtonStyle.secondary,
                                           custom_id=f"result:details:{job_id}"))
        self.job_id = job_id

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Item[Any],
                             match: re.Match[str], /) -> DetailsButton:
        return cls(int(match["job"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        try:
            job = await job_or_refuse(interaction, self.job_id, "details")
            if job.get("forgotten_at") is not None:
                raise UserFacingError(FORGOTTEN, detail=f"details of forgotten job {self.job_id}")
            embed = discord.Embed(description=details_text(job))
            await interaction.response.send_message(embed=embed, ephemeral=True, allowed_mentions=NO_PINGS)
        except Exception as exc:
            await answer_error(interaction, exc, "Details button")


class DeleteButton(discord.ui.DynamicItem[discord.ui.Button], template=r"result:delete:(?P<job>[0-9]{1,19})"):
    def __init__(self, job_id: int) -> None:
        super().__init__(discord.ui.Button(label="Delete", emoji="🗑️", style=discord.ButtonStyle.danger,
                                           custom_id=f"result:delete:{job_id}"))
        self.job_id = job_id

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Item[Any],
                             match: re.Match[str], /) -> DeleteButton:
        return cls(int(match["job"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        try:
            await self._delete(interaction)
        except Exception as exc:
            await answer_error(interaction, exc, "Delete button")

    async def _delete(self, interaction: discord.Interaction) -> None:
        job = await job_or_refuse(interaction, self.job_id, "delete")
        if interaction.user.id != job["user_id"] and not interaction.permissions.manage_messages:
            raise UserFacingError(NOT_YOURS, detail=f"user {interaction.user.id} may not delete job {self.job_id}")
        if interaction.message is None:
            raise UserFacingError("That message is already gone.", detail=f"delete of job {self.job_id}: no message")
        try:
            await interaction.message.delete()
        except discord.NotFound:
            raise UserFacingError("That message is already gone.", detail=f"job {self.job_id}: already deleted") from None
        except discord.HTTPException as exc:
            raise UserFacingError("Discord would not let the bot delete that message.",
                                  detail=f"delete of job {self.job_id}: HTTP {exc.status}: {exc.text}") from None
        log.info("result of job %d deleted by user %s", self.job_id, interaction.user.id)
        await interaction.response.send_message(DELETED, ephemeral=True, allowed_mentions=NO_PINGS)


RESULT_BUTTONS = (DetailsButton, DeleteButton)


def result_view(job_id: int) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    for button in RESULT_BUTTONS:
        view.add_item(button(job_id))
    # Finished at once, as the Cancel view: the dynamic items answer the presses, now and after a restart.
    view.stop()
    return view


class Results(commands.Cog):
    def __init__(self, bot: PixazoBot) -> None:
        self.bot = bot

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(*RESULT_BUTTONS)


async def setup(bot: PixazoBot) -> None:
    await bot.add_cog(Results(bot))
