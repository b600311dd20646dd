"""/config …: a server's admins decide where the bot may be used, by whom, with which models, and what
may be asked. Every change is stored, recorded as an admin action, and seen by the next command.

Hidden from members without Manage Server by default, and checked again at run time, since a server
can override who sees a command."""

from __future__ import annotations

from typing import Any, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.catalog import MODELS, PROMPT_MAX_LENGTH
from bot.core.errors import InvalidInput
from bot.core.i18n import Text, _, _n, option_name
from bot.core.text import code_span, plain
from bot.domain.audit import AuditAction
from bot.domain.rules import RuleKind, RuleLimit
from bot.moderation.config import (
    AUDIT_CHANNEL,
    IMAGE_CHECK,
    IMAGE_THRESHOLD,
    NEGATIVE_PROMPT,
    NSFW_FILTER,
    REPORTS_HIDE_AFTER,
    REVIEW_CHANNEL,
    SPOILER,
    WORDS_STRICT,
    GuildConfig,
)
from bot.moderation.limits import MAX_BLOCKED, MAX_CHANNELS, MAX_PATTERNS, MAX_ROLES, MAX_WORDS, REASON_MAX
from bot.moderation.patterns import BadPattern, check_new_pattern
from bot.moderation.styles import NAME_MAX, TEMPLATE_MAX
from bot.services.validation import clean_text
from bot.ui import config_loop as loop
from bot.ui import config_view as shown
from bot.ui.app import PixazoBot
from bot.ui.checks import admin_check, guild_of
from bot.ui.i18n import for_member
from bot.ui.installs import server_only
from bot.ui.loop import style_choices
from bot.ui.replies import NO_PINGS
from bot.ui.requests import member_of

MODEL_CHOICES = [app_commands.Choice(name=f"/{key}", value=key) for key in MODELS]  # from the catalog
OnOff = Literal["on", "off"]
Channel = app_commands.AppCommandChannel | app_commands.AppCommandThread
HIDE_AFTER_MAX = 100  # /config reports hide_after (part 8): past a hundred reports, hiding means nothing
AUDIT_ACTIONS = tuple(a.value for a in AuditAction)
AuditChoice = Literal[AUDIT_ACTIONS]  # type: ignore[valid-type]  # /config audit's `action` choices
AUDIT_PAGES_MAX = 1000
THRESHOLD_MIN, THRESHOLD_MAX = 0.05, 0.95  # /config nsfw image-threshold


@server_only
@app_commands.default_permissions(manage_guild=True)
class ConfigAdmin(commands.GroupCog, group_name="config",
                  group_description="Where the bot may be used, by whom, with which models, and what may be asked"):
    channels = app_commands.Group(name="channels", description="The channels where the bot may be used")
    roles = app_commands.Group(name="roles", description="The roles allowed to generate")
    members = app_commands.Group(name="members", description="Members who may not generate")
    models = app_commands.Group(name="models", description="The models offered in this server")
    words = app_commands.Group(name="words", description="Blocked words and phrases in prompts")
    patterns = app_commands.Group(name="patterns", description="Blocked regular expressions in prompts")
    styles = app_commands.Group(name="styles", description="Styles members can pick: a template around their prompt")

    def __init__(self, bot: PixazoBot) -> None:
        self.bot = bot
        super().__init__()

    async def interaction_check(self, interaction: discord.Interaction[Any]) -> bool:
        return await admin_check(interaction)

    async def _config(self, interaction: discord.Interaction[PixazoBot]) -> GuildConfig:
        return await self.bot.services.moderation.config(guild_of(interaction))

    async def _done(self, interaction: discord.Interaction[PixazoBot], *said: Text | str, sep: str = " ") -> None:
        """The admin's answer, its sentences in their Discord client's language."""
        text = sep.join(for_member(interaction)(part) for part in said)
        await interaction.followup.send(text[:2000], ephemeral=True, allowed_mentions=NO_PINGS)

    async def _put(self, interaction: discord.Interaction[PixazoBot], kind: RuleKind, value: str, detail: object = None, *,
                   limit: int, what: Text) -> bool:
        try:
            return await self.bot.services.moderation.put(guild_of(interaction), kind, value, detail,
                                                 actor_id=interaction.user.id, limit=limit)
        except RuleLimit:
            raise InvalidInput(_("This server already has {limit} {what}, the most it can have; remove one first.",
                                 limit=limit, what=what), detail=f"{kind.value} limit {limit} reached") from None

    async def _remove(self, interaction: discord.Interaction[PixazoBot], kind: RuleKind, value: str) -> bool:
        return await self.bot.services.moderation.remove(guild_of(interaction), kind, value, actor_id=interaction.user.id)

    async def _clear(self, interaction: discord.Interaction[PixazoBot], kind: RuleKind) -> int:
        return await self.bot.services.moderation.clear(guild_of(interaction), kind, actor_id=interaction.user.id)

    @app_commands.command(name="show", description="This server's whole bot configuration")
    async def show(self, interaction: discord.Interaction[PixazoBot]) -> None:
        config = await self._config(interaction)
        snap = (await self.bot.services.quotas.view(member_of(interaction))).snapshot
        embed = shown.config_embed(config, snap, self.bot.services.image_checks.detector,
                                   self.bot.settings.image_check_threshold, interaction.locale.value)
        await interaction.followup.send(embed=embed, ephemeral=True, allowed_mentions=NO_PINGS)

    # -- channels --------------------------------------------------------------------------------

    async def _channels_now(self, interaction: discord.Interaction[PixazoBot], said: Text) -> None:
        config = await self._config(interaction)
        await self._done(interaction, said, _("The bot can now be used in {where}.", where=shown.everywhere(config)))

    @channels.command(name="allow", description="Let the bot be used in a channel (or a whole category)")
    @app_commands.describe(channel="The channel, thread or category")
    async def channels_allow(self, interaction: discord.Interaction[PixazoBot], channel: Channel) -> None:
        added = await self._put(interaction, RuleKind.CHANNEL, str(channel.id), limit=MAX_CHANNELS,
                                what=_("allowed channels"))
        await self._channels_now(interaction, shown.allowed(channel.mention, added))

    @channels.command(name="remove", description="Take a channel off the allowed list")
    @app_commands.describe(channel="The channel, thread or category")
    async def channels_remove(self, interaction: discord.Interaction[PixazoBot], channel: Channel) -> None:
        removed = await self._remove(interaction, RuleKind.CHANNEL, str(channel.id))
        await self._channels_now(interaction, shown.removed(channel.mention, removed))

    @channels.command(name="clear", description="Let the bot be used in every channel again")
    async def channels_clear(self, interaction: discord.Interaction[PixazoBot]) -> None:
        cleared = await self._clear(interaction, RuleKind.CHANNEL)
        await self._channels_now(interaction, _n("Cleared {n} channel.", "Cleared {n} channels.", cleared))

    # -- roles ---------------------------------------------------------------------------------

    async def _roles_now(self, interaction: discord.Interaction[PixazoBot], said: Text) -> None:
        config = await self._config(interaction)
        await self._done(interaction, said, _("Images can now be made by {who}.", who=shown.everyone(config)))

    @roles.command(name="allow", description="Let members with a role generate (once any role is listed, only they can)")
    @app_commands.describe(role="The role")
    async def roles_allow(self, interaction: discord.Interaction[PixazoBot], role: discord.Role) -> None:
        if role.id == interaction.guild_id:
            raise InvalidInput(_("@everyone is the whole server: use `/config roles clear` to let everyone generate."))
        added = await self._put(interaction, RuleKind.ROLE, str(role.id), limit=MAX_ROLES, what=_("allowed roles"))
        await self._roles_now(interaction, shown.allowed(role.mention, added))

    @roles.command(name="remove", description="Take a role off the allowed list")
    @app_commands.describe(role="The role")
    async def roles_remove(self, interaction: discord.Interaction[PixazoBot], role: discord.Role) -> None:
        removed = await self._remove(interaction, RuleKind.ROLE, str(role.id))
        await self._roles_now(interaction, shown.removed(role.mention, removed))

    @roles.command(name="clear", description="Let everyone generate again")
    async def roles_clear(self, interaction: discord.Interaction[PixazoBot]) -> None:
        cleared = await self._clear(interaction, RuleKind.ROLE)
        await self._roles_now(interaction, _n("Cleared {n} role.", "Cleared {n} roles.", cleared))

    # -- members -------------------------------------------------------------------------------

    @members.command(name="block", description="Stop a member from generating, with a reason shown to them")
    @app_commands.describe(member="The member", reason="Shown to them when they try")
    async def members_block(self, interaction: discord.Interaction[PixazoBot], member: discord.Member,
                            reason: app_commands.Range[str, 1, REASON_MAX]) -> None:
        text = clean_text(reason)
        if not text:
            raise InvalidInput(_("The reason is empty; say why, it is shown to the member."))
        if len(text) > REASON_MAX:
            raise InvalidInput(_("`{option}` is {length} characters long; the most is {most}.",
                                 option=option_name("reason"), length=len(text), most=REASON_MAX))
        changed = await self._put(interaction, RuleKind.BLOCKED, str(member.id), {"reason": text}, limit=MAX_BLOCKED,
                                  what=_("blocked members"))
        await self._done(interaction, shown.member_blocked(member.mention, plain(text, 2 * REASON_MAX), changed))

    @members.command(name="unblock", description="Let a blocked member generate again")
    @app_commands.describe(member="The member")
    async def members_unblock(self, interaction: discord.Interaction[PixazoBot], member: discord.Member) -> None:
        removed = await self._remove(interaction, RuleKind.BLOCKED, str(member.id))
        await self._done(interaction, _("Unblocked {member}.", member=member.mention) if removed else
                         _("{member} was not blocked.", member=member.mention))

    # -- models --------------------------------------------------------------------------------

    async def _models_now(self, interaction: discord.Interaction[PixazoBot], said: Text) -> None:
        config = await self._config(interaction)
        await self._done(interaction, said, shown.models(config), sep="\n")

    @models.command(name="disable", description="Turn a model off in this server")
    @app_commands.describe(model="The model's command")
    @app_commands.choices(model=MODEL_CHOICES)
    async def models_disable(self, interaction: discord.Interaction[PixazoBot], model: str) -> None:
        key = shown.model(model)
        added = await self._put(interaction, RuleKind.MODEL_OFF, key, limit=len(MODELS), what=_("models turned off"))
        await self._models_now(interaction, _("Turned {command} off.", command=f"/{key}") if added else
                               _("{command} was already off.", command=f"/{key}"))

    @models.command(name="enable", description="Turn a model back on in this server")
    @app_commands.describe(model="The model's command")
    @app_commands.choices(model=MODEL_CHOICES)
    async def models_enable(self, interaction: discord.Interaction[PixazoBot], model: str) -> None:
        key = shown.model(model)
        removed = await self._remove(interaction, RuleKind.MODEL_OFF, key)
        await self._models_now(interaction, _("Turned {command} on.", command=f"/{key}") if removed else
                               _("{command} was already on.", command=f"/{key}"))

    # -- words ---------------------------------------------------------------------------------

    @words.command(name="add", description="Block a word or phrase in prompts (whole words, any case)")
    @app_commands.describe(term="A word, or a phrase of whole words")
    async def words_add(self, interaction: discord.Interaction[PixazoBot], term: str) -> None:
        word = shown.word(term)
        added = await self._put(interaction, RuleKind.WORD, word, limit=MAX_WORDS, what=_("blocked words"))
        config = await self._config(interaction)
        await self._done(interaction, shown.blocking(code_span(word, 120), added, True), shown.words_count(config))

    @words.command(name="remove", description="Unblock a word or phrase")
    @app_commands.describe(term="The word or phrase, as listed")
    async def words_remove(self, interaction: discord.Interaction[PixazoBot], term: str) -> None:
        word = shown.word(term)
        removed = await self._remove(interaction, RuleKind.WORD, word)
        config = await self._config(interaction)
        await self._done(interaction, shown.blocking(code_span(word, 120), removed, False), shown.words_count(config))

    @words.command(name="strict", description="Also match leetspeak and letters spelled apart (c4stl3, c a s t l e)")
    @app_commands.describe(state="on: words and patterns also match leetspeak and spaced-out letters")
    async def words_strict(self, interaction: discord.Interaction[PixazoBot], state: OnOff) -> None:
        await self.bot.services.moderation.set(guild_of(interaction), WORDS_STRICT, shown.on("state", state),
                                      actor_id=interaction.user.id)
        await self._done(interaction, shown.strictness(await self._config(interaction)))

    @words.command(name="list", description="Every blocked word and phrase")
    async def words_list(self, interaction: discord.Interaction[PixazoBot]) -> None:
        config = await self._config(interaction)
        if not config.words:
            await self._done(interaction, _("This server blocks no words. Add one with `/config words add`."))
            return
        await loop.send_list(interaction, _("Blocked words and phrases ({n})", n=len(config.words)), shown.terms(config.words),
                             list(config.words), "blocked-words.txt")

    # -- patterns ------------------------------------------------------------------------------

    @patterns.command(name="add", description="Block prompts matching a regular expression (RE2 syntax)")
    @app_commands.describe(pattern="A regular expression, matched against the prompt in lower case")
    async def patterns_add(self, interaction: discord.Interaction[PixazoBot], pattern: str) -> None:
        others = (await self._config(interaction)).patterns
        try:
            # Decided from the pattern itself (its RE2 program and weight), never timed: a few milliseconds
            # of compiling, the same verdict however busy the bot is, so it runs here.
            check_new_pattern(pattern, others)
        except BadPattern as exc:
            raise InvalidInput(_("That pattern cannot be used: {why}.", why=exc.text),
                               detail=f"pattern {pattern!r}: {exc}") from None
        added = await self._put(interaction, RuleKind.PATTERN, pattern, limit=MAX_PATTERNS, what=_("blocked patterns"))
        config = await self._config(interaction)
        await self._done(interaction, shown.blocking(code_span(pattern, 220), added, True), shown.patterns_count(config))

    @patterns.command(name="remove", description="Unblock a regular expression")
    @app_commands.describe(pattern="The pattern, exactly as listed in /config show")
    async def patterns_remove(self, interaction: discord.Interaction[PixazoBot], pattern: str) -> None:
        removed = await self._remove(interaction, RuleKind.PATTERN, pattern)
        config = await self._config(interaction)
        await self._done(interaction, shown.blocking(code_span(pattern, 220), removed, False),
                         shown.patterns_count(config))

    # -- settings ------------------------------------------------------------------------------

    @app_commands.command(name="nsfw", description="Explicit terms and the image check outside age-restricted "
                                                   "channels; spoilers inside")
    @app_commands.describe(filter="on: explicit terms are refused outside age-restricted channels",
                           spoiler="on: results in age-restricted channels are posted as spoilers",
                           image_check="on: results are checked before they are posted outside age-restricted channels",
                           image_threshold="How sure the image check must be to hold a result, 0.05 to 0.95")
    @app_commands.rename(image_check="image-check", image_threshold="image-threshold")
    async def nsfw(self, interaction: discord.Interaction[PixazoBot], filter: OnOff | None = None,  # noqa: A002
                   spoiler: OnOff | None = None, image_check: OnOff | None = None,
                   image_threshold: app_commands.Range[float, THRESHOLD_MIN, THRESHOLD_MAX] | None = None) -> None:
        guild = guild_of(interaction)
        if image_threshold is not None and not THRESHOLD_MIN <= image_threshold <= THRESHOLD_MAX:
            raise InvalidInput(_("`{option}` must be between {low} and {high} (you gave {given}).",
                                 option=option_name("image-threshold"), low=THRESHOLD_MIN, high=THRESHOLD_MAX,
                                 given=image_threshold))
        for setting, option, given in ((NSFW_FILTER, "filter", filter), (SPOILER, "spoiler", spoiler),
                                       (IMAGE_CHECK, "image-check", image_check)):
            if given is not None:
                await self.bot.services.moderation.set(guild, setting, shown.on(option, given), actor_id=interaction.user.id)
        if image_threshold is not None:
            await self.bot.services.moderation.set(guild, IMAGE_THRESHOLD, round(float(image_threshold), 2),
                                          actor_id=interaction.user.id)
        config = await self._config(interaction)
        check = shown.image_check_text(config, self.bot.services.image_checks.detector,
                                       self.bot.settings.image_check_threshold)
        await self._done(interaction, shown.explicit(config), _("Image check: {state}", state=check), sep="\n")

    @app_commands.command(name="defaults", description="A negative prompt added to every request (empty: none)")
    @app_commands.describe(negative_prompt="Added to what members keep out, on the models that take one")
    async def defaults(self, interaction: discord.Interaction[PixazoBot],
                       negative_prompt: app_commands.Range[str, 0, PROMPT_MAX_LENGTH] | None = None) -> None:
        text = clean_text(negative_prompt or "")
        if len(text) > PROMPT_MAX_LENGTH:
            raise InvalidInput(_("`{option}` is {length} characters long; the most is {most}.",
                                 option=option_name("negative_prompt"), length=len(text), most=PROMPT_MAX_LENGTH))
        await self.bot.services.moderation.set(guild_of(interaction), NEGATIVE_PROMPT, text, actor_id=interaction.user.id)
        await self._done(interaction, shown.negative_now(text))

    @app_commands.command(name="imagine", description="/imagine's model here, and results shown to members alone")
    @app_commands.describe(model="For members without their own default", private_results="on: members may choose it")
    @app_commands.choices(model=[c for c in MODEL_CHOICES if MODELS[c.value].image_field is None])
    async def imagine(self, interaction: discord.Interaction[PixazoBot], model: str | None = None,
                      private_results: OnOff | None = None) -> None:
        await self._done(interaction, await loop.set_imagine(interaction, model, private_results))

    @styles.command(name="add", description="Add a style: a template with {prompt} where the member's prompt goes")
    @app_commands.describe(name="Its name", template="For example: {prompt}, watercolor, soft light")
    async def styles_add(self, interaction: discord.Interaction[PixazoBot], name: app_commands.Range[str, 1, NAME_MAX],
                         template: app_commands.Range[str, 1, TEMPLATE_MAX]) -> None:
        await self._done(interaction, await loop.add_style(interaction, name, template))

    @styles.command(name="remove", description="Remove a style (a built-in one too)")
    @app_commands.autocomplete(name=style_choices)
    @app_commands.describe(name="The style to remove")
    async def styles_remove(self, interaction: discord.Interaction[PixazoBot], name: app_commands.Range[str, 1, NAME_MAX]
                            ) -> None:
        await self._done(interaction, await loop.remove_style(interaction, name))

    @styles.command(name="list", description="The styles members can pick here")
    async def styles_list(self, interaction: discord.Interaction[PixazoBot]) -> None:
        await loop.list_styles(interaction)

    # -- review: approval mode and reports; the audit log -------------------------------------------

    async def _review_now(self, interaction: discord.Interaction[PixazoBot], said: Text) -> None:
        config = await self._config(interaction)
        await self._done(interaction, said, *shown.review(config), sep="\n")

    @app_commands.command(name="review-channel", description="Where moderators approve images and look at reports")
    @app_commands.describe(channel="The channel (empty: none; approval channels then refuse, reporting stops)")
    async def review_channel(self, interaction: discord.Interaction[PixazoBot],
                             channel: app_commands.AppCommandChannel | None = None) -> None:
        await self.bot.services.moderation.set(guild_of(interaction), REVIEW_CHANNEL, None if channel is None else channel.id,
                                      actor_id=interaction.user.id)
        await self._review_now(interaction, _("No review channel now.") if channel is None else
                               _("Moderators now review in {channel}.", channel=channel.mention))

    @app_commands.command(name="approval", description="Results in a channel wait for a moderator's approval")
    @app_commands.describe(channel="The channel", state="on: nothing is posted there until a moderator approves it")
    async def approval(self, interaction: discord.Interaction[PixazoBot], channel: Channel, state: OnOff) -> None:
        if shown.on("state", state):
            added = await self._put(interaction, RuleKind.APPROVAL, str(channel.id), limit=MAX_CHANNELS,
                                    what=_("approval channels"))
            said = (_("Approval is now on in {channel}.", channel=channel.mention) if added else
                    _("Approval was already on in {channel}.", channel=channel.mention))
        else:
            removed = await self._remove(interaction, RuleKind.APPROVAL, str(channel.id))
            said = (_("Approval is now off in {channel}.", channel=channel.mention) if removed else
                    _("Approval was not on in {channel}.", channel=channel.mention))
        await self._review_now(interaction, said)

    @app_commands.command(name="reports", description="How many reports hide a result until a moderator decides")
    @app_commands.describe(hide_after=f"Reports that hide a result (0: members cannot report; default "
                                      f"{REPORTS_HIDE_AFTER.default})")
    async def reports(self, interaction: discord.Interaction[PixazoBot],
                      hide_after: app_commands.Range[int, 0, HIDE_AFTER_MAX]) -> None:
        if isinstance(hide_after, bool) or not isinstance(hide_after, int) or not 0 <= hide_after <= HIDE_AFTER_MAX:
            raise InvalidInput(_("`{option}` must be {kind}.", option=option_name("hide_after"),
                                 kind=_("a whole number from 0 to {most}", most=HIDE_AFTER_MAX)))
        await self.bot.services.moderation.set(guild_of(interaction), REPORTS_HIDE_AFTER, hide_after,
                                      actor_id=interaction.user.id)
        await self._review_now(interaction, _("Reporting is now off.") if hide_after == 0 else
                               _n("A result is now hidden after {n} report.", "A result is now hidden after {n} reports.",
                                  hide_after))

    @app_commands.command(name="audit-channel", description="Where the audit log is posted (leave empty: nowhere)")
    @app_commands.describe(channel="The channel that gets a compact note of every generation, decision and change")
    async def audit_channel(self, interaction: discord.Interaction[PixazoBot], channel: Channel | None = None) -> None:
        value = None if channel is None else channel.id
        await self.bot.services.moderation.set(guild_of(interaction), AUDIT_CHANNEL, value, actor_id=interaction.user.id)
        await self._done(interaction, _("The audit log now goes to {channel}: every generation, moderation decision and "
                                        "configuration or quota change, as it happens.", channel=channel.mention)
                         if channel else _("The audit log is no longer posted anywhere; it is still kept (see "
                                           "`/config audit`)."))

    @app_commands.command(name="audit", description="Recent audit log rows, newest first")
    @app_commands.describe(member="Rows by or about this member", action="Only this kind of action",
                           since="How far back: 2h, 3d, 45m, 1w, or a date like 2026-11-30 (UTC)",
                           page="Which page (10 rows a page)")
    async def audit(self, interaction: discord.Interaction[PixazoBot], member: discord.User | None = None,
                    action: AuditChoice | None = None, since: app_commands.Range[str, 1, 40] | None = None,
                    page: app_commands.Range[int, 1, AUDIT_PAGES_MAX] | None = None) -> None:
        page = shown.audit_options(action, page or 1, AUDIT_ACTIONS, AUDIT_PAGES_MAX)
        rows, total = await self.bot.services.audit_log.page(
            guild_of(interaction), member=None if member is None else member.id, action=action, since=since, page=page)
        embed = shown.audit_page(rows, total, page, interaction.locale.value)
        if not isinstance(embed, discord.Embed):
            return await self._done(interaction, embed)
        await interaction.followup.send(embed=embed, ephemeral=True, allowed_mentions=NO_PINGS)


async def setup(bot: PixazoBot) -> None:
    await bot.add_cog(ConfigAdmin(bot))
