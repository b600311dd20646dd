"""The server usage view's ledger query (`Store.guild_usage`), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.storage import Member, Store
from tests.backends import Clock
from tests.storage.test_store import reserve

GUILD = 10
ALICE = Member(GUILD, 1, ())
BOB = Member(GUILD, 2, ())
STORAGE = Path(__file__).resolve().parents[2] / "bot" / "storage"


def usage_index_sql(backend: str) -> str:
    """Migration 0008, which the store applies itself; running it again here changes nothing."""
    return (STORAGE / backend / "migrations" / "0008_usage_view.sql").read_text(encoding="utf-8")


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 11, 23, 12, 0, tzinfo=UTC))


@pytest.fixture
async def store(backend, clock):
    s = await backend.open(clock=clock)
    yield s
    assert await s.audit() == []
    await s.close()


async def spent(store: Store, member: Member, model: str, cost: int) -> int:
    job = await reserve(store, member, cost=cost, model=model)
    await store.succeed(job, "https://x/y.png")
    return job


async def test_usage_counts_spent_open_and_forgotten_jobs_but_not_refunded_ones(store, clock):
    clock.set(datetime(2026, 10, 23, 12, 0, tzinfo=UTC))
    await spent(store, ALICE, "sdxl", 2)  # before the view's first day
    clock.set(datetime(2026, 11, 21, 9, 0, tzinfo=UTC))
    await spent(store, BOB, "sdxl", 2)
    await spent(store, BOB, "sdxl", 2)
    assert await store.forget_member(BOB.user_id) == 2  # /forget keeps cost and day: still spent
    clock.set(datetime(2026, 11, 23, 12, 0, tzinfo=UTC))
    await spent(store, ALICE, "sd3", 3)
    await spent(store, ALICE, "sdxl", 2)
    await reserve(store, ALICE, cost=1, model="sdxl-lightning")  # still running: its credits are held
    failed = await reserve(store, ALICE, cost=2, model="sdxl")
    await store.fail(failed, "boom")
    cancelled = await reserve(store, BOB, cost=3, model="sd3")
    await store.mark_running(cancelled)
    await store.cancel(cancelled, BOB.user_id)
    await spent(store, Member(GUILD + 1, 1, ()), "sdxl", 2)  # another server

    rows = await store.guild_usage(GUILD, "2026-10-25")
    assert rows == [
        {"day": "2026-11-21", "model": "sdxl", "user_id": 2, "credits": 4, "jobs": 2},
        {"day": "2026-11-23", "model": "sd3", "user_id": 1, "credits": 3, "jobs": 1},
        {"day": "2026-11-23", "model": "sdxl", "user_id": 1, "credits": 2, "jobs": 1},
        {"day": "2026-11-23", "model": "sdxl-lightning", "user_id": 1, "credits": 1, "jobs": 1},
    ]
    assert all(type(r["credits"]) is int and type(r["jobs"]) is int for r in rows)
    assert await store.guild_usage(GUILD, "2026-11-22") == rows[1:], "since_day is inclusive, by UTC day"
    assert await store.guild_usage(GUILD + 2, "2026-10-25") == []


async def test_a_reset_forgives_the_allowance_but_the_server_still_spent_the_credits(store):
    await spent(store, ALICE, "sdxl", 2)
    await store.reset_usage(GUILD, ALICE.user_id, actor_id=9)
    assert [r["credits"] for r in await store.guild_usage(GUILD, "2026-11-23")] == [2]


async def test_a_server_view_is_recorded_with_no_target(store):
    await store.record_view(GUILD, 9, None)
    assert [(a["actor_id"], a["action"], a["target_id"]) for a in await store.admin_actions(GUILD)] == [
        (9, "view", None)]


async def test_the_usage_query_reads_one_servers_days_through_an_index(backend, clock):
    """EXPLAIN, once migration 0008's index is there: the view must not walk every job there is."""
    store = await backend.open(clock=clock)
    await store.close()
    index_sql = usage_index_sql(backend.name)
    if backend.name == "sqlite":
        import sqlite3

        from bot.storage.sqlite.allowances import USAGE_SQL as SQLITE_USAGE

        db = sqlite3.connect(backend.location)
        try:
            db.executescript(index_sql)
            plan = " ".join(row[3] for row in db.execute("EXPLAIN QUERY PLAN " + SQLITE_USAGE, (GUILD, "2026-11-01")))
        finally:
            db.close()
        assert "USING INDEX jobs_guild_day (guild_id=? AND day>?)" in plan, plan
        return
    import asyncpg

    from bot.storage.postgres.allowances import USAGE_SQL as PG_USAGE

    conn = await asyncpg.connect(backend.location)
    try:
        await conn.execute(index_sql)
        # An empty table is cheapest to scan whole; what matters is which index serves the query.
        await conn.execute("SET enable_seqscan = off")
        plan = "\n".join(r[0] for r in await conn.fetch("EXPLAIN " + PG_USAGE, GUILD, "2026-11-01"))
    finally:
        await conn.close()
    assert "jobs_guild_day" in plan and "day >=" in plan, plan
