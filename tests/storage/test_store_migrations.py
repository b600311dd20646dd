"""Migrations on both backends: from every earlier version, existing ledgers kept whole, newer refused."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime

import asyncpg
import pytest

from bot.domain import Member
from bot.storage import SchemaTooNew, SqliteStore
from bot.storage.postgres import migrations as pg_migrations
from bot.storage.records import job_record
from bot.storage.sqlite import migrations as sqlite_migrations

DAY = "2026-11-23"
NOON = datetime(2026, 11, 23, 12, 0, tzinfo=UTC).timestamp()
INSERT_JOB = ("INSERT INTO jobs (user_id, guild_id, model, params, cost, day, state, created_at)"
              " VALUES (1, 10, 'sdxl', '{}', 2, '2026-11-23', 'succeeded', 0)")


def clock() -> float:
    return NOON


def sqlite_ledger_as_written_before(path, *, upto: int) -> None:
    """A ledger the way the bot before the PostgreSQL backend wrote it: the migration files applied
    one script each with PRAGMA user_version, then rows put in with plain SQL (its triggers keep totals)."""
    db = sqlite3.connect(path, isolation_level=None)
    try:
        for version, sql in sqlite_migrations.migrations()[:upto]:
            db.executescript(f"BEGIN IMMEDIATE;\n{sql}\nPRAGMA user_version = {version};\nCOMMIT;")
        jobs = [(1, 10, 4, "succeeded"), (1, 10, 3, "failed"), (1, 10, 2, "running"), (2, 10, 1, "reserved"),
                (2, 11, 5, "succeeded"), (1, 10, 2, "succeeded")]
        for i, (user, guild, cost, state) in enumerate(jobs):
            db.execute("INSERT INTO jobs (user_id, guild_id, channel_id, model, params, cost, day, state, created_at,"
                       " result_url) VALUES (?, ?, 5, 'sdxl', '{\"prompt\": \"x\"}', ?, ?, 'reserved', ?, ?)",
                       (user, guild, cost, DAY, NOON - 100 + i, f"https://x/{i}.png"))
            if state != "reserved":
                db.execute("UPDATE jobs SET state = ? WHERE id = ?", (state, i + 1))
        db.execute("INSERT INTO allowances VALUES (10, 'member', 1, 30)")
        db.execute("INSERT INTO grants (guild_id, user_id, day, credits, granted_by, created_at)"
                   " VALUES (10, 1, ?, 5, 9, ?)", (DAY, NOON - 50))
        db.execute("INSERT INTO admin_actions (guild_id, actor_id, action, target_id, detail, at)"
                   " VALUES (10, 9, 'grant', 1, '{\"credits\": 5}', ?)", (NOON - 50,))
    finally:
        db.close()


@pytest.mark.parametrize("upto", [sqlite_migrations.LATEST - 1, sqlite_migrations.LATEST])
async def test_a_sqlite_ledger_written_by_the_previous_code_opens_with_every_job_and_total(tmp_path, upto):
    path = tmp_path / "bot.sqlite3"
    sqlite_ledger_as_written_before(path, upto=upto)
    with sqlite3.connect(path) as db:
        db.row_factory = sqlite3.Row
        before = [dict(job_record(dict(r))) for r in db.execute("SELECT * FROM jobs ORDER BY id")]
    store = await SqliteStore.open(path, clock=clock)
    try:
        assert await store.audit() == []
        for row in before:
            after = await store.job(row["id"])
            if row["state"] in ("reserved", "running"):  # left open by the old bot: released at start
                assert (after["state"], after["error"]) == ("failed", "interrupted")
                after = {**after, "state": row["state"], "error": None, "finished_at": None}
            # Columns of later migrations (the queue's, 0005; the buttons', 0006) start at their defaults.
            queue_defaults = {"delivery": None, "interaction_token": None, "attempts": 0, "rank": 0,
                              "cancelled_by": None, "result_channel_id": None, "result_message_id": None,
                              "forgotten_at": None, "lease_owner": None, "lease_until": None, "batch_id": None,
                              "answered_at": None}
            assert after == {**queue_defaults, **row, "inputs": row.get("inputs")}
        alice = await store.snapshot(Member(10, 1), default_allowance=20)
        assert (alice.allowance, alice.granted, alice.used, alice.in_flight) == (30, 5, 6, 0)
        bob_here = await store.snapshot(Member(11, 2), default_allowance=20)
        assert (bob_here.used, bob_here.global_used) == (5, 11)
        assert [a["action"] for a in await store.admin_actions(10)] == ["grant"]
        # The migrated ledger keeps working: its totals follow new rows as before.
        job, snap = await store.reserve(Member(10, 1), channel_id=5, model="sdxl", params={}, cost=3,
                                        default_allowance=20, max_jobs=5, global_cap=None)
        assert snap.used == 9
        await store.fail(job, "x")
        assert await store.audit() == []
    finally:
        await store.close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (sqlite_migrations.LATEST,)


async def test_sqlite_migrations_from_empty_and_from_every_earlier_version(tmp_path):
    for start in range(0, sqlite_migrations.LATEST + 1):
        path = tmp_path / f"v{start}.sqlite3"
        db = sqlite3.connect(path, isolation_level=None)
        assert sqlite_migrations.apply_migrations(db, upto=start) == start
        if start >= 1:
            db.execute(INSERT_JOB)
        db.close()
        store = await SqliteStore.open(path)
        try:
            rows = await store.recent_jobs(10, 1)
            assert len(rows) == (1 if start >= 1 else 0), f"data lost migrating from version {start}"
            assert await store.audit() == []
        finally:
            await store.close()
        with sqlite3.connect(path) as db:
            assert sqlite_migrations.schema_version(db) == sqlite_migrations.LATEST


async def test_postgres_migrations_from_empty_and_from_every_earlier_version(postgres_server):
    from bot.storage.postgres.store import PostgresStore

    for start in range(0, pg_migrations.LATEST + 1):
        name = await postgres_server.create_database()
        url = postgres_server.url(name)
        try:
            conn = await asyncpg.connect(url)
            try:
                assert await pg_migrations.apply_migrations(conn, upto=start) == start
                if start >= 1:
                    await conn.execute(INSERT_JOB)
            finally:
                await conn.close()
            store = await PostgresStore.open(url)
            try:
                rows = await store.recent_jobs(10, 1)
                assert len(rows) == (1 if start >= 1 else 0), f"data lost migrating from version {start}"
                assert await store.audit() == []
            finally:
                await store.close()
            conn = await asyncpg.connect(url)
            try:
                assert await pg_migrations.schema_version(conn) == pg_migrations.LATEST
            finally:
                await conn.close()
        finally:
            await postgres_server.drop_database(name)


def test_both_backends_have_the_same_migration_numbers():
    assert [v for v, _ in sqlite_migrations.migrations()] == [v for v, _ in pg_migrations.migrations()]


async def test_bot_processes_starting_together_do_not_race_the_migrations(postgres_url):
    from bot.storage.postgres.store import PostgresStore

    stores = await asyncio.gather(*(PostgresStore.open(postgres_url, pool_size=1) for _ in range(6)))
    try:
        for store in stores:
            assert await store.audit() == []
        conn = await asyncpg.connect(postgres_url)
        try:
            assert await pg_migrations.schema_version(conn) == pg_migrations.LATEST
        finally:
            await conn.close()
    finally:
        for store in stores:
            await store.close()


async def test_a_newer_sqlite_database_is_refused(tmp_path):
    path = tmp_path / "future.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version = {sqlite_migrations.LATEST + 1}")
    with pytest.raises(SchemaTooNew, match="newer than this bot knows"):
        await SqliteStore.open(path)


async def test_a_newer_postgres_database_is_refused(postgres_url):
    from bot.storage.postgres.store import PostgresStore

    conn = await asyncpg.connect(postgres_url)
    try:
        await conn.execute(f"CREATE TABLE schema_version (version INTEGER NOT NULL);"
                           f" INSERT INTO schema_version VALUES ({pg_migrations.LATEST + 1})")
    finally:
        await conn.close()
    with pytest.raises(SchemaTooNew, match="newer than this bot knows"):
        await PostgresStore.open(postgres_url)
