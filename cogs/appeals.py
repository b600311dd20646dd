"""Appeals: a prompt refused by the server's own blocked words or patterns may be sent to a moderator.

The refusal (ephemeral) carries **Ask a moderator** when the server has a review channel; the request
is stored with it (`appeals`), and the button's custom_id carries the row's id. Pressed, it goes to
the review channel with **Allow once** / **Deny** (persistent). Only members with Manage Messages
there decide, and the first decision wins (a guarded UPDATE). Allow once queues the request for the
requester, on their credits, skipping only the rule that refused it: every other gate and the quota
still apply. The result is posted in the original channel naming them, without a ping. Deny asks
for a reason, which the requester gets by DM.

Never offered for the built-in rules (sexual content involving minors, the explicit-terms filter):
`Violation.appealable` says which are the server's own. /inpaint refusals are not offered either:
its inputs are Discord attachment links that expire, so the request cannot be kept to run later.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from typing import Any

import discord
from discord.ext import commands

from bot import presses
from bot.app import PixazoBot, answer_error, answer_form
from bot.catalog import MODELS, Kind
from bot.domain.appeals import AppealStatus
from bot.domain.records import AppealRecord
from bot.embeds import COLOUR
from bot.errors import UserFacingError
from bot.moderation.config import NEGATIVE_PROMPT, REVIEW_CHANNEL, SPOILER, GuildConfig
from bot.moderation.gates import Asker, Refusal, check
from bot.moderation.prompt_rules import PromptRules, Rule
from bot.replies import NO_PINGS
from bot.services.queue import delivery_info
from bot.services.validation import Prepared, with_negative
from bot.storage import Member
from bot.text import code_block, code_span, plain
from cogs.generate import REFUSED_REQUEST

log = logging.getLogger(__name__)

ASK_LABEL = "Ask a moderator"
NOT_YOURS = "Only the member whose prompt was refused can send it to the moderators."
TOO_OLD = "This refusal is too old to send to the moderators; run the command again."
CLEARED = "You cleared this request with /forget, so there is nothing to send; run the command again."
NO_REVIEW = "This server has no review channel any more, so there is no moderator to ask."
ALREADY_SENT = "You already sent this to the moderators."
DECIDED = "A moderator already decided this one."
NOT_A_MODERATOR = "Only members who can manage messages in this channel can decide appeals."
SENT = "Sent to the moderators. You will hear back when one of them decides."
REVIEW_REFUSED = ("Discord would not let the bot post in this server's review channel, so nothing was sent. "
                  "Please tell a moderator.")
REASON_MAX = 300
MODAL_ID = re.compile(rf"^appeal:deny-form:(?P<appeal>{presses.ID})$")


def _rule(violation: Any) -> dict[str, Any]:
    return {"rule": violation.rule.value, "term": violation.term, "matched": violation.matched}


async def offer(interaction: discord.Interaction, cause: UserFacingError) -> discord.ui.View | None:
    """The refusal hook (bot.app.refusal_view): Ask a moderator under a refusal by the server's own rules."""
    if not isinstance(cause, Refusal) or cause.violation is None or not cause.violation.appealable:
        return None
    refused = interaction.extras.get(REFUSED_REQUEST)
    if refused is None or interaction.guild_id is None or interaction.channel_id is None:
        return None
    prepared, asker = refused
    if prepared.model.kind is Kind.INPAINT:
        return None
    bot: PixazoBot = interaction.client  # type: ignore[assignment]
    config = await bot.moderation.config(interaction.guild_id)
    if config.get(REVIEW_CHANNEL) is None:
        return None
    user = interaction.user
    request = {
        "prompt": prepared.prompt, "payload": prepared.payload, "shown": [list(s) for s in prepared.shown],
        "requester": user.display_name, "avatar_url": user.display_avatar.url,
        "filesize_limit": interaction.filesize_limit, "asker": dataclasses.asdict(asker),
    }
    appeal_id = await bot.store.create_appeal(
        interaction.guild_id, interaction.channel_id, user.id, model=prepared.model.key, request=request,
        rule=_rule(cause.violation), expires_at=bot.store.now() + bot.settings.appeal_window_seconds)
    log.info("appeal %d offered to user %s in guild %s (%s)", appeal_id, user.id, interaction.guild_id,
             cause.violation.rule.value)
    return _view(AskButton(appeal_id))


def _view(*items: discord.ui.Item) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    for item in items:
        view.add_item(item)
    view.stop()  # the dynamic items answer the presses, now and after a restart
    return view


async def _to_decide(interaction: discord.Interaction, appeal_id: int, what: str) -> tuple[PixazoBot, AppealRecord]:
    """The appeal a moderator pressed on in the review channel, or the one sentence saying why not."""
    bot: PixazoBot = interaction.client  # type: ignore[assignment]
    appeal = await presses.pressed(interaction, presses.APPEAL_REVIEW, appeal_id, what=what,
                                   who=presses.Who.MODERATOR, refusal=NOT_A_MODERATOR)
    return bot, appeal


def _rule_text(appeal: AppealRecord) -> str:
    rule = json.loads(appeal["rule"])
    what = "blocked word" if rule.get("rule") == Rule.SERVER_WORD else "blocked pattern"
    return f"{what} {code_span(rule.get('term', ''), 120)}"


def review_embed(appeal: AppealRecord) -> discord.Embed:
    request = json.loads(appeal["request"])
    embed = discord.Embed(title="Appeal: a prompt this server's rules refused", colour=COLOUR,
                          description=code_block(request.get("prompt", ""), 1500))
    embed.add_field(name="Requester", value=f"<@{appeal['user_id']}>")
    embed.add_field(name="Channel", value=f"<#{appeal['channel_id']}>")
    embed.add_field(name="Model", value=f"/{appeal['model']}")
    embed.add_field(name="Refused by", value=_rule_text(appeal), inline=False)
    embed.set_footer(text=f"Appeal #{appeal['id']} · Allow once runs it for the requester, on their credits")
    return embed


class AskButton(discord.ui.DynamicItem[discord.ui.Button], template=rf"appeal:ask:(?P<appeal>{presses.ID})"):
    def __init__(self, appeal_id: int) -> None:
        super().__init__(discord.ui.Button(label=ASK_LABEL, emoji="🙋", style=discord.ButtonStyle.secondary,
                                           custom_id=f"appeal:ask:{appeal_id}"))
        self.appeal_id = appeal_id

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Item[Any],
                             match: re.Match[str], /) -> AskButton:
        return cls(int(match["appeal"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        try:
            await self._ask(interaction)
        except Exception as exc:
            await answer_error(interaction, exc, "Ask a moderator button")

    async def _ask(self, interaction: discord.Interaction) -> None:
        bot: PixazoBot = interaction.client  # type: ignore[assignment]
        appeal = await presses.pressed(interaction, presses.APPEAL, self.appeal_id, what="ask a moderator",
                                       who=presses.Who.OWNER, refusal=NOT_YOURS)
        status = AppealStatus(appeal["status"])
        if status is not AppealStatus.OFFERED:
            raise UserFacingError(ALREADY_SENT if status is AppealStatus.PENDING else DECIDED,
                                  detail=f"appeal {self.appeal_id} is {status}")
        if appeal["expires_at"] <= bot.store.now():
            raise UserFacingError(TOO_OLD, detail=f"appeal {self.appeal_id} expired")
        if not json.loads(appeal["request"]):
            raise UserFacingError(CLEARED, detail=f"appeal {self.appeal_id} was cleared by /forget")
        config = await bot.moderation.config(appeal["guild_id"])
        review = config.get(REVIEW_CHANNEL)
        if review is None:
            raise UserFacingError(NO_REVIEW, detail=f"appeal {self.appeal_id}: guild has no review channel")
        if not await bot.store.ask_appeal(self.appeal_id, interaction.user.id):
            raise UserFacingError(ALREADY_SENT, detail=f"appeal {self.appeal_id} was asked meanwhile")
        channel = bot.get_partial_messageable(review, guild_id=appeal["guild_id"])
        try:
            posted = await channel.send(embed=review_embed(appeal), allowed_mentions=NO_PINGS,
                                        view=_view(AllowButton(self.appeal_id), DenyButton(self.appeal_id)))
        except discord.HTTPException as exc:
            await bot.store.reopen_appeal(self.appeal_id)
            raise UserFacingError(REVIEW_REFUSED, detail=f"appeal {self.appeal_id}: review channel {review} refused "
                                                         f"the post: HTTP {exc.status}: {exc.text}") from None
        await bot.store.appeal_posted(self.appeal_id, posted.channel.id, posted.id, actor_id=interaction.user.id)
        log.info("appeal %d sent to review channel %s by user %s", self.appeal_id, review, interaction.user.id)
        await interaction.response.edit_message(content=SENT, view=None, allowed_mentions=NO_PINGS)


def _open_only(appeal: AppealRecord) -> None:
    if appeal["status"] != AppealStatus.PENDING:
        by = f" (<@{appeal['decided_by']}>)" if appeal.get("decided_by") else ""
        raise UserFacingError(DECIDED[:-1] + by + ".", detail=f"appeal {appeal['id']} is already {appeal['status']}")


def _without(config: GuildConfig, rule: dict[str, Any]) -> GuildConfig:
    """The server's configuration less the one word or pattern the moderator allowed past, this once."""
    words = tuple(w for w in config.words if not (rule.get("rule") == Rule.SERVER_WORD and w == rule.get("term")))
    patterns = tuple(p for p in config.patterns
                     if not (rule.get("rule") == Rule.SERVER_PATTERN and p == rule.get("term")))
    return dataclasses.replace(config, words=words, patterns=patterns, rules=PromptRules.build(words, patterns))


async def allow_once(bot: PixazoBot, appeal: AppealRecord, moderator_id: int) -> str | None:
    """Queue the appealed request for its requester; None, or the sentence that refused it now."""
    request = json.loads(appeal["request"])
    model = MODELS[appeal["model"]]
    asker = Asker(**{**request["asker"], "role_ids": tuple(request["asker"]["role_ids"])})
    prepared = Prepared(model, request["prompt"], request["payload"], tuple(tuple(s) for s in request["shown"]))
    config = await bot.moderation.config(appeal["guild_id"])
    try:
        check(_without(config, json.loads(appeal["rule"])), asker, model.key, prepared.prompt)
        member = Member(appeal["guild_id"], appeal["user_id"], asker.role_ids)
        delivery = delivery_info(
            application_id=bot.application_id or 0, prompt=prepared.prompt, shown=prepared.shown,
            role_ids=asker.role_ids, requester=request.get("requester") or f"member {appeal['user_id']}",
            avatar_url=request.get("avatar_url"), filesize_limit=request.get("filesize_limit") or 10 * 1024 * 1024,
            thumbnail_url=None)
        delivery["note"] = f"Allowed once by <@{moderator_id}> (appeal #{appeal['id']})."
        if asker.age_restricted and config.get(SPOILER):
            delivery["spoiler"] = True
        if asker.age_restricted:  # the image check (bot/image_check.py) runs elsewhere
            delivery["age_restricted"] = True
        # No interaction token: the result is a channel post in the original channel, naming the requester.
        job_id = await bot.queue.submit(with_negative(prepared, config.get(NEGATIVE_PROMPT)), member,
                                        channel_id=appeal["channel_id"], delivery=delivery, token=None)
    except UserFacingError as exc:
        log.info("appeal %d allowed by %s but refused: %s", appeal["id"], moderator_id, exc.detail)
        return exc.user_message
    await bot.store.set_appeal_job(appeal["id"], job_id)
    log.info("appeal %d allowed once by user %s: job %d queued for user %s", appeal["id"], moderator_id, job_id,
             appeal["user_id"])
    return None


async def tell_requester(bot: PixazoBot, appeal: AppealRecord, text: str) -> None:
    """A DM to the requester; when Discord refuses it (DMs closed), the log says so."""
    try:
        channel = await bot.create_dm(discord.Object(appeal["user_id"]))
        await channel.send(text, allowed_mentions=NO_PINGS)
    except discord.HTTPException as exc:
        log.info("appeal %d: could not DM user %s (HTTP %s %s); they were not told: %r", appeal["id"],
                 appeal["user_id"], exc.status, exc.text, text)


class AllowButton(discord.ui.DynamicItem[discord.ui.Button], template=rf"appeal:allow:(?P<appeal>{presses.ID})"):
    def __init__(self, appeal_id: int) -> None:
        super().__init__(discord.ui.Button(label="Allow once", emoji="✅", style=discord.ButtonStyle.success,
                                           custom_id=f"appeal:allow:{appeal_id}"))
        self.appeal_id = appeal_id

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Item[Any],
                             match: re.Match[str], /) -> AllowButton:
        return cls(int(match["appeal"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        try:
            await self._allow(interaction)
        except Exception as exc:
            await answer_error(interaction, exc, "Allow once button")

    async def _allow(self, interaction: discord.Interaction) -> None:
        bot, appeal = await _to_decide(interaction, self.appeal_id, "allow once")
        _open_only(appeal)
        if not await bot.store.decide_appeal(self.appeal_id, True, actor_id=interaction.user.id, reason=None):
            _open_only(await bot.store.appeal(self.appeal_id) or appeal)  # the other moderator's decision
            raise UserFacingError(DECIDED, detail=f"appeal {self.appeal_id} decided meanwhile")
        refused = await allow_once(bot, appeal, interaction.user.id)
        said = f"Allowed once by <@{interaction.user.id}>."
        if refused is None:
            said += f" The image is being made for <@{appeal['user_id']}> in <#{appeal['channel_id']}>."
        else:
            said += f" It could not be made: {refused}"
            await tell_requester(bot, appeal, f"A moderator allowed your prompt once, but it could not be made: "
                                              f"{refused}")
        await interaction.response.edit_message(content=said, view=None, allowed_mentions=NO_PINGS)


class DenyButton(discord.ui.DynamicItem[discord.ui.Button], template=rf"appeal:deny:(?P<appeal>{presses.ID})"):
    def __init__(self, appeal_id: int) -> None:
        super().__init__(discord.ui.Button(label="Deny", emoji="⛔", style=discord.ButtonStyle.danger,
                                           custom_id=f"appeal:deny:{appeal_id}"))
        self.appeal_id = appeal_id

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Item[Any],
                             match: re.Match[str], /) -> DenyButton:
        return cls(int(match["appeal"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        try:
            _, appeal = await _to_decide(interaction, self.appeal_id, "deny")
            _open_only(appeal)
            await interaction.response.send_modal(DenyForm(self.appeal_id))
        except Exception as exc:
            await answer_error(interaction, exc, "Deny button")


class DenyForm(discord.ui.Modal):
    """The form only: its submission is answered by `Appeals.on_interaction` from the appeal's row, so a
    form opened before a restart still works when submitted after it."""

    def __init__(self, appeal_id: int) -> None:
        super().__init__(title="Deny this appeal", custom_id=f"appeal:deny-form:{appeal_id}", timeout=None)
        self.add_item(discord.ui.TextInput(label="Reason (sent to the member)", custom_id="reason",
                                           style=discord.TextStyle.paragraph, max_length=REASON_MAX))
        self.stop()


async def submit_denial(interaction: discord.Interaction, appeal_id: int) -> None:
    bot, appeal = await _to_decide(interaction, appeal_id, "deny form")
    data: Any = interaction.data or {}
    values = {item.get("custom_id"): item.get("value") or ""
              for row in data.get("components") or []
              for item in ([row["component"]] if row.get("component") else row.get("components") or [])}
    reason = " ".join(str(values.get("reason", "")).split())[:REASON_MAX] or "no reason was given"
    if not await bot.store.decide_appeal(appeal_id, False, actor_id=interaction.user.id, reason=reason):
        _open_only(await bot.store.appeal(appeal_id) or appeal)
        raise UserFacingError(DECIDED, detail=f"appeal {appeal_id} decided meanwhile")
    log.info("appeal %d denied by user %s", appeal_id, interaction.user.id)
    await interaction.response.send_message(f"Denied. <@{appeal['user_id']}> is told: {code_span(reason, 320)}",
                                            ephemeral=True, allowed_mentions=NO_PINGS)
    guild = bot.get_guild(appeal["guild_id"])
    where = f" in {plain(guild.name, 100)}" if guild is not None else ""
    await tell_requester(bot, appeal, f"A moderator{where} did not allow your prompt (appeal #{appeal_id}): "
                                      f"{code_span(reason, 320)}")
    review_channel, review_message = appeal["review_channel_id"], appeal["review_message_id"]
    if review_channel and review_message:
        message = bot.get_partial_messageable(review_channel).get_partial_message(review_message)
        try:
            await message.edit(content=f"Denied by <@{interaction.user.id}>: {code_span(reason, 320)}", view=None,
                               allowed_mentions=NO_PINGS)
        except discord.HTTPException as exc:
            log.info("appeal %d: could not mark the review message as denied: HTTP %s", appeal_id, exc.status)


class Appeals(commands.Cog):
    def __init__(self, bot: PixazoBot) -> None:
        self.bot = bot

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(AskButton, AllowButton, DenyButton)
        self.bot.refusal_view = offer

    @commands.Cog.listener()
    async def on_interaction(self, interaction: discord.Interaction) -> None:
        await answer_form(interaction, MODAL_ID, lambda i, m: submit_denial(i, int(m["appeal"])), "Deny form")


async def setup(bot: PixazoBot) -> None:
    await bot.add_cog(Appeals(bot))
