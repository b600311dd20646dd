"""The Report button on every public result, and the form it opens (an optional reason).

Its own module so that `bot/ui/items/results.py` can put it in `result_view` while `bot/ui/items/reports.py` (which
answers the form and the moderators' Keep / Remove) builds on the results cog.
"""

from __future__ import annotations

import re
from typing import Any

import discord

from bot.core.errors import UserFacingError
from bot.moderation.config import REPORTS_HIDE_AFTER, REVIEW_CHANNEL, GuildConfig
from bot.ui import presses
from bot.ui.app import PixazoBot, answer_error

REPORTING_OFF = "Reporting results is turned off in this server."
NO_REVIEW_CHANNEL = "This server has no review channel set, so results cannot be reported here; ask a server admin."
ALREADY_REPORTED = "You already reported this image; a moderator will look at it."
REPORT_TITLE = "Report this image"
REPORT_MODAL = re.compile(rf"^result:report-modal:(?P<job>{presses.ID})$")
REPORT_REASON_MAX = 300


def reporting_channel(config: GuildConfig) -> int:
    """Where reports go, or the one sentence saying why this server takes none."""
    if int(config.get(REPORTS_HIDE_AFTER)) <= 0:
        raise UserFacingError(REPORTING_OFF, detail=f"guild {config.guild_id}: reporting is off")
    channel = config.get(REVIEW_CHANNEL)
    if channel is None:
        raise UserFacingError(NO_REVIEW_CHANNEL, detail=f"guild {config.guild_id}: a report but no review channel")
    return int(channel)


async def may_report(interaction: discord.Interaction, job_id: int) -> int:
    """The review channel a report of the job goes to; refuses (nothing recorded) otherwise."""
    bot: PixazoBot = interaction.client  # type: ignore[assignment]
    job = await presses.pressed(interaction, presses.JOB, job_id, what="report")
    channel = reporting_channel(await bot.moderation.config(job["guild_id"]))
    if await bot.store.reported_by(job_id, interaction.user.id):
        raise UserFacingError(ALREADY_REPORTED, detail=f"user {interaction.user.id} already reported job {job_id}")
    return channel


class ReportModal(discord.ui.Modal):
    """The form only: `Reports.on_interaction` answers its submission from the job's row."""

    def __init__(self, job_id: int) -> None:
        super().__init__(title=REPORT_TITLE, custom_id=f"result:report-modal:{job_id}", timeout=None)
        self.add_item(discord.ui.TextInput(label="What is wrong with it? (optional)", custom_id="reason",
                                           style=discord.TextStyle.paragraph, required=False,
                                           max_length=REPORT_REASON_MAX))
        self.stop()


class ReportButton(discord.ui.DynamicItem[discord.ui.Button], template=rf"result:report:(?P<job>{presses.ID})"):
    def __init__(self, job_id: int) -> None:
        super().__init__(discord.ui.Button(label="Report", emoji="🚩", style=discord.ButtonStyle.secondary,
                                           custom_id=f"result:report:{job_id}"))
        self.job_id = job_id

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Item[Any],
                             match: re.Match[str], /) -> ReportButton:
        return cls(int(match["job"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        try:
            await may_report(interaction, self.job_id)
            await interaction.response.send_modal(ReportModal(self.job_id))
        except Exception as exc:
            await answer_error(interaction, exc, "Report button")
