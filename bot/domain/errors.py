"""Failures of the store that callers handle by meaning, whatever the backend."""

from __future__ import annotations


class StoreBusy(Exception):
    """The database could not take the write in time (another writer holds its lock).

    Nothing was written: a reservation refused with this spent nothing, and a settle may be retried.
    """


class StoreDown(StoreBusy):
    """The ledger can't be written right now: its disk is full, read-only or failing (SQLite), or the
    database server can't be reached or is shutting down (PostgreSQL).

    Like StoreBusy, nothing was written and every settle may simply be tried again; unlike it, it may
    last minutes, so members are told the bot can't record anything, not that it is busy.
    """


class WriteInDoubt(StoreDown):
    """The connection to the database was lost while a write was in flight: it may have landed or not.

    Never say "nothing was spent" on this: read back what the ledger holds once it answers again. A
    settle may be retried as it is (a repeat is a no-op, and it returns the job's state).
    """


class StoreUnavailable(Exception):
    """The ledger could not be opened at start: a malformed DATABASE_URL or an unreachable server.

    The message is one line that names DATABASE_URL and never contains its password.
    """


class StoreMisconfigured(StoreUnavailable):
    """The database server answered, and refused what DATABASE_URL says: a wrong password, an unknown
    user or database, a host name that does not exist, a user without the rights the ledger needs.
    Trying again cannot help until the operator changes it (the bot exits 2, not 1)."""
