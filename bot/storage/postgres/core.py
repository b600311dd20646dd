"""The PostgreSQL ledger's pool, through asyncpg: what its errors mean (StoreBusy, StoreDown,
WriteInDoubt), a read, a write, a transaction, and the advisory locks the concern modules take."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import zlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import asyncpg

from bot.core.database_url import DatabaseUrl
from bot.domain import (
    QuotaSnapshot,
    StoreBusy,
    StoreDown,
    WriteInDoubt,
)
from bot.domain.errors import StoreMisconfigured, StoreUnavailable
from bot.domain.records import JobRecord
from bot.domain.rules import RuleKind
from bot.storage.base import (
    quota,
)
from bot.storage.lease import new_owner
from bot.storage.outage import Outage

# Every claim, from every process, takes this transaction lock first: the count of live leases and the
# claim that follows it are then one step, so two processes can never both take the last free slot of
# PIXAZO_MAX_CONCURRENCY. Two int4 keys beside MIGRATION_LOCK's (0x7078, 1) and the cap's (0x7078, 2).
CLAIM_LOCK = (0x7078, 3)
SINGLETON_LOCK = 0x7079  # the first int4 key of `singleton(name)`'s locks; the second is the name's CRC

# Every audit row tells every process at COMMIT (NOTIFY audit_rows '<guild_id>': bot/storage/postgres/notify.py).
RECORD_SQL = ("WITH recorded AS (INSERT INTO admin_actions (guild_id, actor_id, action, target_id, detail, at)"
              " VALUES ($1, $2, $3, $4, $5, $6) RETURNING guild_id)"
              " SELECT pg_notify('audit_rows', guild_id::text) FROM recorded")

# What the operator must change before a start can succeed, and what to tell them; anything else (refused,
# unreachable, starting up, too many connections) may pass on its own and is worth a restart.
_FIX_FIRST: tuple[tuple[type[BaseException], str], ...] = (
    (asyncpg.InvalidPasswordError, "the password is wrong"),
    (asyncpg.InvalidAuthorizationSpecificationError, "the server does not let this user in (no such role, or "
                                                     "pg_hba.conf has no entry for it)"),
    (asyncpg.InvalidCatalogNameError, "there is no database of that name; create it or correct the name"),
    (asyncpg.InsufficientPrivilegeError, "the user lacks a right the ledger needs (creating its tables, say)"),
    (asyncpg.ClientConfigurationError, "asyncpg cannot use these connection settings"),
)


def refused(where: DatabaseUrl, what: str, exc: BaseException) -> StoreUnavailable:
    """One line for a failed connect or set-up: StoreMisconfigured when the operator must fix DATABASE_URL
    or the server's set-up, StoreUnavailable when trying again later may work. Never the password."""
    said = where.scrub(f"{type(exc).__name__}: {exc}")
    for kind, hint in _FIX_FIRST:
        if isinstance(exc, kind):
            return StoreMisconfigured(f"{what} ({where}): {hint}: {said}")
    if isinstance(exc, socket.gaierror) and exc.errno in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", None)):
        return StoreMisconfigured(f"{what} ({where}): the host name {where.host!r} is not known; correct it: {said}")
    return StoreUnavailable(f"{what} ({where}): {said}")


_BUSY = (asyncpg.LockNotAvailableError, asyncpg.DeadlockDetectedError, asyncpg.SerializationError,
         asyncpg.TooManyConnectionsError)
# The server can't take writes right now: it can't be reached, is starting, stopping or restarting, or
# its disk is full or it is read-only (a standby). OSError covers a refused or reset connection.
_DOWN = (OSError, asyncpg.PostgresConnectionError, asyncpg.CannotConnectNowError, asyncpg.AdminShutdownError,
         asyncpg.CrashShutdownError, asyncpg.DiskFullError, asyncpg.ReadOnlySQLTransactionError)


def _is_down(exc: BaseException) -> bool:
    if isinstance(exc, _DOWN):
        return True
    # asyncpg's own word for a connection that was already closed under it (the server went away).
    return isinstance(exc, asyncpg.InterfaceError) and "connection is closed" in str(exc)


def _is_lost(exc: BaseException) -> bool:
    """The connection broke with a statement in flight: the server may have committed it. An answer
    from the server (shutting down, disk full, read-only) means it did not."""
    return not isinstance(exc, asyncpg.PostgresError) or isinstance(exc, asyncpg.PostgresConnectionError)


def _why(exc: BaseException, where: DatabaseUrl | None) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    line = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return where.scrub(line) if where is not None else line




def quota_of(row: asyncpg.Record, now: float, default_allowance: int) -> QuotaSnapshot:
    return quota(row["by_member"], row["by_role"], row["by_guild"], row["granted"], row["used"], row["in_flight"],
                 row["global_used"], row["guild_used"], row["guild_budget"], now=now,
                 default_allowance=default_allowance)


async def lock_config(conn: asyncpg.Connection, guild_id: int, kind: RuleKind) -> None:
    # Held to the end of the transaction: changes to one server's entries of one kind, from any process,
    # take turns, so the limit's count and "already exactly so" are read with nothing else half-done.
    # Two int4 keys, a class beside MIGRATION_LOCK's; a hash collision only makes two servers wait.
    await conn.execute("SELECT pg_advisory_xact_lock(28793, hashtext($1::bigint::text || '/' || $2))",
                       guild_id, kind.value)


async def lock_member(conn: asyncpg.Connection, user_id: int) -> None:
    # Held to the end of the transaction: one member's reservations, from any process, take turns.
    await conn.execute("SELECT pg_advisory_xact_lock($1)", user_id)


async def keep_session(conn: asyncpg.Connection) -> None:
    """The pool's reset on release: nothing to undo. The store sets no session state, holds only
    transaction-level locks and opens no cursors, and asyncpg still rolls back a transaction left
    open; its default reset query would be one more round trip on every call."""



class PostgresCore:
    def __init__(self, pool: asyncpg.Pool, clock: Callable[[], float], busy_timeout: float, *,
                 owner: str | None = None, where: DatabaseUrl | None = None) -> None:
        self._pool = pool
        self._clock = clock
        self._busy_timeout = busy_timeout
        self.owner = owner or new_owner()  # this process's id on the leases it takes (bot/storage/lease.py)
        self._where = where
        self.outage = Outage(f"the PostgreSQL ledger {where}" if where else "the PostgreSQL ledger")
        self.interrupted: list[JobRecord] = []  # failed by recovery at start: their members are told (queue)

    async def close(self) -> None:
        await self._pool.close()

    def now(self) -> float:
        return self._clock()

    @asynccontextmanager
    async def _conn(self, *, in_doubt: bool = True) -> AsyncIterator[asyncpg.Connection]:
        """A pooled connection for one write (`in_doubt`: a connection lost while it runs may have
        committed it: WriteInDoubt) or, with in_doubt=False, for reads or an uncommitted transaction."""
        try:
            # asyncio.timeout, not acquire(timeout=): that wraps every acquire in a task of its own.
            async with asyncio.timeout(self._busy_timeout):
                conn = await self._pool.acquire()
        except TimeoutError:
            raise StoreBusy(f"no database connection free within {self._busy_timeout:g} s") from None
        except Exception as exc:
            if not _is_down(exc):
                raise
            # Nothing was sent: the server could not be reached, or is starting or stopping.
            self.outage.failed(_why(exc, self._where))
            raise StoreDown(_why(exc, self._where)) from None
        try:
            yield conn
        except _BUSY as exc:
            raise StoreBusy(f"the database is busy ({type(exc).__name__})") from None
        except Exception as exc:
            if not _is_down(exc):
                raise
            if in_doubt and _is_lost(exc):
                self.outage.in_doubt(_why(exc, self._where))
                raise WriteInDoubt(_why(exc, self._where)) from None
            self.outage.failed(_why(exc, self._where))
            raise StoreDown(_why(exc, self._where)) from None
        else:
            if in_doubt:
                self.outage.wrote()
        finally:
            with contextlib.suppress(Exception):  # a broken connection: the pool replaces it
                await self._pool.release(conn)

    def _read(self) -> AbstractAsyncContextManager[asyncpg.Connection]:
        return self._conn(in_doubt=False)

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[asyncpg.Connection]:
        """A transaction: what fails inside it was never committed (the server rolls back a transaction
        whose connection dies); only losing the connection during the COMMIT leaves it in doubt."""
        async with self._conn(in_doubt=False) as conn:
            transaction = conn.transaction()
            await transaction.start()
            try:
                yield conn
            except BaseException:
                with contextlib.suppress(Exception):  # a lost connection: the server rolled it back already
                    if not conn.is_closed():
                        await transaction.rollback()
                raise
            try:
                await transaction.commit()
            except Exception as exc:
                if _is_down(exc) and _is_lost(exc):
                    self.outage.in_doubt(_why(exc, self._where))
                    raise WriteInDoubt(_why(exc, self._where)) from None
                raise
        self.outage.wrote()

    @asynccontextmanager
    async def singleton(self, name: str) -> AsyncIterator[bool]:
        # A session lock, on a connection kept out of the pool while the block runs; try, never wait:
        # whoever has it is doing the work for everyone.
        key = (SINGLETON_LOCK, zlib.crc32(name.encode()) & 0x7FFFFFFF)
        async with self._read() as conn:
            mine = await conn.fetchval("SELECT pg_try_advisory_lock($1, $2)", *key)
            try:
                yield mine
            finally:
                if mine:
                    await conn.execute("SELECT pg_advisory_unlock($1, $2)", *key)
