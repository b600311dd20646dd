"""Load: N simultaneous /sdxl commands through the real bot, against the fake Discord and fake Pixazo.

The fakes (tests/fakes) run on 127.0.0.1 in this process. The bot is the real thing: by default it
runs in this process too, started through `bot.__main__.serve(settings)` as the tests start it
(tests/fakes/launch.py); with --subprocess it runs as a child `python -m bot` configured through
environment variables (the same settings).

Per interaction, all on this process's event-loop clock:

* defer      = when the fake recorded the interaction callback (the "thinking…" defer)
               minus when the fake created the interaction (just before sending INTERACTION_CREATE);
* end-to-end = when the followup carrying the result reached the fake minus that same creation time.
  The arrival time is taken inside the fake's request handler (a wrapper around
  FakeInteraction._set_answer, which the handler calls once the followup's body is parsed). If that
  private hook is missing, the time a per-interaction task awaiting wait_followup() woke up is used
  instead; the printed "hook vs wake-up skew" says how far apart the two are;
* e2e - latency = end-to-end minus the fake Pixazo's artificial latency: the bot's own overhead;
* done within   = last followup arrival minus the first Pixazo answer
                  (first API request's arrival time + latency).

Peak RSS: in-process, getrusage(RUSAGE_SELF).ru_maxrss, which INCLUDES the fakes and this harness
and is a high-water mark over the whole process life (later runs can only report the same or more).
With --subprocess, the child's VmHWM from /proc/<pid>/status read just before it is stopped: the
bot alone.

Also printed: CPU seconds used during the load (bot and fakes apart with --subprocess), how long after
the last followup the ledger had every job marked succeeded (the bot is only stopped after that, so
no delivered job is cancelled), and the kernel's listen-queue overflow count. The fakes' sockets get
an accept queue of --fake-backlog (default 1024) instead of aiohttp's 128: with more simultaneous
new connections than that, Linux drops SYNs and the client retries after 1 s, which is an artefact
of the fakes, not something real Discord does. `--fake-backlog 128` shows it.

Targets: defer p99 <= 150 ms; every job done within 2 s of the first Pixazo answer; peak RSS <= 200 MB.

Run from the repository root:

    python -m bench.generate_load                 # N=100, latency 1.0 s, bot in-process
    python -m bench.generate_load --n 200 --runs 3
    python bench/generate_load.py --subprocess    # bot as a child process (honest bot-only RSS)
    python -m bench.generate_load --subprocess --n 200 --profile-bot /tmp/bot.prof
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import math
import os
import resource
import signal
import sqlite3
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if __package__ in (None, ""):  # `python bench/generate_load.py`: make the repository root importable
    sys.path.insert(0, str(REPO))

from aiohttp import web, web_app  # noqa: E402

from bot.core.settings import Settings  # noqa: E402
from tests.fakes.discord import FakeDiscord, FakeInteraction  # noqa: E402
from tests.fakes.launch import (  # noqa: E402
    BotProcess,
    bot_env,
    make_settings,
    running_discord,
    running_pixazo,
    started_bot,
)
from tests.fakes.pixazo import FakePixazo  # noqa: E402

FIRST_USER_ID = 100_000

DEFER_P99_TARGET = 0.150
DONE_WITHIN_TARGET = 2.0
RSS_TARGET_MB = 200.0

# Settings shared by both modes, over the tests' (tests/fakes/launch.py): nothing is refused, nothing is
# queued behind a concurrency cap, and the image check runs on every result, as the bot is deployed.
LOAD_SETTINGS: dict[str, Any] = {
    "pixazo_timeout_seconds": 60.0,
    "image_check": True,
    "pixazo_max_concurrency": 1000,
    "quota_default_daily_credits": 1_000_000,
    "quota_max_jobs_per_user": 1000,
    "log_level": "WARNING",
}


# ---------------------------------------------------------------------------------------- the fakes


def raise_fake_backlog(backlog: int) -> None:
    """Give the fakes' listening sockets a longer accept queue than aiohttp's default of 128.

    With more simultaneous new connections than the backlog, Linux drops the extra SYNs and the
    client retries after its 1 s initial retransmission timeout: a >1 s defer that real Discord
    (which does not run on one aiohttp socket) would not cause. The fakes build `web.TCPSite`
    without a backlog argument, so the default is changed here, for this process only.
    """
    init = web.TCPSite.__init__
    if getattr(init, "_bench_backlog", None) == backlog:
        return
    original = getattr(init, "_bench_original", init)

    def patched(self: web.TCPSite, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("backlog", backlog)
        original(self, *args, **kwargs)

    patched._bench_backlog = backlog  # type: ignore[attr-defined]
    patched._bench_original = original  # type: ignore[attr-defined]
    web.TCPSite.__init__ = patched  # type: ignore[method-assign]


def release_fakes() -> None:
    """Let a finished run's fakes be garbage collected before the next run.

    aiohttp's web server memoises middleware chains per handler in a module-level lru_cache
    (aiohttp.web_app._cached_build_middleware, up to 1024 entries), which keeps every run's
    FakeDiscord, with all its interactions and uploaded files, alive. Measured: in-process defer p99
    at N=200 over 4 runs was 128/236/205/202 ms with them kept and 136/127/157/123 ms released.
    """
    cached = getattr(web_app, "_cached_build_middleware", None)
    if cached is not None and hasattr(cached, "cache_clear"):
        cached.cache_clear()
    gc.collect()


def listen_overflows() -> int | None:
    """The kernel's ListenOverflows counter (all sockets of this network namespace), if readable."""
    try:
        header, values = [line.split() for line in Path("/proc/net/netstat").read_text().splitlines()
                          if line.startswith("TcpExt:")][:2]
    except (OSError, ValueError):
        return None
    return int(dict(zip(header, values, strict=True)).get("ListenOverflows", 0))


# ---------------------------------------------------------------------------------------- timing


def _hook_followup_arrivals() -> None:
    """Stamp loop.time() on a FakeInteraction when its answer reaches the fake (first call only)."""
    original = getattr(FakeInteraction, "_set_answer", None)
    if original is None or getattr(original, "_bench_hooked", False):
        return

    def stamped(self: FakeInteraction, *args: Any, **kwargs: Any) -> None:
        if getattr(self, "bench_answer_at", None) is None:
            self.bench_answer_at = asyncio.get_running_loop().time()
        original(self, *args, **kwargs)

    stamped._bench_hooked = True  # type: ignore[attr-defined]
    FakeInteraction._set_answer = stamped  # type: ignore[method-assign]


@dataclass
class Sample:
    interaction: FakeInteraction
    woke_at: float  # when the task awaiting wait_followup() resumed
    answer: dict
    pixazo_at: float | None = None  # when this command's Pixazo API request reached the fake

    @property
    def arrived_at(self) -> float:
        return getattr(self.interaction, "bench_answer_at", None) or self.woke_at

    @property
    def defer(self) -> float:
        assert self.interaction.callback_at is not None
        return self.interaction.callback_at - self.interaction.created_at

    @property
    def end_to_end(self) -> float:
        return self.arrived_at - self.interaction.created_at

    @property
    def ok(self) -> bool:
        return bool(self.answer.get("embeds")) and bool(self.answer.get("_files"))


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


# ---------------------------------------------------------------------------------------- the bot


def load_settings(tmp: Path, discord_fake: FakeDiscord, pixazo_fake: FakePixazo) -> Settings:
    """The tests' settings (data in tmp/data) plus LOAD_SETTINGS."""
    return make_settings(tmp, discord_fake, pixazo_fake, **LOAD_SETTINGS)


def load_environment(tmp: Path, discord_fake: FakeDiscord, pixazo_fake: FakePixazo, **extra: Any) -> dict[str, str]:
    """The same settings as environment variables, for `python -m bot`; `extra` settings win."""
    return bot_env(tmp, discord_fake, pixazo_fake, **{**LOAD_SETTINGS, **extra})


@dataclass
class BotProbe:
    peak_rss_mb: Callable[[], float]
    cpu_seconds: Callable[[], float]  # CPU used so far by the bot (in-process: bot + fakes + harness)


@contextlib.asynccontextmanager
async def bot_in_process(settings: Settings, fake: FakeDiscord) -> AsyncIterator[BotProbe]:
    """Run serve(settings) as a task; peak RSS and CPU are this whole process's."""
    async with started_bot(settings, fake, timeout=20):
        yield BotProbe(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, cpu_seconds)


def cpu_seconds(pid: int | None = None) -> float:
    """User + system CPU seconds used so far by `pid` (from /proc), or by this process."""
    if pid is None:
        return time.process_time()
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def vm_hwm_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024  # kB
    raise RuntimeError("no VmHWM in /proc status")


@contextlib.asynccontextmanager
async def bot_subprocess(env: dict[str, str], workdir: Path, fake: FakeDiscord,
                         profile: Path | None = None) -> AsyncIterator[BotProbe]:
    """Run `python -m bot` as a child; peak RSS (VmHWM) and CPU are the child's alone.

    With `profile`, the child runs under cProfile and writes its stats there when it stops.
    """
    command = ("-m", "bot") if profile is None else ("-m", "cProfile", "-o", str(profile), "-m", "bot")
    bot = await BotProcess(env, workdir, log_name="bot-stderr.log", python_args=command).start()
    try:
        try:
            await bot.wait_ready(fake)
        except Exception:
            print(bot.log()[-3000:], file=sys.stderr)
            raise
        yield BotProbe(lambda: vm_hwm_mb(bot.pid), lambda: cpu_seconds(bot.pid))
    finally:
        await bot.stop(signal.SIGINT, timeout=5)  # python -m bot stops cleanly on SIGINT; SIGKILL after 5 s
    tail = bot.log().strip()
    if tail:
        print("  (bot stderr, last lines)\n    " + "\n    ".join(tail.splitlines()[-10:]))


# ---------------------------------------------------------------------------------------- the load


def prompt_for(index: int) -> str:
    return f"load test image {index}"


async def one_command(fake: FakeDiscord, index: int, timeout: float) -> Sample:
    interaction = await fake.invoke("sdxl", {"prompt": prompt_for(index)},
                                    user_id=FIRST_USER_ID + index, username=f"loaduser{index}")
    callback = await interaction.wait_callback(timeout=timeout)
    if callback["type"] == 4:  # answered at once (a refusal), never deferred: counted as a failure
        interaction.bench_answer_at = interaction.callback_at
        return Sample(interaction, asyncio.get_running_loop().time(), callback.get("data") or {})
    answer = await interaction.wait_followup(timeout=timeout)
    return Sample(interaction, asyncio.get_running_loop().time(), answer)


async def fire(fake: FakeDiscord, n: int, timeout: float) -> list[Sample]:
    return await asyncio.gather(*(one_command(fake, i, timeout) for i in range(n)))


def count_succeeded(database: Path) -> int:
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=1)) as db:
        return db.execute("SELECT COUNT(*) FROM jobs WHERE state = 'succeeded'").fetchone()[0]


async def wait_settled(database: Path, n: int, timeout: float = 30) -> float:
    """Poll the ledger until n jobs are marked succeeded, so stopping the bot cancels nothing.

    The followup reaching Discord is not the end of a job: the bot still reads Discord's answer and
    marks the job succeeded. Stopping the bot before that would cancel the job and refund it.
    Returns the loop time at which the ledger was seen settled (20 ms polling).
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while count_succeeded(database) < n:
        if loop.time() > deadline:
            raise RuntimeError(f"only {count_succeeded(database)}/{n} jobs settled within {timeout}s")
        await asyncio.sleep(0.02)
    return loop.time()


@dataclass
class RunResult:
    samples: list[Sample]
    latency: float
    first_pixazo_request: float
    pixazo_calls: int
    peak_rss_mb: float
    warnings: int
    settled_at: float  # when the ledger was seen with every delivered job marked succeeded
    listen_overflows: int | None  # SYNs the kernel dropped because an accept queue was full
    bot_cpu: float  # CPU seconds during the load: the child's, or (in-process) the whole process's
    fakes_cpu: float | None  # --subprocess only: CPU seconds of this process (fakes + harness)

    def defers(self) -> list[float]:
        return [s.defer for s in self.samples]

    def overheads(self) -> list[float]:
        return [s.end_to_end - self.latency for s in self.samples]

    def to_pixazo(self) -> list[float]:
        """Command created -> its Pixazo request arrived: defer, ledger reservation, POST."""
        return [s.pixazo_at - s.interaction.created_at for s in self.samples if s.pixazo_at is not None]

    def after_pixazo(self) -> list[float]:
        """Pixazo answered -> followup arrived: image download, embed, upload, Discord's side."""
        return [s.arrived_at - s.pixazo_at - self.latency for s in self.samples if s.pixazo_at is not None]

    def done_within(self) -> float:
        return max(s.arrived_at for s in self.samples) - (self.first_pixazo_request + self.latency)

    def skew(self) -> float:
        return max(s.woke_at - s.arrived_at for s in self.samples)


class CountWarnings(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0
        self.first: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1
        if len(self.first) < 5:
            self.first.append(f"{record.levelname} {record.name}: {record.getMessage()}")


@contextlib.asynccontextmanager
async def fakes(latency: float) -> AsyncIterator[tuple[FakeDiscord, FakePixazo]]:
    # Closed after the bot is stopped (closing Discord first would make it reconnect).
    async with running_discord() as discord_fake, running_pixazo() as pixazo_fake:
        pixazo_fake.latency = latency
        yield discord_fake, pixazo_fake


async def run_once(n: int, latency: float, use_subprocess: bool, timeout: float,
                   profile: Path | None = None) -> RunResult:
    """Fresh fakes, a fresh bot and a fresh data directory; N commands at once; the numbers."""
    warnings = CountWarnings()
    logging.getLogger().addHandler(warnings)
    overflows_before = listen_overflows()
    try:
        async with fakes(latency) as (discord_fake, pixazo_fake):
            with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
                data_dir = Path(tmp) / "data"
                if use_subprocess:
                    env = load_environment(Path(tmp), discord_fake, pixazo_fake)
                    bot = bot_subprocess(env, Path(tmp), discord_fake, profile)
                else:
                    bot = bot_in_process(load_settings(Path(tmp), discord_fake, pixazo_fake), discord_fake)
                async with bot as probe:
                    bot_cpu, own_cpu = probe.cpu_seconds(), cpu_seconds()
                    samples = await asyncio.wait_for(fire(discord_fake, n, timeout), timeout + 30)
                    settled_at = await wait_settled(data_dir / "bot.sqlite3", sum(s.ok for s in samples))
                    bot_cpu, own_cpu = probe.cpu_seconds() - bot_cpu, cpu_seconds() - own_cpu
                    rss = probe.peak_rss_mb()
    finally:
        logging.getLogger().removeHandler(warnings)
    for line in warnings.first:
        print(f"  warning seen: {line}")
    overflows_after = listen_overflows()
    api_calls = [c for c in pixazo_fake.requests if not c.path.startswith("/images/")]
    arrivals = {c.json.get("prompt"): c.at for c in api_calls if isinstance(c.json, dict)}
    for index, sample in enumerate(samples):
        sample.pixazo_at = arrivals.get(prompt_for(index))
    return RunResult(
        samples, latency, min(c.at for c in api_calls), len(api_calls), rss, warnings.count, settled_at,
        None if overflows_before is None or overflows_after is None else overflows_after - overflows_before,
        bot_cpu, own_cpu if use_subprocess else None,
    )


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def report(run: int, n: int, result: RunResult, use_subprocess: bool) -> bool:
    ms = 1000
    defers, overheads = result.defers(), result.overheads()
    failed = sum(not s.ok for s in result.samples)
    print(f"run {run}: N={n}, Pixazo latency {result.latency:.2f} s, {result.pixazo_calls} Pixazo calls, "
          f"{failed} answer(s) without an image, {result.warnings} WARNING+ log record(s)")
    rows = (("defer", defers), ("e2e - latency", overheads), ("  to Pixazo", result.to_pixazo()),
            ("  after Pixazo", result.after_pixazo()), ("end-to-end", [s.end_to_end for s in result.samples]))
    for name, values in rows:
        print(f"  {name:<14} p50 {percentile(values, 50) * ms:8.1f} ms   p99 {percentile(values, 99) * ms:8.1f} ms"
              f"   max {max(values) * ms:8.1f} ms")
    done = result.done_within()
    rss_what = "bot only, child VmHWM" if use_subprocess else "whole process: bot + fakes + harness, ru_maxrss"
    defer_ok = percentile(defers, 99) <= DEFER_P99_TARGET
    done_ok = done <= DONE_WITHIN_TARGET and failed == 0
    rss_ok = result.peak_rss_mb <= RSS_TARGET_MB
    print(f"  every job done within {done:.3f} s of the first Pixazo answer"
          f" (ledger settled {result.settled_at - max(s.arrived_at for s in result.samples):.3f} s after the last followup)")
    print(f"  peak RSS {result.peak_rss_mb:.1f} MB ({rss_what})")
    if result.fakes_cpu is None:
        print(f"  CPU during the load: {result.bot_cpu:.2f} s (bot + fakes + harness, one process)")
    else:
        print(f"  CPU during the load: bot {result.bot_cpu:.2f} s ({result.bot_cpu / n * ms:.2f} ms per command),"
              f" fakes + harness {result.fakes_cpu:.2f} s")
    print(f"  followup timestamp: hook vs wake-up skew max {result.skew() * ms:.1f} ms;"
          f" kernel listen-queue overflows during the run: {result.listen_overflows}")
    print(f"  defer p99 <= {DEFER_P99_TARGET * ms:.0f} ms: {verdict(defer_ok)}; "
          f"all done within {DONE_WITHIN_TARGET:.0f} s: {verdict(done_ok)}; "
          f"peak RSS <= {RSS_TARGET_MB:.0f} MB: {verdict(rss_ok)}")
    return defer_ok and done_ok and rss_ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100, help="simultaneous /sdxl commands (default 100)")
    parser.add_argument("--latency", type=float, default=1.0, help="fake Pixazo latency in seconds (default 1.0)")
    parser.add_argument("--runs", type=int, default=1, help="repeat the whole measurement (default 1)")
    parser.add_argument("--subprocess", action="store_true", help="run the bot as a child `python -m bot`")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for each followup")
    parser.add_argument("--profile-bot", type=Path, metavar="FILE",
                        help="with --subprocess: run the bot under cProfile, write stats to FILE, print the top")
    parser.add_argument("--fake-backlog", type=int, default=1024,
                        help="accept-queue length of the fakes' sockets (aiohttp's default is 128; default 1024)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger().setLevel(logging.WARNING)
    _hook_followup_arrivals()
    raise_fake_backlog(args.fake_backlog)
    mode = "bot as a child process" if args.subprocess else "bot in this process"
    print(f"generate_load: {args.n} simultaneous /sdxl, {mode}, {args.runs} run(s), "
          f"fakes' listen backlog {args.fake_backlog}")
    all_ok = True
    for run in range(1, args.runs + 1):
        profile = args.profile_bot if args.subprocess else None
        result = asyncio.run(run_once(args.n, args.latency, args.subprocess, args.timeout, profile))
        all_ok = report(run, args.n, result, args.subprocess) and all_ok
        del result
        release_fakes()
        if profile is not None:
            print_profile(profile)
    return 0 if all_ok else 1


def print_profile(path: Path, top: int = 30) -> None:
    """The bot's hottest functions by own time (startup and command sync included)."""
    import pstats

    print(f"\n--- cProfile of the bot process ({path}), top {top} by own time ---")
    pstats.Stats(str(path), stream=sys.stdout).sort_stats("tottime").print_stats(top)


if __name__ == "__main__":
    sys.exit(main())
