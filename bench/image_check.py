"""The image check's latency: one 1024×1024 result classified by NudeNet's detector (bot/image_check.py),
as the courier runs it — on the image pool (bot/offload.py), decoding included — one result at a time
and two at once (IMAGE_WORKERS=2 on a two-core machine). Images: scikit-image's photographs scaled to
1024² (a face, a cup of coffee, a rocket, a cat) as PNG and JPEG, and the fake Pixazo's painted PNG.
Target: p99 <= 150 ms for one result. Needs the image-check extra and scikit-image (the dev extra).

Run from the repository root:

    python -m bench.image_check              # 200 checks each way
    python bench/image_check.py --checks 500
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # `python bench/image_check.py`: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.image_check import DEFAULT_CLASSES, ImageCheck, screen  # noqa: E402
from bot.offload import Offload  # noqa: E402
from tests.fakes.images import encode, gradient  # noqa: E402
from tests.image_samples import photo_bytes  # noqa: E402

TARGET_P99_MS = 150
SIDE = 1024


def images() -> list[bytes]:
    found = [photo_bytes(name, fmt, side=SIDE) for name in ("astronaut", "coffee", "rocket", "chelsea")
             for fmt in ("PNG", "JPEG")]
    return found + [encode(gradient(SIDE, SIDE, (200, 170, 150)), "PNG")]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def measure(check: ImageCheck, offload: Offload, data: list[bytes], checks: int, at_once: int) -> list[float]:
    times: list[float] = []

    async def one(i: int) -> None:
        began = time.perf_counter()
        await screen(check, offload, data[i % len(data)], threshold=0.6, timeout=30)
        times.append((time.perf_counter() - began) * 1000)

    for start in range(0, checks, at_once):
        await asyncio.gather(*(one(i) for i in range(start, min(checks, start + at_once))))
    return times


async def main_async(checks: int) -> None:
    check = ImageCheck(DEFAULT_CLASSES)
    began = time.perf_counter()
    check.load()
    if not check.available:
        raise SystemExit(f"the image check is {check.problem}")
    print(f"model loaded in {(time.perf_counter() - began) * 1000:.0f} ms")
    data = images()
    offload = Offload(2, name="image")
    try:
        await measure(check, offload, data, 10, 1)  # warm-up: onnxruntime's first runs allocate
        for at_once in (1, 2):
            times = await measure(check, offload, data, checks, at_once)
            p99 = percentile(times, 0.99)
            print(f"{SIDE}² results, {at_once} at a time on 2 image threads: {len(times)} checks, "
                  f"p50 {statistics.median(times):.0f} ms, p99 {p99:.0f} ms, max {max(times):.0f} ms"
                  + (f" — target p99 <= {TARGET_P99_MS} ms: {'met' if p99 <= TARGET_P99_MS else 'NOT met'}"
                     if at_once == 1 else ""))
    finally:
        offload.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checks", type=int, default=200, help="checks each way (default 200)")
    asyncio.run(main_async(parser.parse_args().checks))


if __name__ == "__main__":
    main()
