"""Numbered PostgreSQL migrations, the same numbers as SQLite's; the version lives in `schema_version`.

Several bot processes may start at once against one database: a session advisory lock makes them
take turns, so exactly one applies each migration and the others find it done.
"""

from __future__ import annotations

import asyncpg

from bot.storage.migrate import SchemaTooNew, read_migrations

# Two int4 keys: PostgreSQL keeps these apart from the single-bigint keys the store locks members with.
# (0x7078, 2) is reserve_job's lock on the global cap (migration 0004); (0x7079, hash of server and kind)
# the lock a change to a server's configuration takes (PostgresStore.put_rule and the others); (0x707a, hash
# of the server) the server's budget lock, shared by its reservations and exclusive in set_budget (0007).
MIGRATION_LOCK = (0x7078, 1)


def migrations() -> list[tuple[int, str]]:
    return read_migrations(__package__)


LATEST = len(migrations())


async def schema_version(conn: asyncpg.Connection) -> int:
    exists = await conn.fetchval("SELECT to_regclass('schema_version') IS NOT NULL")
    return await conn.fetchval("SELECT version FROM schema_version") if exists else 0


async def apply_migrations(conn: asyncpg.Connection, *, upto: int | None = None) -> int:
    """Bring the schema to `upto` (default: the latest), one transaction per migration."""
    target = LATEST if upto is None else upto
    await conn.execute("SELECT pg_advisory_lock($1, $2)", *MIGRATION_LOCK)
    try:
        await conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);"
                           "INSERT INTO schema_version SELECT 0 WHERE NOT EXISTS (SELECT FROM schema_version)")
        current = await schema_version(conn)
        if current > LATEST:
            raise SchemaTooNew(f"database schema version {current} is newer than this bot knows ({LATEST}); "
                               "run the bot version that wrote it, or a newer one")
        for version, sql in migrations():
            if current < version <= target:
                async with conn.transaction():
                    await conn.execute(sql)  # no arguments: the simple protocol runs the whole script
                    await conn.execute("UPDATE schema_version SET version = $1", version)
        return await schema_version(conn)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1, $2)", *MIGRATION_LOCK)
