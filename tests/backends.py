"""Both ledger backends behind one fixture: `backend` runs a test on SQLite and on PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest

from bot.storage import SqliteStore, Store

BACKENDS = ("sqlite", "postgres")


class Clock:
    """A store's clock that a test moves by hand: `clock.now += 60` or `clock.set(datetime(...))`."""

    def __init__(self, when: datetime | float) -> None:
        self.set(when)

    def __call__(self) -> float:
        return self.now

    def set(self, when: datetime | float) -> None:
        self.now = when.timestamp() if isinstance(when, datetime) else float(when)


@dataclass
class Backend:
    """Where one test's ledger lives; `open` may be called again to reopen it (a restart)."""

    name: str
    location: Path | str

    async def open(self, *, clock: Callable[[], float] = time.time, recover: bool = True, **options) -> Store:
        if self.name == "sqlite":
            return await SqliteStore.open(self.location, clock=clock, recover=recover, **options)
        from bot.storage.postgres.store import PostgresStore

        return await PostgresStore.open(self.location, clock=clock, recover=recover, **options)

    @property
    def settings(self) -> dict[str, str]:
        """Bot settings that point the bot at this ledger."""
        return {"database_url": self.location} if self.name == "postgres" else {}


@pytest.fixture(params=BACKENDS)
def backend(request, tmp_path) -> Backend:
    if request.param == "sqlite":
        return Backend("sqlite", tmp_path / "ledger.sqlite3")
    return Backend("postgres", request.getfixturevalue("postgres_url"))
