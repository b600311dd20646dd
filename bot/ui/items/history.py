"""/history's pages and /forget's question: their buttons (persistent: the custom_id carries whose they
are) and the messages they show."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any, Self

import discord

from bot.core.i18n import Text, _, _n
from bot.core.text import code_span, credits
from bot.domain import PERSONAL, JobState
from bot.domain.delivery import UNDELIVERED
from bot.domain.records import JobRecord, prompt_of
from bot.services.history import PAGE
from bot.services.results import STATES
from bot.ui import presses
from bot.ui.embeds import COLOUR
from bot.ui.i18n import for_member
from bot.ui.installs import scope_of
from bot.ui.items.base import Interaction, Press, finished_view
from bot.ui.replies import NO_PINGS

log = logging.getLogger(__name__)
Words = Callable[[Text | str], str]

PROMPT_SHOWN = 60
FORGOTTEN = _("(cleared)")
FORGET_ASK = _("This clears the prompts, parameters, attachment names and result links of all your images, and your "
               "/settings defaults, in every server; what they cost stays. The images already posted stay in their channels (the Delete button "
               "on each removes it). Clear them?")
NOT_YOURS = _("Only the member who opened this can use these buttons.")
UNDELIVERED_NOTE = _("Not delivered: the command's reply had expired and your DMs with the bot are closed, so its "
                     "credits were refunded.")


def history_line(job: JobRecord, t: Words = str) -> str:
    prompt = t(FORGOTTEN) if job.get("forgotten_at") is not None else code_span(prompt_of(job), PROMPT_SHOWN)
    state = str(job["state"])
    refunded = t(_(", refunded")) if job["state"] in (JobState.FAILED, JobState.CANCELLED) else ""
    line = (f"**#{job['id']}** /{job['model']} · {t(STATES.get(state, state))} · <t:{int(job['created_at'])}:R> · "
            f"{t(credits(job['cost']))}{refunded}\n{prompt}")
    if job["state"] == JobState.FAILED and (job.get("error") or "").startswith(UNDELIVERED):
        line += f"\n{t(UNDELIVERED_NOTE)}"
    delivery = job.get("delivery")
    only_seen = delivery is not None and delivery.private and job.get("result_channel_id") == job.get("channel_id")
    if job.get("result_message_id") and job.get("result_channel_id") and not only_seen:
        # A personal result lives in a DM (Discord's links name it @me); one only its member saw, nowhere.
        where = "@me" if job["guild_id"] == PERSONAL else job["guild_id"]
        line += t(_(" · [result]({link})", link=f"https://discord.com/channels/{where}/{job['result_channel_id']}/"
                                                f"{job['result_message_id']}"))
    return line


async def history_page(interaction: Interaction, owner_id: int, model: str | None,
                       offset: int) -> tuple[discord.Embed, discord.ui.View]:
    """One page of a member's /history where they are (a server that added the bot, or their personal
    images anywhere else), with Previous and Next."""
    scope = scope_of(interaction)
    jobs, total = await interaction.client.services.history.page(scope, owner_id, model, offset)
    pages = max(1, -(-total // PAGE))
    t = for_member(interaction)
    if scope == PERSONAL:
        title = t(_("Your personal images with /{command}", command=model) if model else _("Your personal images"))
    else:
        title = t(_("Your images here with /{command}", command=model) if model else _("Your images here"))
    embed = discord.Embed(title=title, colour=COLOUR,
                          description="\n\n".join(history_line(j, t) for j in jobs) or t(_("No images yet.")))
    embed.set_footer(text=t(_("Page {page} of {pages} · {total} in all, newest first", page=offset // PAGE + 1,
                              pages=pages, total=total)))
    return embed, finished_view(
        PageButton(owner_id, max(0, offset - PAGE), model, label=t(_("Previous")), disabled=offset == 0),
        PageButton(owner_id, offset + PAGE, model, label=t(_("Next")), disabled=offset + PAGE >= total))


class PageButton(Press,
                 template=rf"history:page:(?P<owner>{presses.ID}):(?P<offset>[0-9]{{1,9}}):(?P<model>[a-z0-9-]{{0,40}})"):
    """Previous or Next: the custom_id carries whose history, the page's first row and the model
    filter, so a page turns after a restart as before it."""

    subject, what, where, id_group = presses.MEMBER, "history page", "History page button", "owner"
    who, refusal = presses.Who.OWNER, NOT_YOURS

    def __init__(self, owner_id: int, offset: int, model: str | None, *, label: str | None = None,
                 disabled: bool = False) -> None:
        super().__init__(owner_id, discord.ui.Button(label=label, style=discord.ButtonStyle.secondary,
                                                     disabled=disabled,
                                                     custom_id=f"history:page:{owner_id}:{offset}:{model or ''}"))
        self.offset, self.model = offset, model or None

    @classmethod
    def from_match(cls, match: re.Match[str]) -> Self:
        return cls(int(match["owner"]), int(match["offset"]), match["model"])

    async def act(self, interaction: Interaction, row: Any) -> None:
        embed, view = await history_page(interaction, self.row_id, self.model, self.offset)
        await interaction.response.edit_message(embed=embed, view=view, allowed_mentions=NO_PINGS)


def forget_question(owner_id: int, t: Words = str) -> discord.ui.View:
    return finished_view(ForgetButton(owner_id, confirm=True, t=t), ForgetButton(owner_id, confirm=False, t=t))


class ForgetButton(Press, template=rf"forget:(?P<choice>confirm|cancel):(?P<owner>{presses.ID})"):
    """/forget's Confirm and Cancel: the custom_id carries whose details they clear."""

    subject, what, id_group = presses.MEMBER, "/forget", "owner"
    who, refusal = presses.Who.OWNER, NOT_YOURS

    def __init__(self, owner_id: int, *, confirm: bool, t: Words = str) -> None:
        super().__init__(owner_id, discord.ui.Button(
            label=t(_("Confirm") if confirm else _("Cancel")),
            style=discord.ButtonStyle.danger if confirm else discord.ButtonStyle.secondary,
            custom_id=f"forget:{'confirm' if confirm else 'cancel'}:{owner_id}"))
        self.confirm = confirm
        self.where = f"/forget {'Confirm' if confirm else 'Cancel'} button"

    @classmethod
    def from_match(cls, match: re.Match[str]) -> Self:
        return cls(int(match["owner"]), confirm=match["choice"] == "confirm")

    async def act(self, interaction: Interaction, row: Any) -> None:
        t = for_member(interaction)
        if not self.confirm:
            await interaction.response.edit_message(content=t(_("Nothing was cleared.")), view=None,
                                                    allowed_mentions=NO_PINGS)
            return
        cleared = await interaction.client.services.history.forget(self.row_id)
        await interaction.response.edit_message(
            content=t(_n("Cleared the details of {n} image, and your /settings defaults in every server. The images "
                         "already posted stay in their channels; the Delete button on each removes it.",
                         "Cleared the details of {n} images, and your /settings defaults in every server. The images "
                         "already posted stay in their channels; the Delete button on each removes it.", cleared)),
            view=None, allowed_mentions=NO_PINGS)
