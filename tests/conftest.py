"""The harness: a fake Discord and a fake Pixazo on 127.0.0.1, and the real bot between them.

The bot is started through `bot.__main__.serve`, the function `python -m bot` runs once settings
are loaded, so everything from the composition root down is the real thing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import discord
import pytest

from bot.__main__ import serve
from bot.settings import Settings
from tests.backends import backend  # noqa: F401  (fixtures: both ledger backends, a PostgreSQL server)
from tests.disk import small_disk  # noqa: F401  (a fixture: a real full disk)
from tests.fakes.discord import FakeDiscord, FakeInteraction
from tests.fakes.pixazo import FakePixazo
from tests.postgres import password_role, postgres_server, postgres_url  # noqa: F401

TOKEN = "MTAwMA.fake-discord-token.do-not-leak-0123456789"
PIXAZO_KEY = "pixazo-secret-key-4f1e9c"
GUILD_ID = 2000
CHANNEL_ID = 3000


def make_settings(tmp_path: Path, discord_fake: FakeDiscord, pixazo_fake: FakePixazo, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "discord_token": TOKEN,
        "pixazo_api_key": PIXAZO_KEY,
        "pixazo_base_url": pixazo_fake.base_url,
        "pixazo_timeout_seconds": 2.0,
        "pixazo_require_https_results": False,  # the fake serves its images over plain http on 127.0.0.1
        "pixazo_result_allow_private_hosts": True,  # ... and 127.0.0.1 is a loopback address
        "data_dir": tmp_path / "data",
        "dev_guild_id": GUILD_ID,
        "discord_api_base_url": discord_fake.api_base,
        "discord_gateway_url": discord_fake.gateway_url,
        "discord_guild_ready_timeout": 0.05,
        "database_url": None,  # SQLite in tmp_path, whatever the environment says; ledger_settings may differ
        "shutdown_grace_seconds": 0.5,  # a test's bot stops with calls hanging; 8 s each would be slow
        # The image check opens a model (half a second) and classifies every result: only the tests
        # about it (test_image_check_e2e.py) turn it on.
        "image_check": False,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


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
    fake = FakeDiscord(token=TOKEN, guilds=[GUILD_ID], channel_id=CHANNEL_ID)
    await fake.start()
    yield fake
    await fake.close()


@pytest.fixture
async def fake_pixazo() -> AsyncIterator[FakePixazo]:
    fake = FakePixazo(api_key=PIXAZO_KEY)
    await fake.start()
    yield fake
    await fake.close()


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


class started_bot:
    """Run `serve(settings)` in a task until the fake saw it identify and sync; cancel it on exit."""

    def __init__(self, settings: Settings, fake: FakeDiscord) -> None:
        self.settings = settings
        self.fake = fake

    async def __aenter__(self) -> asyncio.Task:
        self.task = asyncio.create_task(serve(self.settings))
        ready = asyncio.ensure_future(self._ready())
        done, _ = await asyncio.wait({self.task, ready}, timeout=10, return_when=asyncio.FIRST_COMPLETED)
        if self.task in done:
            ready.cancel()
            self.task.result()  # surfaces the exception that stopped the bot from starting
            raise AssertionError("the bot stopped before it was ready")
        if ready not in done:
            self.task.cancel()
            raise AssertionError("the bot did not connect and sync within 10 s")
        return self.task

    async def _ready(self) -> None:
        await self.fake.wait_identified(timeout=10)
        await self.fake.wait_synced(timeout=10)

    async def __aexit__(self, *exc: object) -> None:
        self.task.cancel()
        try:
            await self.task
        except asyncio.CancelledError:
            pass
        # discord.py's http client closes its session on close(); let aiohttp finish its callbacks.
        await asyncio.sleep(0)


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
