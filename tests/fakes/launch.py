"""Start the fakes and the real bot between them: one launcher for the tests and the benchmarks.

The fakes are a `FakeDiscord` holding the test server and channel and a `FakePixazo` taking the
test key. The bot runs either in this process, through `bot.__main__.serve` (what `python -m bot`
runs once its settings are loaded, so everything from the composition root down is the real
thing), or as a real `python -m bot` child configured through its environment. Both read their
settings from one table (`settings_values`), so the two ways cannot drift apart.

The fake servers themselves import nothing from `bot/`; this module is the one place under
tests/fakes/ that knows the bot, because it starts it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import IO, Any

from bot.__main__ import serve
from bot.core.settings import Settings
from tests.fakes.discord import FakeDiscord
from tests.fakes.pixazo import FakePixazo

REPO = Path(__file__).resolve().parents[2]
TOKEN = "MTAwMA.fake-discord-token.do-not-leak-0123456789"
PIXAZO_KEY = "pixazo-secret-key-4f1e9c"
GUILD_ID = 2000
CHANNEL_ID = 3000


# ---------------------------------------------------------------------------------------- the fakes


@contextlib.asynccontextmanager
async def running_discord(*guilds: int) -> AsyncIterator[FakeDiscord]:
    """A started fake Discord holding `guilds` (default: the test server), closed on exit.

    Close the bot first: if the fake goes away before it, discord.py reconnects and logs an error.
    """
    fake = FakeDiscord(token=TOKEN, guilds=list(guilds or (GUILD_ID,)), channel_id=CHANNEL_ID)
    # Bare CDN links (/attachments/..., no ex/is/hm), as the fake made them before it signed them like
    # Discord: some tests compare a link's ending or a CDN path's start. A test that needs Discord's
    # signed, expiring links (and /ephemeral-attachments/) sets `fake.signed_urls = True` first.
    fake.signed_urls = False
    await fake.start()
    try:
        yield fake
    finally:
        await fake.close()


@contextlib.asynccontextmanager
async def running_pixazo() -> AsyncIterator[FakePixazo]:
    """A started fake Pixazo that takes the test key, closed on exit."""
    async with FakePixazo(api_key=PIXAZO_KEY) as fake:
        yield fake


# ---------------------------------------------------------------------------------------- settings


def settings_values(tmp_path: Path, discord_fake: FakeDiscord, pixazo_fake: FakePixazo,
                    **overrides: Any) -> dict[str, Any]:
    """The settings of a bot pointed at the fakes, data in tmp_path/data; `overrides` win."""
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
    return values


def make_settings(tmp_path: Path, discord_fake: FakeDiscord, pixazo_fake: FakePixazo, **overrides: Any) -> Settings:
    return Settings(_env_file=None, **settings_values(tmp_path, discord_fake, pixazo_fake, **overrides))


def clean_environ() -> dict[str, str]:
    """This process's environment without any of the bot's settings, and with the repository importable."""
    ours = {name.upper() for name in Settings.model_fields}
    kept = {k: v for k, v in os.environ.items() if k.upper() not in ours}
    return {**kept, "PYTHONPATH": str(REPO)}


def bot_env(tmp_path: Path, discord_fake: FakeDiscord, pixazo_fake: FakePixazo, **overrides: Any) -> dict[str, str]:
    """The same settings as `make_settings`, as the environment of a `python -m bot` child (None: unset)."""
    env = clean_environ()
    for name, value in settings_values(tmp_path, discord_fake, pixazo_fake, **overrides).items():
        if value is not None:
            env[name.upper()] = _env_value(value)
    return env


def _env_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list | tuple):
        return json.dumps(value)
    return str(value)


# ---------------------------------------------------------------------------------------- the bot


async def wait_ready(fake: FakeDiscord, running: asyncio.Future[Any], timeout: float) -> None:
    """Until the bot identified on the fake gateway and synced its commands; fails at once if
    `running` (the bot's task, or its process's wait) ends first."""

    async def ready() -> None:
        await fake.wait_identified(timeout=timeout)
        await fake.wait_synced(timeout=timeout)

    waiting = asyncio.ensure_future(ready())
    try:
        done, _ = await asyncio.wait({running, waiting}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiting.cancel()
    if running in done:
        ended = running.result()  # raises what stopped the bot from starting, if it raised
        raise AssertionError("the bot stopped before it was ready" + ("" if ended is None else f" (exit {ended})"))
    if waiting not in done:
        raise AssertionError(f"the bot did not connect and sync within {timeout:g} s")


class started_bot:
    """Run `serve(settings)` in a task until the fake saw it identify and sync; cancel it on exit."""

    def __init__(self, settings: Settings, fake: FakeDiscord, *, timeout: float = 10) -> None:
        self.settings = settings
        self.fake = fake
        self.timeout = timeout

    async def __aenter__(self) -> asyncio.Task:
        self.task = asyncio.create_task(serve(self.settings))
        try:
            await wait_ready(self.fake, self.task, self.timeout)
        except BaseException:
            self.task.cancel()
            raise
        return self.task

    async def __aexit__(self, *exc: object) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task
        # discord.py's http client closes its session on close(); let aiohttp finish its callbacks.
        await asyncio.sleep(0)


class BotProcess:
    """One `python -m bot` child, run in `workdir` (so no .env of the checkout is read), its output
    in a file there (a pipe nobody reads could fill and stall it)."""

    def __init__(self, env: dict[str, str], workdir: Path, *, log_name: str = "bot.log",
                 python_args: tuple[str, ...] = ("-m", "bot")) -> None:
        self.env = env
        self.workdir = workdir
        self.log_path = workdir / log_name
        self.python_args = python_args
        self.proc: asyncio.subprocess.Process | None = None
        self._log_file: IO[bytes] | None = None
        self._exited: asyncio.Future[int] | None = None

    async def start(self) -> BotProcess:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._log_file = self.log_path.open("wb")
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, *self.python_args, cwd=self.workdir, env=self.env,
            stdout=self._log_file, stderr=asyncio.subprocess.STDOUT)
        self._exited = asyncio.ensure_future(self.proc.wait())
        return self

    async def wait_ready(self, fake: FakeDiscord, timeout: float = 20) -> None:
        assert self._exited is not None, "start() first"
        await wait_ready(fake, self._exited, timeout)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    async def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> int:
        """Send `sig` (python -m bot stops cleanly on SIGTERM and SIGINT), then SIGKILL after `timeout`."""
        assert self.proc is not None
        if self.proc.returncode is None:
            self.proc.send_signal(sig)
            try:
                await asyncio.wait_for(self.proc.wait(), timeout)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        if self._log_file is not None:
            self._log_file.close()
        assert self.proc.returncode is not None
        return self.proc.returncode


async def stop_all(processes: list[BotProcess], sig: int = signal.SIGTERM, timeout: float = 15) -> None:
    """Stop several at once: each gets its signal before any is waited for."""
    await asyncio.gather(*(p.stop(sig, timeout) for p in processes if p.proc is not None))
