"""Starting the bot: settings errors, `python -m bot` as a real process, and deliberate command sync."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import GUILD_ID, PIXAZO_KEY, TOKEN, embed_fields, eventually, make_settings

ROOT = Path(__file__).resolve().parents[1]


def run_bot(env: dict[str, str], *args: str, cwd: Path) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "PIXAZO_", "QUOTA_", "DATA_DIR"))}
    clean["PYTHONPATH"] = str(ROOT)
    return subprocess.run([sys.executable, "-m", "bot", *args], env={**clean, **env}, cwd=cwd,
                          capture_output=True, text=True, timeout=30)


BASE_ENV = {"DISCORD_TOKEN": TOKEN, "PIXAZO_API_KEY": PIXAZO_KEY}


@pytest.mark.parametrize(("env", "line"), [
    ({"PIXAZO_API_KEY": PIXAZO_KEY}, "bot: setting DISCORD_TOKEN is missing"),
    ({"DISCORD_TOKEN": TOKEN}, "bot: setting PIXAZO_API_KEY is missing"),
    ({**BASE_ENV, "PIXAZO_TIMEOUT_SECONDS": "soon"}, "bot: setting PIXAZO_TIMEOUT_SECONDS is invalid"),
    ({**BASE_ENV, "PIXAZO_MAX_CONCURRENCY": "0"}, "bot: setting PIXAZO_MAX_CONCURRENCY is invalid"),
    ({**BASE_ENV, "PIXAZO_USE_STREAM_ENDPOINTS": "maybe"}, "bot: setting PIXAZO_USE_STREAM_ENDPOINTS is invalid"),
    ({**BASE_ENV, "PIXAZO_BASE_URL": "gateway.pixazo.ai"}, "bot: setting PIXAZO_BASE_URL is invalid"),
    ({**BASE_ENV, "DEV_GUILD_ID": "my-server"}, "bot: setting DEV_GUILD_ID is invalid"),
    ({**BASE_ENV, "LOG_LEVEL": "LOUD"}, "bot: setting LOG_LEVEL is invalid"),
    ({**BASE_ENV, "QUOTA_MODEL_COSTS": '{"dalle": 3}'}, "bot: setting QUOTA_MODEL_COSTS is invalid"),
    ({**BASE_ENV, "QUOTA_GLOBAL_DAILY_CREDITS": "-5"}, "bot: setting QUOTA_GLOBAL_DAILY_CREDITS is invalid"),
    ({"DISCORD_TOKEN": "", "PIXAZO_API_KEY": PIXAZO_KEY}, "bot: setting DISCORD_TOKEN is invalid"),
])
def test_bad_settings_stop_the_bot_with_one_line(tmp_path, env, line):
    result = run_bot(env, cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(line), lines[0]
    assert "Traceback" not in result.stderr and "pydantic" not in result.stderr.lower()
    for secret in (TOKEN, PIXAZO_KEY):
        assert secret not in result.stderr + result.stdout


def test_settings_are_read_from_dotenv(tmp_path):
    (tmp_path / ".env").write_text(f"DISCORD_TOKEN={TOKEN}\nPIXAZO_API_KEY={PIXAZO_KEY}\nPIXAZO_TIMEOUT_SECONDS=x\n")
    result = run_bot({}, cwd=tmp_path)
    assert result.stderr.strip() == "bot: setting PIXAZO_TIMEOUT_SECONDS is invalid: Input should be a valid number, " \
                                    "unable to parse string as a number"


async def test_python_m_bot_serves_a_command_end_to_end(tmp_path, fake_discord, fake_pixazo):
    env = {
        **BASE_ENV,
        "PIXAZO_BASE_URL": fake_pixazo.base_url,
        "PIXAZO_REQUIRE_HTTPS_RESULTS": "false",
        "PIXAZO_RESULT_ALLOW_PRIVATE_HOSTS": "true",
        "DISCORD_API_BASE_URL": fake_discord.api_base,
        "DISCORD_GATEWAY_URL": fake_discord.gateway_url,
        "DISCORD_GUILD_READY_TIMEOUT": "0.05",
        "DEV_GUILD_ID": str(GUILD_ID),
        "DATA_DIR": str(tmp_path / "data"),
        "LOG_LEVEL": "DEBUG",
        "PYTHONPATH": str(ROOT),
    }
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "PIXAZO_", "QUOTA_"))}
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "bot", cwd=tmp_path, env={**clean, **env},
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        await fake_discord.wait_identified(timeout=15)
        await fake_discord.wait_synced(timeout=15)
        interaction = await fake_discord.invoke("sdxl", {"prompt": "a red fox in snow", "seed": 5})
        message = await interaction.wait_followup()
        assert embed_fields(message)["Seed"] == "5"
        assert message["_files"]
    finally:
        proc.terminate()
        _, stderr = await asyncio.wait_for(proc.communicate(), timeout=15)
    log = stderr.decode()
    assert proc.returncode == 0
    assert "synced" in log and "shut down cleanly" in log
    assert TOKEN not in log and PIXAZO_KEY not in log, "even at DEBUG, no secret is logged"
    assert "Traceback" not in log


def put_count(fake) -> int:
    return sum(1 for r in fake.requests if r.method == "PUT" and r.path.endswith("/commands"))


def identify_count(fake) -> int:
    return sum(1 for r in fake.requests if r.path.endswith("/users/@me"))


async def run_until(settings, predicate, *, force_sync: bool = False, settle: float = 0.0) -> None:
    """Start the bot, wait for `predicate`, give it `settle` seconds more, then stop it."""
    from bot.__main__ import serve

    task = asyncio.create_task(serve(settings, force_sync=force_sync))
    try:
        await eventually(lambda: predicate() or task.done(), timeout=10)
        if task.done():
            task.result()
        await asyncio.sleep(settle)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_commands_sync_only_when_they_change(tmp_path, fake_discord, fake_pixazo):
    settings = make_settings(tmp_path, fake_discord, fake_pixazo)
    await run_until(settings, lambda: put_count(fake_discord) == 1)
    assert (settings.data_dir / "command-sync.json").exists()

    # A restart with the same definitions logs in but does not sync (Discord caps creates per day).
    await run_until(settings, lambda: identify_count(fake_discord) == 2, settle=0.3)
    assert put_count(fake_discord) == 1

    # A new target (global instead of the dev guild) is synced.
    global_settings = make_settings(tmp_path, fake_discord, fake_pixazo, dev_guild_id=None)
    # The dev guild's copies are cleared, or members there would see every command twice.
    await run_until(global_settings, lambda: put_count(fake_discord) == 3)
    assert {c["name"] for c in fake_discord.synced[None]} >= {"sdxl", "quota"}
    assert fake_discord.synced[GUILD_ID] == []

    # --sync forces it even when nothing changed.
    await run_until(global_settings, lambda: put_count(fake_discord) == 4, force_sync=True)


def test_every_extension_loads_and_command_names_are_unique():
    import discord
    from discord.ext import commands

    from bot.app import EXTENSIONS

    async def load() -> list[str]:
        bot = commands.Bot(command_prefix="!", intents=discord.Intents.none())
        for name in EXTENSIONS:
            await bot.load_extension(name)
        return [c.name for c in bot.tree.get_commands()]

    names = asyncio.run(load())
    assert len(names) == len(set(names))
    assert set(names) == {"sd3", "sd35-large", "sdxl", "sdxl-lightning", "inpaint", "quota", "quotas"}


async def test_a_refused_token_is_one_clear_line(tmp_path, fake_discord, fake_pixazo):
    env = {"DISCORD_TOKEN": "not-the-right-token", "PIXAZO_API_KEY": PIXAZO_KEY,
           "PIXAZO_BASE_URL": fake_pixazo.base_url, "DISCORD_API_BASE_URL": fake_discord.api_base,
           "DISCORD_GATEWAY_URL": fake_discord.gateway_url, "DATA_DIR": str(tmp_path / "data")}
    result = await asyncio.to_thread(run_bot, env, cwd=tmp_path)
    assert result.returncode == 1
    assert "Discord refused DISCORD_TOKEN" in result.stderr
    assert "Traceback" not in result.stderr and "not-the-right-token" not in result.stderr


def test_unreachable_discord_is_one_clear_line(tmp_path):
    env = {**BASE_ENV, "DISCORD_API_BASE_URL": "http://127.0.0.1:9/api/v10", "DATA_DIR": str(tmp_path / "data")}
    result = run_bot(env, cwd=tmp_path)
    assert result.returncode == 1
    assert "could not reach Discord at http://127.0.0.1:9/api/v10" in result.stderr
    assert "Traceback" not in result.stderr and TOKEN not in result.stderr
