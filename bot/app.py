"""The Discord client: extensions, the error funnel, command sync."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot import guard
from bot.domain import StoreBusy, StoreDown, WriteInDoubt
from bot.errors import UserFacingError
from bot.image_check import ImageCheck
from bot.offload import Offload
from bot.redact import Redactor
from bot.replies import NO_PINGS, delivered, discord_fault, reply_privately, tell_discord_fault
from bot.services.generation import GenerationService
from bot.services.moderation import Moderation
from bot.services.queue import QueueRunner
from bot.services.quotas import Quotas
from bot.settings import Settings
from bot.storage import Store
from bot.storage.outage import ledger_written
from bot.sync import sync_if_changed

log = logging.getLogger(__name__)

EXTENSIONS = ("cogs.generate", "cogs.inpaint", "cogs.quota", "cogs.admin", "cogs.queue", "cogs.results",
              "cogs.history", "cogs.help", "cogs.config", "cogs.approval", "cogs.reports",
              "cogs.appeals", "cogs.audit")
# What a command or button that failed may say about credits and changes depends on what it had written
# to the ledger by then (bot/storage/outage.py ledger_written): nothing, and "nothing was spent" is true;
# something (a job queued with its credits held, a setting changed), and the answer says nothing of it.
UNEXPECTED = ("Something unexpected went wrong on the bot's side. The operator has the details in the log; "
              "no credits were spent.")
UNEXPECTED_AFTER_WRITE = "Something unexpected went wrong on the bot's side. The operator has the details in the log."
BUSY = "The bot is busy right now; nothing was changed. Please try again in a moment."
BUSY_AFTER_WRITE = ("The bot is busy right now and could not finish this; part of it may already be saved. "
                    "Please check before trying again.")
DOWN = "The bot can't record anything right now; nothing was spent or changed. Please try again in a few minutes."
DOWN_AFTER_WRITE = ("The bot can't record anything right now and could not finish this; part of it may already be "
                    "saved. Please check before trying again in a few minutes.")
IN_DOUBT = ("The bot lost its connection to its records while saving this, so it may or may not have been saved. "
            "Please check before trying again.")


class FunnelTree(app_commands.CommandTree):
    """Every command error ends here, and every one gets an answer."""

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        unsuggestible = guard.autocomplete_problem(interaction)
        if unsuggestible is not None:
            # Made up, or from an older schema: an empty list of suggestions, not a traceback.
            log.warning("autocomplete request by user %s refused: %s (guild %s)", interaction.user.id, unsuggestible,
                        interaction.guild_id)
            try:
                await interaction.response.autocomplete([])
            except discord.HTTPException as exc:
                log.info("could not answer that autocomplete request: HTTP %s %s", exc.status, exc.text)
            return False
        refusal = guard.problem(interaction)
        if refusal is None:
            return True
        where = f"/{interaction.command.qualified_name}" if interaction.command else "interaction"
        log.info("%s by user %s refused before it ran: %s (guild %s)", where, interaction.user.id, refusal,
                 interaction.guild_id)
        await reply_privately(interaction, refusal)
        return False

    async def on_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        cause = error.original if isinstance(error, app_commands.CommandInvokeError) else error
        where = f"/{interaction.command.qualified_name}" if interaction.command else "interaction"
        await answer_error(interaction, cause, where)


async def answer_error(interaction: discord.Interaction, cause: BaseException, where: str) -> None:
    """The funnel's answer to one error, for slash commands and buttons alike."""
    if delivered(interaction):
        # The member has their result; whatever failed after it, any answer here ("no credits were
        # spent", "try again") would be false. The operator gets the detail; the member nothing.
        known = isinstance(cause, (UserFacingError, StoreBusy))
        log.log(logging.WARNING if known else logging.ERROR, "%s by user %s failed after its result was "
                "delivered: %s: %s", where, interaction.user.id, type(cause).__name__,
                getattr(cause, "detail", cause), exc_info=None if known else cause)
    elif isinstance(cause, UserFacingError):
        log.log(logging.getLevelName(cause.log_level), "%s by user %s: %s", where, interaction.user.id, cause.detail)
        await reply_privately(interaction, cause.user_message, view=await refusal_view(interaction, cause))
    elif isinstance(cause, WriteInDoubt):
        log.warning("%s by user %s: the database connection was lost during a write: %s", where, interaction.user.id,
                    cause)
        await reply_privately(interaction, IN_DOUBT)
    elif isinstance(cause, StoreDown):  # the store logged the outage once; this names the member refused
        log.info("%s by user %s refused, the ledger can't be written: %s", where, interaction.user.id, cause)
        await reply_privately(interaction, DOWN_AFTER_WRITE if ledger_written() else DOWN)
    elif isinstance(cause, StoreBusy):
        log.warning("%s by user %s refused, the database is busy: %s", where, interaction.user.id, cause)
        await reply_privately(interaction, BUSY_AFTER_WRITE if ledger_written() else BUSY)
    elif isinstance(cause, app_commands.CheckFailure):
        log.info("%s refused for user %s: %s", where, interaction.user.id, cause)
        await reply_privately(interaction, str(cause) or "You are not allowed to use this command here.")
    elif isinstance(cause, app_commands.TransformerError):
        log.info("%s by user %s: option could not be read: %s", where, interaction.user.id, cause)
        await reply_privately(interaction, guard.unreadable(interaction, cause))
    elif isinstance(cause, discord.HTTPException) and discord_fault(cause):
        # Discord's trouble or refusal (a 5xx after discord.py's retries, 10062 Unknown interaction, a
        # missing permission): one line with the cause, and a sentence to the member if any reaches them.
        await tell_discord_fault(interaction, cause, where)
    elif isinstance(cause, app_commands.CommandSignatureMismatch | app_commands.CommandNotFound):
        # Discord's client is showing a command (or options) this bot no longer has.
        log.warning("%s by user %s does not match the synced commands: %s", where, interaction.user.id, cause)
        await reply_privately(interaction, guard.STALE_COMMAND)
    else:
        written = ledger_written()
        log.error("%s by user %s failed unexpectedly%s", where, interaction.user.id,
                  " after it had written to the ledger" if written else "", exc_info=cause)
        await reply_privately(interaction, UNEXPECTED_AFTER_WRITE if written else UNEXPECTED)


# Part 8's appeals: a refusal may come with a button (Ask a moderator, for the server's own prompt rules).
# cogs/appeals.py sets `bot.refusal_view`; without it, or when it has nothing to offer, a refusal is text.
RefusalView = Callable[[discord.Interaction, UserFacingError], Awaitable[discord.ui.View | None]]


async def refusal_view(interaction: discord.Interaction, cause: UserFacingError) -> discord.ui.View | None:
    hook: RefusalView | None = getattr(interaction.client, "refusal_view", None)
    if hook is None:
        return None
    try:
        return await hook(interaction, cause)
    except Exception as exc:  # the refusal itself must still be told
        log.warning("could not offer an appeal to user %s: %s: %s", interaction.user.id, type(exc).__name__, exc)
        return None


async def answer_form(interaction: discord.Interaction, pattern: re.Pattern[str],
                      handler: Callable[[discord.Interaction, re.Match[str]], Awaitable[None]], where: str) -> None:
    """Answer a submitted form (modal) whose custom_id matches `pattern`, through the funnel.

    Forms are answered from a listener, not a live View: the custom_id carries what the form is about,
    so a form opened before a restart is answered by the new process from the database."""
    if interaction.type is not discord.InteractionType.modal_submit:
        return
    data: Any = interaction.data or {}
    match = pattern.match(str(data.get("custom_id", "")))
    if match is None:
        return
    try:
        await handler(interaction, match)
    except Exception as exc:  # the slash commands' funnel: every error gets an answer
        await answer_error(interaction, exc, where)


# The bot never joins voice; don't warn operators about voice libraries it will never need.
discord.VoiceClient.warn_nacl = False
discord.VoiceClient.warn_dave = False


class PixazoBot(commands.AutoShardedBot):
    def __init__(self, settings: Settings, *, store: Store, generation: GenerationService, quotas: Quotas,
                 http_session, offload: Offload, redactor: Redactor, queue: QueueRunner | None = None) -> None:
        intents = discord.Intents.none()
        intents.guilds = True
        shards: dict[str, Any] = {} if settings.shard_ids is None else {"shard_ids": list(settings.shard_ids)}
        super().__init__(
            command_prefix=commands.when_mentioned,
            help_command=None,
            intents=intents,
            tree_cls=FunnelTree,
            allowed_mentions=NO_PINGS,
            guild_ready_timeout=settings.discord_guild_ready_timeout,
            # Part 9: SHARD_COUNT unset is discord.py's automatic sharding (Discord's recommendation);
            # SHARD_IDS splits the shards between processes sharing one PostgreSQL.
            shard_count=settings.shard_count,
            **shards,
        )
        self.settings = settings
        self.store = store
        self.generation = generation
        self.quotas = quotas
        self.http_session = http_session
        self.offload = offload  # image decoding and re-encoding, off the event loop
        self.image_check = ImageCheck(settings.image_check_classes, enabled=settings.image_check)
        self._warming: asyncio.Task[None] | None = None  # the image check's model, opened at start
        self.redactor = redactor  # outside text and exceptions, scrubbed of this process's secrets
        self.queue = queue or QueueRunner(settings, store, generation, quotas)
        self.moderation = Moderation(store)  # /config and the gates every generation passes
        self.refusal_view: RefusalView | None = None  # part 8's appeals (cogs/appeals.py)
        self.closing_hooks: list[Callable[[], Awaitable[None]]] = []  # background loops the cogs started

    async def setup_hook(self) -> None:
        for name in EXTENSIONS:
            await self.load_extension(name)
        if self.image_check.available:  # the model is opened now, off the loop, not at the first result
            self._warming = asyncio.create_task(self._warm_image_check(), name="image-check-load")
        # One syncer for the cluster: the process that runs shard 0 (every process runs it unless
        # SHARD_IDS splits them), and only while it holds the store's lock, should two claim shard 0.
        if 0 not in (self.settings.shard_ids or (0,)):
            log.info("commands are synced by the process that runs shard 0; not syncing here")
            return
        async with self.store.singleton("command-sync") as mine:
            if not mine:
                log.info("another process is syncing the commands; not syncing here")
                return
            await sync_if_changed(self.tree, self.settings.data_dir / "command-sync.json",
                                  dev_guild_id=self.settings.dev_guild_id, force=False)

    async def _warm_image_check(self) -> None:
        try:
            await self.offload.run(self.image_check.load, timeout=120)
        except Exception as exc:  # the first check loads it again, within its own deadline
            log.warning("the image check's model could not be loaded at start: %s: %s", type(exc).__name__, exc)

    async def close(self) -> None:
        # discord.py's close() leaves the task that waits for the servers' data before "ready" running;
        # stopped during that wait (a SIGTERM right after start), it later dispatches into a closed
        # client and logs a traceback. Cancel it first (a private attribute: there is no public hook).
        # Running jobs get their grace and are delivered while the HTTP client is still open.
        await self.queue.shutdown()
        if self._warming is not None and not self._warming.done():
            self._warming.cancel()
        for stop in self.closing_hooks:
            await stop()
        ready_task = getattr(self._connection, "_ready_task", None)
        if ready_task is not None and not ready_task.done():
            ready_task.cancel()
        await super().close()

    async def on_ready(self) -> None:
        log.info("connected as %s (id %s) to %d server(s); shard(s) %s of %s; job lease owner %s", self.user,
                 self.user.id if self.user else "?", len(self.guilds), ",".join(map(str, sorted(self.shards))),
                 self.shard_count, self.store.owner)
