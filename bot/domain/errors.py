"""Failures of the store that callers handle by meaning, whatever the backend."""

from __future__ import annotations


class StoreBusy(Exception):
    """The database could not take the write in time (another writer holds its lock).

    Nothing was written: a reservation refused with this spent nothing, and a settle may be retried.
    """
