"""The audit channel's feed, Discord-free: every `admin_actions` row of a server with AUDIT_CHANNEL set
is posted there (bot/ui/audit_poster.py makes and sends the embeds).

Durable and batched: rows carry a posted mark in the ledger. Each round claims a server's oldest
unposted rows (at most PER_MESSAGE, one message's worth of embeds) for a lease, has them posted as one
message and marks them posted; at most one message per channel every AUDIT_POST_INTERVAL_SECONDS. A
restart loses nothing (unposted rows wait in the ledger) and several processes never take the same rows
(the claim). Should a poster die between Discord's answer and the mark, the rows are taken again after
the lease, and the message is sent with the same nonce (`nonce`), which Discord (`enforce_nonce`)
answers with the message it already made instead of a second one.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable

from bot.domain.records import AuditRow
from bot.moderation.config import AUDIT_CHANNEL
from bot.services.moderation import Moderation
from bot.storage.roles import Audit

log = logging.getLogger(__name__)

PER_MESSAGE = 10  # Discord's most embeds in one message
LEASE_SECONDS = 60.0  # well inside the few minutes Discord remembers a nonce for
REFUSED_PAUSE_SECONDS = 60.0  # a channel that refused a post is tried again after this
# Rounds come when a row is recorded (`recorded`: this process's writes, and on PostgreSQL every
# process's, notified), and while rows wait for a channel's interval; else only this often, a safety net.
IDLE_SECONDS = 60.0

# Posts the rows in the guild's channel with the nonce; None, or why the channel refused them ("HTTP 403 ...").
Post = Callable[[int, int, list[AuditRow], str], Awaitable[str | None]]


def nonce(rows: list[AuditRow]) -> str:
    """The same rows give the same nonce (25 characters at most, Discord's limit)."""
    return "a" + hashlib.sha256(",".join(str(r["id"]) for r in rows).encode()).hexdigest()[:24]


class AuditFeed:
    def __init__(self, store: Audit, moderation: Moderation, *, interval: float, clock: Callable[[], float]) -> None:
        self._store = store
        self._moderation = moderation
        self.interval = interval
        self._clock = clock
        self._posted: dict[int, float] = {}  # channel id -> when this process last posted there
        self._paused: dict[int, float] = {}  # guild id -> until when its channel is left alone
        self._recorded = asyncio.Event()
        self._waiting = True  # rows may wait for a round (at start: those the last run left)

    def recorded(self, guild_id: int) -> None:
        """A row waiting to be posted was recorded for this server (by this process, or another's
        notification): a round now, which posts it, or marks it done if the server has no audit channel
        (so that one set later shows only what follows). A generation's row in a server without an
        audit channel is recorded done already, and tells nobody (bot/services/generation.py)."""
        self._recorded.set()

    def wake(self) -> None:
        """A round now: rows may wait unheard (the bot just connected, a listener reconnected)."""
        self._recorded.set()

    async def next_round(self) -> None:
        """Until the next round is due: a row recorded, or AUDIT_POST_INTERVAL_SECONDS while rows wait
        for their channel, or IDLE_SECONDS."""
        try:
            async with asyncio.timeout(self.interval if self._waiting else IDLE_SECONDS):
                await self._recorded.wait()
        except TimeoutError:
            pass
        self._recorded.clear()

    async def tick(self, serves: Callable[[int], bool], post: Post) -> None:
        """One round: each server this process `serves` with rows waiting gets at most one message."""
        self._waiting = True  # until this round ends without a failure
        waiting = False
        for guild_id in await self._store.unposted_guilds():
            if not serves(guild_id):
                continue  # not a server this process serves (or not connected yet)
            channel_id = (await self._moderation.config(guild_id)).get(AUDIT_CHANNEL)
            if channel_id is None:
                # Recorded while nobody asked for an audit channel: kept in the ledger, never posted.
                await self._store.skip_audit(guild_id)
                continue
            waiting = True  # rows that wait for this channel's interval, or follow the ones posted now
            now = self._clock()
            if now < self._paused.get(guild_id, 0) or now - self._posted.get(channel_id, -1e9) < self.interval:
                continue
            await self._post(guild_id, channel_id, post)
        self._waiting = waiting

    async def _post(self, guild_id: int, channel_id: int, post: Post) -> None:
        rows = await self._store.claim_audit(guild_id, limit=PER_MESSAGE, lease_seconds=LEASE_SECONDS)
        if not rows:
            return
        ids = [r["id"] for r in rows]
        refused = await post(guild_id, channel_id, rows, nonce(rows))
        if refused is not None:
            self._paused[guild_id] = self._clock() + REFUSED_PAUSE_SECONDS
            await self._store.release_audit(ids)
            log.warning("audit log: channel %s of guild %s refused %d row(s) (%s); they wait in the ledger and are "
                        "tried again in %.0fs", channel_id, guild_id, len(rows), refused, REFUSED_PAUSE_SECONDS)
            return
        self._posted[channel_id] = self._clock()
        await self._store.mark_audit_posted(ids)
