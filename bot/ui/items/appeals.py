"""Appeals' buttons: a refusal by the server's own blocked words or patterns carries **Ask a moderator**
when the server has a review channel (the request is stored with it: bot/services/appeals.py). Pressed,
it goes to the review channel with **Allow once** / **Deny** (persistent). Only members with Manage
Messages there decide, and the first decision wins. Allow once's result is posted in the original
channel naming the requester, without a ping; Deny asks for a reason, which the requester gets by DM.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING

import discord

from bot.core.errors import UserFacingError
from bot.core.text import code_block, code_span, plain
from bot.domain.records import AppealRecord
from bot.moderation.gates import Refusal
from bot.services.appeals import open_only, prompt_of, rule_text
from bot.ui import presses
from bot.ui.embeds import COLOUR
from bot.ui.forms import REASON_MAX, deny_form
from bot.ui.items.base import Form, Interaction, Press, finished_view
from bot.ui.replies import NO_PINGS
from bot.ui.requests import REFUSED_REQUEST, requester_of

if TYPE_CHECKING:
    from bot.ui.app import PixazoBot

log = logging.getLogger(__name__)

ASK_LABEL = "Ask a moderator"
NOT_YOURS = "Only the member whose prompt was refused can send it to the moderators."
NOT_A_MODERATOR = "Only members who can manage messages in this channel can decide appeals."
SENT = "Sent to the moderators. You will hear back when one of them decides."
REVIEW_REFUSED = ("Discord would not let the bot post in this server's review channel, so nothing was sent. "
                  "Please tell a moderator.")


async def offer(interaction: Interaction, cause: UserFacingError) -> discord.ui.View | None:
    """The funnel's refusal view: Ask a moderator under a refusal by the server's own rules."""
    if not isinstance(cause, Refusal) or cause.violation is None or not cause.violation.appealable:
        return None
    refused = interaction.extras.get(REFUSED_REQUEST)
    if refused is None or interaction.guild_id is None or interaction.channel_id is None:
        return None
    prepared, asker = refused
    appeal_id = await interaction.client.services.appeals.offer(
        interaction.guild_id, interaction.channel_id, prepared, asker, cause.violation, requester_of(interaction))
    return None if appeal_id is None else finished_view(AskButton(appeal_id))


def review_embed(appeal: AppealRecord) -> discord.Embed:
    embed = discord.Embed(title="Appeal: a prompt this server's rules refused", colour=COLOUR,
                          description=code_block(prompt_of(appeal), 1500))
    embed.add_field(name="Requester", value=f"<@{appeal['user_id']}>")
    embed.add_field(name="Channel", value=f"<#{appeal['channel_id']}>")
    embed.add_field(name="Model", value=f"/{appeal['model']}")
    embed.add_field(name="Refused by", value=rule_text(appeal), inline=False)
    embed.set_footer(text=f"Appeal #{appeal['id']} · Allow once runs it for the requester, on their credits")
    return embed


class AskButton(Press, template=rf"appeal:ask:(?P<appeal>{presses.ID})"):
    subject, what, where, id_group = presses.APPEAL, "ask a moderator", "Ask a moderator button", "appeal"
    who, refusal = presses.Who.OWNER, NOT_YOURS

    def __init__(self, appeal_id: int) -> None:
        super().__init__(appeal_id, discord.ui.Button(label=ASK_LABEL, emoji="🙋", style=discord.ButtonStyle.secondary,
                                                      custom_id=f"appeal:ask:{appeal_id}"))

    async def act(self, interaction: Interaction, appeal: AppealRecord) -> None:
        bot = interaction.client
        desk = bot.services.appeals
        review = await desk.ask(appeal, interaction.user.id)
        channel = bot.get_partial_messageable(review, guild_id=appeal["guild_id"])
        try:
            posted = await channel.send(embed=review_embed(appeal), allowed_mentions=NO_PINGS,
                                        view=finished_view(AllowButton(self.row_id), DenyButton(self.row_id)))
        except discord.HTTPException as exc:
            await desk.not_posted(self.row_id)
            raise UserFacingError(REVIEW_REFUSED, detail=f"appeal {self.row_id}: review channel {review} refused "
                                                         f"the post: HTTP {exc.status}: {exc.text}") from None
        await desk.posted(self.row_id, posted.channel.id, posted.id, actor_id=interaction.user.id)
        await interaction.response.edit_message(content=SENT, view=None, allowed_mentions=NO_PINGS)


async def tell_requester(bot: PixazoBot, appeal: AppealRecord, text: str) -> None:
    """A DM to the requester; when Discord refuses it (DMs closed), the log says so."""
    try:
        channel = await bot.create_dm(discord.Object(appeal["user_id"]))
        await channel.send(text, allowed_mentions=NO_PINGS)
    except discord.HTTPException as exc:
        log.info("appeal %d: could not DM user %s (HTTP %s %s); they were not told: %r", appeal["id"],
                 appeal["user_id"], exc.status, exc.text, text)


class _Decide(Press, template=r"(?!)"):
    subject, id_group = presses.APPEAL_REVIEW, "appeal"
    who, refusal = presses.Who.MODERATOR, NOT_A_MODERATOR


del _Decide.__discord_ui_compiled_template__  # a base: no custom_id of its own


class AllowButton(_Decide, template=rf"appeal:allow:(?P<appeal>{presses.ID})"):
    what, where = "allow once", "Allow once button"

    def __init__(self, appeal_id: int) -> None:
        super().__init__(appeal_id, discord.ui.Button(label="Allow once", emoji="✅",
                                                      style=discord.ButtonStyle.success,
                                                      custom_id=f"appeal:allow:{appeal_id}"))

    async def act(self, interaction: Interaction, appeal: AppealRecord) -> None:
        bot = interaction.client
        desk = bot.services.appeals
        await desk.decide(appeal, True, actor_id=interaction.user.id, reason=None)
        refused = await desk.allow_once(appeal, interaction.user.id, bot.application_id or 0)
        said = f"Allowed once by <@{interaction.user.id}>."
        if refused is None:
            said += f" The image is being made for <@{appeal['user_id']}> in <#{appeal['channel_id']}>."
        else:
            said += f" It could not be made: {refused}"
            await tell_requester(bot, appeal, f"A moderator allowed your prompt once, but it could not be made: "
                                              f"{refused}")
        await interaction.response.edit_message(content=said, view=None, allowed_mentions=NO_PINGS)


class DenyButton(_Decide, template=rf"appeal:deny:(?P<appeal>{presses.ID})"):
    what, where = "deny", "Deny button"

    def __init__(self, appeal_id: int) -> None:
        super().__init__(appeal_id, discord.ui.Button(label="Deny", emoji="⛔", style=discord.ButtonStyle.danger,
                                                      custom_id=f"appeal:deny:{appeal_id}"))

    async def act(self, interaction: Interaction, appeal: AppealRecord) -> None:
        open_only(appeal)
        await interaction.response.send_modal(deny_form(self.row_id))


class DenyForm(Form):
    pattern = re.compile(rf"^appeal:deny-form:(?P<appeal>{presses.ID})$")
    subject, what, where, id_group = presses.APPEAL_REVIEW, "deny form", "Deny form", "appeal"
    who, refusal = presses.Who.MODERATOR, NOT_A_MODERATOR

    @classmethod
    async def act(cls, interaction: Interaction, appeal: AppealRecord, values: dict[str, str]) -> None:
        bot = interaction.client
        reason = " ".join(str(values.get("reason", "")).split())[:REASON_MAX] or "no reason was given"
        await bot.services.appeals.decide(appeal, False, actor_id=interaction.user.id, reason=reason)
        await interaction.response.send_message(f"Denied. <@{appeal['user_id']}> is told: {code_span(reason, 320)}",
                                                ephemeral=True, allowed_mentions=NO_PINGS)
        guild = bot.get_guild(appeal["guild_id"])
        where = f" in {plain(guild.name, 100)}" if guild is not None else ""
        await tell_requester(bot, appeal, f"A moderator{where} did not allow your prompt (appeal #{appeal['id']}): "
                                          f"{code_span(reason, 320)}")
        await _mark_denied(bot, appeal, interaction.user.id, reason)


async def _mark_denied(bot: PixazoBot, appeal: AppealRecord, moderator: int, reason: str) -> None:
    review_channel, review_message = appeal["review_channel_id"], appeal["review_message_id"]
    if not review_channel or not review_message:
        return
    message = bot.get_partial_messageable(review_channel).get_partial_message(review_message)
    try:
        await message.edit(content=f"Denied by <@{moderator}>: {code_span(reason, 320)}", view=None,
                           allowed_mentions=NO_PINGS)
    except discord.HTTPException as exc:
        log.info("appeal %d: could not mark the review message as denied: HTTP %s", appeal["id"], exc.status)


