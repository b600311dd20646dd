"""/history, /forget and the retention sweep: what the bot keeps about a member, and removing it."""

from __future__ import annotations

import asyncio
import json
import logging

import discord
from discord import app_commands
from discord.ext import commands

from bot.app import PixazoBot, answer_error
from bot.catalog import MODELS
from bot.domain.records import JobRecord
from bot.embeds import COLOUR
from bot.errors import UserFacingError
from bot.replies import NO_PINGS
from bot.text import code_span, credits

log = logging.getLogger(__name__)

PAGE = 5
PROMPT_SHOWN = 60
DAY = 86_400.0
FORGOTTEN = "(cleared)"
FORGET_ASK = ("This clears the prompts, parameters, attachment names and result links of all your images in every "
              "server; what they cost stays. The images already posted stay in their channels (the Delete button "
              "on each removes it). Clear them?")
NOT_YOURS = "Only the member who opened this can use these buttons."


def history_line(job: JobRecord) -> str:
    delivery = json.loads(job.get("delivery") or "{}")
    prompt = FORGOTTEN if job.get("forgotten_at") is not None else code_span(delivery.get("prompt", ""), PROMPT_SHOWN)
    line = (f"**#{job['id']}** /{job['model']} · {job['state']} · <t:{int(job['created_at'])}:R> · "
            f"{credits(job['cost'])}\n{prompt}")
    if job.get("result_message_id") and job.get("result_channel_id"):
        line += (f" · [result](https://discord.com/channels/{job['guild_id']}/{job['result_channel_id']}/"
                 f"{job['result_message_id']})")
    return line


class OwnedView(discord.ui.View):
    """A view on one member's ephemeral message: errors go through the slash commands' funnel."""

    def __init__(self, owner_id: int, *, timeout: float = 600) -> None:
        super().__init__(timeout=timeout)
        self.owner_id = owner_id

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        if interaction.user.id != self.owner_id:
            await answer_error(interaction, UserFacingError(NOT_YOURS, detail="a view pressed by someone else"),
                               "button")
            return False
        return True

    async def on_error(self, interaction: discord.Interaction, error: Exception, item: discord.ui.Item, /) -> None:
        await answer_error(interaction, error, f"{type(self).__name__} button")


class HistoryView(OwnedView):
    def __init__(self, bot: PixazoBot, guild_id: int, owner_id: int, model: str | None) -> None:
        super().__init__(owner_id)
        self.bot, self.guild_id, self.model, self.offset, self.total = bot, guild_id, model, 0, 0

    async def page(self) -> discord.Embed:
        jobs, self.total = await self.bot.store.history(self.guild_id, self.owner_id, model=self.model,
                                                        offset=self.offset, limit=PAGE)
        pages = max(1, -(-self.total // PAGE))
        title = "Your images here" + (f" with /{self.model}" if self.model else "")
        embed = discord.Embed(title=title, colour=COLOUR,
                              description="\n\n".join(history_line(j) for j in jobs) or "No images yet.")
        embed.set_footer(text=f"Page {self.offset // PAGE + 1} of {pages} · {self.total} in all, newest first")
        self.previous.disabled = self.offset == 0
        self.next.disabled = self.offset + PAGE >= self.total
        return embed

    async def _turn(self, interaction: discord.Interaction, step: int) -> None:
        self.offset = max(0, self.offset + step)
        embed = await self.page()
        await interaction.response.edit_message(embed=embed, view=self, allowed_mentions=NO_PINGS)

    @discord.ui.button(label="Previous", style=discord.ButtonStyle.secondary)
    async def previous(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        await self._turn(interaction, -PAGE)

    @discord.ui.button(label="Next", style=discord.ButtonStyle.secondary)
    async def next(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        await self._turn(interaction, PAGE)


class ForgetView(OwnedView):
    def __init__(self, bot: PixazoBot, owner_id: int) -> None:
        super().__init__(owner_id, timeout=300)
        self.bot = bot

    @discord.ui.button(label="Confirm", style=discord.ButtonStyle.danger)
    async def confirm(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        cleared = await self.bot.store.forget_member(self.owner_id)
        log.info("user %s cleared the details of %d job(s) with /forget", self.owner_id, cleared)
        self.stop()
        await interaction.response.edit_message(
            content=f"Cleared the details of {cleared} {'image' if cleared == 1 else 'images'}. The images "
                    "already posted stay in their channels; the Delete button on each removes it.",
            view=None, allowed_mentions=NO_PINGS)

    @discord.ui.button(label="Cancel", style=discord.ButtonStyle.secondary)
    async def cancel(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        self.stop()
        await interaction.response.edit_message(content="Nothing was cleared.", view=None, allowed_mentions=NO_PINGS)


class History(commands.Cog):
    def __init__(self, bot: PixazoBot) -> None:
        self.bot = bot
        self._sweeper: asyncio.Task | None = None

    async def cog_load(self) -> None:
        settings = getattr(self.bot, "settings", None)  # a bare commands.Bot (the extension-loading test) has none
        if settings is not None and settings.history_retention_days > 0:
            self._sweeper = asyncio.create_task(self._sweep(settings.history_retention_days))

    async def cog_unload(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()

    async def _sweep(self, days: int) -> None:
        """HISTORY_RETENTION_DAYS: once at start, then daily. A failed sweep is retried the next day."""
        while True:
            try:
                cleared = await self.bot.store.forget_older_than(self.bot.store.now() - days * DAY)
                if cleared:
                    log.info("cleared the details of %d job(s) older than %d days", cleared, days)
            except Exception as exc:
                log.warning("the history retention sweep failed, retried in a day: %s: %s", type(exc).__name__, exc)
            await asyncio.sleep(DAY)

    @app_commands.command(name="history", description="Your images in this server, newest first")
    @app_commands.describe(model="Only images made with this model")
    @app_commands.choices(model=[app_commands.Choice(name=key, value=key) for key in MODELS])
    @app_commands.guild_only()
    async def history(self, interaction: discord.Interaction, model: str | None = None) -> None:
        assert interaction.guild_id is not None
        view = HistoryView(self.bot, interaction.guild_id, interaction.user.id, model)
        embed = await view.page()
        await interaction.response.send_message(embed=embed, view=view, ephemeral=True, allowed_mentions=NO_PINGS)

    @app_commands.command(name="forget", description="Clear the prompts and details the bot keeps about your images")
    @app_commands.guild_only()
    async def forget(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(FORGET_ASK, view=ForgetView(self.bot, interaction.user.id),
                                                ephemeral=True, allowed_mentions=NO_PINGS)


async def setup(bot: PixazoBot) -> None:
    await bot.add_cog(History(bot))
