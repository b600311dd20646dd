"""The PostgreSQL ledger, through asyncpg and a connection pool: for installs that outgrow one process;
composed of its concern modules.

Same tables, same rules as the SQLite ledger: credits are never a stored balance, every credit spent
is a `jobs` row, the daily totals are kept by triggers in the same transaction as the rows
(migration 0004), and `audit()` recomputes them from the rows. Each module implements one role of
bot/storage/roles/ over the shared core (core.py: the pool, what errors mean, the advisory locks):
ledger.py, queue.py, jobs.py, allowances.py, config.py, reviews.py, appeals.py, audit.py, the same
modules by the same names as SQLite's.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

import asyncpg

from bot.core.database_url import DatabaseUrl
from bot.storage.base import recovered
from bot.storage.postgres.allowances import PostgresAllowances
from bot.storage.postgres.appeals import PostgresAppeals
from bot.storage.postgres.audit import PostgresAudit
from bot.storage.postgres.config import PostgresConfig
from bot.storage.postgres.core import keep_session, refused
from bot.storage.postgres.jobs import PostgresJobs
from bot.storage.postgres.loop import PostgresLoop
from bot.storage.postgres.migrations import apply_migrations
from bot.storage.postgres.queue import PostgresQueue
from bot.storage.postgres.reviews import PostgresReviews


class PostgresStore(PostgresQueue, PostgresLoop, PostgresJobs, PostgresAllowances, PostgresConfig, PostgresReviews,
                    PostgresAppeals, PostgresAudit):
    """A pool of connections; every method is one transaction on one of them (core.py says how they
    take turns)."""

    @classmethod
    async def open(cls, url: str, *, pool_size: int = 10, clock: Callable[[], float] = time.time,
                   busy_timeout: float = 5.0, delivered: Mapping[int, str | None] | None = None,
                   recover: bool = True, connect_timeout: float = 10.0, owner: str | None = None) -> PostgresStore:
        """Connect, migrate, open a pool and recover (as SqliteStore.open); StoreUnavailable (one line,
        no password) when the server cannot be reached or the ledger cannot be set up, StoreMisconfigured
        when that is DATABASE_URL's fault or the server's set-up (see _FIX_FIRST)."""
        where = DatabaseUrl.parse(url)  # StoreUnavailable when malformed
        try:
            conn = await asyncpg.connect(url, timeout=connect_timeout)
        except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise refused(where, "could not connect to the PostgreSQL server in DATABASE_URL", exc) from None
        try:
            await apply_migrations(conn)
            # min_size=0: no floor of connections for asyncpg to restore, with a traceback a try, while
            # the server is down; connections are opened as calls need them and kept while in use.
            # Commits are durable (the server's synchronous_commit, on by default): with it off, a
            # server that crashed or was stopped at once (`pg_ctl stop -m immediate`) loses the last
            # fraction of a second of commits the bot was told had landed: a claim (the job then runs
            # twice), a settle, a reservation of a job already running.
            pool = await asyncpg.create_pool(
                url, min_size=0, max_size=pool_size, timeout=connect_timeout, reset=keep_session,
                server_settings={
                    # A wait for a member's lock past the busy timeout becomes StoreBusy.
                    "lock_timeout": f"{int(busy_timeout * 1000)}ms",
                    "application_name": "pixazo-bot",
                })
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            # Say, a user that may not create tables: the migration's own message says which.
            raise refused(where, "could not set up the ledger in the DATABASE_URL database", exc) from None
        finally:
            await conn.close()
        store = cls(pool, clock, busy_timeout, owner=owner, where=where)
        return await recovered(store, delivered, recover=recover)
