"""Every process learns of every /config change at once: LISTEN guild_config (migration 0011's trigger
sends NOTIFY guild_config '<guild_id>' with each change, at its COMMIT). On the same connection, the
other channels the store notifies (`others`: channel -> callback of the payload): `jobs` (a job queued,
the payload the queuing process's lease owner) and `audit_rows` (an audit row recorded, the payload its
server's id), so the queue and the audit poster wait for work instead of polling for it. After a
reconnect each of those callbacks is called with None: what was sent meanwhile is lost.

One dedicated connection, outside the store's pool (a pooled connection is handed back and forth; a
listening one must stay put). Should it drop, the listener reconnects and reports everything changed,
since notifications sent meanwhile are lost; and in case one is lost without the connection visibly
dropping, it compares each server's configuration version every `poll_seconds`. No Discord here: the
composition root wires `on_change` to the moderation cache.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping

import asyncpg

log = logging.getLogger(__name__)

CHANNEL = "guild_config"
RECONNECT_FIRST_DELAY = 0.5
RECONNECT_MAX_DELAY = 10.0

# A server's id, or None for "any of them may have changed".
OnChange = Callable[[int | None], None]
# A notification's payload, or None for "some may have been lost".
OnNotify = Callable[[str | None], None]


class ConfigListener:
    def __init__(self, url: str, on_change: OnChange, *, poll_seconds: float = 30.0,
                 connect_timeout: float = 10.0, others: Mapping[str, OnNotify] | None = None) -> None:
        self._url = url
        self._on_change = on_change
        self._others = dict(others or {})
        self._poll_seconds = poll_seconds
        self._connect_timeout = connect_timeout
        self._conn: asyncpg.Connection | None = None
        self._versions: dict[int, int] = {}
        self._dropped = asyncio.Event()
        self._task: asyncio.Task | None = None
        self.reconnects = 0  # for tests

    async def start(self) -> None:
        """Listen before returning, so no change made after start is missed; StoreUnavailable-like
        errors of the first connection propagate (the store opened a moment ago, so they are rare)."""
        await self._connect()
        self._task = asyncio.create_task(self._watch(), name="config-listener")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._disconnect()

    # -- the connection --------------------------------------------------------------------------

    async def _connect(self) -> None:
        conn = await asyncpg.connect(self._url, timeout=self._connect_timeout,
                                     server_settings={"application_name": "pixazo-bot-listener"})
        try:
            await conn.add_listener(CHANNEL, self._notified)
            for channel in self._others:
                await conn.add_listener(channel, self._notified_other)
            conn.add_termination_listener(self._terminated)
            self._versions = await self._read_versions(conn)
        except BaseException:
            await conn.close()
            raise
        self._conn = conn
        self._dropped.clear()

    async def _disconnect(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), 2)

    def _notified(self, conn: object, pid: int, channel: str, payload: str) -> None:
        try:
            guild_id = int(payload)
        except ValueError:
            log.warning("config listener: ignored a notification with payload %r", payload[:40])
            return
        self._on_change(guild_id)

    def _notified_other(self, conn: object, pid: int, channel: str, payload: str) -> None:
        self._others[channel](payload)

    def _terminated(self, conn: object) -> None:
        self._dropped.set()

    @staticmethod
    async def _read_versions(conn: asyncpg.Connection) -> dict[int, int]:
        rows = await conn.fetch("SELECT guild_id, version FROM guild_config_versions")
        return {r[0]: r[1] for r in rows}

    # -- the fallback ------------------------------------------------------------------------------

    async def _watch(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._dropped.wait(), self._poll_seconds)
            if self._conn is None or self._conn.is_closed() or self._dropped.is_set():
                await self._reconnect()
                continue
            try:
                await self._poll()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("config listener: polling the configuration versions failed (%s); reconnecting",
                            type(exc).__name__)
                self._dropped.set()

    async def _poll(self) -> None:
        assert self._conn is not None
        versions = await self._read_versions(self._conn)
        changed = [g for g, v in versions.items() if self._versions.get(g) != v]
        self._versions = versions
        for guild_id in changed:
            self._on_change(guild_id)
        if changed:
            log.info("config listener: the poll found %d server(s) changed without a notification", len(changed))

    async def _reconnect(self) -> None:
        log.warning("config listener: the connection to PostgreSQL dropped; reconnecting")
        await self._disconnect()
        delay = RECONNECT_FIRST_DELAY
        tries = 0
        while True:
            try:
                await self._connect()
                break
            except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                tries += 1  # said once per outage; the retries after it only at DEBUG
                log.log(logging.WARNING if tries == 1 else logging.DEBUG,
                        "config listener: could not reconnect (%s); trying again in %.1fs, and on until it can",
                        type(exc).__name__, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, RECONNECT_MAX_DELAY)
        self.reconnects += 1
        # Whatever was sent while it was down is lost: every cached server may be stale.
        self._on_change(None)
        for told in self._others.values():
            told(None)
        log.info("config listener: reconnected; every server's configuration is reloaded on its next command")
