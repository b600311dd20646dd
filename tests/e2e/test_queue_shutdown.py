"""The queue stops when asked, even when it is woken at the very moment it is stopped."""

from __future__ import annotations

import asyncio

import aiohttp

from bot.__main__ import pixazo_client
from bot.core.settings import Settings
from bot.services.generation import GenerationService
from bot.services.queue import QueueRunner
from bot.services.quotas import Quotas
from bot.storage import SqliteStore


async def test_a_wake_that_lands_with_the_shutdown_does_not_keep_the_dispatcher_running(tmp_path):
    # A job that ends during shutdown wakes the dispatcher (kick) just as shutdown cancels it. Python
    # 3.11's asyncio.wait_for returns the finished wait and drops that cancellation; the loop then ran
    # on, and shutdown (so the bot's close, so `docker stop`) waited for it forever.
    settings = Settings(_env_file=None, discord_token="x", pixazo_api_key="y", data_dir=tmp_path)
    store = await SqliteStore.open(tmp_path / "ledger.sqlite3")
    try:
        async with aiohttp.ClientSession() as session:
            quotas = Quotas(settings, store)
            generation = GenerationService(settings, store, pixazo_client(settings, session), quotas)
            runner = QueueRunner(settings, store, generation, quotas)
            runner.start()
            await asyncio.sleep(0.2)  # the dispatcher is waiting for work
            runner.kick()
            await asyncio.wait_for(runner.shutdown(), 5)
    finally:
        await store.close()
