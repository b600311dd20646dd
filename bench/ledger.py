"""Ledger throughput: settled jobs per second on one SQLite file.

A "settled job" is, as the issue defines it, a reservation and its settlement: `Store.reserve` (quota
snapshot + INSERT in one BEGIN IMMEDIATE transaction) then `Store.succeed` (one UPDATE). With
`--with-running` each job also goes through `Store.mark_running`, as a generation in the bot does when
its Pixazo call starts; that is one more trip to the database thread. Every
scenario gets a fresh database file in a temp directory, opened with `Store.open` exactly as the bot
opens it (WAL, synchronous=NORMAL), and an allowance so large that nothing is refused.

Scenarios, each run without a global cap and with a (huge) global cap, which adds the whole-day
SUM query to every reservation:

* 1 user: one coroutine settling jobs one after another;
* N users (default 50): N coroutines, one per user, each settling its share of the jobs concurrently.

For each scenario it prints settled jobs/s overall and over the last quarter of the jobs (the ledger
grows during the run, and usage is summed from it), and the mean wall time of each Store call
(under concurrency that includes waiting for the Store's lock).

Target: >= 2,000 settled jobs/s.

Run from the repository root:

    python -m bench.ledger                # 5,000 jobs per scenario
    python -m bench.ledger --jobs 20000 --users 50
    python bench/ledger.py --profile      # also cProfile one scenario (the event-loop thread only)
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import pstats
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in (None, ""):  # `python bench/ledger.py`: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.storage import Member, Store  # noqa: E402

TARGET_JOBS_PER_SECOND = 2000
GUILD_ID = 2000
HUGE = 10**12
PARAMS = {"prompt": "a red fox in snow", "negative_prompt": "blurry", "width": 1024, "height": 1024,
          "num_steps": 20, "guidance_scale": 5, "seed": 42}
CALLS = ("reserve", "mark_running", "succeed")
WITH_RUNNING = False  # set from --with-running


@dataclass
class Tally:
    finished: list[float] = field(default_factory=list)  # perf_counter() as each job settled
    call_seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))


@dataclass(frozen=True)
class Result:
    name: str
    jobs: int
    seconds: float
    last_quarter_rate: float  # jobs/s over the last quarter of the jobs
    mean_call_us: dict[str, float]

    @property
    def rate(self) -> float:
        return self.jobs / self.seconds


async def settle_one(store: Store, member: Member, global_cap: int | None, tally: Tally) -> None:
    t0 = time.perf_counter()
    job_id, _ = await store.reserve(member, channel_id=3000, model="sdxl", params=PARAMS, cost=2,
                                    default_allowance=HUGE, max_jobs=HUGE, global_cap=global_cap)
    t1 = time.perf_counter()
    if WITH_RUNNING:
        await store.mark_running(job_id)
    t2 = time.perf_counter()
    await store.succeed(job_id, "https://example.invalid/result.png")
    t3 = time.perf_counter()
    for name, seconds in zip(CALLS, (t1 - t0, t2 - t1, t3 - t2), strict=True):
        tally.call_seconds[name] += seconds
    tally.finished.append(t3)


async def user_loop(store: Store, member: Member, jobs: int, global_cap: int | None, tally: Tally) -> None:
    for _ in range(jobs):
        await settle_one(store, member, global_cap, tally)


async def run_scenario(path: Path, name: str, jobs: int, users: int, global_cap: int | None) -> Result:
    store = await Store.open(path)
    tally = Tally()
    try:
        per_user = [jobs // users + (1 if i < jobs % users else 0) for i in range(users)]
        start = time.perf_counter()
        await asyncio.gather(*(user_loop(store, Member(GUILD_ID, 10_000 + i), n, global_cap, tally)
                               for i, n in enumerate(per_user)))
        seconds = time.perf_counter() - start
    finally:
        await store.close()
    return Result(name, jobs, seconds, last_quarter_rate(tally.finished, start),
                  {call: tally.call_seconds[call] / jobs * 1e6 for call in CALLS})


def last_quarter_rate(finished: list[float], start: float) -> float:
    quarter = max(1, len(finished) // 4)
    begin = finished[-quarter - 1] if len(finished) > quarter else start
    return quarter / (finished[-1] - begin)


def scenarios(users: int) -> list[tuple[str, int, int | None]]:
    return [
        ("1 user, no global cap", 1, None),
        (f"{users} users, no global cap", users, None),
        ("1 user, global cap set", 1, HUGE),
        (f"{users} users, global cap set", users, HUGE),
    ]


def report(result: Result) -> None:
    verdict = "PASS" if result.rate >= TARGET_JOBS_PER_SECOND else "MISS"
    calls = ", ".join(f"{name} {us:.0f}" for name, us in result.mean_call_us.items() if us >= 1)
    print(f"{result.name:<28} {result.jobs:>6} jobs in {result.seconds:6.2f} s = {result.rate:6.0f} settled jobs/s"
          f"  (last quarter {result.last_quarter_rate:5.0f}/s)  target >= {TARGET_JOBS_PER_SECOND}: {verdict}")
    print(f"{'':<28} mean wall time per call, us: {calls}")


def profile_scenario(directory: Path, jobs: int, users: int, global_cap: int | None) -> None:
    """cProfile one scenario: shows the event-loop thread, not aiosqlite's worker thread."""
    profiler = cProfile.Profile()
    profiler.enable()
    asyncio.run(run_scenario(directory / "profile.sqlite3", "profile", jobs, users, global_cap))
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(15)
    print(f"\n--- cProfile ({users} user(s), global_cap={global_cap}), top by own time ---")
    print(out.getvalue())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=5000, help="settled jobs per scenario (default 5000)")
    parser.add_argument("--users", type=int, default=50, help="concurrent users in the many-user scenario")
    parser.add_argument("--profile", action="store_true", help="also cProfile the many-user global-cap scenario")
    parser.add_argument("--with-running", action="store_true", help="also mark each job running (3 calls a job)")
    args = parser.parse_args(argv)
    global WITH_RUNNING
    WITH_RUNNING = args.with_running
    with tempfile.TemporaryDirectory(prefix="bench-ledger-") as tmp:
        directory = Path(tmp)
        lifecycle = "reserve + mark_running + succeed" if WITH_RUNNING else "reserve + succeed"
        print(f"ledger bench: {args.jobs} settled jobs ({lifecycle}) per scenario, a fresh SQLite file each, "
              f"in {directory}")
        results = []
        for i, (name, users, cap) in enumerate(scenarios(args.users)):
            results.append(asyncio.run(run_scenario(directory / f"s{i}.sqlite3", name, args.jobs, users, cap)))
            report(results[-1])
        if args.profile:
            profile_scenario(directory, args.jobs, args.users, HUGE)
    return 0 if all(r.rate >= TARGET_JOBS_PER_SECOND for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
