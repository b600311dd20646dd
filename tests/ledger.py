"""How end-to-end tests read the bot's ledger: through the store, on whichever backend the bot uses.

`open_view(settings)` opens a second store on the bot's ledger without recovery, so it never
touches the jobs the running bot has open.

CountingStore wraps the store the bot opens, noting every call the bot makes to it (tests/e2e).
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from bot.core.settings import Settings
from bot.domain.records import JobRecord
from bot.storage import Store, open_store


@asynccontextmanager
async def open_view(settings: Settings) -> AsyncIterator[Store]:
    store = await open_store(settings, recover=False)
    try:
        yield store
    finally:
        await store.close()


async def jobs(store: Store, guild_id: int, *user_ids: int) -> list[JobRecord]:
    """Every job of these members in this server, whole rows, oldest first."""
    found = [j for user in user_ids for j in await store.recent_jobs(guild_id, user, limit=10_000)]
    return [await store.job(j["id"]) for j in sorted(found, key=lambda j: j["id"])]


async def read_jobs(settings: Settings, guild_id: int, *user_ids: int) -> list[JobRecord]:
    async with open_view(settings) as store:
        return await jobs(store, guild_id, *user_ids)


def columns(rows: list[JobRecord], *names: str) -> list[tuple[Any, ...]]:
    return [tuple(row[n] for n in names) for row in rows]


async def until(check: Callable[[], Awaitable[bool]], timeout: float = 5.0) -> None:
    """Poll an async condition the fakes cannot signal (a job's state in the ledger)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(0.01)


QUIET_SECONDS = 0.5  # no call for this long: a job's after-work (settle, audit row) is done


class CountingStore:
    """The real store, every attribute passed through; each call of one of its coroutine methods is
    noted (by name) before it runs. Attributes set on it are set on the real store."""

    def __init__(self, store: Any) -> None:
        object.__setattr__(self, "_store", store)
        object.__setattr__(self, "calls", [])
        object.__setattr__(self, "last_call", 0.0)

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._store, name)
        if not inspect.iscoroutinefunction(value):
            return value

        async def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(name)
            object.__setattr__(self, "last_call", asyncio.get_running_loop().time())
            return await value(*args, **kwargs)

        return counted

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._store, name, value)


async def quiet(store: CountingStore, seconds: float = QUIET_SECONDS, timeout: float = 10.0) -> None:
    """Until the bot has made no ledger call for `seconds`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() - max(store.last_call, 0.0) < seconds:
        if loop.time() > deadline:
            raise AssertionError(f"the bot never went {seconds}s without a ledger call: {store.calls[-20:]}")
        await asyncio.sleep(0.05)
