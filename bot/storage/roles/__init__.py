"""The ledger's roles: narrow interfaces, one per concern, that the services depend on. Each service
takes only the role it uses (the queue a `JobQueue`, the reviews a `Reviews`...); `Store`, every role
at once, is what the composition root opens, and `SqliteStore` and `PostgresStore` both are one
(tests/test_store_interface.py checks each backend against each role). After Red-DiscordBot's
narrow driver interface.

Credits are never a stored balance on either backend: every credit spent is a `jobs` row, and the
daily totals a reservation reads are kept in the same transaction as those rows, so `audit()` can
recompute every total from the rows.

Every method raises StoreBusy (the database would not take it in time), StoreDown (the ledger can't
be written or reached right now: a full or read-only disk, an I/O error, a server that is down;
nothing written) or WriteInDoubt (a write whose connection was lost in flight: it may have landed)
for conditions that pass; bot/domain/errors.py.
"""

from __future__ import annotations

from typing import Protocol

from bot.storage.roles.jobs import JobQueue, Jobs, Ledger, Lifecycle, StartNow
from bot.storage.roles.loop import Batches, Defaults
from bot.storage.roles.servers import Allowances, Appeals, Audit, Config, Reviews, Singleton

__all__ = ["ROLES", "Allowances", "Appeals", "Audit", "Batches", "Config", "Defaults", "JobQueue", "Jobs", "Ledger",
           "Lifecycle", "Reviews", "Singleton", "StartNow", "Store"]


class Store(Lifecycle, Ledger, JobQueue, Batches, Jobs, Allowances, Config, Defaults, Reviews, Appeals, Audit, Singleton,
            Protocol):
    """One ledger: every role. Every write is one transaction; a reservation's check-and-spend cannot
    interleave with another reservation's, from this process or another one sharing the database.

    Opening is each backend's own classmethod, `SqliteStore.open(path, ...)` and
    `PostgresStore.open(url, ...)`; `bot.storage.open_store(settings)` picks one by DATABASE_URL."""


ROLES: tuple[type, ...] = (Lifecycle, Ledger, JobQueue, Batches, Jobs, Allowances, Config, Defaults, Reviews, Appeals,
                           Audit, Singleton)
