"""The bot's background work: the audit channel's poster, which waits for rows to be recorded (the audit
feed says when a round is due), and the daily history retention sweep, on `discord.ext.tasks`. (The
queue's dispatch waits on an event, not a clock: it is the queue runner's own loop.)"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import discord
from discord.ext import tasks

from bot.core.i18n import Text
from bot.domain import StoreBusy, StoreDown
from bot.domain.records import AuditRow
from bot.services.audit import lines, title
from bot.ui.embeds import COLOUR
from bot.ui.i18n import for_guild
from bot.ui.replies import NO_PINGS

if TYPE_CHECKING:
    from bot.ui.app import PixazoBot

log = logging.getLogger(__name__)

STOP_WAIT_SECONDS = 5.0
EMBED_MAX = 550  # 10 of them stay under Discord's 6,000 characters for all embeds of a message
DAY_HOURS = 24


def audit_embed(row: AuditRow, t: Callable[[Text | str], str] = str) -> discord.Embed:
    """One audit row, worded by `t` (the server's language)."""
    text = "\n".join(t(line) for line in lines(row))
    if len(text) > EMBED_MAX:
        text = text[:EMBED_MAX - 1] + "…"
    return discord.Embed(title=t(title(row))[:60], description=text, colour=COLOUR,
                         timestamp=datetime.fromtimestamp(row["at"], UTC))


class Periodic:
    def __init__(self, bot: PixazoBot) -> None:
        self.bot = bot
        self.retention = tasks.loop(hours=DAY_HOURS)(self._sweep)
        self._audit: asyncio.Task[None] | None = None
        self._in_round = False
        self._stopping = False

    def start(self) -> None:
        self._audit = asyncio.create_task(self._audit_loop(), name="audit-poster")
        if self.bot.settings.history_retention_days > 0:
            self.retention.start()  # once at start, then daily

    async def _audit_loop(self) -> None:
        feed = self.bot.services.audit_feed
        while True:
            await self._audit_round()
            if self._stopping:  # stop() waited for this round
                return
            await feed.next_round()

    async def stop(self) -> None:
        """Stop after the audit round under way, if any, so that its rows are marked (else they would wait
        for their lease at the next start); a round that hangs is cut off after STOP_WAIT_SECONDS. Between
        rounds the loop is only sleeping: it is cancelled at once."""
        self.retention.cancel()
        task = self._audit
        if task is None or task.done():
            return
        self._stopping = True
        if not self._in_round:
            task.cancel()
        else:
            _, late = await asyncio.wait({task}, timeout=STOP_WAIT_SECONDS)
            for stuck in late:
                stuck.cancel()
        await asyncio.gather(task, return_exceptions=True)

    async def _sweep(self) -> None:
        await self.bot.services.history.sweep(self.bot.settings.history_retention_days)

    async def _audit_round(self) -> None:
        self._in_round = True
        try:
            await self.bot.services.audit_feed.tick(lambda guild_id: self.bot.get_guild(guild_id) is not None,
                                                    self._post)
        except StoreDown:
            pass  # the store has logged the outage once; the rows wait in the ledger
        except StoreBusy as exc:
            log.warning("audit log: the database is busy (%s); trying again", exc)
        except Exception:
            log.exception("audit log: posting failed; trying again")
        finally:
            self._in_round = False

    async def _post(self, guild_id: int, channel_id: int, rows: list[AuditRow], nonce: str) -> str | None:
        channel = self.bot.get_partial_messageable(channel_id, guild_id=guild_id)
        try:
            t = for_guild(self.bot, guild_id)
            await channel.send(embeds=[audit_embed(r, t) for r in rows], allowed_mentions=NO_PINGS, nonce=nonce)
        except discord.HTTPException as exc:
            return f"HTTP {exc.status} {exc.text}"
        return None
