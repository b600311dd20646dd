"""The audit channel: every `admin_actions` row of a server with AUDIT_CHANNEL set becomes a compact embed there.

Durable and batched: rows carry a posted mark in the ledger. The poster claims a server's oldest
unposted rows (at most 10, one message's worth of embeds) for a lease, posts them as one message and
marks them posted; at most one message per channel every AUDIT_POST_INTERVAL_SECONDS. A restart
loses nothing (unposted rows wait in the ledger) and several processes never take the same rows (the
claim). Should a poster die between Discord's answer and the mark, the rows are taken again after the
lease, and the message is sent with the same nonce, which Discord (`enforce_nonce`) answers with the
message it already made instead of a second one.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from datetime import UTC, datetime

import discord
from discord.ext import commands

from bot.domain import StoreBusy, StoreDown
from bot.domain.records import AuditRow
from bot.moderation.config import AUDIT_CHANNEL
from bot.services.audit import lines, title
from bot.storage import Store
from bot.ui.app import PixazoBot
from bot.ui.embeds import COLOUR
from bot.ui.replies import NO_PINGS

log = logging.getLogger(__name__)

PER_MESSAGE = 10  # Discord's most embeds in one message
LEASE_SECONDS = 60.0  # well inside the few minutes Discord remembers a nonce for
REFUSED_PAUSE_SECONDS = 60.0  # a channel that refused a post is tried again after this
STOP_WAIT_SECONDS = 5.0
EMBED_MAX = 550  # 10 of them stay under Discord's 6,000 characters for all embeds of a message


def audit_embed(row: AuditRow) -> discord.Embed:
    text = "\n".join(lines(row))
    if len(text) > EMBED_MAX:
        text = text[:EMBED_MAX - 1] + "…"
    return discord.Embed(title=title(row)[:60], description=text, colour=COLOUR,
                         timestamp=datetime.fromtimestamp(row["at"], UTC))


def nonce(rows: list[AuditRow]) -> str:
    """The same rows give the same nonce (25 characters at most, Discord's limit)."""
    return "a" + hashlib.sha256(",".join(str(r["id"]) for r in rows).encode()).hexdigest()[:24]


class AuditPoster:
    def __init__(self, bot: PixazoBot, *, clock=None) -> None:
        self.bot = bot
        self._loop = asyncio.get_running_loop()
        self._clock = clock or self._loop.time
        self._posted: dict[int, float] = {}  # channel id -> when this process last posted there
        self._paused: dict[int, float] = {}  # guild id -> until when its channel is left alone
        self._task: asyncio.Task | None = None
        self._stopping = asyncio.Event()

    @property
    def interval(self) -> float:
        return self.bot.settings.audit_post_interval_seconds

    def start(self) -> None:
        if self._task is None:
            self._stopping = asyncio.Event()
            self._task = asyncio.create_task(self._run(), name="audit-poster")

    async def stop(self) -> None:
        """Stop after the post under way, if any, so that its rows are marked (else they would wait for
        their lease at the next start); a post that hangs is cut off after STOP_WAIT_SECONDS."""
        if self._task is None:
            return
        self._stopping.set()
        _, late = await asyncio.wait({self._task}, timeout=STOP_WAIT_SECONDS)
        for task in late:
            task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        self._task = None

    async def _run(self) -> None:
        tick = min(1.0, self.interval)
        while not self._stopping.is_set():
            try:
                await asyncio.wait_for(self._stopping.wait(), tick)
                return
            except TimeoutError:
                pass
            try:
                await self.tick()
            except StoreDown:
                pass  # the store has logged the outage once; the rows wait in the ledger
            except StoreBusy as exc:
                log.warning("audit log: the database is busy (%s); trying again", exc)
            except Exception:
                log.exception("audit log: posting failed; trying again")

    async def tick(self) -> None:
        store = self.bot.store
        for guild_id in await store.unposted_guilds():
            if self.bot.get_guild(guild_id) is None:
                continue  # not a server this process serves (or not connected yet)
            config = await self.bot.moderation.config(guild_id)
            channel_id = config.get(AUDIT_CHANNEL)
            if channel_id is None:
                # Recorded while nobody asked for an audit channel: kept in the ledger, never posted.
                await store.skip_audit(guild_id)
                continue
            now = self._clock()
            if now < self._paused.get(guild_id, 0) or now - self._posted.get(channel_id, -1e9) < self.interval:
                continue
            await self._post(store, guild_id, channel_id)

    async def _post(self, store: Store, guild_id: int, channel_id: int) -> None:
        rows = await store.claim_audit(guild_id, limit=PER_MESSAGE, lease_seconds=LEASE_SECONDS)
        if not rows:
            return
        ids = [r["id"] for r in rows]
        channel = self.bot.get_partial_messageable(channel_id, guild_id=guild_id)
        try:
            await channel.send(embeds=[audit_embed(r) for r in rows], allowed_mentions=NO_PINGS, nonce=nonce(rows))
        except discord.HTTPException as exc:
            self._paused[guild_id] = self._clock() + REFUSED_PAUSE_SECONDS
            await store.release_audit(ids)
            log.warning("audit log: channel %s of guild %s refused %d row(s) (HTTP %s %s); they wait in the "
                        "ledger and are tried again in %.0fs", channel_id, guild_id, len(rows), exc.status,
                        exc.text, REFUSED_PAUSE_SECONDS)
            return
        self._posted[channel_id] = self._clock()
        await store.mark_audit_posted(ids)


class AuditFeed(commands.Cog):
    def __init__(self, bot: PixazoBot) -> None:
        self.bot = bot
        self.poster: AuditPoster | None = None

    async def cog_load(self) -> None:
        if not hasattr(self.bot, "store"):  # a bare commands.Bot (the extension-loading test)
            return
        self.poster = AuditPoster(self.bot)
        self.poster.start()
        self.bot.closing_hooks.append(self.poster.stop)

    async def cog_unload(self) -> None:
        if self.poster is not None:
            await self.poster.stop()


async def setup(bot: PixazoBot) -> None:
    await bot.add_cog(AuditFeed(bot))
