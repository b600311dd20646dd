"""A real discord.py bot, unmodified, run against a `FakeDiscord`: for the fake's own tests.

`running_bot(fake, bot)` starts the bot on the fake, waits until it synced and identified (failing
with what ended `start()` if it died on the way) and closes it after; ERROR logs from discord.py and
the fake fail the test unless the test empties `errors.records` (when it provokes one on purpose).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable

import discord

from tests.fakes.discord import FakeDiscord


class ErrorRecords(logging.Handler):
    """discord.py only logs exceptions raised in commands and views; make them fail the test."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


async def unless_bot_dies(bot_task: asyncio.Task, waiting: Awaitable[None]) -> None:
    """Await `waiting`, but if the bot's start() ends first, raise what ended it.

    A payload missing a field raises inside Client.connect() and start() ends with it,
    logging nothing; without this the test would just time out.
    """
    wait_task = asyncio.ensure_future(waiting)
    done, _ = await asyncio.wait({bot_task, wait_task}, return_when=asyncio.FIRST_COMPLETED)
    if bot_task in done:
        wait_task.cancel()
        bot_task.result()  # re-raises the bot's exception
        raise AssertionError("bot.start() returned before the fake saw it connect")
    wait_task.result()


@contextlib.asynccontextmanager
async def running_bot(fake: FakeDiscord, bot: discord.Client, *, synced: bool = True
                      ) -> AsyncIterator[ErrorRecords]:
    """Run `bot` against `fake` (its setup_hook syncing commands, unless `synced=False`)."""
    errors = ErrorRecords()
    watched = [logging.getLogger("discord"), logging.getLogger("fake_discord")]
    for logger in watched:
        logger.addHandler(errors)
    try:
        with fake.patch_discord():
            task = asyncio.create_task(bot.start(fake.token))
            try:
                if synced:
                    await unless_bot_dies(task, fake.wait_synced())
                await unless_bot_dies(task, fake.wait_identified())
                yield errors
            finally:
                await bot.close()
                await task  # surfaces an exception that ended start()
    finally:
        for logger in watched:
            logger.removeHandler(errors)
    assert not errors.records, [f"{r.name}: {r.getMessage()}\n{r.exc_text or ''}" for r in errors.records]
