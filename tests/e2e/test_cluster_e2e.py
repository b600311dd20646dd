"""Several real `python -m bot` processes as one bot (part 9): shards split between processes on one
PostgreSQL, one concurrency bound for all of them, one syncer, /config changes heard everywhere,
a killed process's jobs taken over; and a second process on one SQLite ledger refused."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.domain import Member
from bot.storage.postgres.store import PostgresStore
from tests.conftest import CHANNEL_ID, GUILD_ID, PIXAZO_KEY, TOKEN, eventually, is_ephemeral
from tests.e2e.test_startup import clean_env, put_count, run_bot
from tests.fakes.discord import DEFAULT_MEMBER_PERMISSIONS, FakeDiscord, FakeInteraction
from tests.ledger import columns, until

SHARD1_GUILD = (1 << 22) | GUILD_ID  # GUILD_ID (2000) is on shard 0 of 2; this one on shard 1
ADMIN = DEFAULT_MEMBER_PERMISSIONS | (1 << 5)  # Manage Server


@pytest.fixture
async def cluster_discord() -> AsyncIterator[FakeDiscord]:
    fake = FakeDiscord(token=TOKEN, guilds=[GUILD_ID, SHARD1_GUILD], channel_id=CHANNEL_ID)
    await fake.start()
    yield fake
    await fake.close()


class Bot:
    """One `python -m bot` process; its log goes to a file (a pipe nobody reads could fill and stall it)."""

    def __init__(self, root: Path, name: str, env: dict[str, str]) -> None:
        self.name = name
        self.data = root / name
        self.log_path = root / f"{name}.log"
        self.env = {**env, "DATA_DIR": str(self.data)}
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> Bot:
        self.log_file = self.log_path.open("wb")
        self.proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "bot", cwd=self.log_path.parent,
                                                         env={**clean_env(), **self.env},
                                                         stdout=asyncio.subprocess.DEVNULL, stderr=self.log_file)
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    async def stop(self, sig: int = signal.SIGTERM) -> int:
        assert self.proc is not None
        if self.proc.returncode is None:
            self.proc.send_signal(sig)
            try:
                await asyncio.wait_for(self.proc.wait(), 15)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        self.log_file.close()
        assert self.proc.returncode is not None
        return self.proc.returncode


def cluster_env(fake_discord: FakeDiscord, fake_pixazo, url: str | None, **extra: str) -> dict[str, str]:
    env = {"DISCORD_TOKEN": TOKEN, "PIXAZO_API_KEY": PIXAZO_KEY, "PIXAZO_BASE_URL": fake_pixazo.base_url,
           "PIXAZO_REQUIRE_HTTPS_RESULTS": "false", "PIXAZO_RESULT_ALLOW_PRIVATE_HOSTS": "true",
           "PIXAZO_TIMEOUT_SECONDS": "60", "DISCORD_API_BASE_URL": fake_discord.api_base,
           "DISCORD_GATEWAY_URL": fake_discord.gateway_url, "DISCORD_GUILD_READY_TIMEOUT": "0.05",
           "SHUTDOWN_GRACE_SECONDS": "1", **extra}
    if url is not None:
        env["DATABASE_URL"] = url
    return env


@contextlib.asynccontextmanager
async def cluster(tmp_path: Path, fake_discord: FakeDiscord, fake_pixazo, url: str, shards: dict[str, str],
                  **extra: str) -> AsyncIterator[dict[str, Bot]]:
    """One process per entry of `shards` (name -> SHARD_IDS of SHARD_COUNT=2), all on `url`."""
    bots = {name: Bot(tmp_path, name, cluster_env(fake_discord, fake_pixazo, url, SHARD_COUNT="2", SHARD_IDS=ids,
                                                  **extra))
            for name, ids in shards.items()}
    try:
        for bot in bots.values():
            await bot.start()
        await fake_discord.wait_shards(0, 1, timeout=30)
        await fake_discord.wait_synced(timeout=15)
        yield bots
    finally:
        for bot in bots.values():
            if bot.proc is not None:
                await bot.stop()
        for bot in bots.values():
            text = bot.log()
            assert TOKEN not in text and PIXAZO_KEY not in text, f"{bot.name}: a secret reached the log"
            assert "Traceback" not in text, f"{bot.name}:\n{text[-3000:]}"


def results(interaction: FakeInteraction) -> list[dict]:
    shown = [m for m in interaction.followups if m.get("embeds")] + [e for e in interaction.edits if e.get("embeds")]
    if interaction.original and interaction.original.get("embeds") and not shown:
        shown = [interaction.original]
    return shown


async def final_answer(interaction: FakeInteraction) -> dict:
    """What the member reads: an immediate reply, or the followup after a defer."""
    callback = await interaction.wait_callback()
    if callback["type"] == 4:
        return callback["data"]
    return await interaction.wait_followup()


async def ledger(url: str) -> PostgresStore:
    return await PostgresStore.open(url, recover=False)  # a view: never touches the bots' open jobs


async def test_two_processes_serve_their_shards_under_one_bound_and_one_syncer(tmp_path, cluster_discord,
                                                                               fake_pixazo, postgres_url):
    fake_pixazo.latency = 0.3
    async with cluster(tmp_path, cluster_discord, fake_pixazo, postgres_url, {"a": "0", "b": "1"},
                       PIXAZO_MAX_CONCURRENCY="2") as bots:
        interactions = [await cluster_discord.invoke("sdxl", {"prompt": f"fox {n}"}, user_id=4000 + n,
                                                     guild_id=(GUILD_ID, SHARD1_GUILD)[n % 2])
                        for n in range(8)]
        for interaction in interactions:
            await eventually(lambda i=interaction: bool(results(i)), timeout=30)
        assert all(len(results(i)) == 1 for i in interactions), "each delivered once"
        assert fake_pixazo.max_in_flight == 2, "both processes together, never more than PIXAZO_MAX_CONCURRENCY"
        assert put_count(cluster_discord) == 1, "one process synced the commands"
        logs = {name: bot.log() for name, bot in bots.items()}
    assert "synced" in logs["a"] and "commands are synced by the process that runs shard 0" in logs["b"]
    store = await ledger(postgres_url)
    try:
        owners = {(await store.job(n))["lease_owner"].split(":")[1] for n in range(1, 9)}
        assert owners <= {str(b.pid) for b in bots.values()}
        for n in range(8):
            used = (await store.snapshot(Member((GUILD_ID, SHARD1_GUILD)[n % 2], 4000 + n),
                                         default_allowance=20)).used
            assert used == 2, "sdxl costs 2: charged once"
        assert await store.audit() == []
    finally:
        await store.close()


async def test_the_fair_order_holds_across_processes(tmp_path, cluster_discord, fake_pixazo, postgres_url):
    async with cluster(tmp_path, cluster_discord, fake_pixazo, postgres_url, {"a": "0", "b": "1"},
                       PIXAZO_MAX_CONCURRENCY="1", QUOTA_MAX_JOBS_PER_USER="3"):
        fake_pixazo.latency = 3.0  # Z holds the one slot until all nine wait
        z = await cluster_discord.invoke("sdxl-lightning", {"prompt": "Z"}, user_id=4026)
        await eventually(lambda: len(fake_pixazo.requests) == 1, timeout=10)
        fake_pixazo.latency = 0.05
        waiting = []
        store = await ledger(postgres_url)
        try:
            # A and C in a's server, B in b's: each process queues some of every round. Each job is in
            # the ledger before the next command: the order of submission is the order of the ids.
            for user, name, guild in ((4001, "A", GUILD_ID), (4002, "B", SHARD1_GUILD), (4003, "C", GUILD_ID)):
                for n in (1, 2, 3):
                    waiting.append(await cluster_discord.invoke("sdxl-lightning", {"prompt": f"{name}{n}"},
                                                                user_id=user, guild_id=guild))
                    queued = len(waiting) + 1

                    async def in_ledger(queued: int = queued) -> bool:
                        return await store.job(queued) is not None

                    await until(in_ledger, timeout=10)
        finally:
            await store.close()
        assert len(fake_pixazo.requests) == 1, "all nine queued while Z ran"
        for interaction in (z, *waiting):
            await eventually(lambda i=interaction: bool(results(i)), timeout=20)
    seen = [call.json["prompt"] for call in fake_pixazo.requests if isinstance(call.json, dict)]
    assert seen == ["Z", "A1", "B1", "C1", "A2", "B2", "C2", "A3", "B3", "C3"]


async def test_500_commands_of_one_member_on_both_shards_at_once_spend_exactly_the_allowance(
        tmp_path, cluster_discord, fake_pixazo, postgres_url):
    allowance, commands = 20, 500
    async with cluster(tmp_path, cluster_discord, fake_pixazo, postgres_url, {"a": "0", "b": "1"},
                       PIXAZO_MAX_CONCURRENCY="8", QUOTA_DEFAULT_DAILY_CREDITS=str(allowance),
                       QUOTA_MAX_JOBS_PER_USER="1000", QUEUE_MAX_LENGTH="1000"):
        sent = await asyncio.gather(*(cluster_discord.invoke("sdxl-lightning", {"prompt": f"cat {n}"}, user_id=4001,
                                                             guild_id=(GUILD_ID, SHARD1_GUILD)[n % 2])
                                      for n in range(commands)))
        await eventually(lambda: sum(bool(results(i)) for i in sent) == 2 * allowance, timeout=60)
        for interaction in sent:
            await interaction.wait_callback()
        await asyncio.sleep(0.5)  # any result beyond the allowance would have landed by now
        assert sum(bool(results(i)) for i in sent) == 2 * allowance
    store = await ledger(postgres_url)
    try:
        for guild in (GUILD_ID, SHARD1_GUILD):
            assert (await store.snapshot(Member(guild, 4001), default_allowance=allowance)).used == allowance
        assert await store.audit() == []
    finally:
        await store.close()


async def test_a_config_change_in_one_process_applies_in_the_other_on_its_next_command(
        tmp_path, cluster_discord, fake_pixazo, postgres_url):
    # Both processes on shard 0 (a handover: Discord lets a second session identify for a running
    # shard); the fake routes the guild's interactions to whichever session the test picks.
    env = cluster_env(cluster_discord, fake_pixazo, postgres_url, SHARD_COUNT="1", SHARD_IDS="0")
    a, b = Bot(tmp_path, "a", env), Bot(tmp_path, "b", env)
    try:
        await a.start()
        await cluster_discord.wait_synced(timeout=15)
        await eventually(lambda: len(cluster_discord.shard_sessions.get(0, [])) == 1, timeout=15)
        first = await cluster_discord.invoke("sdxl", {"prompt": "a dragon over the sea"}, user_id=4001)
        await eventually(lambda: bool(results(first)), timeout=15)  # a has the server's config cached now

        await b.start()
        await eventually(lambda: len(cluster_discord.shard_sessions.get(0, [])) == 2, timeout=15)
        cluster_discord.route_shard(0, 1)  # to b
        said = await final_answer(await cluster_discord.invoke("config", {"term": "dragon"}, subcommand="words add",
                                                               user_id=9000, permissions=ADMIN))
        assert "Blocked" in said["content"], said

        cluster_discord.route_shard(0, 0)  # back to a, whose cache held the config from before
        answer = await final_answer(await cluster_discord.invoke("sdxl", {"prompt": "a dragon over the sea"},
                                                                 user_id=4002))
        assert is_ephemeral(answer) and not answer.get("embeds"), answer
        assert "dragon" in answer["content"], answer
        assert len(fake_pixazo.requests) == 1, "the refused prompt never reached Pixazo"
    finally:
        for bot in (a, b):
            if bot.proc is not None:
                await bot.stop()
    assert "Traceback" not in a.log() + b.log()


async def both_up(fake, a, b) -> None:
    """Shard 0's process and shard 1's, started, identified and synced."""
    await a.start()
    await b.start()
    await fake.wait_shards(0, 1, timeout=30)
    await fake.wait_synced(timeout=15)


async def test_a_button_on_a_result_another_process_made_is_answered_by_the_servers_own(
        tmp_path, cluster_discord, fake_pixazo, postgres_url):
    # b (shard 1) runs one job at a time, a up to four: b's server's second job is claimed by a.
    fake_pixazo.latency = 3.0
    env = cluster_env(cluster_discord, fake_pixazo, postgres_url, SHARD_COUNT="2")
    a = Bot(tmp_path, "a", {**env, "SHARD_IDS": "0", "PIXAZO_MAX_CONCURRENCY": "4"})
    b = Bot(tmp_path, "b", {**env, "SHARD_IDS": "1", "PIXAZO_MAX_CONCURRENCY": "1"})
    store = await ledger(postgres_url)
    try:
        await both_up(cluster_discord, a, b)
        first = await cluster_discord.invoke("sdxl", {"prompt": "first", "seed": 1}, user_id=4001,
                                             guild_id=SHARD1_GUILD)
        await eventually(lambda: len(fake_pixazo.requests) == 1, timeout=10)
        second = await cluster_discord.invoke("sdxl", {"prompt": "second", "seed": 7}, user_id=4002,
                                              guild_id=SHARD1_GUILD)
        for interaction in (first, second):
            await eventually(lambda i=interaction: bool(results(i)), timeout=20)
        made = await store.job(2)
        assert f":{a.pid}:" in made["lease_owner"], "a made the result of b's server"
        (message,) = results(second)
        details_id = next(item["custom_id"] for row in message["components"] for item in row["components"]
                          if item.get("label") == "Details")
        pressed = await cluster_discord.click(cluster_discord.messages[message["id"]], details_id, user_id=4999)
        callback = await pressed.wait_callback()  # reached b: the only process on the server's shard
        assert callback["type"] == 4 and is_ephemeral(callback["data"]), callback
        assert "seed: `7`" in callback["data"]["embeds"][0]["description"]
    finally:
        await store.close()
        for bot in (a, b):
            if bot.proc is not None:
                await bot.stop()
    assert "Traceback" not in a.log() + b.log()


async def test_kill_9_one_process_and_the_other_finishes_every_job_once(tmp_path, cluster_discord, fake_pixazo,
                                                                       postgres_url):
    lease, latency, jobs = 3.0, 2.0, 10
    fake_pixazo.latency = latency
    async with cluster(tmp_path, cluster_discord, fake_pixazo, postgres_url, {"a": "0", "b": "1"},
                       PIXAZO_MAX_CONCURRENCY="2", JOB_LEASE_SECONDS=str(lease)) as bots:
        a, b = bots["a"], bots["b"]
        store = await ledger(postgres_url)
        try:
            async def all_rows() -> list[dict]:
                return [r for n in range(1, jobs + 1) if (r := await store.job(n)) is not None]

            async def held_by_a() -> bool:
                return any(r["state"] == "running" and f":{a.pid}:" in (r["lease_owner"] or "") for r in await all_rows())

            async def all_in_and_some_queued() -> bool:
                # Every job in the ledger first: one a kills between its defer and its enqueue's COMMIT
                # is lost with it (no row: nothing charged, nothing any other process can know of).
                found = await all_rows()
                return len(found) == jobs and any(r["state"] == "queued" for r in found)

            # Two of a's server first (a claims its own at once), then the rest of both servers, which wait.
            interactions = [await cluster_discord.invoke("sdxl", {"prompt": f"owl {n}"}, user_id=4000 + n)
                            for n in range(2)]
            await until(held_by_a, timeout=10)
            interactions += [await cluster_discord.invoke("sdxl", {"prompt": f"owl {n}"}, user_id=4000 + n,
                                                          guild_id=(GUILD_ID, SHARD1_GUILD)[n % 2])
                             for n in range(2, jobs)]
            await until(all_in_and_some_queued, timeout=10)
            assert await held_by_a(), "a has a job running when it dies"
            a.proc.send_signal(signal.SIGKILL)  # type: ignore[union-attr]
            await a.proc.wait()  # type: ignore[union-attr]
            killed_at = asyncio.get_running_loop().time()

            try:
                for interaction in interactions:
                    await eventually(lambda i=interaction: bool(results(i)), timeout=lease + jobs * latency + 15)
            except AssertionError:
                raise AssertionError(columns(await all_rows(), "id", "user_id", "state", "attempts", "lease_owner", "lease_until",
                                             "error")) from None
            took = asyncio.get_running_loop().time() - killed_at
            assert took <= lease + jobs * latency / 2 + 5, f"took {took:.1f}s after the kill"
            await asyncio.sleep(0.5)  # a second delivery, were there one, would have landed by now
            assert [len(results(i)) for i in interactions] == [1] * jobs, "each delivered exactly once"
            rows = [await store.job(n) for n in range(1, jobs + 1)]
            assert {r["state"] for r in rows} == {"succeeded"}
            assert any(r["attempts"] == 2 for r in rows), "a's running job ran once more, in b"
            assert all(f":{b.pid}:" in r["lease_owner"] for r in rows if r["attempts"] == 2)
            for n in range(jobs):
                guild = GUILD_ID if n < 2 else (GUILD_ID, SHARD1_GUILD)[n % 2]
                snap = await store.snapshot(Member(guild, 4000 + n), default_allowance=20)
                assert snap.used == 2, "charged exactly once"
            assert await store.audit() == []
        finally:
            await store.close()
    assert "taken over" in b.log() or "runs again (attempt 2)" in b.log()


async def test_a_call_longer_than_the_lease_keeps_its_lease_by_renewing(tmp_path, cluster_discord, fake_pixazo,
                                                                         postgres_url):
    fake_pixazo.latency = 7.0  # more than twice JOB_LEASE_SECONDS: only renewing keeps the job
    async with cluster(tmp_path, cluster_discord, fake_pixazo, postgres_url, {"a": "0", "b": "1"},
                       JOB_LEASE_SECONDS="3"):
        interaction = await cluster_discord.invoke("sdxl", {"prompt": "slow"}, user_id=4001)
        await eventually(lambda: bool(results(interaction)), timeout=20)
        await asyncio.sleep(1.5)  # the other process had every chance to take it over by now
    assert len(fake_pixazo.requests) == 1, "one call: never taken over"
    assert len(results(interaction)) == 1
    store = await ledger(postgres_url)
    try:
        row = await store.job(1)
        assert (row["state"], row["attempts"]) == ("succeeded", 1)
    finally:
        await store.close()


async def test_a_stalled_process_loses_its_job_and_its_late_result_is_not_delivered(tmp_path, cluster_discord,
                                                                                    fake_pixazo, postgres_url):
    fake_pixazo.latency = 4.0
    async with cluster(tmp_path, cluster_discord, fake_pixazo, postgres_url, {"a": "0", "b": "1"},
                       JOB_LEASE_SECONDS="3") as bots:
        a, b = bots["a"], bots["b"]
        interaction = await cluster_discord.invoke("sdxl", {"prompt": "stalled"}, user_id=4001)  # a's server
        await eventually(lambda: len(fake_pixazo.requests) == 1, timeout=10)
        a.proc.send_signal(signal.SIGSTOP)  # type: ignore[union-attr]  # a hangs: no renewals, no progress
        try:
            await eventually(lambda: len(fake_pixazo.requests) == 2, timeout=15)  # b took it over
        finally:
            a.proc.send_signal(signal.SIGCONT)  # type: ignore[union-attr]  # a wakes, its own call answered
        await eventually(lambda: bool(results(interaction)), timeout=15)
        await asyncio.sleep(2.0)  # a's result, were it delivered, would have landed by now
        assert len(results(interaction)) == 1, "delivered once, by b"
        store = await ledger(postgres_url)
        try:
            row = await store.job(1)
            assert (row["state"], row["attempts"]) == ("succeeded", 2)
            assert f":{b.pid}:" in row["lease_owner"]
            assert (await store.snapshot(Member(GUILD_ID, 4001), default_allowance=20)).used == 2
            assert await store.audit() == []
        finally:
            await store.close()
        await asyncio.sleep(0.5)
        assert "another process took it over" in a.log(), a.log()[-2000:]


async def test_a_second_process_on_one_sqlite_ledger_is_refused_with_one_line(tmp_path, fake_discord, fake_pixazo):
    first = Bot(tmp_path, "data", cluster_env(fake_discord, fake_pixazo, None))
    await first.start()
    try:
        await fake_discord.wait_identified(timeout=15)
        second = await asyncio.to_thread(run_bot, {**first.env}, cwd=tmp_path)
    finally:
        assert await first.stop() == 0
    assert second.returncode == 2, second.stderr
    lines = [line for line in second.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, second.stderr
    assert f"another bot process (pid {first.pid}) is already using DATA_DIR" in lines[0]
    assert "SQLite ledger runs one bot process only" in lines[0] and "DATABASE_URL" in lines[0]
    assert TOKEN not in second.stderr and "Traceback" not in second.stderr


async def test_a_restart_on_the_same_data_dir_takes_its_predecessors_jobs_at_once(tmp_path, fake_discord,
                                                                                   fake_pixazo, postgres_url):
    # One slot in the whole cluster, a lease far longer than the test: the killed process's running job
    # holds that slot, and its job, until something takes them. Another instance (its own DATA_DIR) must
    # wait for the lease; the same DATA_DIR started again is the same instance and takes them at once.
    lease = 120.0
    fake_pixazo.latency = 1.0
    env = cluster_env(fake_discord, fake_pixazo, postgres_url, PIXAZO_MAX_CONCURRENCY="1",
                      JOB_LEASE_SECONDS=str(lease))
    a, other = Bot(tmp_path, "a", env), Bot(tmp_path, "other", env)
    store = await ledger(postgres_url)
    try:
        await a.start()
        await fake_discord.wait_identified(timeout=15)
        await fake_discord.wait_synced(timeout=15)
        first = await fake_discord.invoke("sdxl", {"prompt": "first"}, user_id=4001)
        await eventually(lambda: len(fake_pixazo.requests) == 1, timeout=10)
        second = await fake_discord.invoke("sdxl", {"prompt": "second"}, user_id=4002)

        async def second_waits() -> bool:
            row = await store.job(2)
            return row is not None and row["state"] == "queued"

        await until(second_waits, timeout=10)
        a.proc.send_signal(signal.SIGKILL)  # type: ignore[union-attr]
        await a.proc.wait()  # type: ignore[union-attr]
        a.log_file.close()

        identified = len(fake_discord.identifies)
        await other.start()
        await eventually(lambda: len(fake_discord.identifies) > identified, timeout=15)
        await asyncio.sleep(3.0)
        assert len(fake_pixazo.requests) == 1, "another instance waits for the dead process's lease"

        restarted_at = asyncio.get_running_loop().time()
        await a.start()
        for interaction in (first, second):
            await eventually(lambda i=interaction: bool(results(i)), timeout=30)
        took = asyncio.get_running_loop().time() - restarted_at
        assert took < 15, f"the waiting job started {took:.0f}s after the restart (the lease is {lease:.0f}s)"
        assert [len(results(i)) for i in (first, second)] == [1, 1]

        async def both_settled() -> bool:  # the success is recorded once Discord has answered the post
            rows = [await store.job(n) for n in (1, 2)]
            return all(r is not None and r["state"] == "succeeded" for r in rows)

        await until(both_settled, timeout=10)
        rows = [await store.job(n) for n in (1, 2)]
        assert [(r["state"], r["attempts"]) for r in rows] == [("succeeded", 2), ("succeeded", 1)]
        for user in (4001, 4002):
            assert (await store.snapshot(Member(GUILD_ID, user), default_allowance=20)).used == 2
        assert await store.audit() == []
    finally:
        await store.close()
        for bot in (a, other):
            if bot.proc is not None and bot.proc.returncode is None:
                await bot.stop()
    assert "Traceback" not in a.log() + other.log()


async def test_a_job_whose_processes_die_twice_is_refunded_and_its_member_told(tmp_path, cluster_discord, fake_pixazo,
                                                                                postgres_url):
    fake_pixazo.latency = 60.0  # every call is cut short by a kill -9
    async with cluster(tmp_path, cluster_discord, fake_pixazo, postgres_url, {"a": "0", "b": "1"},
                       JOB_LEASE_SECONDS="3") as bots:
        a, b = bots["a"], bots["b"]
        interaction = await cluster_discord.invoke("sdxl", {"prompt": "owl"}, user_id=4001)  # a's server
        await eventually(lambda: len(fake_pixazo.requests) == 1, timeout=10)
        for dying in (a, b):  # a dies, b takes the job over once a's lease expired, then b dies too
            dying.proc.send_signal(signal.SIGKILL)  # type: ignore[union-attr]
            await dying.proc.wait()  # type: ignore[union-attr]
            if dying is a:
                await eventually(lambda: len(fake_pixazo.requests) == 2, timeout=15)
        c = await Bot(tmp_path, "c", cluster_env(cluster_discord, fake_pixazo, postgres_url, SHARD_COUNT="2",
                                                 SHARD_IDS="0,1", JOB_LEASE_SECONDS="3")).start()
        try:
            await eventually(lambda: bool(interaction.followups), timeout=20)
            (told,) = interaction.followups
            assert is_ephemeral(told) and told["content"] == (
                "Your image could not be made: the bot was interrupted twice while making it. No credits were "
                "spent; please try again."), told
            assert interaction.original is None, "its notice is gone"
            assert len(fake_pixazo.requests) == 2, "not run a third time"
        finally:
            await c.stop()
        assert "Traceback" not in c.log()
    store = await ledger(postgres_url)
    try:
        row = await store.job(1)
        assert (row["state"], row["error"], row["attempts"]) == ("failed", "interrupted", 2)
        assert (await store.snapshot(Member(GUILD_ID, 4001), default_allowance=20)).used == 0
        assert await store.audit() == []
    finally:
        await store.close()


async def test_forget_in_one_process_clears_the_defaults_another_process_kept(tmp_path, cluster_discord, fake_pixazo,
                                                                            postgres_url):
    """a serves GUILD_ID and keeps the member's defaults once read; /forget is used in b's server and
    clears them in every server: a's next command for the member uses none of them."""
    async with cluster(tmp_path, cluster_discord, fake_pixazo, postgres_url, {"a": "0", "b": "1"}):
        said = await final_answer(await cluster_discord.invoke(
            "settings", {"negative_prompt": "zebraquasar smudges", "style": "watercolor"}, subcommand="set",
            user_id=4001, guild_id=GUILD_ID))
        assert "zebraquasar" in str(said), said
        first = await cluster_discord.invoke("imagine", {"prompt": "a quiet harbour"}, user_id=4001, guild_id=GUILD_ID)
        await eventually(lambda: bool(results(first)), timeout=20)
        assert "zebraquasar" in str(fake_pixazo.requests[-1].json), "a read the defaults and keeps them"

        question = await cluster_discord.invoke("forget", user_id=4001, guild_id=SHARD1_GUILD)  # b answers
        await question.wait_callback()
        confirm_id = next(item["custom_id"] for row in question.original["components"] for item in row["components"]
                          if item.get("label") == "Confirm")
        confirm = await cluster_discord.click(question.original, confirm_id, user_id=4001)
        assert (await confirm.wait_callback())["type"] == 7
        assert "/settings defaults" in cluster_discord.messages[question.original["id"]]["content"]

        second = await cluster_discord.invoke("imagine", {"prompt": "a quiet harbour"}, user_id=4001, guild_id=GUILD_ID)
        await eventually(lambda: bool(results(second)), timeout=20)
        body = fake_pixazo.requests[-1].json
        assert "zebraquasar" not in str(body) and body["prompt"] == "a quiet harbour", body


async def test_two_images_of_a_batch_finishing_at_once_in_two_processes_both_stay_on_its_message(
        tmp_path, cluster_discord, fake_pixazo, postgres_url):
    """A batch of 2 in a's server; a runs one image at a time, b up to two (the cluster's bound), so each
    makes one of them, and they finish together. Reading the batch's message is slow: both writers read
    it before either has edited it. Each edit must still keep the other's image: the message ends with
    both, each charged once."""
    fake_pixazo.latency = 1.0  # both claimed before either finishes
    env = cluster_env(cluster_discord, fake_pixazo, postgres_url, SHARD_COUNT="2", QUOTA_DEFAULT_DAILY_CREDITS="40")
    a = Bot(tmp_path, "a", {**env, "SHARD_IDS": "0", "PIXAZO_MAX_CONCURRENCY": "1"})
    b = Bot(tmp_path, "b", {**env, "SHARD_IDS": "1", "PIXAZO_MAX_CONCURRENCY": "2"})
    store = await ledger(postgres_url)
    try:
        await both_up(cluster_discord, a, b)
        cluster_discord.slow("GET", r"/webhooks/.*/messages/@original$", 1.5)
        batch = await cluster_discord.invoke("imagine", {"prompt": "two foxes", "count": 2, "model": "sdxl"},
                                             user_id=4001, guild_id=GUILD_ID)

        async def settled() -> bool:
            rows = await store.batch(1)
            return len(rows) == 2 and all(r["state"].value == "succeeded" for r in rows)

        await until(settled, timeout=30)
        rows = await store.batch(1)
        assert {r["lease_owner"].split(":")[1] for r in rows} == {str(a.pid), str(b.pid)}, "one image in each"
        assert (await store.snapshot(Member(GUILD_ID, 4001), default_allowance=40)).used == 2 * 2, "each charged once"
        assert await store.audit() == []
        message = cluster_discord.messages[batch.original["id"]]
        names = sorted(a["filename"].split(".")[0] for a in message["attachments"])
        assert names == [f"1-{rows[0]['id']}", f"2-{rows[1]['id']}"], "both images on the batch's message"
        labels = {item["label"] for row in message["components"] for item in row["components"]}
        assert {"Use 1", "Use 2"} <= labels, labels
        assert {f["value"] for f in message["embeds"][0]["fields"][:2]} == {
            f"seed {r['params']['seed']}" for r in rows}
    finally:
        await store.close()
        for bot in (a, b):
            if bot.proc is not None:
                await bot.stop()
    assert "Traceback" not in a.log() + b.log()
