"""Where the event loop's time goes in a job: `python -m bot` and the bare bot (bench/bare_bot.py), one
after the other, against the same fakes as bench/overhead.py.

Each child loads bench/loop_probe/sitecustomize.py, which times every callback its event loop runs (the
loop thread's CPU time) and every garbage collection, between two signals sent around the measured jobs.
A step that resumes a task is named by the coroutines it resumes (outermost, then the innermost --depth),
which is the code that ran in it. Printed for each bot, per job: the loop thread's CPU (in callbacks, and
outside them: waiting for and reading what is ready), the collections by generation with the longest
pause, and the --top steps by CPU. The probe's own timing adds about a microsecond per callback.

    python -m bench.loop_steps                  # 100 jobs one at a time
    python -m bench.loop_steps --burst 100      # 100 jobs at once
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.overhead import KINDS, WARM_UP, answered, job, load
from tests.fakes.launch import BotProcess, bot_env, running_discord, running_pixazo

PROBE = Path(__file__).resolve().parent / "loop_probe"


async def run(kind: str, args: argparse.Namespace) -> dict[str, Any]:
    async with running_discord() as discord_fake, running_pixazo() as pixazo_fake:
        pixazo_fake.latency = args.latency
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "probe.json"
            env = bot_env(Path(tmp), discord_fake, pixazo_fake, pixazo_max_concurrency=max(args.burst, 4),
                          quota_default_daily_credits=10**6, queue_max_length=max(500, args.burst * 2),
                          pixazo_timeout_seconds=60, log_level="WARNING")
            env.update(PYTHONPATH=f"{PROBE}{os.pathsep}{env['PYTHONPATH']}", LOOP_PROBE_OUT=str(out),
                       LOOP_PROBE_DEPTH=str(args.depth))
            proc = await BotProcess(env, Path(tmp) / "run", python_args=KINDS[kind]).start()
            try:
                await proc.wait_ready(discord_fake, timeout=60)
                for n in range(WARM_UP):
                    await answered(await job(discord_fake, 500 + n, f"warm-{n}"))
                await asyncio.sleep(1.0)
                os.kill(proc.pid, signal.SIGUSR1)
                await asyncio.sleep(0.2)
                if args.burst:
                    asked = await asyncio.gather(*(job(discord_fake, 5000 + n, f"b{n}") for n in range(args.burst)))
                    await asyncio.gather(*(answered(fi) for fi in asked))
                else:
                    for n in range(args.jobs):
                        await answered(await job(discord_fake, 1000 + n, f"p{n}"))
                await asyncio.sleep(0.3)  # the last job's after-work (its settle, its audit row)
                os.kill(proc.pid, signal.SIGUSR2)
                for _ in range(100):
                    await asyncio.sleep(0.05)
                    if out.exists() and out.stat().st_size:
                        return dict(json.loads(out.read_text()))
                raise SystemExit(f"{kind}: the probe wrote nothing (was bench/loop_probe on its PYTHONPATH?)")
            except BaseException:
                print(proc.log()[-3000:], file=sys.stderr)
                raise
            finally:
                await proc.stop()


def show(kind: str, report: dict[str, Any], jobs: int, top: int) -> None:
    steps = report["steps"]
    inside = sum(ns for ns, _ in steps.values())
    total = report["loop_cpu_ns"]
    per = 1e6 * jobs  # ns -> ms per job
    print(f"\n## {kind}: loop thread {total / per:.2f} ms per job"
          f" ({inside / per:.2f} in callbacks, {(total - inside) / per:.2f} outside them)")
    gc = report["gc"]
    print("garbage collections, generations 0/1/2: " + ", ".join(
        f"{n} ({ms:.1f} ms, longest {longest:.1f})" for n, ms, longest in zip(gc["count"], gc["ms"], gc["longest"],
                                                                                strict=True)))
    print("\n| ms per job | runs per job | step (task: coroutines resumed) |\n|---:|---:|---|")
    for name, (ns, calls) in sorted(steps.items(), key=lambda item: -item[1][0])[:top]:
        print(f"| {ns / per:.3f} | {calls / jobs:.1f} | {name[:160]} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=100, help="jobs one at a time (without --burst)")
    parser.add_argument("--burst", type=int, default=0, help="this many jobs at once instead")
    parser.add_argument("--latency", type=float, default=0.5, help="the fake Pixazo's answer time, seconds")
    parser.add_argument("--depth", type=int, default=2, help="innermost coroutines named per step")
    parser.add_argument("--top", type=int, default=15, help="steps shown per bot")
    parser.add_argument("--only", choices=sorted(KINDS), help="one bot only")
    args = parser.parse_args()
    jobs = args.burst or args.jobs
    print(f"{jobs} jobs {'at once' if args.burst else 'one at a time'}, Pixazo latency {args.latency} s; {load()}")
    for kind in [args.only] if args.only else ["bot", "bare"]:
        show(kind, asyncio.run(run(kind, args)), jobs, args.top)
    print(f"\n{load()}")


if __name__ == "__main__":
    main()
