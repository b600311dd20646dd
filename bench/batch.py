"""A batch (/imagine count:4) through the real bot and the fakes, and the image work it puts on the pool.

The bot runs in this process (`bot.__main__.serve`, started as the tests start it: tests/fakes/launch.py)
against the fake Discord and fake Pixazo on 127.0.0.1. Printed:

* makespan = from the /imagine interaction to the fourth image on the batch's one message, at
             PIXAZO_MAX_CONCURRENCY=8 and a fake Pixazo latency of 1 s (target <= 1.2 s: the four images
             are made at once, and adding each to the message costs little), over several runs;
* fit p99  = the image work a batch puts on the image pool (IMAGE_WORKERS threads), off the event loop:
             four 1024x1024 PNG results (noisy, about as large as generated pictures) each made to fit
             Discord's upload limit (10 MiB, per file), the four submitted at once; per batch (all four
             done) and the event loop's worst stall meanwhile (target p99 <= 100 ms per batch). Then the
             same where every image must be re-encoded (a 1 MiB limit): the path any result over its
             channel's limit takes, batch or not.

The batch's message is a gallery of its files, not a composed grid (bot/ui/batch.py says why), so the
work per image is this fit and nothing else.

Run from the repository root:

    python -m bench.batch
    python -m bench.batch --runs 20 --latency 1 --concurrency 8
"""

from __future__ import annotations

import argparse
import asyncio
import io
import logging
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if __package__ in (None, ""):
    sys.path.insert(0, str(REPO))

from PIL import Image  # noqa: E402

from bot.core.imaging import fit_off_loop  # noqa: E402
from bot.core.offload import Offload  # noqa: E402
from tests.fakes.launch import make_settings, running_discord, running_pixazo, started_bot  # noqa: E402

UPLOAD_LIMIT = 10 * 1024 * 1024
COUNT = 4


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(0.99 * len(ordered)) - 1)]


async def makespans(runs: int, concurrency: int, latency: float) -> list[float]:
    times: list[float] = []
    async with running_discord() as discord_fake, running_pixazo() as pixazo_fake:
        pixazo_fake.latency = latency
        with tempfile.TemporaryDirectory() as tmp:
            settings = make_settings(Path(tmp), discord_fake, pixazo_fake, pixazo_max_concurrency=concurrency,
                                     quota_default_daily_credits=100_000, pixazo_timeout_seconds=60,
                                     log_level="WARNING")
            async with started_bot(settings, discord_fake):
                loop = asyncio.get_running_loop()
                for run in range(runs):
                    started = loop.time()
                    interaction = await discord_fake.invoke("imagine", {"prompt": f"run {run}", "count": COUNT},
                                                            user_id=100_000 + run)
                    while len((interaction.original or {}).get("attachments") or []) < COUNT:
                        if loop.time() - started > 30:
                            raise SystemExit("the batch was not delivered in time")
                        await asyncio.sleep(0.005)
                    times.append(loop.time() - started)
    return times


def sample(side: int) -> bytes:
    ramp = Image.linear_gradient("L").resize((side, side))
    noise = Image.effect_noise((side, side), 40)
    img = Image.merge("RGB", [Image.blend(ramp.rotate(a), noise, 0.3) for a in (0, 90, 180)])
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


async def watch(done: asyncio.Event, stall: list[float]) -> None:
    """The event loop's longest stall (past a 1 ms sleep) until `done`."""
    while not done.is_set():
        t = time.perf_counter()
        await asyncio.sleep(0.001)
        stall[0] = max(stall[0], time.perf_counter() - t - 0.001)


async def fits(runs: int, workers: int, limit: int) -> tuple[list[float], list[float], int]:
    """Per batch: the four fits' wall time, and the event loop's longest stall while they ran."""
    images = [sample(1024) for _ in range(COUNT)]
    offload = Offload(workers, name="image")
    walls: list[float] = []
    stalls: list[float] = []
    try:
        for _ in range(runs):
            done = asyncio.Event()
            stall = [0.0]
            watcher = asyncio.create_task(watch(done, stall))
            started = time.perf_counter()
            uploads = await asyncio.gather(*(fit_off_loop(offload, data, "png", f"{n}-1", limit,
                                                          timeout=20) for n, data in enumerate(images)))
            walls.append(time.perf_counter() - started)
            done.set()
            await watcher
            stalls.append(stall[0])
            assert all(u is not None and len(u.data) <= limit for u in uploads)
    finally:
        offload.close()
    return walls, stalls, len(images[0])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--latency", type=float, default=1.0)
    parser.add_argument("--workers", type=int, default=2, help="IMAGE_WORKERS")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    times = asyncio.run(makespans(args.runs, args.concurrency, args.latency))
    print(f"/imagine count:{COUNT}, PIXAZO_MAX_CONCURRENCY={args.concurrency}, latency {args.latency:g} s, "
          f"{args.runs} runs")
    print(f"  makespan   median {statistics.median(times):.3f} s  max {max(times):.3f} s  (target <= "
          f"{args.latency * 1.2:.1f} s)")
    # Discord's limit (per file); then 1 MiB, where every image is re-encoded.
    for limit in (UPLOAD_LIMIT, 1024 * 1024):
        walls, stalls, size = asyncio.run(fits(max(args.runs * 5, 20), args.workers, limit))
        print(f"fit {COUNT} x 1024x1024 PNG ({size / 1e6:.1f} MB each) to {limit // 1024} KiB each, "
              f"IMAGE_WORKERS={args.workers}, {len(walls)} batches")
        print(f"  per batch  median {statistics.median(walls) * 1000:.1f} ms  p99 {p99(walls) * 1000:.1f} ms  "
              f"(target p99 <= 100 ms)")
        print(f"  event loop worst stall p99 {p99(stalls) * 1000:.1f} ms")


if __name__ == "__main__":
    main()
