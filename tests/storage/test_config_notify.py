"""/config changes reach every process sharing a PostgreSQL (part 9): NOTIFY guild_config from the
trigger on guild_rules, heard by each process's ConfigListener; after a dropped connection it
reconnects and reports everything changed; a poll of the per-server versions catches a lost one."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from bot.storage.postgres.notify import ConfigListener
from bot.storage.postgres.store import PostgresStore

GUILD = 4242


class Heard:
    def __init__(self) -> None:
        self.changes: list[int | None] = []
        self._event = asyncio.Event()

    def __call__(self, guild_id: int | None) -> None:
        self.changes.append(guild_id)
        self._event.set()

    async def until(self, expected: int | None, timeout: float = 5.0) -> None:
        async with asyncio.timeout(timeout):
            while expected not in self.changes:
                self._event.clear()
                await self._event.wait()


@pytest.fixture
async def database(postgres_url):
    store = await PostgresStore.open(postgres_url)  # migrates
    await store.close()
    conn = await asyncpg.connect(postgres_url)
    try:
        yield postgres_url, conn
    finally:
        await conn.close()


async def put_rule(conn: asyncpg.Connection, guild_id: int, value: str) -> None:
    await conn.execute("INSERT INTO guild_rules (guild_id, kind, value, detail, actor_id, at)"
                       " VALUES ($1, 'word', $2, NULL, 1, 0)", guild_id, value)


async def test_a_change_committed_anywhere_is_heard_and_a_rolled_back_one_is_not(database):
    url, conn = database
    heard = Heard()
    listener = ConfigListener(url, heard, poll_seconds=60)
    await listener.start()
    try:
        tx = conn.transaction()
        await tx.start()
        await put_rule(conn, GUILD + 1, "never")
        await tx.rollback()
        await put_rule(conn, GUILD, "dragon")
        await heard.until(GUILD)
        await conn.execute("DELETE FROM guild_rules WHERE guild_id = $1", GUILD)
        await asyncio.sleep(0.2)
        assert heard.changes == [GUILD, GUILD], "one for the insert, one for the delete; none rolled back"
    finally:
        await listener.close()


async def test_a_dropped_connection_reconnects_and_reloads_everything(database):
    url, conn = database
    heard = Heard()
    listener = ConfigListener(url, heard, poll_seconds=60)
    await listener.start()
    try:
        await conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                           " WHERE application_name = 'pixazo-bot-listener'")
        await heard.until(None)
        assert listener.reconnects == 1
        await put_rule(conn, GUILD, "after")  # and it listens again
        await heard.until(GUILD)
    finally:
        await listener.close()


async def test_the_poll_catches_a_change_whose_notification_was_lost(database):
    url, conn = database
    await put_rule(conn, GUILD, "before")  # a version row exists before the listener starts
    heard = Heard()
    listener = ConfigListener(url, heard, poll_seconds=0.3)
    await listener.start()
    try:
        # The version moves without a NOTIFY: what a notification lost in transit looks like.
        await conn.execute("UPDATE guild_config_versions SET version = version + 1 WHERE guild_id = $1", GUILD)
        await heard.until(GUILD, timeout=3)
        assert heard.changes == [GUILD]
    finally:
        await listener.close()


async def test_every_config_method_of_the_store_notifies(database):
    from bot.domain.rules import RuleKind

    url, _ = database
    heard = Heard()
    listener = ConfigListener(url, heard, poll_seconds=60)
    await listener.start()
    store = await PostgresStore.open(url)
    try:
        assert await store.put_rule(GUILD, RuleKind.WORD, "dragon", None, actor_id=1)
        await heard.until(GUILD)
        assert await store.put_rule(GUILD + 1, RuleKind.WORD, "wyvern", None, actor_id=1)
        await heard.until(GUILD + 1)
        heard.changes.clear()
        assert await store.remove_rule(GUILD, RuleKind.WORD, "dragon", actor_id=1)
        await heard.until(GUILD)
        heard.changes.clear()
        assert await store.clear_rules(GUILD + 1, RuleKind.WORD, actor_id=1) == 1
        await heard.until(GUILD + 1)
    finally:
        await store.close()
        await listener.close()


async def test_a_members_defaults_changed_anywhere_are_heard_by_member(database):
    url, _ = database
    heard: list[str | None] = []
    told = asyncio.Event()

    def member_defaults(payload: str | None) -> None:
        heard.append(payload)
        told.set()

    listener = ConfigListener(url, lambda _: None, poll_seconds=60, others={"member_defaults": member_defaults})
    await listener.start()
    store = await PostgresStore.open(url)
    try:
        await store.set_member_default(GUILD, 4001, "negative_prompt", "blurry")
        await store.set_member_default(GUILD + 1, 4001, "style", "noir")
        await asyncio.wait_for(told.wait(), 5)
        heard.clear()
        told.clear()
        await store.forget_member(4001)  # /forget in another process: both servers' rows go
        await asyncio.wait_for(told.wait(), 5)
        await asyncio.sleep(0.2)
        assert heard == ["4001"], "one notification per member and transaction, at its COMMIT"
    finally:
        await store.close()
        await listener.close()
