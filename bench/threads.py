"""Where a job's CPU goes, thread by thread: `python -m bot` beside the floor and the bare bot
(bench/overhead.py --floor), against the same fakes.

Each child runs with bench/thread_names first on its PYTHONPATH, so each of its threads carries its
Python name; the figures are every thread's CPU time (/proc/<pid>/task/<tid>/schedstat, in ns) and its
voluntary context switches (its waits: for work, for I/O, for the interpreter's lock), over --ones jobs
one at a time and then over a burst of --burst, per job. Threads of the same name are added up; the
event loop's is "MainThread". Rounds alternate the order of the bots; printed per round, then the
median of the rounds.

    python -m bench.threads                 # 3 rounds, 40 one at a time, a burst of 100
    python -m bench.threads --kinds bot floor --rounds 4
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import statistics
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if __package__ in (None, ""):
    sys.path.insert(0, str(REPO))

from bench.overhead import KINDS, answered, job, launched, load, order, warmed_up  # noqa: E402

NAMES = Path(__file__).resolve().parent / "thread_names"
Sample = dict[str, tuple[int, int]]  # thread name -> (CPU ns, voluntary switches), added up


def sample(pid: int) -> Sample:
    found: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0])
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            base = f"/proc/{pid}/task/{task}"
            name = "MainThread" if int(task) == pid else Path(f"{base}/comm").read_text().strip()
            cpu = int(Path(f"{base}/schedstat").read_text().split()[0])
            status = Path(f"{base}/status").read_text().splitlines()
            waits = int(next(line for line in status if line.startswith("voluntary_ctxt")).split()[1])
        except (FileNotFoundError, ProcessLookupError):
            continue  # a thread that ended meanwhile
        found[name][0] += cpu
        found[name][1] += waits
    return {name: (cpu, waits) for name, (cpu, waits) in found.items()}


def per_job(before: Sample, after: Sample, jobs: int) -> dict[str, tuple[float, float]]:
    """Thread name -> (CPU ms, waits) per job, for threads that ran."""
    out = {}
    for name, (cpu, waits) in after.items():
        cpu0, waits0 = before.get(name, (0, 0))
        if cpu > cpu0:
            out[name] = ((cpu - cpu0) / jobs / 1e6, (waits - waits0) / jobs)
    return out


async def run(kind: str, args: argparse.Namespace) -> dict[str, dict[str, tuple[float, float]]]:
    async with launched(kind, args, first_on_path=NAMES) as (fake, _, proc):
        user = await warmed_up(fake)
        before = sample(proc.pid)
        for n in range(args.ones):
            await answered(await job(fake, user + n, f"one-{n}"))
        ones = per_job(before, sample(proc.pid), args.ones)
        user += args.ones
        await asyncio.sleep(1.0)
        before = sample(proc.pid)
        burst = await asyncio.gather(*(job(fake, user + n, f"burst-{n}") for n in range(args.burst)))
        await asyncio.gather(*(answered(fi) for fi in burst))
        return {"one at a time": ones, f"{args.burst} at once": per_job(before, sample(proc.pid), args.burst)}


def show(title: str, rows: dict[str, tuple[float, float]]) -> None:
    total = sum(cpu for cpu, _ in rows.values())
    print(f"  {title}: {total:.2f} ms a job; " + ", ".join(
        f"{name} {cpu:.2f} ms ({waits:.1f} waits)" for name, (cpu, waits) in sorted(rows.items(), key=lambda r: -r[1][0])))


async def main_async(args: argparse.Namespace) -> None:
    print(f"Pixazo latency {args.latency:g} s, {args.ones} one at a time, burst {args.burst}, {args.rounds} round(s); "
          f"{load()}")
    results: dict[str, list[dict[str, dict[str, tuple[float, float]]]]] = collections.defaultdict(list)
    for r, kinds in enumerate(order(args.rounds, args.kinds), 1):
        for kind in kinds:
            got = await run(kind, args)
            results[kind].append(got)
            print(f"round {r} {kind} ({load()})")
            for title, rows in got.items():
                show(title, rows)
    print("\nmedians of the rounds, per job: CPU ms (voluntary waits)")
    for kind, runs in results.items():
        print(kind)
        for title in runs[0]:
            names = sorted({name for run_ in runs for name in run_[title]})
            show(title, {name: (statistics.median(r[title].get(name, (0.0, 0.0))[0] for r in runs),
                                statistics.median(r[title].get(name, (0.0, 0.0))[1] for r in runs)) for name in names})
    print(f"\n{load()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kinds", nargs="+", choices=sorted(KINDS), default=["bot", "floor", "bare"])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--ones", type=int, default=40)
    parser.add_argument("--burst", type=int, default=100)
    parser.add_argument("--latency", type=float, default=0.5)
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
