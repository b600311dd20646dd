"""Starting the bot: settings errors, `python -m bot` as a real process, and deliberate command sync."""

from __future__ import annotations

import asyncio
import ctypes
import os
import re
import signal
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from bot.core.instance_lock import InstanceLock
from bot.core.offload import Offload
from bot.storage import Member, SqliteStore
from bot.storage.settle_journal import SettleJournal
from tests.conftest import GUILD_ID, PIXAZO_KEY, TOKEN, embed_fields, eventually, make_settings
from tests.disk import disk_filled, read_only
from tests.storage.test_store_queue import enqueue

ROOT = Path(__file__).resolve().parents[2]


def run_bot(env: dict[str, str], *args: str, cwd: Path, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bot", *args], env={**clean_env(), **env}, cwd=cwd,
                          capture_output=True, text=True, timeout=30, **kwargs)


def clean_env() -> dict[str, str]:
    """This process's environment without any of the bot's settings, so each test sets its own."""
    ours = ("DISCORD_", "PIXAZO_", "QUOTA_", "DATA_DIR", "HEARTBEAT_")
    return {**{k: v for k, v in os.environ.items() if not k.upper().startswith(ours)}, "PYTHONPATH": str(ROOT)}


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
    # Empty is the same as absent (docker --env-file passes `NAME=` as an empty value), blank too.
    ({"DISCORD_TOKEN": "", "PIXAZO_API_KEY": PIXAZO_KEY}, "bot: setting DISCORD_TOKEN is missing"),
    ({"DISCORD_TOKEN": TOKEN, "PIXAZO_API_KEY": "  "}, "bot: setting PIXAZO_API_KEY is missing"),
    # docker --env-file keeps quotes as part of the value: Discord would refuse the token with no reason given.
    ({"DISCORD_TOKEN": f'"{TOKEN}"', "PIXAZO_API_KEY": PIXAZO_KEY}, "bot: setting DISCORD_TOKEN is wrapped in quotes"),
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


def test_every_bad_setting_is_reported_in_one_run(tmp_path):
    result = run_bot({"PIXAZO_TIMEOUT_SECONDS": "soon", "LOG_LEVEL": "LOUD"}, cwd=tmp_path)
    assert result.returncode == 2
    assert [line.split(":")[0] for line in result.stderr.strip().splitlines()] == [
        "bot", "bot", "bot", "bot"], result.stderr
    assert [line.split()[2] for line in result.stderr.strip().splitlines()] == [
        "DISCORD_TOKEN", "PIXAZO_API_KEY", "PIXAZO_TIMEOUT_SECONDS", "LOG_LEVEL"], result.stderr
    assert "Traceback" not in result.stderr


def test_the_unedited_env_example_names_both_placeholders_at_start(tmp_path):
    (tmp_path / ".env").write_text((ROOT / ".env.example").read_text())
    result = run_bot({}, cwd=tmp_path)
    assert result.returncode == 2
    # Every other line of .env.example is valid as it stands: these two are the only complaints.
    assert result.stderr.strip().splitlines() == [
        "bot: setting DISCORD_TOKEN is still the placeholder from .env.example; replace it with the bot's token "
        "(Developer Portal > Bot > Reset Token)",
        "bot: setting PIXAZO_API_KEY is still the placeholder from .env.example; replace it with your Pixazo "
        "subscription key",
    ]


def test_an_empty_gateway_url_means_discord_py_default(monkeypatch):
    import discord.gateway
    import yarl

    from bot.__main__ import point_discord_at
    from bot.core.settings import load_settings

    for name, value in {**BASE_ENV, "DISCORD_GATEWAY_URL": ""}.items():
        monkeypatch.setenv(name, value)
    settings = load_settings(_env_file=None)
    assert settings.discord_gateway_url is None
    # The harness points discord.py at the fake for the whole test process: start from discord.py's own.
    monkeypatch.setattr(discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL("wss://gateway.discord.gg/"))
    monkeypatch.setattr(discord.http.Route, "BASE", discord.http.Route.BASE)
    point_discord_at(settings)
    assert discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY == yarl.URL("wss://gateway.discord.gg/")


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
    # A file, not a pipe: at DEBUG the bot writes more than a pipe holds (the synced commands with every
    # language's names), and a pipe nobody reads until the end would stop it mid-write.
    log_path = tmp_path / "bot.log"
    with log_path.open("wb") as log_file:
        proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "bot", cwd=tmp_path, env={**clean, **env},
                                                    stdout=asyncio.subprocess.DEVNULL, stderr=log_file)
    try:
        await fake_discord.wait_identified(timeout=15)
        await fake_discord.wait_synced(timeout=15)
        interaction = await fake_discord.invoke("sdxl", {"prompt": "a red fox in snow", "seed": 5})
        message = await interaction.wait_followup()
        assert embed_fields(message)["Seed"] == "5"
        assert message["_files"]
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), timeout=15)
    log = log_path.read_text()
    assert proc.returncode == 0
    assert "synced" in log and "shut down cleanly" in log
    assert TOKEN not in log and PIXAZO_KEY not in log, "even at DEBUG, no secret is logged"
    assert "/webhooks/" in log, "discord.py logs its webhook calls at DEBUG: the check below must see them"
    assert interaction.token not in log, "an interaction token is a credential: never logged, even at DEBUG"
    assert "Traceback" not in log


def put_count(fake) -> int:
    return sum(1 for r in fake.requests if r.method == "PUT" and r.path.endswith("/commands"))


def identify_count(fake) -> int:
    return sum(1 for r in fake.requests if r.path.endswith("/users/@me"))


async def run_until(settings, predicate, *, settle: float = 0.0) -> None:
    """Start the bot, wait for `predicate`, give it `settle` seconds more, then stop it."""
    from bot.__main__ import serve

    task = asyncio.create_task(serve(settings))
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
    # The state file is written just after Discord answers the PUT; under load the test could stop the
    # bot between the two, so it waits for both.
    state_file = settings.data_dir / "command-sync.json"
    await run_until(settings, lambda: put_count(fake_discord) == 1 and state_file.exists())
    assert put_count(fake_discord) == 1

    # A restart with the same definitions logs in but does not sync (Discord caps creates per day).
    await run_until(settings, lambda: identify_count(fake_discord) == 2, settle=0.3)
    assert put_count(fake_discord) == 1

    # A new target (global instead of the dev guild) is synced.
    global_settings = make_settings(tmp_path, fake_discord, fake_pixazo, dev_guild_id=None)
    # The dev guild's copies are cleared, or members there would see every command twice.
    await run_until(global_settings, lambda: put_count(fake_discord) == 3 and '"global"' in state_file.read_text())
    assert {c["name"] for c in fake_discord.synced[None]} >= {"sdxl", "quota"}
    assert fake_discord.synced[GUILD_ID] == []

    # --sync forces it even when nothing changed.
    from bot.__main__ import sync_commands

    await sync_commands(global_settings)
    assert put_count(fake_discord) == 4


def test_every_extension_loads_and_command_names_are_unique():
    import discord
    from discord.ext import commands

    from bot.ui.app import EXTENSIONS

    async def load() -> list[str]:
        bot = commands.Bot(command_prefix="!", intents=discord.Intents.none())
        for name in EXTENSIONS:
            await bot.load_extension(name)
        return [c.name for c in bot.tree.get_commands()]

    names = asyncio.run(load())
    assert len(names) == len(set(names))
    assert set(names) == {"sd3", "sd35-large", "sdxl", "sdxl-lightning", "inpaint", "imagine", "settings", "quota",
                          "quotas", "history", "forget", "help", "config", "Inpaint this…", "Zoom out this"}


async def test_a_refused_token_is_one_clear_line(tmp_path, fake_discord, fake_pixazo):
    env = {"DISCORD_TOKEN": "not-the-right-token", "PIXAZO_API_KEY": PIXAZO_KEY,
           "PIXAZO_BASE_URL": fake_pixazo.base_url, "DISCORD_API_BASE_URL": fake_discord.api_base,
           "DISCORD_GATEWAY_URL": fake_discord.gateway_url, "DATA_DIR": str(tmp_path / "data")}
    result = await asyncio.to_thread(run_bot, env, cwd=tmp_path)
    assert result.returncode == 2  # a new token is needed: restarting cannot help
    assert "Discord refused DISCORD_TOKEN" in result.stderr
    assert "Traceback" not in result.stderr and "not-the-right-token" not in result.stderr


def test_unreachable_discord_is_one_clear_line(tmp_path):
    env = {**BASE_ENV, "DISCORD_API_BASE_URL": "http://127.0.0.1:9/api/v10", "DATA_DIR": str(tmp_path / "data")}
    result = run_bot(env, cwd=tmp_path)
    assert result.returncode == 1
    assert "could not reach Discord at http://127.0.0.1:9/api/v10" in result.stderr
    assert "Traceback" not in result.stderr and TOKEN not in result.stderr


# -- DATA_DIR and the database: checked before connecting, one line naming the path and the cause --------

# Discord is pointed at a closed port: before these checks existed, a DATA_DIR problem came out as
# "could not reach Discord … check the network", or as a traceback from SQLite.
UNREACHABLE = {**BASE_ENV, "DISCORD_API_BASE_URL": "http://127.0.0.1:9/api/v10"}


def _without_root_override() -> None:
    # Root writes anywhere regardless of permissions; without CAP_DAC_OVERRIDE (1) and
    # CAP_DAC_READ_SEARCH (2) in the bounding set, the child is held to them like any user.
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (1, 2):
        if libc.prctl(24, cap, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def test_a_data_dir_that_is_a_file_is_one_line(tmp_path):
    (tmp_path / "data").write_text("not a directory")
    result = run_bot({**UNREACHABLE, "DATA_DIR": str(tmp_path / "data")}, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().endswith(f"DATA_DIR {tmp_path / 'data'} is not a directory; point DATA_DIR "
                                          "at a directory"), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_a_data_dir_that_cannot_be_created_is_one_line(tmp_path):
    (tmp_path / "file").write_text("")
    result = run_bot({**UNREACHABLE, "DATA_DIR": str(tmp_path / "file" / "data")}, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().endswith(f"DATA_DIR {tmp_path / 'file' / 'data'} could not be created: "
                                          "Not a directory"), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_data_dir_that_is_not_writable_is_one_line(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    data.chmod(0o500)
    try:
        result = run_bot({**UNREACHABLE, "DATA_DIR": "data"}, cwd=tmp_path,
                         preexec_fn=_without_root_override if os.geteuid() == 0 else None)
    finally:
        data.chmod(0o700)
    assert result.returncode == 2
    assert result.stderr.strip().endswith(f"DATA_DIR data ({data}) is not writable by uid {os.geteuid()}: "
                                          "Permission denied; give that user write access to it"), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "could not reach Discord" not in result.stderr


def test_a_database_that_cannot_be_opened_is_one_line(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "bot.sqlite3").write_bytes(b"this is a text file, not SQLite" * 100)
    result = run_bot({**UNREACHABLE, "DATA_DIR": str(data)}, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().endswith(f"database {data / 'bot.sqlite3'} could not be opened: "
                                          "file is not a database"), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


_CRASH = """
import asyncio, os, sys
from pathlib import Path
from bot.storage import Member, SqliteStore
from tests.storage.test_store_queue import enqueue

async def main():
    store = await SqliteStore.open(Path(sys.argv[1]))
    await enqueue(store, Member(int(sys.argv[2]), 4000))
    assert await store.claim("a-crashed-bot", 30.0, max_running=2) is not None
    os._exit(0)  # as kill -9 would: the write-ahead log and its index stay behind

asyncio.run(main())
"""


async def _a_ledger_with_a_running_job(data: Path, *, crashed: bool = False) -> None:
    """DATA_DIR as a bot leaves it, stopped or `crashed`: the ledger with a job its run left running (the
    next start's recovery must write), the lock file, the instance id and the settle journal's space."""
    if crashed:
        done = await asyncio.to_thread(subprocess.run, [sys.executable, "-c", _CRASH, str(data / "bot.sqlite3"),
                                                        str(GUILD_ID)], env=clean_env(), cwd=ROOT,
                                       capture_output=True, text=True, timeout=30)
        assert done.returncode == 0, done.stderr
        assert (data / "bot.sqlite3-wal").exists()
    else:
        store = await SqliteStore.open(data / "bot.sqlite3")
        await enqueue(store, Member(GUILD_ID, 4000))
        assert await store.claim("a-stopped-bot", 30.0, max_running=2) is not None
        await store.close()
    lock = InstanceLock.take(data, sqlite=True)
    lock.instance_id()
    lock.release()
    offload = Offload(1, name="test-journal")
    journal = SettleJournal(data / "settle-journal.jsonl", offload)
    await journal.reserve()
    journal.close()
    offload.close()


@pytest.mark.parametrize("crashed", [False, True], ids=["stopped", "crashed"])
async def test_a_full_disk_at_start_names_data_dir_and_exits_2_and_loses_nothing(small_disk, tmp_path, crashed):
    await _a_ledger_with_a_running_job(small_disk, crashed=crashed)
    env = {**UNREACHABLE, "DATA_DIR": str(small_disk)}
    with disk_filled(small_disk):
        result = await asyncio.to_thread(run_bot, env, cwd=tmp_path)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr  # the operator must make room: no restart loop
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert re.search(rf" ERROR +bot: DATA_DIR {re.escape(str(small_disk))} is full \(0 KiB free\): the SQLite "
                     rf"ledger {re.escape(str(small_disk / 'bot.sqlite3'))} can't be written \([^)]+\); free space "
                     "on it, then start the bot again$", lines[0]), lines[0]
    assert "locked" not in result.stderr and "can't be written right now" not in result.stderr
    # With room again the start gets past the ledger (here to a Discord that can't be reached), and the job
    # the last run left is still there for it: nothing was lost by the failed start.
    store = await SqliteStore.open(small_disk / "bot.sqlite3", recover=False)
    try:
        assert [j["state"] for j in await store.recent_jobs(GUILD_ID, 4000, limit=5)] == ["running"]
    finally:
        await store.close()
    result = await asyncio.to_thread(run_bot, env, cwd=tmp_path)
    assert result.returncode == 1 and "could not reach Discord" in result.stderr, result.stderr


async def test_a_full_disk_before_the_settle_journal_could_reserve_its_space_is_one_line(small_disk, tmp_path):
    env = {**UNREACHABLE, "DATA_DIR": str(small_disk)}
    with disk_filled(small_disk):  # a first start: not even the instance id can be kept
        result = await asyncio.to_thread(run_bot, env, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().endswith(
        f"DATA_DIR {small_disk} is full (0 KiB free): {small_disk / 'instance-id'} could not be written (No space "
        "left on device); free space on it, then start the bot again"), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1

    lock = InstanceLock.take(small_disk, sqlite=True)
    lock.instance_id()
    lock.release()
    with disk_filled(small_disk):  # then the journal's space, before the ledger is touched
        result = await asyncio.to_thread(run_bot, env, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().endswith(
        f"DATA_DIR {small_disk} is full (0 KiB free): the settle journal {small_disk / 'settle-journal.jsonl'} "
        "could not reserve its 64 KiB (No space left on device); free space on it, then start the bot again"), \
        result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


async def test_a_read_only_data_dir_at_start_says_so_and_exits_2(small_disk, tmp_path):
    await _a_ledger_with_a_running_job(small_disk)
    with read_only(small_disk):
        result = await asyncio.to_thread(run_bot, {**UNREACHABLE, "DATA_DIR": str(small_disk)}, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().endswith(
        f"DATA_DIR {small_disk} is on a read-only file system: no file can be created in it (Read-only file "
        "system); mount it read-write, then start the bot again"), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "uid" not in result.stderr


async def test_discord_failing_at_login_is_one_line(tmp_path, fake_discord, fake_pixazo):
    fake_discord.login_status = 503  # 500/502/504 would be retried by discord.py for 25 s first
    env = {**BASE_ENV, "PIXAZO_BASE_URL": fake_pixazo.base_url, "DISCORD_API_BASE_URL": fake_discord.api_base,
           "DISCORD_GATEWAY_URL": fake_discord.gateway_url, "DATA_DIR": str(tmp_path / "data")}
    result = await asyncio.to_thread(run_bot, env, cwd=tmp_path)
    assert result.returncode == 1  # worth trying again later: a supervisor restarts it
    assert result.stderr.strip().endswith("Discord answered HTTP 503 at login; Discord is having trouble, "
                                          "try again later"), result.stderr
    assert "Traceback" not in result.stderr and TOKEN not in result.stderr
    assert [line for line in result.stderr.splitlines() if "ERROR" in line] == result.stderr.strip().splitlines()[-1:]


# -- The operator's path: Docker as the README has it, the heartbeat and `--health` ------------------------

def docker_env_file(path: Path) -> dict[str, str]:
    """What `docker run --env-file` sets: each `NAME=value` line taken literally, comments skipped."""
    pairs = (line.split("=", 1) for line in path.read_text().splitlines()
             if line.strip() and not line.lstrip().startswith("#"))
    return {name: value for name, value in pairs}


async def start_bot(env: dict[str, str], cwd: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(sys.executable, "-m", "bot", cwd=cwd, env={**clean_env(), **env},
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)


async def health(data_dir: Path, cwd: Path, **env: str) -> tuple[int, str]:
    """`python -m bot --health` as a HEALTHCHECK runs it: DATA_DIR and no secret in its environment."""
    result = await asyncio.to_thread(run_bot, {"DATA_DIR": str(data_dir), **env}, "--health", cwd=cwd)
    assert result.stderr == "", result.stderr
    return result.returncode, result.stdout.strip()


async def until_health(data_dir: Path, cwd: Path, code: int, start: str, timeout: float = 10, **env: str) -> None:
    """Poll --health until it exits `code` with a line starting with `start`."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        rc, line = await health(data_dir, cwd, **env)
        if rc == code and line.startswith(start):
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"--health still says {rc}: {line}")
        await asyncio.sleep(0.1)


async def test_docker_run_as_documented_keeps_the_ledger_in_the_volume(tmp_path, fake_discord, fake_pixazo):
    volume = tmp_path / "volume"  # the image's `ENV DATA_DIR=/data`, where the volume is mounted
    volume.mkdir()
    workdir = tmp_path / "app"  # the image's WORKDIR
    workdir.mkdir()
    env = {"DATA_DIR": str(volume), **docker_env_file(ROOT / ".env.example"), **BASE_ENV,
           "PIXAZO_BASE_URL": fake_pixazo.base_url, "PIXAZO_REQUIRE_HTTPS_RESULTS": "false",
           "DISCORD_API_BASE_URL": fake_discord.api_base, "DISCORD_GATEWAY_URL": fake_discord.gateway_url,
           "DISCORD_GUILD_READY_TIMEOUT": "0.05", "DEV_GUILD_ID": str(GUILD_ID)}
    rc, line = await health(volume, workdir)
    assert (rc, line) == (1, f"unhealthy: no heartbeat at {volume / 'heartbeat.json'}: the bot is not running "
                             "there, or has not started yet")
    proc = await start_bot(env, workdir)
    try:
        await fake_discord.wait_synced(timeout=15)
        await until_health(volume, workdir, 0, "healthy: connected to Discord as of ")
        assert (volume / "bot.sqlite3").is_file() and (volume / "command-sync.json").is_file()
        assert not (workdir / "data").exists(), ".env.example must not send DATA_DIR away from the volume"
    finally:
        proc.terminate()
        _, stderr = await asyncio.wait_for(proc.communicate(), timeout=15)
    assert proc.returncode == 0, stderr.decode()
    rc, line = await health(volume, workdir)
    assert rc == 1 and line.startswith("unhealthy: the bot stopped "), line


async def test_sync_syncs_and_exits_beside_the_running_bot(tmp_path, fake_discord, fake_pixazo):
    """The README's recipe, `python -m bot --sync` with the running bot's settings and DATA_DIR: it syncs
    and exits 0, without a gateway session, the ledger or DATA_DIR's lock; the running bot carries on."""
    volume = tmp_path / "volume"
    volume.mkdir()
    env = {"DATA_DIR": str(volume), **BASE_ENV, "PIXAZO_BASE_URL": fake_pixazo.base_url,
           "DISCORD_API_BASE_URL": fake_discord.api_base, "DISCORD_GATEWAY_URL": fake_discord.gateway_url,
           "DISCORD_GUILD_READY_TIMEOUT": "0.05", "DEV_GUILD_ID": str(GUILD_ID)}
    proc = await start_bot(env, tmp_path)
    try:
        await fake_discord.wait_synced(timeout=15)
        await fake_discord.wait_identified(timeout=15)
        puts, sessions = put_count(fake_discord), len(fake_discord.identifies)
        result = await asyncio.to_thread(run_bot, env, "--sync", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert f"synced {len(fake_discord.synced[GUILD_ID])} command(s) to guild:{GUILD_ID}" in result.stderr
        assert "ledger" not in result.stderr and "Traceback" not in result.stderr
        assert put_count(fake_discord) == puts + 1, "synced although nothing changed"
        assert len(fake_discord.identifies) == sessions, "no second gateway session: not a second bot"
        interaction = await fake_discord.invoke("quota", {})
        assert (await interaction.wait_callback())["type"] in (4, 5), "the running bot still answers"
    finally:
        proc.terminate()
        _, stderr = await asyncio.wait_for(proc.communicate(), timeout=15)
    assert proc.returncode == 0, stderr.decode()
    assert f"ledger: SQLite at {volume / 'bot.sqlite3'}" in stderr.decode(), "the log names the ledger at start"


async def test_health_reports_a_lost_gateway_then_a_dead_bot(tmp_path, fake_discord, fake_pixazo):
    data = tmp_path / "data"
    beat = {"HEARTBEAT_INTERVAL_SECONDS": "0.2"}
    env = {**BASE_ENV, **beat, "PIXAZO_BASE_URL": fake_pixazo.base_url, "DATA_DIR": str(data),
           "DISCORD_API_BASE_URL": fake_discord.api_base, "DISCORD_GATEWAY_URL": fake_discord.gateway_url,
           "DISCORD_GUILD_READY_TIMEOUT": "0.05", "DEV_GUILD_ID": str(GUILD_ID)}
    proc = await start_bot(env, tmp_path)
    try:
        await fake_discord.wait_synced(timeout=15)
        await until_health(data, tmp_path, 0, "healthy: connected to Discord as of ", **beat)
        await fake_discord.close()  # Discord goes away: the bot keeps running and keeps trying
        await until_health(data, tmp_path, 1, "unhealthy: the bot is not connected to Discord (reconnecting) as of ",
                           **beat)
        assert proc.returncode is None
        proc.send_signal(signal.SIGKILL)  # no last beat: only the file's age tells
        _, stderr = await proc.communicate()
        await asyncio.sleep(0.7)
        rc, line = await health(data, tmp_path, **beat)
        assert rc == 1 and line.startswith("unhealthy: the last heartbeat is ") and line.endswith(
            "s old (one is written every 0.2 s): the bot is not running or is stuck"), line
        # While it retried, each failed reconnect was one line, not discord.py's ERROR with a traceback.
        # discord.shard's line since the bot is an AutoShardedBot (part 9): "... on shard 0 (...".
        assert "WARNING discord.shard: lost the connection to Discord's gateway on shard 0 (ClientConnectorError: " in \
            stderr.decode()
        assert "Traceback" not in stderr.decode() and "ERROR" not in stderr.decode()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_health_exits_1_never_2_on_a_bad_setting(tmp_path):
    # Docker reserves exit status 2 of a HEALTHCHECK; and the check needs no secret to run.
    rc, line = await health(tmp_path, tmp_path, HEARTBEAT_INTERVAL_SECONDS="often")
    assert rc == 1 and line.startswith("unhealthy: setting HEARTBEAT_INTERVAL_SECONDS is invalid"), line


def test_pip_install_ships_every_package():
    """`pip install .` (the README's and the image's install) must carry every package of bot/ and cogs/."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    found = config["packages"]["find"] if isinstance(config["packages"], dict) else None
    if found is None:
        shipped = set(config["packages"])
    else:
        from setuptools import find_packages

        shipped = set(find_packages(where=str(ROOT), include=found.get("include", ["*"]),
                                    exclude=found.get("exclude", ())))
    packages = {".".join(init.parent.relative_to(ROOT).parts)
                for top in ("bot", "cogs") for init in (ROOT / top).rglob("__init__.py")}
    assert packages - shipped == set()
    assert not {p for p in shipped if not p.startswith(("bot", "cogs"))}, "tests and bench stay out of the wheel"


def test_the_systemd_unit_restarts_only_what_a_restart_can_fix(tmp_path):
    unit = {}
    for line in (ROOT / "deploy" / "pixazo-bot.service").read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            unit.setdefault(key, value)
    assert unit["ExecStart"].endswith("/python -m bot") and unit["Restart"] == "on-failure"
    assert unit["Environment"] == f"DATA_DIR=/var/lib/{unit['StateDirectory']}"  # the one writable directory
    # The exit status main() uses for "fix the configuration first" is the one not restarted.
    assert run_bot({}, cwd=tmp_path).returncode == int(unit["RestartPreventExitStatus"]) == 2

