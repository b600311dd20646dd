"""The durable queue under load: M members x J jobs at once through the real bot and the fakes.

The bot runs in this process (`bot.__main__.serve`, started as the tests start it: tests/fakes/launch.py) against the fake
Discord and fake Pixazo on 127.0.0.1. Printed:

* makespan   = last result's arrival at the fake Discord minus the first Pixazo request's arrival,
               against the ideal ceil(jobs / PIXAZO_MAX_CONCURRENCY) x latency (saturation = ideal / makespan);
* fairness   = when the last member's first job reached Pixazo, against when the first member's third
               job did (every first job must start before any third);
* peak edits = the most notice edits (waiting / generating) the fake saw in any one-second window, and
               the same counting the results that replace a notice (not rate-limited: they are the answer);
* defer p99  = interaction callback minus interaction creation, at the fake;
* peak RSS   = getrusage high-water mark of this process: the bot, the fakes and this harness together;
* claim / positions: the store's own cost of picking the next job and of ranking the whole queue,
               timed directly on a SQLite ledger holding Q queued jobs, for several Q.

Run from the repository root:

    python -m bench.queue                               # 100 members x 3 jobs, concurrency 8, latency 1 s
    python -m bench.queue --members 1000 --jobs 1 --latency 0.2
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import resource
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if __package__ in (None, ""):
    sys.path.insert(0, str(REPO))

from bot.domain.delivery import Delivery  # noqa: E402
from bot.storage import Member, SqliteStore  # noqa: E402
from tests.fakes.launch import make_settings, running_discord, running_pixazo, started_bot  # noqa: E402

FIRST_USER = 100_000


def peak_window(times: list[float], window: float = 1.0) -> int:
    times = sorted(times)
    best, start = 0, 0
    for end, t in enumerate(times):
        while t - times[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


async def load(members: int, jobs: int, concurrency: int, latency: float) -> None:
    total = members * jobs
    async with running_discord() as discord_fake, running_pixazo() as pixazo_fake:
        pixazo_fake.latency = latency
        with tempfile.TemporaryDirectory() as tmp:
            settings = make_settings(Path(tmp), discord_fake, pixazo_fake, pixazo_max_concurrency=concurrency,
                                     quota_max_jobs_per_user=max(jobs, 1), quota_default_daily_credits=1000,
                                     queue_max_length=max(500, total), pixazo_timeout_seconds=60, log_level="WARNING")
            async with started_bot(settings, discord_fake):
                # Submitted at once: round by round, so every member's first job is queued before any second.
                interactions = []
                for n in range(jobs):
                    interactions += await asyncio.gather(*(
                        discord_fake.invoke("sdxl-lightning", {"prompt": f"m{m}-{n}"}, user_id=FIRST_USER + m)
                        for m in range(members)))
                loop = asyncio.get_running_loop()
                deadline = loop.time() + total * latency / concurrency * 3 + 60
                while not all(i.original and i.original.get("embeds") or any(f.get("embeds") for f in i.followups)
                              for i in interactions):
                    if loop.time() > deadline:
                        raise SystemExit("not every job was delivered in time")
                    await asyncio.sleep(0.05)
                done = loop.time()
    starts = {call.json["prompt"]: call.at for call in pixazo_fake.requests if isinstance(call.json, dict)}
    first = min(starts.values())
    makespan = done - first
    ideal = math.ceil(total / concurrency) * latency
    defers = sorted(i.callback_at - i.created_at for i in interactions if i.callback_at is not None)
    p99 = defers[min(len(defers) - 1, math.ceil(0.99 * len(defers)) - 1)]
    print(f"{members} members x {jobs} job(s), PIXAZO_MAX_CONCURRENCY={concurrency}, latency {latency:g} s")
    print(f"  makespan        {makespan:7.2f} s  ideal {ideal:.2f} s  saturation {ideal / makespan:.3f} (target >= 0.95)")
    if jobs >= 3:
        last_first = max(starts[f"m{m}-0"] for m in range(members)) - first
        first_third = min(starts[f"m{m}-2"] for m in range(members)) - first
        verdict = "fair" if last_first < first_third else "NOT FAIR"
        print(f"  fairness        last member's 1st job started at {last_first:.2f} s, first member's 3rd at "
              f"{first_third:.2f} s: {verdict}")
    notices = [e["_at"] for i in interactions for e in i.edits if not e.get("embeds")]
    print(f"  peak edits/s    notices {peak_window(notices)} (budget {settings.progress_max_edits_per_second:g}), "
          f"notices + results {peak_window([t for t, _ in discord_fake.edit_times])}; {len(notices)} notice edits")
    print(f"  defer p99       {p99 * 1000:7.1f} ms")
    print(f"  peak RSS        {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:7.1f} MB (bot + fakes)")


async def store_costs(sizes: list[int]) -> None:
    print("store: time to claim the next job / to rank the whole queue, SQLite, Q jobs queued")
    for size in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            store = await SqliteStore.open(Path(tmp) / "q.sqlite3")
            try:
                for n in range(size):
                    await store.enqueue(Member(1, n // 3), channel_id=1, model="sdxl", params={}, cost=0,
                                        default_allowance=10, max_jobs=10, global_cap=None, max_queue=10**9,
                                        delivery=Delivery(), token=None)
                t = time.perf_counter()
                positions = await store.queue_positions()
                rank_ms = (time.perf_counter() - t) * 1000
                t = time.perf_counter()
                for _ in range(20):
                    await store.claim()
                claim_ms = (time.perf_counter() - t) * 1000 / 20
            finally:
                await store.close()
        print(f"  Q={size:6d}  claim {claim_ms:6.3f} ms  positions of all {len(positions):6d}: {rank_ms:7.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, default=100)
    parser.add_argument("--jobs", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--latency", type=float, default=1.0)
    parser.add_argument("--store-sizes", default="300,1000,3000,10000")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(load(args.members, args.jobs, args.concurrency, args.latency))
    asyncio.run(store_costs([int(s) for s in args.store_sizes.split(",") if s]))


if __name__ == "__main__":
    main()
