"""The SQLite ledger's connections, through aiosqlite: one writer, one reader, and what their errors mean.

Writes go through one connection guarded by an asyncio lock, so no two coroutines' statements ever
share a transaction: a transaction is `BEGIN IMMEDIATE` … `commit()` while the lock is held. A single
statement that needs no transaction (a reservation, a settle, a claim) runs in autocommit: while no
transaction is open it goes straight to the connection's queue, else it waits for the lock. SQLite's own write
lock (taken by BEGIN IMMEDIATE, waited for up to the busy timeout) keeps other processes out. Reads
go through a second connection: in WAL mode they see every committed write and never wait for the
writer.

aiosqlite runs each call on its connection's thread, in the order they were made; a caller that is
cancelled stops waiting, but the statement still runs. So a transaction that is cancelled (or
fails) queues its ROLLBACK behind whatever it sent, and keeps the lock until that has run.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiosqlite

from bot.domain import StoreBusy, StoreDown
from bot.domain.records import JobRecord
from bot.storage.lease import new_owner
from bot.storage.outage import Outage
from bot.storage.sqlite.migrations import pending

log = logging.getLogger("bot.storage.sqlite")

Conn = aiosqlite.Connection
Row = sqlite3.Row
Args = tuple[Any, ...] | dict[str, Any]

RECORD_SQL = "INSERT INTO admin_actions (guild_id, actor_id, action, target_id, detail, at) VALUES (?, ?, ?, ?, ?, ?)"

# The file can't be written right now: SQLITE_READONLY, SQLITE_IOERR, SQLITE_FULL, SQLITE_CANTOPEN (a
# full disk, a file system remounted read-only, a failing disk). Nothing was written: SQLite rolls the
# statement (or the transaction) back; it may work again once the operator has made room.
DOWN_CODES = frozenset({8, 10, 13, 14})


def is_busy(exc: BaseException) -> bool:
    """SQLite's "database is locked" / "database is busy": another connection holds the write lock."""
    return isinstance(exc, sqlite3.OperationalError) and any(
        word in str(exc).lower() for word in ("database is locked", "database is busy", "database table is locked"))


def is_down(exc: BaseException, codes: frozenset[int] = DOWN_CODES) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and (getattr(exc, "sqlite_errorcode", 0) & 0xFF) in codes


async def fetch(conn: Conn, sql: str, args: Args = ()) -> list[Row]:
    """A statement's rows, in one trip to the connection's thread."""
    return list(await conn.execute_fetchall(sql, args))


async def connect(path: Path, busy_timeout: float, *, migrate: bool = False) -> Conn:
    """A connection as the ledger uses it; `migrate`: WAL and the schema first (the writer, at open).

    The writer migrates, on its own connection, rather than one opened and closed for it: closing the
    last connection checkpoints the write-ahead log and frees its space, and a start on a full disk
    must meet the full disk (bot/storage/open.py), not the room a crashed run's log happened to hold."""
    # check_same_thread=False: total_changes and in_transaction are read from the event loop's thread.
    conn = await aiosqlite.connect(path, isolation_level=None, check_same_thread=False)
    try:
        for pragma in (f"PRAGMA busy_timeout = {max(1, round(busy_timeout * 1000))}",
                       *(["PRAGMA journal_mode = WAL"] if migrate else []), "PRAGMA synchronous = NORMAL",
                       # What a row loses (an update, /forget) is overwritten with zeros, not left in free space.
                       "PRAGMA secure_delete = ON"):
            await conn.execute(pragma)
        if migrate:
            ((version,),) = await fetch(conn, "PRAGMA user_version")
            for script in pending(version):
                try:
                    await conn.executescript(script)
                except BaseException:
                    await conn.rollback()
                    raise
        conn.row_factory = sqlite3.Row
    except BaseException:
        await conn.close()
        raise
    return conn


async def _rolled_back(conn: Conn) -> bool:
    """ROLLBACK, queued behind whatever the transaction sent, and waited for even if the caller is
    cancelled meanwhile (the lock must not pass on with the transaction open); whether it was."""
    task = asyncio.ensure_future(conn.rollback())
    cancelled = False
    while not task.done():
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            cancelled = True
        except Exception:  # noqa: BLE001 - read below; the transaction's own error is the one to raise
            break
    if not task.cancelled() and (error := task.exception()) is not None:
        log.warning("a transaction could not be rolled back: %s", error)
    return cancelled


@asynccontextmanager
async def _rolling_back(conn: Conn) -> AsyncIterator[None]:
    """On any error or cancellation, ROLLBACK before the write lock passes on."""
    try:
        yield
    except BaseException as exc:
        if await _rolled_back(conn) and not isinstance(exc, asyncio.CancelledError):
            raise asyncio.CancelledError from exc
        raise


class SqliteCore:
    """The connections, the clock, the outage and the lease owner that every concern module shares."""

    def __init__(self, writer: Conn, reader: Conn, clock: Callable[[], float], *, owner: str | None = None,
                 exclusive: bool = False, path: Path | None = None) -> None:
        self._writer: Conn | None = writer

        self._reader = reader
        self._lock = asyncio.Lock()
        self._queued = 0  # waiting for the lock (`_turn`), the one it was just handed to included
        self._clock = clock
        self.owner = owner or new_owner()  # this process's id on the leases it takes (bot/storage/lease.py)
        # The bot holds DATA_DIR's lock (bot/core/instance_lock.py): no other process can be running jobs, so
        # recovery may take every running job as this process's own, without waiting for leases to expire.
        self._exclusive = exclusive
        self.outage = Outage(f"the SQLite ledger {path}" if path else "the SQLite ledger")
        self.interrupted: list[JobRecord] = []  # failed by recovery at start: their members are told (queue)
        self._audit_watch: Callable[[int], None] | None = None  # watch_audit's callback
        self._told: list[int] = []  # servers of the audit rows the open transaction recorded

    @staticmethod
    async def _connections(path: Path, busy_timeout: float) -> tuple[Conn, Conn]:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            writer = await connect(path, busy_timeout, migrate=True)
        except sqlite3.OperationalError as exc:
            if is_busy(exc):
                raise StoreBusy(f"{path}: {exc}") from None
            raise
        try:
            return writer, await connect(path, busy_timeout)
        except BaseException:
            await writer.close()
            raise

    async def close(self) -> None:
        if self._writer is None:
            return
        writer, self._writer = self._writer, None
        async with self._turn():
            try:
                await self._reader.close()
            finally:
                await writer.close()  # the last connection: it checkpoints the write-ahead log

    def now(self) -> float:
        return self._clock()

    @contextlib.contextmanager
    def _faults(self) -> Iterator[None]:
        """sqlite3's errors as the roles name them: StoreBusy, StoreDown (said once by the outage)."""
        try:
            yield
        except sqlite3.OperationalError as exc:
            if is_busy(exc):
                raise StoreBusy(str(exc)) from None
            if is_down(exc):
                self.outage.failed(str(exc))
                raise StoreDown(str(exc)) from None
            raise

    def _conn(self) -> Conn:
        if self._writer is None:
            raise sqlite3.ProgrammingError("the ledger is closed")
        return self._writer

    async def _rows(self, sql: str, args: Args = ()) -> list[Row]:
        """A read, on the reader connection."""
        with self._faults():
            return await fetch(self._reader, sql, args)

    async def _row(self, sql: str, args: Args = ()) -> Row | None:
        rows = await self._rows(sql, args)
        return rows[0] if rows else None

    @asynccontextmanager
    async def _turn(self) -> AsyncIterator[None]:
        """The writer's lock, counted while waited for: a lock just released is not free yet for a statement
        (`_change`) while the one it was handed to has not run, or that statement would jump the queue."""
        self._queued += 1
        try:
            await self._lock.acquire()
        finally:
            self._queued -= 1
        try:
            yield
        finally:
            self._lock.release()

    @asynccontextmanager
    async def _writing(self) -> AsyncIterator[Conn]:
        """The writer, alone; a write that landed ends an outage."""
        async with self._turn():
            conn = self._conn()
            before = conn.total_changes
            with self._faults():
                yield conn
            if conn.total_changes != before:
                self.outage.wrote()

    async def _change(self, sql: str, args: Args = ()) -> list[Row]:
        """One write statement that needs no transaction of its own (autocommit); its RETURNING rows.

        While no transaction is open it goes straight to the writer's queue, without the lock: it runs
        whole, in its turn, and a transaction that opens later queues its BEGIN behind it. That is how
        many members' reservations and settles follow each other on the thread without a trip through
        the event loop between them. While one is open, or waited for, it waits its turn for the lock."""
        if self._lock.locked() or self._queued:
            async with self._turn():
                return await self._returning(sql, args)
        return await self._returning(sql, args)

    async def _returning(self, sql: str, args: Args) -> list[Row]:
        with self._faults():
            # No await between the caller's check of the lock and this call's place in the queue.
            rows = await fetch(self._conn(), sql, args)
        if rows:
            self.outage.wrote()
        return rows

    async def _count(self, sql: str, args: Args = ()) -> int:
        """One write statement in autocommit, as _change; how many rows it changed."""
        return len(await self._change(f"{sql} RETURNING 1", args))

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[Conn]:
        """BEGIN IMMEDIATE … COMMIT on the writer: SQLite's write lock from the first read, so a
        check-and-write sees every other change, from this process or another, as done or not begun."""
        async with self._writing() as conn, _rolling_back(conn):
            self._told = []
            await conn.execute("BEGIN IMMEDIATE")
            yield conn
            await conn.commit()  # COMMIT itself can be refused as busy: the rollback ends the transaction
        self._tell(self._told)

    def _tell(self, guild_ids: list[int]) -> None:
        """The audit rows to post these servers' committed: wake the poster (watch_audit)."""
        if self._audit_watch is not None:
            for guild_id in dict.fromkeys(guild_ids):
                self._audit_watch(guild_id)

    async def _record(self, conn: Conn, now: float, guild_id: int, actor_id: int, action: str,
                      target_id: int | None, detail: str) -> None:
        """One admin action, inside the caller's transaction (told once it commits)."""
        await conn.execute(RECORD_SQL, (guild_id, actor_id, action, target_id, detail, now))
        self._told.append(guild_id)

    async def _action(self, guild_id: int, actor_id: int, action: str, target_id: int | None, detail: str) -> None:
        """One admin action, on its own (a single INSERT needs no transaction)."""
        await self._change(f"{RECORD_SQL} RETURNING 1", (guild_id, actor_id, action, target_id, detail, self.now()))
        self._tell([guild_id])

    async def _checkpoint(self) -> None:
        """Copy the write-ahead log into the database and empty it: what /forget overwrote in the database
        is otherwise still in the log's older frames. A reader holding an old snapshot makes it wait for
        the next forget (or the last connection's close, which checkpoints too)."""
        try:
            async with self._turn():
                conn = self._conn()
                (busy, _, _), = await conn.execute_fetchall("PRAGMA wal_checkpoint(TRUNCATE)")
                if busy:
                    ((_, _, file),) = await conn.execute_fetchall("PRAGMA database_list")
                    log.warning("after a forget, the write-ahead log could not be emptied (a reader is open); the "
                                "cleared text stays in %s-wal until the next checkpoint", file)
        except sqlite3.Error as exc:  # the clearing is committed: a later checkpoint empties the log
            log.warning("after a forget, the write-ahead log could not be emptied (%s); the cleared text stays in "
                        "it until the next checkpoint", exc)

    @asynccontextmanager
    async def singleton(self, name: str) -> AsyncIterator[bool]:
        yield True  # the DATA_DIR lock (bot/core/instance_lock.py): no other process uses this ledger
