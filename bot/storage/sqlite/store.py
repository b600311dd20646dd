"""The embedded SQLite ledger (the default backend), composed of its concern modules.

Each module implements one role of bot/storage/roles/ over the shared core (core.py: the aiosqlite
connections, the write lock, what errors mean): ledger.py (credits, settles, recovery, the audit),
queue.py, jobs.py (history and forgetting), allowances.py, config.py, reviews.py, appeals.py, audit.py.
PostgreSQL's package has the same modules by the same names.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path

from bot.storage.base import recovered
from bot.storage.sqlite.allowances import SqliteAllowances
from bot.storage.sqlite.appeals import SqliteAppeals
from bot.storage.sqlite.audit import SqliteAudit
from bot.storage.sqlite.config import SqliteConfig
from bot.storage.sqlite.jobs import SqliteJobs
from bot.storage.sqlite.ledger import Reservation
from bot.storage.sqlite.loop import SqliteLoop
from bot.storage.sqlite.queue import SqliteQueue
from bot.storage.sqlite.reviews import SqliteReviews


class SqliteStore(SqliteQueue, SqliteLoop, SqliteJobs, SqliteAllowances, SqliteConfig, SqliteReviews, SqliteAppeals,
                  SqliteAudit):
    """Every role on one SQLite file: writes on one connection, one at a time (core.py), reads beside them."""

    @classmethod
    async def open(cls, path: Path, *, clock: Callable[[], float] = time.time, busy_timeout: float = 5.0,
                   delivered: Mapping[int, str | None] | None = None, recover: bool = True,
                   owner: str | None = None, exclusive: bool = False) -> SqliteStore:
        """Open, migrate and recover. `delivered` (job id -> result URL) are jobs the member received
        whose success the last run could not record: they count as succeeded, never refunded.
        `recover=False` leaves open jobs alone: a second view of a ledger a running bot owns."""
        writer, reader = await cls._connections(path, busy_timeout)
        store = cls(writer, reader, clock, owner=owner, exclusive=exclusive, path=path)
        store._reservation = Reservation()
        await writer.create_function("ledger_fits", Reservation.ARITY, store._reservation)
        return await recovered(store, delivered, recover=recover)
