"""One bot process against two (part 9): the same cluster-wide PIXAZO_MAX_CONCURRENCY, one PostgreSQL.

Real `python -m bot` processes against the fake Discord and fake Pixazo (in this process) and a
throwaway PostgreSQL (tests/postgres.py; needs PostgreSQL's binaries). SHARD_COUNT=2 and one server
on each shard: "one" runs both shards in one process, "two" runs SHARD_IDS 0 and 1 in two. Printed:

* makespan   = the last result's arrival at the fake Discord minus the first Pixazo request's arrival
               (as bench/queue.py), against the ideal ceil(jobs / PIXAZO_MAX_CONCURRENCY) x latency
               (saturation = ideal / makespan); "from the first command" adds the time to submit them all;
* peak calls = the most Pixazo calls in flight at once, seen by the fake (must not pass the bound);
* defer p99  = interaction callback minus interaction creation, at the fake;
* takeover   = two processes, JOB_LEASE_SECONDS=--lease: `kill -9` the one holding jobs, then the time
               until the other starts each of those jobs' Pixazo calls again (about the lease, plus
               up to a third of it: the lease was last renewed up to lease/3 before the kill).

Run from the repository root:

    python -m bench.cluster                       # 400 jobs from 200 members, concurrency 16, latency 1 s
    python -m bench.cluster --jobs 100 --members 50 --latency 0.5
"""

from __future__ import annotations

import argparse
import asyncio
import math
import signal
import sys
import tempfile
import time
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if __package__ in (None, ""):
    sys.path.insert(0, str(REPO))

from tests.fakes.discord import FakeDiscord, FakeInteraction  # noqa: E402
from tests.fakes.launch import GUILD_ID, BotProcess, bot_env, running_discord, running_pixazo, stop_all  # noqa: E402
from tests.fakes.pixazo import FakePixazo  # noqa: E402
from tests.postgres import PostgresServer, find_bin  # noqa: E402

SHARD1_GUILD = (1 << 22) | GUILD_ID
FIRST_USER = 100_000


def env_for(discord_fake: FakeDiscord, pixazo_fake: FakePixazo, url: str, data: Path, **extra: Any) -> dict[str, str]:
    """The tests' settings (tests/fakes/launch.py) for one process of the cluster: its own DATA_DIR,
    the shared PostgreSQL, two shards, commands synced globally (both servers see them)."""
    return bot_env(data.parent, discord_fake, pixazo_fake, data_dir=data, database_url=url, dev_guild_id=None,
                   pixazo_timeout_seconds=120, shard_count=2, log_level="WARNING", queue_max_length=5000,
                   quota_default_daily_credits=1000, image_check=True, **extra)


def spawn(env: dict[str, str], log: Path) -> Awaitable[BotProcess]:
    return BotProcess(env, log.parent, log_name=log.name).start()


def delivered(interaction: FakeInteraction) -> bool:
    return any(m.get("embeds") for m in interaction.followups) or any(e.get("embeds") for e in interaction.edits)


async def wait_all(interactions: list[FakeInteraction], timeout: float) -> float:
    deadline = time.monotonic() + timeout
    left = list(interactions)
    while left:
        left = [i for i in left if not delivered(i)]
        if time.monotonic() > deadline:
            raise SystemExit(f"{len(left)} job(s) not delivered within {timeout:.0f}s")
        await asyncio.sleep(0.02)
    return time.monotonic()


def p99(values: list[float]) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, math.ceil(0.99 * len(values)) - 1)]


async def run(server: PostgresServer, layout: str, jobs: int, members: int, concurrency: int, latency: float,
              root: Path) -> None:
    async with running_discord(GUILD_ID, SHARD1_GUILD) as discord_fake, running_pixazo() as pixazo_fake:
        pixazo_fake.latency = latency
        url = server.url(await server.create_database())
        await measure(discord_fake, pixazo_fake, url, layout, jobs, members, concurrency, latency, root)


async def measure(discord_fake: FakeDiscord, pixazo_fake: FakePixazo, url: str, layout: str, jobs: int, members: int,
                  concurrency: int, latency: float, root: Path) -> None:
    shard_sets = {"one": ["0,1"], "two": ["0", "1"]}[layout]
    base = {"pixazo_max_concurrency": concurrency, "quota_max_jobs_per_user": math.ceil(jobs / members)}
    procs = [await spawn(env_for(discord_fake, pixazo_fake, url, root / f"{layout}-{n}", shard_ids=ids, **base),
                         root / f"{layout}-{n}.log")
             for n, ids in enumerate(shard_sets)]
    try:
        await discord_fake.wait_shards(0, 1, timeout=60)
        await discord_fake.wait_synced(timeout=30)
        started = time.monotonic()
        interactions = []
        for n in range(jobs):
            member = n % members
            interactions.append(await discord_fake.invoke(
                "sdxl", {"prompt": f"job {n}"}, user_id=FIRST_USER + member,
                guild_id=(GUILD_ID, SHARD1_GUILD)[member % 2]))
        done = await wait_all(interactions, timeout=jobs * latency + 120)
        first_call = min(call.at for call in pixazo_fake.requests)  # the fake's loop time, as time.monotonic
        makespan = done - first_call
        from_command = done - started
        ideal = math.ceil(jobs / concurrency) * latency
        defers = [i.callback_at - i.created_at for i in interactions if i.callback_at is not None]
        print(f"{layout:>3} process(es): makespan {makespan:6.2f}s ({from_command:.2f}s from the first command)  "
              f"ideal {ideal:5.1f}s  saturation {ideal / makespan:4.2f}  peak calls {pixazo_fake.max_in_flight:3d}/{concurrency}  "
              f"defer p99 {p99(defers) * 1000:6.1f} ms", flush=True)
    finally:
        await stop_all(procs, timeout=20)


async def takeover(server: PostgresServer, lease: float, root: Path) -> None:
    async with running_discord(GUILD_ID, SHARD1_GUILD) as discord_fake, running_pixazo() as pixazo_fake:
        pixazo_fake.latency = lease * 3  # calls still running when the leases run out
        url = server.url(await server.create_database())
        await measure_takeover(discord_fake, pixazo_fake, url, lease, root)


async def measure_takeover(discord_fake: FakeDiscord, pixazo_fake: FakePixazo, url: str, lease: float,
                           root: Path) -> None:
    import asyncpg

    base = {"pixazo_max_concurrency": 4, "job_lease_seconds": lease}
    a = await spawn(env_for(discord_fake, pixazo_fake, url, root / "take-a", shard_ids="0", **base), root / "a.log")
    b = await spawn(env_for(discord_fake, pixazo_fake, url, root / "take-b", shard_ids="1", **base), root / "b.log")
    conn = await asyncpg.connect(url)
    try:
        await discord_fake.wait_shards(0, 1, timeout=60)
        await discord_fake.wait_synced(timeout=30)
        for n in range(2):  # a's server: a claims them at once
            await discord_fake.invoke("sdxl", {"prompt": f"held {n}"}, user_id=FIRST_USER + n)
        since = time.monotonic()
        while await conn.fetchval("SELECT COUNT(*) FROM jobs WHERE state = 'running' AND lease_owner LIKE $1",
                                  f"%:{a.pid}:%") < 2:
            if time.monotonic() - since > 30:
                raise SystemExit("a never held both jobs")
            await asyncio.sleep(0.02)
        held = [r[0] for r in await conn.fetch("SELECT id FROM jobs WHERE lease_owner LIKE $1", f"%:{a.pid}:%")]
        await a.stop(signal.SIGKILL)
        killed = time.monotonic()
        pixazo_fake.latency = 0.05
        taken: dict[int, float] = {}
        while len(taken) < len(held):
            rows = await conn.fetch("SELECT id FROM jobs WHERE id = ANY($1::bigint[]) AND attempts = 2", held)
            for r in rows:
                taken.setdefault(r[0], time.monotonic() - killed)
            if time.monotonic() - killed > lease * 4:
                raise SystemExit("the jobs were not taken over")
            await asyncio.sleep(0.01)
        print(f"takeover after kill -9 (JOB_LEASE_SECONDS={lease:g}): "
              + ", ".join(f"job {job} {seconds:.2f}s" for job, seconds in sorted(taken.items())), flush=True)
    finally:
        await conn.close()
        await stop_all([a, b], timeout=20)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=400)
    parser.add_argument("--members", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--latency", type=float, default=1.0)
    parser.add_argument("--lease", type=float, default=10.0)
    args = parser.parse_args()
    bin_dir = find_bin()
    if bin_dir is None:
        raise SystemExit("needs PostgreSQL's initdb/pg_ctl (see tests/postgres.py)")
    server = PostgresServer.start(bin_dir)
    try:
        with tempfile.TemporaryDirectory(prefix="bench-cluster-") as tmp:
            root = Path(tmp)
            for layout in ("one", "two"):
                await run(server, layout, args.jobs, args.members, args.concurrency, args.latency, root)
            await takeover(server, args.lease, root)
    finally:
        server.stop()


if __name__ == "__main__":
    asyncio.run(main())
