"""The cost of a job: `python -m bot` beside a bare discord.py bot (bench/bare_bot.py), in one run.

Both run as child processes against the same fakes (tests/fakes/launch.py: a fresh fake Discord and
fake Pixazo in this process for each run, Pixazo answering after --latency seconds), in rounds of
alternating order (bot then bare, bare then bot, ...). Each run: start, a few warm-up jobs, --idle
seconds with nothing to do, --ones jobs one at a time, then a burst of --burst jobs at once (each
from its own member; PIXAZO_MAX_CONCURRENCY = the burst, so nothing waits for a slot). Printed for
each bot, per round and as the median of the rounds, with the ratio bot / bare of each round
(min / median / max):

* CPU per job    = the child's CPU time (every thread's, from /proc/<pid>/task/*/schedstat, in ns) over
                   the burst, or over the one-at-a-time jobs, divided by the number of jobs;
* end-to-end minus Pixazo, p50 = the answer's arrival at the fake Discord (the followup, or the edit of
                   the original message that carries the result) minus the interaction's creation,
                   minus the fake Pixazo's latency;
* defer p50      = the interaction callback minus the interaction's creation, at the fake;
* spread         = last minus first arrival of the burst's Pixazo calls at the fake Pixazo;
* idle CPU       = CPU time over the idle seconds, as a share of one core.

The machine's load average (os.getloadavg) is printed with every run: the figures are only as quiet
as the machine was. Run from the repository root:

    python -m bench.overhead                        # 3 rounds, burst 100, 30 one at a time, idle 20 s
    python -m bench.overhead --rounds 1 --ones 10 --idle 5
    python -m bench.overhead --floor                # and the floor (bench/floor_bot.py) in every round

The floor is the bare bot plus the least any bot must add to keep this one's promises (a durable ledger
written before the call and after the post, the result decoded before it is posted): floor / bare is
the part of the ratio no implementation of them avoids, this bot / floor the part that is this bot's.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if __package__ in (None, ""):
    sys.path.insert(0, str(REPO))

from tests.fakes.discord import FakeDiscord, FakeInteraction  # noqa: E402
from tests.fakes.launch import BotProcess, bot_env, running_discord, running_pixazo  # noqa: E402
from tests.fakes.pixazo import FakePixazo  # noqa: E402

COMMAND = "sdxl-lightning"
FIRST_USER = 100_000
WARM_UP = 3
KINDS = {"bot": ("-m", "bot"), "bare": ("-m", "bench.bare_bot"), "floor": ("-m", "bench.floor_bot")}
# figure key, label, unit, target ratio (bot / bare) or None
FIGURES: list[tuple[str, str, str, float | None]] = [
    ("cpu_burst", "CPU per job, {burst} at once", "ms", 1.5),
    ("cpu_one", "CPU per job, one at a time", "ms", 1.5),
    ("e2e_burst", "end-to-end minus Pixazo, p50, {burst} at once", "ms", 1.3),
    ("e2e_one", "end-to-end minus Pixazo, p50, one at a time", "ms", 1.2),
    ("defer_burst", "defer p50, {burst} at once", "ms", 1.2),
    ("spread", "spread of the Pixazo call starts of a {burst}-burst", "ms", None),
    ("idle", "idle CPU (share of one core)", "%", None),
]


def cpu_seconds(pid: int) -> float:
    """CPU time of every thread of `pid` so far (ns precision: /proc/<pid>/task/*/schedstat's first field)."""
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/schedstat") as f:
                total += int(f.read().split()[0])
        except (FileNotFoundError, ProcessLookupError):
            continue  # a thread that ended meanwhile
    return total / 1e9


def load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def stamp(fi: FakeInteraction) -> FakeInteraction:
    """Note when the answer (the result) arrives at the fake: the moment it records it."""
    loop = asyncio.get_running_loop()
    record = fi._set_answer

    def recorded(message: dict, files: list, payload: Any) -> None:
        if not hasattr(fi, "answered_at"):
            fi.answered_at = loop.time()  # type: ignore[attr-defined]
        record(message, files, payload)

    fi._set_answer = recorded  # type: ignore[method-assign]
    return fi


async def job(fake: FakeDiscord, user: int, prompt: str) -> FakeInteraction:
    return stamp(await fake.invoke(COMMAND, {"prompt": prompt}, user_id=user))


async def answered(fi: FakeInteraction) -> None:
    answer = await fi.wait_followup(timeout=120)
    if not answer.get("embeds"):
        raise SystemExit(f"{fi.label}: the answer carries no embed: {answer.get('content')!r}")


def p50(values: list[float]) -> float:
    return statistics.median(values)


@asynccontextmanager
async def launched(kind: str, args: argparse.Namespace, *, first_on_path: Path | None = None
                   ) -> AsyncIterator[tuple[FakeDiscord, FakePixazo, BotProcess]]:
    """Fresh fakes and the bot of `kind` as a child, connected; `first_on_path`, a folder put first on its
    PYTHONPATH (a sitecustomize that measures it). On a failure, the end of its log is printed."""
    async with running_discord() as discord_fake, running_pixazo() as pixazo_fake:
        pixazo_fake.latency = args.latency
        with tempfile.TemporaryDirectory() as tmp:
            env = bot_env(Path(tmp), discord_fake, pixazo_fake, pixazo_max_concurrency=max(args.burst, 4),
                          quota_default_daily_credits=10**6, queue_max_length=max(500, args.burst * 2),
                          pixazo_timeout_seconds=60, log_level="WARNING")
            if first_on_path is not None:
                env["PYTHONPATH"] = f"{first_on_path}{os.pathsep}{env['PYTHONPATH']}"
            proc = await BotProcess(env, Path(tmp) / "run", python_args=KINDS[kind]).start()
            try:
                await proc.wait_ready(discord_fake, timeout=60)
                yield discord_fake, pixazo_fake, proc
            except BaseException:
                print(proc.log()[-3000:], file=sys.stderr)
                raise
            finally:
                await proc.stop()


async def warmed_up(fake: FakeDiscord) -> int:
    """A few jobs first (connections opened, caches filled), and a second for their after-work (audit rows,
    settles); the first member id not used yet."""
    for n in range(WARM_UP):
        await answered(await job(fake, FIRST_USER + n, f"warm-{n}"))
    await asyncio.sleep(1.0)
    return FIRST_USER + WARM_UP


async def run(kind: str, args: argparse.Namespace) -> dict[str, float]:
    async with launched(kind, args) as (discord_fake, pixazo_fake, proc):
        return await measure(discord_fake, pixazo_fake.requests, proc.pid, args)


async def measure(fake: FakeDiscord, pixazo_calls: list[Any], pid: int, args: argparse.Namespace) -> dict[str, float]:
    loop = asyncio.get_running_loop()
    user = await warmed_up(fake)
    figures: dict[str, float] = {}

    cpu, wall = cpu_seconds(pid), loop.time()
    await asyncio.sleep(args.idle)
    figures["idle"] = (cpu_seconds(pid) - cpu) / (loop.time() - wall) * 100

    ones: list[FakeInteraction] = []
    cpu = cpu_seconds(pid)
    for n in range(args.ones):
        fi = await job(fake, user + n, f"one-{n}")
        await answered(fi)
        ones.append(fi)
    figures["cpu_one"] = (cpu_seconds(pid) - cpu) / args.ones * 1000
    user += args.ones
    figures["e2e_one"] = p50([fi.answered_at - fi.created_at - args.latency for fi in ones]) * 1000  # type: ignore[attr-defined]
    await asyncio.sleep(1.0)

    cpu = cpu_seconds(pid)
    burst = await asyncio.gather(*(job(fake, user + n, f"burst-{n}") for n in range(args.burst)))
    await asyncio.gather(*(answered(fi) for fi in burst))
    figures["cpu_burst"] = (cpu_seconds(pid) - cpu) / args.burst * 1000
    figures["e2e_burst"] = p50([fi.answered_at - fi.created_at - args.latency for fi in burst]) * 1000  # type: ignore[attr-defined]
    figures["defer_burst"] = p50([fi.callback_at - fi.created_at for fi in burst if fi.callback_at]) * 1000
    starts = [c.at for c in pixazo_calls if isinstance(c.json, dict) and str(c.json.get("prompt", "")).startswith("burst-")]
    if len(starts) != args.burst:
        raise SystemExit(f"{len(starts)} Pixazo calls for a burst of {args.burst}")
    figures["spread"] = (max(starts) - min(starts)) * 1000
    return figures


def order(rounds: int, kinds: list[str]) -> list[list[str]]:
    """Each round's order: the kinds in turn, then reversed; with three, rotated by one every two rounds."""
    orders = []
    for r in range(rounds):
        turn = (r // 2) % len(kinds) if len(kinds) > 2 else 0
        turned = kinds[turn:] + kinds[:turn]
        orders.append(turned if r % 2 == 0 else turned[::-1])
    return orders


def ratios(results: list[dict[str, dict[str, float]]], key: str, over: str, under: str) -> str:
    found = sorted(r[over][key] / max(r[under][key], 1e-9) for r in results)
    return f"{found[0]:.2f} / {statistics.median(found):.2f} / {found[-1]:.2f}"


def table(results: list[dict[str, dict[str, float]]], args: argparse.Namespace) -> None:
    def fmt(value: float, unit: str) -> str:
        return f"{value:.3f} %" if unit == "%" else f"{value:.1f} ms"

    print("\n| figure | this bot | bare | ratio (min/median/max) | target |")
    print("|---|---|---|---|---|")
    for key, label, unit, target in FIGURES:
        bot = [r["bot"][key] for r in results]
        bare = [r["bare"][key] for r in results]
        # The bare bot's idle CPU is about nothing: a ratio would say nothing.
        shown = "—" if key == "idle" else ratios(results, key, "bot", "bare")
        goal = f"≤ {target:.1f}×" if target else ("≤ 0.05 %" if key == "idle" else "")
        print(f"| {label.format(burst=args.burst)} | {fmt(p50(bot), unit)} | {fmt(p50(bare), unit)} | {shown} | {goal} |")
    if "floor" not in results[0]:
        return
    print("\n| figure | floor | floor / bare (min/median/max) | this bot / floor (min/median/max) |")
    print("|---|---|---|---|")
    for key, label, unit, _ in FIGURES:
        if key != "idle":
            floor = p50([r["floor"][key] for r in results])
            print(f"| {label.format(burst=args.burst)} | {fmt(floor, unit)} | {ratios(results, key, 'floor', 'bare')} "
                  f"| {ratios(results, key, 'bot', 'floor')} |")


async def main_async(args: argparse.Namespace) -> None:
    print(f"Pixazo latency {args.latency:g} s, burst {args.burst}, {args.ones} one at a time, idle {args.idle:g} s, "
          f"{args.rounds} round(s); {load()}")
    results: list[dict[str, dict[str, float]]] = []
    for r, kinds in enumerate(order(args.rounds, ["bot", "bare", "floor"] if args.floor else ["bot", "bare"]), 1):
        row: dict[str, dict[str, float]] = {}
        for kind in kinds:
            row[kind] = await run(kind, args)
            shown = ", ".join(f"{k} {v:.3f}" if k == "idle" else f"{k} {v:.1f}" for k, v in row[kind].items())
            print(f"round {r} {kind:5s}: {shown}  ({load()})", flush=True)
        results.append(row)
    table(results, args)
    print(f"\n{load()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--burst", type=int, default=100)
    parser.add_argument("--ones", type=int, default=30)
    parser.add_argument("--idle", type=float, default=20.0)
    parser.add_argument("--latency", type=float, default=0.5)
    parser.add_argument("--floor", action="store_true",
                        help="also run bench/floor_bot.py: the bare bot with a durable ledger and the decode check")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
