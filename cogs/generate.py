"""One slash command per text-to-image model, all derived from the catalog."""

from __future__ import annotations

import inspect
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.app import PixazoBot
from bot.catalog import TEXT_MODELS, Model, Param
from bot.errors import UserFacingError
from bot.guard import GUILD_ONLY
from bot.moderation.config import NEGATIVE_PROMPT, SPOILER, GuildConfig
from bot.moderation.gates import Asker, Refusal
from bot.moderation.review import review_target
from bot.services.queue import delivery_info
from bot.services.validation import Prepared, prepare, with_negative
from bot.storage import Member

DESCRIPTION_MAX = 100
REFUSED_REQUEST = "refused_request"  # Interaction.extras key: (Prepared, Asker) the gates refused


def option_annotation(param: Param) -> Any:
    if param.choices:
        return Literal[param.choices]  # discord.py turns a Literal into the option's choices
    # For text the range is a length, so its bounds are whole numbers whatever the value's type.
    bound = int if param.type is str else param.type
    low = None if param.min is None else bound(param.min)
    high = None if param.max is None else bound(param.max)
    return app_commands.Range[param.type, low, high]


def option_description(param: Param) -> str:
    text = param.description
    if param.default is not None:
        text = f"{text} (default {param.default})"
    return text[:DESCRIPTION_MAX]


def member_of(interaction: discord.Interaction, user: discord.abc.User | None = None) -> Member:
    """The ledger's view of `user` (default: whoever invoked) in this server; @everyone is no allowance role."""
    if interaction.guild_id is None:
        # The tree refuses guild-only commands outside servers; this keeps any other path from
        # charging a shared "guild 0".
        raise UserFacingError(GUILD_ONLY, detail="a server-only command arrived without a guild")
    user = user or interaction.user
    roles = tuple(r.id for r in getattr(user, "roles", ()) if r.id != interaction.guild_id)
    return Member(guild_id=interaction.guild_id, user_id=user.id, role_ids=roles)


def asker_of(interaction: discord.Interaction) -> Asker:
    """Who is asking and where, as the moderation gates see it."""
    channel = interaction.channel
    parent = getattr(channel, "parent", None) if isinstance(channel, discord.Thread) else None
    parent_id = getattr(channel, "parent_id", None) if isinstance(channel, discord.Thread) else None
    category_id = getattr(parent if parent is not None else channel, "category_id", None)
    # A thread is age-restricted when its channel is; discord.py's Thread.is_nsfw asks the parent.
    is_nsfw = getattr(channel, "is_nsfw", None)
    return Asker(user_id=interaction.user.id, role_ids=member_of(interaction).role_ids,
                 channel_id=interaction.channel_id, parent_id=parent_id, category_id=category_id,
                 age_restricted=bool(is_nsfw()) if callable(is_nsfw) else False)


@dataclass(frozen=True)
class Admission:
    """A request every moderation gate let through, and what the server's settings add to it."""

    config: GuildConfig
    asker: Asker
    review: int | None = None  # approval mode (part 8): the review channel the result waits in

    @property
    def private(self) -> bool:
        """In approval mode even "thinking…" is the member's alone: nothing shows until approved."""
        return self.review is not None

    @property
    def spoiler(self) -> bool:
        return self.asker.age_restricted and bool(self.config.get(SPOILER))

    def shape(self, prepared: Prepared) -> Prepared:
        return with_negative(prepared, self.config.get(NEGATIVE_PROMPT))


async def admit(bot: PixazoBot, interaction: discord.Interaction, prepared: Prepared) -> Admission:
    """The moderation gates, for slash commands and buttons alike (raises the first refusal)."""
    member_of(interaction)  # refuses outside a server before any lookup
    assert interaction.guild_id is not None
    asker = asker_of(interaction)
    try:
        config = await bot.moderation.admit(interaction.guild_id, asker, prepared.model.key, prepared.prompt)
    except Refusal:
        # Part 8's appeals store exactly this request, should the member ask a moderator about it.
        interaction.extras[REFUSED_REQUEST] = (prepared, asker)
        raise
    return Admission(config, asker, review_target(config, asker))


def make_command(name: str, description: str, params: tuple[Param, ...],
                 handler: Callable[..., Awaitable[None]], extra: dict[str, tuple[Any, str]] | None = None,
                 ) -> app_commands.Command:
    """A slash command whose options are `params`, calling `handler(interaction, **options)`.

    `extra` adds required options that are not Pixazo fields (attachments): name -> (annotation, description).
    """
    extra = extra or {}

    async def callback(interaction: discord.Interaction, **options: Any) -> None:
        await handler(interaction, **options)

    def option(param: Param) -> inspect.Parameter:
        default = inspect.Parameter.empty if param.option == "prompt" else None
        return inspect.Parameter(param.option, inspect.Parameter.KEYWORD_ONLY, default=default,
                                 annotation=option_annotation(param))

    options = [option(p) for p in params]
    # Discord wants required options first: the prompt, then `extra` (attachments), then the rest.
    signature = [inspect.Parameter("interaction", inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                   annotation=discord.Interaction)]
    signature += [o for o in options if o.default is inspect.Parameter.empty]
    signature += [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation)
                  for name, (annotation, _) in extra.items()]
    signature += [o for o in options if o.default is not inspect.Parameter.empty]
    callback.__signature__ = inspect.Signature(signature)  # type: ignore[attr-defined]
    callback.__discord_app_commands_param_description__ = {  # type: ignore[attr-defined]
        **{p.option: option_description(p) for p in params}, **{name: text for name, (_, text) in extra.items()}
    }
    return app_commands.Command(name=name, description=description[:DESCRIPTION_MAX], callback=callback,
                                allowed_contexts=app_commands.AppCommandContext(guild=True))


class Generate(commands.Cog):
    def __init__(self, bot: PixazoBot) -> None:
        self.bot = bot
        self.commands = [self._command_for(model) for model in TEXT_MODELS]

    def _command_for(self, model: Model) -> app_commands.Command:
        async def handler(interaction: discord.Interaction, **options: Any) -> None:
            await self.generate(interaction, model, options)

        return make_command(model.key, model.summary, model.params, handler)

    async def cog_load(self) -> None:
        for command in self.commands:
            self.bot.tree.add_command(command)

    async def cog_unload(self) -> None:
        for command in self.commands:
            self.bot.tree.remove_command(command.name)

    async def generate(self, interaction: discord.Interaction, model: Model, options: dict[str, Any]) -> None:
        started = time.monotonic()
        # Both raise before anything is deferred, so the answer is ephemeral.
        prepared = prepare(model, options)
        admission = await admit(self.bot, interaction, prepared)
        await interaction.response.defer(thinking=True, ephemeral=admission.private)
        await run_and_post(self.bot, interaction, prepared, started, admission)


async def run_and_post(bot: PixazoBot, interaction: discord.Interaction, prepared: Prepared, started: float,
                       admission: Admission, *, inputs: dict[str, Any] | None = None,
                       original: discord.Attachment | None = None, note: str | None = None) -> None:
    """Queue the job: credits reserved now (a refusal raises, nothing spent); the queue runs and delivers it.

    `admission` is what the moderation gates let through; `note` is shown above the result ("Reroll of job #N")."""
    member = member_of(interaction)
    delivery = delivery_info(
        application_id=interaction.application_id, prompt=prepared.prompt, shown=prepared.shown,
        role_ids=member.role_ids, requester=interaction.user.display_name,
        avatar_url=interaction.user.display_avatar.url, filesize_limit=interaction.filesize_limit,
        thumbnail_url=None if original is None else original.url)
    if note:
        delivery["note"] = note
    if admission.spoiler:
        delivery["spoiler"] = True
    if admission.asker.age_restricted:  # the image check (bot/image_check.py) runs elsewhere
        delivery["age_restricted"] = True
    if admission.review is not None:
        delivery["review"] = admission.review
    # The server's negative prompt goes to Pixazo, not into what the member typed: a Reroll adds it once.
    prepared = admission.shape(prepared)
    await bot.queue.submit(prepared, member, channel_id=interaction.channel_id, delivery=delivery,
                           token=interaction.token, inputs=inputs)


async def setup(bot: PixazoBot) -> None:
    await bot.add_cog(Generate(bot))
