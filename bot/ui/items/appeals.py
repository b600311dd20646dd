"""Appeals' buttons: a refusal by the server's own blocked words or patterns carries **Ask a moderator**
when the server has a review channel (the request is stored with it: bot/services/appeals.py). Pressed,
it goes to the review channel with **Allow once** / **Deny** (persistent). Only members with Manage
Messages there decide, and the first decision wins. Allow once's result is posted in the original
channel naming the requester, without a ping; Deny asks for a reason, which the requester gets by DM.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

import discord

from bot.core.errors import UserFacingError
from bot.core.i18n import Text, _, render
from bot.core.text import code_block, code_span, plain
from bot.domain.records import AppealRecord
from bot.moderation.gates import Refusal
from bot.services.appeals import locale_of, open_only, prompt_of, rule_text
from bot.ui import presses
from bot.ui.embeds import COLOUR
from bot.ui.forms import REASON_MAX, deny_form
from bot.ui.i18n import for_guild, for_member
from bot.ui.items.base import Form, Interaction, Press, finished_view
from bot.ui.replies import NO_PINGS
from bot.ui.requests import REFUSED_REQUEST, requester_of

if TYPE_CHECKING:
    from bot.ui.app import PixazoBot

log = logging.getLogger(__name__)

ASK_LABEL = _("Ask a moderator")
NOT_YOURS = _("Only the member whose prompt was refused can send it to the moderators.")
NOT_A_MODERATOR = _("Only members who can manage messages in this channel can decide appeals.")
SENT = _("Sent to the moderators. You will hear back when one of them decides.")
REVIEW_REFUSED = _("Discord would not let the bot post in this server's review channel, so nothing was sent. "
                   "Please tell a moderator.")
Words = Callable[[Text | str], str]


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
    return None if appeal_id is None else finished_view(AskButton(appeal_id, for_member(interaction)))


def review_embed(appeal: AppealRecord, t: Words = str) -> discord.Embed:
    """The appeal in the review channel, in the server's language (`t`)."""
    embed = discord.Embed(title=t(_("Appeal: a prompt this server's rules refused")), colour=COLOUR,
                          description=code_block(prompt_of(appeal), 1500))
    embed.add_field(name=t(_("Requester")), value=f"<@{appeal['user_id']}>")
    embed.add_field(name=t(_("Channel")), value=f"<#{appeal['channel_id']}>")
    embed.add_field(name=t(_("Model")), value=f"/{appeal['model']}")
    embed.add_field(name=t(_("Refused by")), value=t(rule_text(appeal)), inline=False)
    embed.set_footer(text=t(_("Appeal #{appeal} · Allow once runs it for the requester, on their credits",
                              appeal=appeal["id"])))
    return embed


class AskButton(Press, template=rf"appeal:ask:(?P<appeal>{presses.ID})"):
    subject, what, where, id_group = presses.APPEAL, "ask a moderator", "Ask a moderator button", "appeal"
    who, refusal = presses.Who.OWNER, NOT_YOURS

    def __init__(self, appeal_id: int, t: Words = str) -> None:
        super().__init__(appeal_id, discord.ui.Button(label=t(ASK_LABEL), emoji="🙋",
                                                      style=discord.ButtonStyle.secondary,
                                                      custom_id=f"appeal:ask:{appeal_id}"))

    async def act(self, interaction: Interaction, appeal: AppealRecord) -> None:
        bot = interaction.client
        desk = bot.services.appeals
        review = await desk.ask(appeal, interaction.user.id)
        channel = bot.get_partial_messageable(review, guild_id=appeal["guild_id"])
        t = for_guild(bot, appeal["guild_id"])  # the review channel reads the server's language
        try:
            posted = await channel.send(embed=review_embed(appeal, t), allowed_mentions=NO_PINGS,
                                        view=finished_view(AllowButton(self.row_id, t), DenyButton(self.row_id, t)))
        except discord.HTTPException as exc:
            await desk.not_posted(self.row_id)
            raise UserFacingError(REVIEW_REFUSED, detail=f"appeal {self.row_id}: review channel {review} refused "
                                                         f"the post: HTTP {exc.status}: {exc.text}") from None
        await desk.posted(self.row_id, posted.channel.id, posted.id, actor_id=interaction.user.id)
        await interaction.response.edit_message(content=for_member(interaction)(SENT), view=None,
                                                allowed_mentions=NO_PINGS)


async def tell_requester(bot: PixazoBot, appeal: AppealRecord, said: Text | str) -> None:
    """A DM to the requester, in their language; when Discord refuses it (DMs closed), the log says so."""
    text = render(said, locale_of(appeal))
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

    def __init__(self, appeal_id: int, t: Words = str) -> None:
        super().__init__(appeal_id, discord.ui.Button(label=t(_("Allow once")), emoji="✅",
                                                      style=discord.ButtonStyle.success,
                                                      custom_id=f"appeal:allow:{appeal_id}"))

    async def act(self, interaction: Interaction, appeal: AppealRecord) -> None:
        bot = interaction.client
        desk = bot.services.appeals
        await desk.decide(appeal, True, actor_id=interaction.user.id, reason=None)
        refused = await desk.allow_once(appeal, interaction.user.id, bot.application_id or 0)
        who, whom, where = f"<@{interaction.user.id}>", f"<@{appeal['user_id']}>", f"<#{appeal['channel_id']}>"
        if refused is None:
            said = _("Allowed once by {moderator}. The image is being made for {member} in {channel}.",
                     moderator=who, member=whom, channel=where)
        else:
            said = _("Allowed once by {moderator}. It could not be made: {refusal}", moderator=who, refusal=refused)
            await tell_requester(bot, appeal, _("A moderator allowed your prompt once, but it could not be made: "
                                                "{refusal}", refusal=refused))
        await interaction.response.edit_message(content=for_guild(bot, appeal["guild_id"])(said), view=None,
                                                allowed_mentions=NO_PINGS)


class DenyButton(_Decide, template=rf"appeal:deny:(?P<appeal>{presses.ID})"):
    what, where = "deny", "Deny button"

    def __init__(self, appeal_id: int, t: Words = str) -> None:
        super().__init__(appeal_id, discord.ui.Button(label=t(_("Deny")), emoji="⛔", style=discord.ButtonStyle.danger,
                                                      custom_id=f"appeal:deny:{appeal_id}"))

    async def act(self, interaction: Interaction, appeal: AppealRecord) -> None:
        open_only(appeal)
        await interaction.response.send_modal(deny_form(self.row_id, for_member(interaction)))


class DenyForm(Form):
    pattern = re.compile(rf"^appeal:deny-form:(?P<appeal>{presses.ID})$")
    subject, what, where, id_group = presses.APPEAL_REVIEW, "deny form", "Deny form", "appeal"
    who, refusal = presses.Who.MODERATOR, NOT_A_MODERATOR

    @classmethod
    async def act(cls, interaction: Interaction, appeal: AppealRecord, values: dict[str, str]) -> None:
        bot = interaction.client
        reason = " ".join(str(values.get("reason", "")).split())[:REASON_MAX] or "no reason was given"
        await bot.services.appeals.decide(appeal, False, actor_id=interaction.user.id, reason=reason)
        shown = code_span(reason, 320)
        await interaction.response.send_message(
            for_member(interaction)(_("Denied. {member} is told: {reason}", member=f"<@{appeal['user_id']}>",
                                      reason=shown)), ephemeral=True, allowed_mentions=NO_PINGS)
        guild = bot.get_guild(appeal["guild_id"])
        if guild is not None:
            told = _("A moderator in {server} did not allow your prompt (appeal #{appeal}): {reason}",
                     server=plain(guild.name, 100), appeal=appeal["id"], reason=shown)
        else:
            told = _("A moderator did not allow your prompt (appeal #{appeal}): {reason}", appeal=appeal["id"],
                     reason=shown)
        await tell_requester(bot, appeal, told)
        await _mark_denied(bot, appeal, interaction.user.id, reason)


async def _mark_denied(bot: PixazoBot, appeal: AppealRecord, moderator: int, reason: str) -> None:
    review_channel, review_message = appeal["review_channel_id"], appeal["review_message_id"]
    if not review_channel or not review_message:
        return
    message = bot.get_partial_messageable(review_channel).get_partial_message(review_message)
    try:
        said = _("Denied by {moderator}: {reason}", moderator=f"<@{moderator}>", reason=code_span(reason, 320))
        await message.edit(content=for_guild(bot, appeal["guild_id"])(said), view=None, allowed_mentions=NO_PINGS)
    except discord.HTTPException as exc:
        log.info("appeal %d: could not mark the review message as denied: HTTP %s", appeal["id"], exc.status)


