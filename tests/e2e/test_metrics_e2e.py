"""/metrics and /healthz as an operator's Prometheus sees them: the real bot between the fakes runs jobs
(one that succeeds after a Pixazo 500 and a retry, one cancelled while it waits, one Pixazo refuses,
one plain success, and a command Discord no longer knows), and a scrape over HTTP shows each; no label
names a member, a server, a channel or a prompt. /healthz says 503 while the ledger is down. Without
METRICS_PORT nothing listens at all."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.__main__ import serve
from bot.catalog import MODELS
from bot.core.preflight import StartupError
from tests.conftest import (
    CHANNEL_ID,
    GUILD_ID,
    PIXAZO_KEY,
    TOKEN,
    eventually,
    is_ephemeral,
    make_settings,
    started_bot,
)
from tests.disk import disk_filled
from tests.e2e.test_queue_e2e import cancel_id, shows
from tests.fakes.launch import BotProcess, bot_env
from tests.fakes.pixazo import Behaviour
from tests.postgres import PostgresServer, postgres_or_skip

MEMBERS = (4000, 4001, 4002, 4003, 4004)
COST = MODELS["sdxl"].cost
PROMPTS = ("a red fox in snow", "a blue heron at dawn", "a refused prompt", "a green lantern")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def bot_settings(request) -> dict:
    values = {"metrics_port": free_port(), "pixazo_max_concurrency": 1, "progress_interval_seconds": 0.3,
              "pixazo_retry_base_delay_seconds": 0.0}
    if "small_disk" in request.fixturenames:
        values.update(data_dir=request.getfixturevalue("small_disk"), database_busy_timeout_seconds=0.2)
    return values


async def scrape(settings) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, \
            session.get(f"http://127.0.0.1:{settings.metrics_port}/metrics") as resp:
        return resp.status, await resp.text()


async def healthz(settings) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, \
            session.get(f"http://127.0.0.1:{settings.metrics_port}/healthz") as resp:
        return resp.status, await resp.text()


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(scraped: dict, name: str, **labels: str) -> float:
    """The sample `name` with these labels (and shard "all"); 0 when the series does not exist yet."""
    return scraped.get((name, frozenset({"shard": "all", **labels}.items())), 0.0)


async def scraped_when(settings, *, name: str, expected: float, **labels: str) -> dict:
    """A scrape once `name` shows `expected`: a job's end is counted just after the member has its image
    (the ledger's settle comes between)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while value(got := samples((await scrape(settings))[1]), name, **labels) != expected:
        assert loop.time() < deadline, f"{name}{labels} is {value(got, name, **labels)}, not {expected}"
        await asyncio.sleep(0.05)
    return got


def has_result(interaction) -> bool:
    return any(m.get("embeds") for m in [interaction.original or {}, *interaction.followups, *interaction.edits])


async def test_a_run_of_jobs_shows_in_a_scrape_and_no_label_names_anyone(harness):
    pixazo, settings = harness.pixazo, harness.settings
    pixazo.latency = 1.0
    pixazo.push(Behaviour.SERVER_ERROR)  # the first job's first call: 500, then a retry that succeeds
    first = await harness.invoke("sdxl", {"prompt": PROMPTS[0]}, user_id=MEMBERS[0])
    waiting = await harness.invoke("sdxl", {"prompt": PROMPTS[1]}, user_id=MEMBERS[1])
    await eventually(lambda: shows(waiting, "position 1 of 1"), timeout=5)

    status, text = await scrape(settings)
    assert status == 200
    now = samples(text)
    assert value(now, "pixazo_bot_queue_depth") == 1, "the waiting job, read from the ledger"
    assert value(now, "pixazo_bot_queue_running") == 1
    assert value(now, "pixazo_bot_ledger_up") == 1

    click = await harness.discord.click(waiting.original, cancel_id(waiting.original), user_id=MEMBERS[1])
    assert (await click.wait_callback())["type"] == 7, "cancelled while waiting"
    await eventually(lambda: has_result(first), timeout=10)

    pixazo.latency = 0.0
    pixazo.push(Behaviour.BAD_REQUEST)  # Pixazo refuses the third: failed, refunded
    _, refused = await harness.answer("sdxl", {"prompt": PROMPTS[2]}, user_id=MEMBERS[2])
    assert is_ephemeral(refused) and "credits" in refused["content"], refused
    last = await harness.invoke("sdxl", {"prompt": PROMPTS[3]}, user_id=MEMBERS[3])
    await eventually(lambda: has_result(last), timeout=10)
    harness.discord.fail_callbacks(404, code=10062, message="Unknown interaction")
    await harness.invoke("sdxl", {"prompt": "never deferred"}, user_id=MEMBERS[4])
    await eventually(lambda: "no longer knows the interaction" in harness.log_text())
    await asyncio.sleep(0.7)  # the event-loop probe has slept and woken at least once

    sdxl = {"model": "sdxl"}
    await scraped_when(settings, name="pixazo_bot_jobs_total", expected=2, **sdxl, outcome="succeeded")
    status, text = await scrape(settings)
    assert status == 200
    got = samples(text)
    assert value(got, "pixazo_bot_jobs_total", **sdxl, outcome="succeeded") == 2
    assert value(got, "pixazo_bot_jobs_total", **sdxl, outcome="cancelled") == 1
    assert value(got, "pixazo_bot_jobs_total", **sdxl, outcome="failed") == 1
    assert value(got, "pixazo_bot_credits_spent_total", **sdxl) == 2 * COST
    assert value(got, "pixazo_bot_credits_refunded_total", **sdxl) == 2 * COST, "the cancelled and the refused"
    # Three jobs were claimed (the cancelled one never was); each ran and ended here.
    assert value(got, "pixazo_bot_job_wait_seconds_count", **sdxl) == 3
    assert value(got, "pixazo_bot_job_run_seconds_count", **sdxl) == 3
    assert value(got, "pixazo_bot_job_run_seconds_sum", **sdxl) >= 2.0, "the first ran two 1 s calls"
    assert value(got, "pixazo_bot_pixazo_calls_total", **sdxl, call="generate", status="server_error") == 1
    assert value(got, "pixazo_bot_pixazo_calls_total", **sdxl, call="generate", status="rejected") == 1
    assert value(got, "pixazo_bot_pixazo_calls_total", **sdxl, call="generate", status="ok") == 2
    assert value(got, "pixazo_bot_pixazo_calls_total", **sdxl, call="result", status="ok") == 2
    assert value(got, "pixazo_bot_pixazo_retries_total", **sdxl, call="generate") == 1
    assert value(got, "pixazo_bot_discord_errors_total", route="POST /interactions/{id}/{token}/callback",
                 status="404") >= 1
    assert value(got, "pixazo_bot_event_loop_lag_seconds_count") >= 1
    assert value(got, "pixazo_bot_queue_depth") == 0 and value(got, "pixazo_bot_queue_running") == 0
    assert ("pixazo_bot_image_pool_backlog", frozenset({("shard", "all")})) in got
    assert value(got, "pixazo_bot_lease_takeovers_total", kind="taken") == 0

    # Nothing that names anyone: no id, no prompt, no token in any label; the shard on every series.
    ids = {str(n) for n in (*MEMBERS, GUILD_ID, CHANNEL_ID)}
    for (name, labels), _ in got.items():
        assert dict(labels).get("shard") == "all", name
        for label, shown in labels:
            assert not ids & set(re.findall(r"\d+", shown)), f"{name}{{{label}={shown!r}}} holds an id"
    for secret in (*PROMPTS, "never deferred", TOKEN, PIXAZO_KEY, "alice"):
        assert secret not in text


async def test_a_job_that_waited_too_long_counts_as_expired_and_refunded(tmp_path, fake_discord, fake_pixazo):
    settings = make_settings(tmp_path, fake_discord, fake_pixazo, metrics_port=free_port(), pixazo_max_concurrency=1,
                             queue_max_wait_seconds=0.5)
    fake_pixazo.latency = 30
    async with started_bot(settings, fake_discord):
        await fake_discord.invoke("sdxl", {"prompt": PROMPTS[0]}, user_id=MEMBERS[0])
        await eventually(lambda: len(fake_pixazo.requests) == 1)
        waiting = await fake_discord.invoke("sdxl", {"prompt": PROMPTS[1]}, user_id=MEMBERS[1])
        await eventually(lambda: any(is_ephemeral(m) for m in waiting.followups), timeout=10)
        got = await scraped_when(settings, name="pixazo_bot_jobs_total", expected=1, model="sdxl", outcome="expired")
        await fake_pixazo.close()  # the first call ends now, rather than when the bot stops
    assert value(got, "pixazo_bot_credits_refunded_total", model="sdxl") == COST
    assert value(got, "pixazo_bot_job_wait_seconds_count", model="sdxl") == 1, "only the first was claimed"


@pytest.fixture
async def own_postgres() -> AsyncIterator[PostgresServer]:
    """A PostgreSQL server this test may stop (the session's is shared with every other test)."""
    server = await asyncio.to_thread(PostgresServer.start, postgres_or_skip())
    try:
        yield server
    finally:
        await asyncio.to_thread(server.stop)


@pytest.fixture
async def ledger_settings(request) -> dict:
    if "own_postgres" not in request.fixturenames:
        return {}
    server: PostgresServer = request.getfixturevalue("own_postgres")
    return {"database_url": server.url(await server.create_database()), "database_busy_timeout_seconds": 1.0}


async def answers(harness, code: int) -> tuple[int, str]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while (got := await healthz(harness.settings))[0] != code:
        assert loop.time() < deadline, f"/healthz still says {got}"
        await asyncio.sleep(0.1)
    return got


async def test_healthz_is_200_while_healthy_and_503_while_the_ledger_is_down(own_postgres, harness):
    assert await answers(harness, 200) == (200, "healthy: connected to Discord as of 0 s ago\n")
    await asyncio.to_thread(own_postgres.halt)
    try:
        # A member's command meets the stopped server (an idle queue looks again only every lease).
        _, refused = await harness.answer("sdxl", {"prompt": PROMPTS[0]})
        assert is_ephemeral(refused), refused
        status, text = await answers(harness, 503)
        assert text.startswith("unhealthy: the ledger can't be written"), text
        status, text = await scrape(harness.settings)
        assert status == 200 and value(samples(text), "pixazo_bot_ledger_up") == 0, "a scrape still answers"
    finally:
        await asyncio.to_thread(own_postgres.resume)
    await answers(harness, 200)


async def test_healthz_is_503_once_a_full_disk_refused_a_write_to_the_sqlite_ledger(small_disk, harness):
    """SQLite learns of a full disk at the first write that needs a page (an idle queue's claim changes
    nothing, so it does not): here a member's command."""
    assert (await answers(harness, 200))[0] == 200
    with disk_filled(small_disk):
        _, refused = await harness.answer("sdxl", {"prompt": PROMPTS[0]})
        assert is_ephemeral(refused) and "can't record anything" in refused["content"], refused
        status, text = await answers(harness, 503)
        assert text.startswith("unhealthy: the ledger can't be written"), text
    await harness.answer("sdxl", {"prompt": PROMPTS[0]})  # a write lands: the outage is over
    await answers(harness, 200)


def listening(pid: int) -> set[int]:
    """The TCP ports this process listens on (from /proc: its sockets' inodes in LISTEN state)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


@pytest.mark.parametrize("port", [None, "free"])
async def test_without_metrics_port_nothing_listens(port, tmp_path, fake_discord, fake_pixazo):
    chosen = free_port() if port else None
    settings = make_settings(tmp_path, fake_discord, fake_pixazo, metrics_port=chosen)
    before = listening(os.getpid())
    async with started_bot(settings, fake_discord):
        opened = listening(os.getpid()) - before
    assert opened == ({chosen} if chosen else set()), opened


async def test_a_metrics_port_in_use_stops_the_start_in_one_line(tmp_path, fake_discord, fake_pixazo):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        settings = make_settings(tmp_path, fake_discord, fake_pixazo, metrics_port=port)
        with pytest.raises(StartupError, match=rf"^METRICS_PORT: could not listen on 127.0.0.1:{port} "):
            await asyncio.wait_for(serve(settings), 10)


async def test_a_job_run_again_after_a_crash_counts_as_a_lease_taken(tmp_path, fake_discord, fake_pixazo):
    """A bot killed (SIGKILL) while its job's Pixazo call hangs: the next start takes the job over and runs it."""
    fake_pixazo.latency = 30
    crashed = await BotProcess(bot_env(tmp_path, fake_discord, fake_pixazo), tmp_path / "run").start()
    try:
        await crashed.wait_ready(fake_discord)
        asked = await fake_discord.invoke("sdxl", {"prompt": PROMPTS[0]})
        await eventually(lambda: len(fake_pixazo.requests) == 1, timeout=10)
    finally:
        await crashed.stop(signal.SIGKILL)
    fake_pixazo.latency = 0.0
    settings = make_settings(tmp_path, fake_discord, fake_pixazo, metrics_port=free_port())
    fake_discord.identify_payload = None
    async with started_bot(settings, fake_discord):
        await eventually(lambda: has_result(asked), timeout=10)
        got = await scraped_when(settings, name="pixazo_bot_jobs_total", expected=1, model="sdxl", outcome="succeeded")
    assert len(fake_pixazo.requests) == 2, "run again"
    assert value(got, "pixazo_bot_lease_takeovers_total", kind="taken") == 1
    assert value(got, "pixazo_bot_jobs_total", model="sdxl", outcome="succeeded") == 1
    assert value(got, "pixazo_bot_credits_spent_total", model="sdxl") == COST
