"""Which ledger the bot uses: one setting, DATABASE_URL, picks the backend."""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable, Mapping

from bot.core.preflight import StartupError, ledger_name, reason, unwritable
from bot.core.settings import Settings
from bot.domain.errors import StoreDown, StoreUnavailable
from bot.storage.roles import Store

log = logging.getLogger(__name__)


async def open_store(settings: Settings, *, clock: Callable[[], float] = time.time, recover: bool = True,
                     delivered: Mapping[int, str | None] | None = None, owner: str | None = None,
                     exclusive: bool = False) -> Store:
    """SQLite at DATA_DIR/bot.sqlite3 when DATABASE_URL is unset, else PostgreSQL through a pool.

    Raises StoreUnavailable (one line naming DATABASE_URL, never its password) when the URL is
    malformed or the server cannot be reached, and SchemaTooNew for a database a newer bot migrated.
    `delivered` (job id -> result URL, from the settle journal) are recorded as succeeded before the
    other open jobs are released; `recover=False` leaves open jobs alone: for a second view of a
    ledger a running bot owns. `owner` is the lease owner id of this process (default: a new one);
    `exclusive` (the caller holds DATA_DIR's lock, bot/core/instance_lock.py) lets SQLite's recovery take
    every running job as its own; PostgreSQL's never does, other processes may be running them.
    """
    busy_timeout = settings.database_busy_timeout_seconds
    if settings.database_url is None:
        from bot.storage.sqlite.store import SqliteStore

        return await SqliteStore.open(settings.database_path, clock=clock, recover=recover, delivered=delivered,
                                      busy_timeout=busy_timeout, owner=owner, exclusive=exclusive)
    from bot.storage.postgres.store import PostgresStore  # asyncpg is loaded only by installs that use it

    return await PostgresStore.open(settings.database_url.get_secret_value(), pool_size=settings.database_pool_size,
                                    clock=clock, recover=recover, delivered=delivered, busy_timeout=busy_timeout,
                                    owner=owner)


async def open_at_start(settings: Settings, *, delivered: Mapping[int, str | None], owner: str | None = None) -> Store:
    """The ledger as the bot opens it at start: a database that cannot be opened is a StartupError whose
    one line names it and the system's reason; a ledger that can't be written, DATA_DIR's condition."""
    # StoreBusy passes through: a lock held by another process is worth a retry, not a fix. So do
    # StoreUnavailable and SchemaTooNew, whose messages already name DATABASE_URL or the schema.
    database = settings.database_path
    try:
        # exclusive: the caller holds DATA_DIR's lock (bot/core/instance_lock.py), so on SQLite no other
        # process can be running a job and recovery may take them all as this one's.
        store = await open_store(settings, delivered=delivered, owner=owner, exclusive=True)
    except StoreDown as exc:
        # Nothing could be written while the ledger was opened (its recovery is a write).
        if settings.database_url is not None:
            raise StoreUnavailable(f"the DATABASE_URL database stopped taking writes as the bot opened it ({exc}); "
                                   "check the database server") from None
        raise unwritable(settings.data_dir, f"the SQLite ledger {database} can't be written ({exc})") from None
    except sqlite3.OperationalError as exc:
        if _sqlite_down(exc):  # while opening it: a migration's write, the write-ahead log's files
            raise unwritable(settings.data_dir, f"the SQLite ledger {database} can't be written ({exc})") from None
        hint = "; is another copy of the bot using this DATA_DIR?" if "locked" in str(exc) else ""
        raise StartupError(f"database {database} could not be opened: {exc}{hint}") from None
    except (sqlite3.Error, OSError) as exc:
        raise StartupError(f"database {database} could not be opened: {reason(exc)}") from None
    # Once open: a failure to open is its own one line, naming the ledger already.
    log.info("ledger: %s", ledger_name(settings))
    return store


def _sqlite_down(exc: sqlite3.OperationalError) -> bool:
    """SQLITE_READONLY, SQLITE_IOERR, SQLITE_FULL: the file system would not take the write."""
    return (getattr(exc, "sqlite_errorcode", 0) & 0xFF) in (8, 10, 13)
