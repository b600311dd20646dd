"""The Discord client: the slash commands' extensions, the persistent buttons and forms, command sync.

It holds the services (never the store): the cogs and the items reach everything through
`interaction.client.services`, typed once as `discord.Interaction[PixazoBot]`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import discord
from discord.ext import commands

from bot.core import memory
from bot.core.metrics import Metrics
from bot.core.offload import Offload
from bot.core.redact import Redactor
from bot.core.settings import Settings
from bot.services.container import Services
from bot.ui.discord_errors import discord_errors
from bot.ui.funnel import FunnelTree
from bot.ui.replies import NO_PINGS
from bot.ui.sync import sync_if_changed

log = logging.getLogger(__name__)

# Slash commands only: the buttons and forms are registered by the bot itself (bot/ui/items/).
EXTENSIONS = ("cogs.models", "cogs.inpaint", "cogs.menus", "cogs.quota", "cogs.quotas", "cogs.history", "cogs.help",
              "cogs.config", "cogs.imagine")

# The bot never joins voice; don't warn operators about voice libraries it will never need.
discord.VoiceClient.warn_nacl = False
discord.VoiceClient.warn_dave = False


class PixazoBot(commands.AutoShardedBot):
    def __init__(self, settings: Settings, *, services: Services, http_session: aiohttp.ClientSession,
                 offload: Offload, redactor: Redactor,
                 before_close: Callable[[], Awaitable[None]] | None = None, metrics: Metrics | None = None) -> None:
        intents = discord.Intents.none()
        intents.guilds = True
        shards: dict[str, Any] = {} if settings.shard_ids is None else {"shard_ids": list(settings.shard_ids)}
        # Every answer of 4xx/5xx from Discord, counted for /metrics by route class and status. Only where
        # /metrics is served: a traced session awaits a dozen signals for every request.
        traced: dict[str, Any] = ({} if settings.metrics_port is None
                                  else {"http_trace": discord_errors(metrics or services.queue.metrics)})
        super().__init__(
            command_prefix=commands.when_mentioned,
            help_command=None,
            intents=intents,
            tree_cls=FunnelTree,
            allowed_mentions=NO_PINGS,
            guild_ready_timeout=settings.discord_guild_ready_timeout,
            # SHARD_COUNT unset is discord.py's automatic sharding (Discord's recommendation); SHARD_IDS
            # splits the shards between processes sharing one PostgreSQL.
            shard_count=settings.shard_count,
            **traced,
            **shards,
        )
        self.settings = settings
        self.services = services
        self.http_session = http_session
        self.offload = offload  # image decoding and re-encoding, off the event loop
        self.redactor = redactor  # outside text and exceptions, scrubbed of this process's secrets
        self._warming: asyncio.Task[None] | None = None  # the image check's model, opened at start
        self._before_close = before_close  # the composition root's: the queue stops before Discord's client

    async def setup_hook(self) -> None:
        from bot.ui.items import ITEMS
        from bot.ui.periodic import Periodic

        for name in EXTENSIONS:
            await self.load_extension(name)
        self.add_dynamic_items(*ITEMS)
        self.periodic = Periodic(self)
        self.periodic.start()
        detector = self.services.image_checks.detector
        if detector.available:  # the model is opened now, off the loop, not at the first result
            self._warming = asyncio.create_task(self._warm_image_check(), name="image-check-load")
        await self._sync_commands()

    async def _sync_commands(self) -> None:
        # One syncer for the cluster: the process that runs shard 0 (every process runs it unless
        # SHARD_IDS splits them), and only while it holds the database's lock, should two claim shard 0.
        if 0 not in (self.settings.shard_ids or (0,)):
            log.info("commands are synced by the process that runs shard 0; not syncing here")
            return
        async with self.services.instance.singleton("command-sync") as mine:
            if not mine:
                log.info("another process is syncing the commands; not syncing here")
                return
            await sync_if_changed(self.tree, self.settings.data_dir / "command-sync.json",
                                  dev_guild_id=self.settings.dev_guild_id, force=False)

    async def _warm_image_check(self) -> None:
        try:
            await self.offload.run(self.services.image_checks.detector.load, timeout=120)
        except Exception as exc:  # the first check loads it again, within its own deadline
            log.warning("the image check's model could not be loaded at start: %s: %s", type(exc).__name__, exc)

    async def on_interaction(self, interaction: discord.Interaction[PixazoBot]) -> None:
        from bot.ui.items import FORMS
        from bot.ui.items.base import answer_forms

        await answer_forms(interaction, FORMS)

    async def close(self) -> None:
        """The queue first (its running jobs get their grace and are delivered while the HTTP client is
        still open), then the Discord side's own work."""
        if self._before_close is not None:
            await self._before_close()
        if self._warming is not None and not self._warming.done():
            self._warming.cancel()
        periodic = getattr(self, "periodic", None)
        if periodic is not None:
            await periodic.stop()
        self._cancel_ready_wait()
        await super().close()

    def _cancel_ready_wait(self) -> None:
        """discord.py's close() leaves the task that waits for the servers' data before "ready" running;
        stopped during that wait (a SIGTERM right after start), it later dispatches into a closed client
        and logs a traceback. discord.py offers no public way to stop it: this is the one place that
        reaches into its connection state, and it only cancels that task."""
        ready_task = getattr(self._connection, "_ready_task", None)
        if ready_task is not None and not ready_task.done():
            ready_task.cancel()

    async def on_ready(self) -> None:
        memory.freeze_start_up()
        # The audit rows of servers that were not connected yet (those the last run left, too) wait for a round.
        self.services.audit_feed.wake()
        log.info("connected as %s (id %s) to %d server(s); shard(s) %s of %s; job lease owner %s", self.user,
                 self.user.id if self.user else "?", len(self.guilds), ",".join(map(str, sorted(self.shards))),
                 self.shard_count, self.services.instance.owner)
