"""The harness: a fake Discord and a fake Pixazo on 127.0.0.1, and the real bot between them.

The bot is started through `bot.__main__.serve`, the function `python -m bot` runs once settings
are loaded, so everything from the composition root down is the real thing. How the fakes and the
bot are started (and configured to find each other) lives in tests/fakes/launch.py, which the
benchmarks in bench/ use too.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import discord
import pytest

from bot.core.settings import Settings
from tests.backends import backend  # noqa: F401  (fixtures: both ledger backends, a PostgreSQL server)
from tests.disk import small_disk  # noqa: F401  (a fixture: a real full disk)
from tests.fakes.discord import FakeDiscord, FakeInteraction
from tests.fakes.launch import (  # noqa: F401  (CHANNEL_ID, GUILD_ID, started_bot: tests import them from here)
    CHANNEL_ID,
    GUILD_ID,
    PIXAZO_KEY,
    TOKEN,
    make_settings,
    running_discord,
    running_pixazo,
    started_bot,
)
from tests.fakes.pixazo import FakePixazo
from tests.postgres import password_role, postgres_server, postgres_url  # noqa: F401


@dataclass
class Harness:
    discord: FakeDiscord
    pixazo: FakePixazo
    settings: Settings
    task: asyncio.Task
    logs: list[logging.LogRecord] = field(default_factory=list)

    async def invoke(self, name: str, options: dict[str, Any] | None = None, **kwargs: Any) -> FakeInteraction:
        return await self.discord.invoke(name, options, **kwargs)

    async def answer(self, name: str, options: dict[str, Any] | None = None, **kwargs: Any) -> tuple[FakeInteraction, dict]:
        """Invoke a command and wait for what the user finally sees: an immediate reply or a followup."""
        interaction = await self.invoke(name, options, **kwargs)
        callback = await interaction.wait_callback()
        if callback["type"] == 4:  # answered at once (a refusal), never deferred
            return interaction, callback["data"]
        return interaction, await interaction.wait_followup()

    def log_text(self) -> str:
        return "\n".join(f"{r.levelname} {r.name}: {r.getMessage()} {r.exc_text or ''}" for r in self.logs)


class _Collect(logging.Handler):
    def __init__(self, sink: list[logging.LogRecord]) -> None:
        super().__init__(logging.DEBUG)
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        self.sink.append(record)


@pytest.fixture
async def fake_discord() -> AsyncIterator[FakeDiscord]:
    async with running_discord() as fake:
        yield fake


@pytest.fixture
async def fake_pixazo() -> AsyncIterator[FakePixazo]:
    async with running_pixazo() as fake:
        yield fake


@pytest.fixture
def bot_settings() -> dict[str, Any]:
    """Tests override settings by updating this dict before `harness` starts the bot."""
    return {}


@pytest.fixture
def ledger_settings() -> dict[str, Any]:
    """Which ledger the bot uses; a module overrides this (with `backend`) to run on both."""
    return {}


@pytest.fixture
async def harness(tmp_path, fake_discord, fake_pixazo, bot_settings, ledger_settings) -> AsyncIterator[Harness]:
    records: list[logging.LogRecord] = []
    handler = _Collect(records)
    root = logging.getLogger()
    root.addHandler(handler)
    old_level = root.level
    root.setLevel(logging.INFO)
    settings = make_settings(tmp_path, fake_discord, fake_pixazo, **{**ledger_settings, **bot_settings})
    async with started_bot(settings, fake_discord) as task:
        h = Harness(fake_discord, fake_pixazo, settings, task, records)
        try:
            yield h
        finally:
            root.removeHandler(handler)
            root.setLevel(old_level)
    assert_clean_logs(records, secrets=(TOKEN, PIXAZO_KEY))


def assert_clean_logs(records: list[logging.LogRecord], *, secrets: tuple[str, ...]) -> None:
    tracebacks = [r for r in records if r.levelno >= logging.ERROR and r.exc_info]
    assert not tracebacks, "an ERROR with a traceback reached the log:\n" + "\n".join(
        f"{r.name}: {r.getMessage()}\n{r.exc_text}" for r in tracebacks)
    discord_errors = [r for r in records if r.levelno >= logging.ERROR and r.name.startswith("discord")]
    assert not discord_errors, "discord.py logged an error: " + "; ".join(r.getMessage() for r in discord_errors)
    text = "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in records)
    for secret in secrets:
        assert secret not in text, "a secret reached the log"


async def eventually(predicate, timeout: float = 5.0) -> None:
    """Poll a condition the fakes cannot signal (say, a Pixazo request count)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(0.01)


def embed_fields(message: dict) -> dict[str, str]:
    (embed,) = message["embeds"]
    return {f["name"]: f["value"] for f in embed.get("fields", [])}


def is_ephemeral(message: dict) -> bool:
    return bool(message.get("flags", 0) & discord.MessageFlags.ephemeral.flag)
