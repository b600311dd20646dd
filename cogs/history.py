"""/history, /forget and the retention sweep: what the bot keeps about a member, and removing it."""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.catalog import MODELS
from bot.core.text import code_span, credits
from bot.domain.records import JobRecord, prompt_of
from bot.ui import presses
from bot.ui.app import PixazoBot, answer_error
from bot.ui.embeds import COLOUR
from bot.ui.replies import NO_PINGS

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
    prompt = FORGOTTEN if job.get("forgotten_at") is not None else code_span(prompt_of(job), PROMPT_SHOWN)
    line = (f"**#{job['id']}** /{job['model']} · {job['state']} · <t:{int(job['created_at'])}:R> · "
            f"{credits(job['cost'])}\n{prompt}")
    if job.get("result_message_id") and job.get("result_channel_id"):
        line += (f" · [result](https://discord.com/channels/{job['guild_id']}/{job['result_channel_id']}/"
                 f"{job['result_message_id']})")
    return line


async def history_page(bot: PixazoBot, guild_id: int | None, owner_id: int, model: str | None,
                       offset: int) -> tuple[discord.Embed, discord.ui.View]:
    """One page of a member's /history in a server, with Previous and Next."""
    jobs, total = await bot.store.history(guild_id or 0, owner_id, model=model, offset=offset, limit=PAGE)
    pages = max(1, -(-total // PAGE))
    title = "Your images here" + (f" with /{model}" if model else "")
    embed = discord.Embed(title=title, colour=COLOUR,
                          description="\n\n".join(history_line(j) for j in jobs) or "No images yet.")
    embed.set_footer(text=f"Page {offset // PAGE + 1} of {pages} · {total} in all, newest first")
    view = discord.ui.View(timeout=None)
    view.add_item(PageButton(owner_id, max(0, offset - PAGE), model, label="Previous", disabled=offset == 0))
    view.add_item(PageButton(owner_id, offset + PAGE, model, label="Next", disabled=offset + PAGE >= total))
    view.stop()  # the dynamic items answer the presses, now and after a restart
    return embed, view


class PageButton(discord.ui.DynamicItem[discord.ui.Button],
                 template=rf"history:page:(?P<owner>{presses.ID}):(?P<offset>[0-9]{{1,9}}):(?P<model>[a-z0-9-]{{0,40}})"):
    """Previous or Next: the custom_id carries whose history, the page's first row and the model
    filter, so a page turns after a restart as before it."""

    def __init__(self, owner_id: int, offset: int, model: str | None, *, label: str | None = None,
                 disabled: bool = False) -> None:
        super().__init__(discord.ui.Button(label=label, style=discord.ButtonStyle.secondary, disabled=disabled,
                                           custom_id=f"history:page:{owner_id}:{offset}:{model or ''}"))
        self.owner_id, self.offset, self.model = owner_id, offset, model or None

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Item[Any],
                             match: re.Match[str], /) -> PageButton:
        return cls(int(match["owner"]), int(match["offset"]), match["model"])

    async def callback(self, interaction: discord.Interaction) -> None:
        try:
            await presses.pressed(interaction, presses.MEMBER, self.owner_id, what="history page",
                                  who=presses.Who.OWNER, refusal=NOT_YOURS)
            embed, view = await history_page(interaction.client, interaction.guild_id,  # type: ignore[arg-type]
                                             self.owner_id, self.model, self.offset)
            await interaction.response.edit_message(embed=embed, view=view, allowed_mentions=NO_PINGS)
        except Exception as exc:
            await answer_error(interaction, exc, "History page button")


def forget_question(owner_id: int) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(ForgetButton(owner_id, confirm=True))
    view.add_item(ForgetButton(owner_id, confirm=False))
    view.stop()  # the dynamic items answer the presses, now and after a restart
    return view


class ForgetButton(discord.ui.DynamicItem[discord.ui.Button],
                   template=rf"forget:(?P<choice>confirm|cancel):(?P<owner>{presses.ID})"):
    """/forget's Confirm and Cancel: the custom_id carries whose details they clear."""

    def __init__(self, owner_id: int, *, confirm: bool) -> None:
        super().__init__(discord.ui.Button(
            label="Confirm" if confirm else "Cancel",
            style=discord.ButtonStyle.danger if confirm else discord.ButtonStyle.secondary,
            custom_id=f"forget:{'confirm' if confirm else 'cancel'}:{owner_id}"))
        self.owner_id, self.confirm = owner_id, confirm

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Item[Any],
                             match: re.Match[str], /) -> ForgetButton:
        return cls(int(match["owner"]), confirm=match["choice"] == "confirm")

    async def callback(self, interaction: discord.Interaction) -> None:
        try:
            await self._answer(interaction)
        except Exception as exc:
            await answer_error(interaction, exc, f"/forget {'Confirm' if self.confirm else 'Cancel'} button")

    async def _answer(self, interaction: discord.Interaction) -> None:
        await presses.pressed(interaction, presses.MEMBER, self.owner_id, what="/forget", who=presses.Who.OWNER,
                              refusal=NOT_YOURS)
        if not self.confirm:
            await interaction.response.edit_message(content="Nothing was cleared.", view=None,
                                                    allowed_mentions=NO_PINGS)
            return
        bot: PixazoBot = interaction.client  # type: ignore[assignment]
        cleared = await bot.store.forget_member(self.owner_id)
        log.info("user %s cleared the details of %d job(s) with /forget", self.owner_id, cleared)
        await interaction.response.edit_message(
            content=f"Cleared the details of {cleared} {'image' if cleared == 1 else 'images'}. The images "
                    "already posted stay in their channels; the Delete button on each removes it.",
            view=None, allowed_mentions=NO_PINGS)


class History(commands.Cog):
    def __init__(self, bot: PixazoBot) -> None:
        self.bot = bot
        self._sweeper: asyncio.Task | None = None

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(PageButton, ForgetButton)
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
        embed, view = await history_page(self.bot, interaction.guild_id, interaction.user.id, model, 0)
        await interaction.response.send_message(embed=embed, view=view, ephemeral=True, allowed_mentions=NO_PINGS)

    @app_commands.command(name="forget", description="Clear the prompts and details the bot keeps about your images")
    @app_commands.guild_only()
    async def forget(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(FORGET_ASK, view=forget_question(interaction.user.id),
                                                ephemeral=True, allowed_mentions=NO_PINGS)


async def setup(bot: PixazoBot) -> None:
    await bot.add_cog(History(bot))
