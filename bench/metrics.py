"""What the metrics cost: the instrumentation each job pays, and a scrape of /metrics.

Printed:

* per job    = the metric calls one job makes (its claim and wait, its end and credits, its run time,
               two Pixazo tries), timed in a loop over the catalog's models: mean µs per job, median
               of five runs of N jobs;
* render     = turning a registry full of series (every model x outcome, every Pixazo status, 30
               Discord route classes, histograms observed) into Prometheus' text: median of 200;
* depth      = the ledger read a scrape makes (the queue's depth), SQLite, Q jobs queued;
* scrape     = GET /metrics over HTTP from the real bot (serve(), between the fakes, after a run of
               jobs): the whole request, the ledger read included; median and p99 of 200.

Run from the repository root:

    python -m bench.metrics
    python -m bench.metrics --jobs 200000 --scrapes 500
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if __package__ in (None, ""):
    sys.path.insert(0, str(REPO))

import aiohttp  # noqa: E402

from bot.catalog import MODELS  # noqa: E402
from bot.core.metrics import Metrics  # noqa: E402
from bot.domain.delivery import Delivery  # noqa: E402
from bot.storage import Member, SqliteStore  # noqa: E402
from tests.fakes.launch import make_settings, running_discord, running_pixazo, started_bot  # noqa: E402

OUTCOMES = ("succeeded", "failed", "cancelled", "expired")
STATUSES = ("ok", "rejected", "auth", "not_found", "busy", "server_error", "timeout", "unreachable",
            "bad_response", "generation_failed")


def one_job(metrics: Metrics, model: str) -> None:
    """The calls the queue and the Pixazo client make for one ordinary job."""
    metrics.job_claimed(model, 1.5, rerun=False)
    metrics.pixazo_call(model, "generate", "ok")
    metrics.pixazo_call(model, "result", "ok")
    metrics.job_ran(model, 12.0)
    metrics.job_ended(model, "succeeded", 2)


def per_job(jobs: int) -> None:
    models = list(MODELS)
    runs = []
    for _ in range(5):
        metrics = Metrics("all")
        t = time.perf_counter()
        for n in range(jobs):
            one_job(metrics, models[n % len(models)])
        runs.append((time.perf_counter() - t) / jobs * 1e6)
    print(f"per job: {statistics.median(runs):.2f} µs (median of 5 runs of {jobs} jobs; runs "
          f"{', '.join(f'{r:.2f}' for r in runs)})")


def render() -> None:
    metrics = Metrics("0,1")
    for model in MODELS:
        for outcome in OUTCOMES:
            metrics.job_ended(model, outcome, 2)
        for status in STATUSES:
            metrics.pixazo_call(model, "generate", status)
            metrics.pixazo_call(model, "result", status)
        metrics.pixazo_retry(model, "generate")
        for seconds in (0.3, 4, 40, 400):
            metrics.job_claimed(model, seconds, rerun=False)
            metrics.job_ran(model, seconds)
    for n in range(30):
        metrics.discord_error("PATCH", f"/api/v10/webhooks/1/tok/messages/route{chr(97 + n % 26)}{n}", 404)
    metrics.loop_lag.labels("0,1").observe(0.002)
    times = []
    for _ in range(200):
        t = time.perf_counter()
        body = metrics.render()
        times.append((time.perf_counter() - t) * 1000)
    series = sum(1 for line in body.splitlines() if line and not line.startswith(b"#"))
    print(f"render: {statistics.median(times):.3f} ms median for {series} samples, {len(body) // 1024} KiB")


async def depth(sizes: list[int]) -> None:
    for size in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            store = await SqliteStore.open(Path(tmp) / "q.sqlite3")
            try:
                for n in range(size):
                    await store.enqueue(Member(1, n // 3), channel_id=1, model="sdxl", params={}, cost=0,
                                        default_allowance=10, max_jobs=10, global_cap=None, max_queue=10**9,
                                        delivery=Delivery(), token=None)
                times = []
                for _ in range(20):
                    t = time.perf_counter()
                    await store.queue_positions()
                    times.append((time.perf_counter() - t) * 1000)
            finally:
                await store.close()
        print(f"depth read at Q={size:5d} queued (SQLite): {statistics.median(times):.2f} ms median of 20")


async def scrape(scrapes: int, jobs: int) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    async with running_discord() as discord_fake, running_pixazo() as pixazo_fake:
        pixazo_fake.latency = 0.0
        with tempfile.TemporaryDirectory() as tmp:
            settings = make_settings(Path(tmp), discord_fake, pixazo_fake, metrics_port=port,
                                     quota_default_daily_credits=10**6, quota_max_jobs_per_user=jobs)
            async with started_bot(settings, discord_fake), aiohttp.ClientSession() as session:
                asked = [await discord_fake.invoke("sdxl", {"prompt": f"p{n}"}, user_id=5000 + n % 7)
                         for n in range(jobs)]
                await asyncio.gather(*(i.wait_followup(timeout=60) for i in asked))
                url = f"http://127.0.0.1:{port}/metrics"
                times = []
                for _ in range(scrapes):
                    t = time.perf_counter()
                    async with session.get(url) as resp:
                        body = await resp.read()
                    times.append((time.perf_counter() - t) * 1000)
    times.sort()
    print(f"scrape over HTTP after {jobs} jobs: {statistics.median(times):.2f} ms median, "
          f"p99 {times[int(len(times) * 0.99) - 1]:.2f} ms, {len(body)} bytes")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=100_000, help="jobs in each per-job run")
    parser.add_argument("--scrapes", type=int, default=200)
    args = parser.parse_args()
    per_job(args.jobs)
    render()
    asyncio.run(depth([0, 100, 500, 5000]))
    asyncio.run(scrape(args.scrapes, 20))


if __name__ == "__main__":
    main()
