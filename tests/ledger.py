"""How end-to-end tests read the bot's ledger: through the store, on whichever backend the bot uses.

`open_view(settings)` opens a second store on the bot's ledger without recovery, so it never
touches the jobs the running bot has open.
"""

from __future__ import annotations

import asyncio
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
