"""Ledger throughput: settled jobs per second, on SQLite and on PostgreSQL.

A "settled job" is, as the issue defines it, a reservation and its settlement: `Store.reserve` (quota
snapshot, checks and INSERT in one transaction; on SQLite one statement) then `Store.succeed` (one
UPDATE). With `--with-running` each job also goes through `Store.mark_running`, as a generation in
the bot does when its Pixazo call starts; that is one more trip to the database thread. Every
scenario gets a fresh ledger opened exactly as the bot opens it, and an allowance so large that
nothing is refused:

* `--backend sqlite`: a fresh SQLite file in a temp directory (WAL, synchronous=NORMAL);
* `--backend postgres`: a fresh database on a throwaway PostgreSQL server the bench starts on
  127.0.0.1 (initdb + pg_ctl, as the tests do; fsync on unless `--pg-fsync-off`), or on the server
  of `--database-url`; the store's pool has `--pool-size` connections (the bot's default, 10);
* `--backend both` (the default): one after the other, in one run.

`--before COMMIT` also runs the SQLite bench of COMMIT (checked out with `git worktree` into a temp
directory) right after this one, so today's SQLite figure and the previous code's sit side by side.

Scenarios, each run without a global cap, with a (huge) global cap, which adds the whole-day
SUM query to every reservation, and with a (huge) server budget (`/quotas budget`):

* 1 user: one coroutine settling jobs one after another;
* N users (default 50): N coroutines, one per user, each settling its share of the jobs concurrently.

For each scenario it prints settled jobs/s overall and over the last quarter of the jobs (the ledger
grows during the run, and usage is summed from it), and the mean wall time of each Store call
(under concurrency that includes waiting for the Store's lock).

Targets: SQLite >= 2,000 settled jobs/s; PostgreSQL >= 2,000 with 50 users and >= 800 with 1 user.

Run from the repository root:

    python -m bench.ledger                # 5,000 jobs per scenario, both backends
    python bench/ledger.py --backend both --before HEAD~8
    python -m bench.ledger --jobs 20000 --users 50
    python bench/ledger.py --profile      # also cProfile one scenario (the event-loop thread only)
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import os
import pstats
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in (None, ""):  # `python bench/ledger.py`: make the repository root importable
    # In place of bench/ itself, whose queue.py would otherwise shadow the standard library's `queue`.
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

from bot.storage import Member, SqliteStore, Store  # noqa: E402

TARGET_JOBS_PER_SECOND = 2000
PG_TARGET_ONE_USER = 800  # PostgreSQL with 1 user: every call is a network round trip or several
ROOT = Path(__file__).resolve().parent.parent
Opener = Callable[[str], Awaitable[Store]]  # scenario name -> a fresh, empty ledger
GUILD_ID = 2000
HUGE = 10**12
BUDGET = 2 * 10**9  # the budget column is a 32-bit integer; nothing is refused at this size
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
    target: int
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


async def run_scenario(open_ledger: Opener, name: str, jobs: int, users: int, global_cap: int | None,
                       target: int = TARGET_JOBS_PER_SECOND, budget: int | None = None) -> Result:
    store = await open_ledger(name)
    tally = Tally()
    try:
        if budget is not None:
            await store.set_budget(GUILD_ID, budget, actor_id=1)
        per_user = [jobs // users + (1 if i < jobs % users else 0) for i in range(users)]
        start = time.perf_counter()
        await asyncio.gather(*(user_loop(store, Member(GUILD_ID, 10_000 + i), n, global_cap, tally)
                               for i, n in enumerate(per_user)))
        seconds = time.perf_counter() - start
    finally:
        await store.close()
    return Result(name, target, jobs, seconds, last_quarter_rate(tally.finished, start),
                  {call: tally.call_seconds[call] / jobs * 1e6 for call in CALLS})


def last_quarter_rate(finished: list[float], start: float) -> float:
    quarter = max(1, len(finished) // 4)
    begin = finished[-quarter - 1] if len(finished) > quarter else start
    return quarter / (finished[-1] - begin)


def scenarios(users: int) -> list[tuple[str, int, int | None, int | None]]:
    """(name, users, global cap, server budget): every user is a member of the one server GUILD_ID."""
    return [
        ("1 user, no global cap", 1, None, None),
        (f"{users} users, no global cap", users, None, None),
        ("1 user, global cap set", 1, HUGE, None),
        (f"{users} users, global cap set", users, HUGE, None),
        # /quotas budget: that server's reservations take turns over its daily total (issue 11 part 7).
        ("1 user, server budget set", 1, None, BUDGET),
        (f"{users} users, server budget set", users, None, BUDGET),
    ]


def report(result: Result) -> None:
    verdict = "PASS" if result.rate >= result.target else "MISS"
    calls = ", ".join(f"{name} {us:.0f}" for name, us in result.mean_call_us.items() if us >= 1)
    print(f"{result.name:<28} {result.jobs:>6} jobs in {result.seconds:6.2f} s = {result.rate:6.0f} settled jobs/s"
          f"  (last quarter {result.last_quarter_rate:5.0f}/s)  target >= {result.target}: {verdict}")
    print(f"{'':<28} mean wall time per call, us: {calls}")


def profile_scenario(open_ledger: Opener, jobs: int, users: int, global_cap: int | None) -> None:
    """cProfile one scenario: shows the event-loop thread, not the SQLite store's database thread."""
    profiler = cProfile.Profile()
    profiler.enable()
    asyncio.run(run_scenario(open_ledger, "profile", jobs, users, global_cap))
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(15)
    print(f"\n--- cProfile ({users} user(s), global_cap={global_cap}), top by own time ---")
    print(out.getvalue())


def sqlite_ledgers(directory: Path) -> Opener:
    count = iter(range(10**6))

    async def open_ledger(name: str) -> Store:
        return await SqliteStore.open(directory / f"s{next(count)}.sqlite3")

    return open_ledger


def postgres_ledgers(url: str, pool_size: int) -> Opener:
    """A fresh database per scenario on the server at url (whose database is only used to create them)."""
    import asyncpg

    from bot.storage.postgres.store import PostgresStore

    count = iter(range(10**6))

    async def open_ledger(name: str) -> Store:
        database = f"bench_ledger_{os.getpid()}_{next(count)}"
        admin = await asyncpg.connect(url)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{database}"')
            await admin.execute(f'CREATE DATABASE "{database}"')
        finally:
            await admin.close()
        return await PostgresStore.open(url.rsplit("/", 1)[0] + "/" + database, pool_size=pool_size)

    return open_ledger


def run_backend(label: str, open_ledger: Opener, args: argparse.Namespace, *, postgres: bool) -> list[Result]:
    lifecycle = "reserve + mark_running + succeed" if WITH_RUNNING else "reserve + succeed"
    print(f"\n{label}: {args.jobs} settled jobs ({lifecycle}) per scenario, a fresh ledger each")
    # Untimed: the first scenario would otherwise carry the process's warm-up (imports, the interpreter's
    # caches, the database's first pages), a quarter slower than the same scenario run again.
    name, users, cap, budget = scenarios(args.users)[0]
    asyncio.run(run_scenario(open_ledger, f"warm-up {name}", min(args.jobs, 500), users, cap, 0, budget))
    results = []
    for name, users, cap, budget in scenarios(args.users):
        target = PG_TARGET_ONE_USER if postgres and users == 1 else TARGET_JOBS_PER_SECOND
        results.append(asyncio.run(run_scenario(open_ledger, name, args.jobs, users, cap, target, budget)))
        report(results[-1])
    if args.profile:
        profile_scenario(open_ledger, args.jobs, args.users, HUGE)
    return results


def run_before(commit: str, args: argparse.Namespace) -> int:
    """The SQLite bench of an earlier commit, run now on this machine, for a side-by-side figure."""
    with tempfile.TemporaryDirectory(prefix="ledger-before-") as tmp:
        tree = Path(tmp) / "tree"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "--quiet", str(tree), commit],
                       check=True)
        try:
            sha = subprocess.run(["git", "-C", str(tree), "rev-parse", "--short", "HEAD"], check=True,
                                 capture_output=True, text=True).stdout.strip()
            print(f"\nSQLite at {commit} ({sha}), the code before the PostgreSQL backend, same machine, same run:",
                  flush=True)
            argv = [sys.executable, "bench/ledger.py", "--jobs", str(args.jobs), "--users", str(args.users)]
            if args.with_running:
                argv.append("--with-running")
            env = {**os.environ, "PYTHONPATH": str(tree)}
            return subprocess.run(argv, cwd=tree, env=env).returncode
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], check=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--jobs", type=int, default=5000, help="settled jobs per scenario (default 5000)")
    parser.add_argument("--users", type=int, default=50, help="concurrent users in the many-user scenario")
    parser.add_argument("--pool-size", type=int, default=10, help="PostgreSQL pool size (the bot's default)")
    parser.add_argument("--database-url", help="bench on this PostgreSQL server instead of a throwaway one "
                                               "(its user must be allowed to create databases)")
    parser.add_argument("--pg-fsync-off", action="store_true", help="throwaway server with fsync=off")
    parser.add_argument("--before", metavar="COMMIT", help="also run COMMIT's SQLite bench, side by side")
    parser.add_argument("--profile", action="store_true", help="also cProfile the many-user global-cap scenario")
    parser.add_argument("--with-running", action="store_true", help="also mark each job running (3 calls a job)")
    args = parser.parse_args(argv)
    global WITH_RUNNING
    WITH_RUNNING = args.with_running
    results: list[Result] = []
    if args.backend in ("sqlite", "both"):
        with tempfile.TemporaryDirectory(prefix="bench-ledger-") as tmp:
            results += run_backend(f"SQLite (in {tmp})", sqlite_ledgers(Path(tmp)), args, postgres=False)
    if args.backend in ("postgres", "both"):
        if args.database_url:
            results += run_backend("PostgreSQL (DATABASE_URL given)", postgres_ledgers(args.database_url,
                                   args.pool_size), args, postgres=True)
        else:
            from tests.postgres import PostgresServer, find_bin

            bin_dir = find_bin()
            if bin_dir is None:
                print("PostgreSQL's initdb/pg_ctl not found (Debian: apt-get install postgresql); "
                      "or pass --database-url", file=sys.stderr)
                return 2
            server = PostgresServer.start(bin_dir, fsync=not args.pg_fsync_off)
            try:
                label = (f"PostgreSQL {bin_dir.parent.name} (throwaway server on 127.0.0.1:{server.port}, "
                         f"fsync {'off' if args.pg_fsync_off else 'on'}, pool {args.pool_size})")
                results += run_backend(label, postgres_ledgers(server.url(), args.pool_size), args, postgres=True)
            finally:
                server.stop()
    if args.before:
        run_before(args.before, args)
    return 0 if all(r.rate >= r.target for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
