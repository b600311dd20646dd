"""Stall: one member's heavy image work must not delay everyone else's commands, nor blow up memory.

The bot runs as a real child process (`python -m bot`, launched by bench.generate_load's
`bot_subprocess`) against the fake Discord and fake Pixazo, which run in this process. Per scenario,
with a fresh bot and data directory: one member fires 8 heavy commands at once; while they are
worked on, 50 other members run /quota, one every `--spread / 50` seconds. Printed: the bystanders'
defer (fake's callback time minus the interaction's creation time) p50/p99/max, how the 8 heavy
commands ended and how long the last took, and the bot's peak RSS (VmHWM from /proc/<pid>/status,
read just before it is stopped: the bot alone).

Scenarios:

* huge     8 x /inpaint with 8192x8192 RGBA PNG image/mask pairs (~0.3 MB each), attached as Discord
           attaches them (with the width and height Discord measured);
* nosize   the same files, but the attachments carry no width/height: the bot must download them and
           read the size from the header;
* atcap    8 x /inpaint with 4096x4096 RGBA pairs (the pixel cap) and all-black masks: each pair is
           fully decoded and checked on the image pool, then refused as "entirely black". (A valid mask
           would send the job on to the fake Pixazo, which decodes the inputs on this process's event
           loop and so would distort the bystanders' timings; the bot's own work is the same.)
* result   8 x /sdxl whose result is a 6000x6000 PNG, posted with a 60 kB upload limit: each result
           is decoded, downscaled and re-encoded on the image pool.

Targets: bystanders' defer p99 <= 250 ms; bot peak RSS <= 400 MB.

Run from the repository root (about 30 s in all, most of it making the test images):

    python -m bench.inpaint_stall                      # every scenario
    python -m bench.inpaint_stall --scenario huge --scenario atcap
    python bench/inpaint_stall.py --workers 4
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import re
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if __package__ in (None, ""):  # `python bench/inpaint_stall.py`: make the repository root importable
    sys.path.insert(0, str(REPO))

from bench.generate_load import (  # noqa: E402
    FIRST_USER_ID,
    bot_subprocess,
    fakes,
    load_environment,
    percentile,
    raise_fake_backlog,
)
from tests.fakes.discord import FakeDiscord, FakeInteraction  # noqa: E402
from tests.fakes.images import encode, gradient, make_big_png  # noqa: E402

DEFER_P99_TARGET = 0.250
RSS_TARGET_MB = 400.0
HEAVY = 8
BYSTANDERS = 50
HEAVY_USER = FIRST_USER_ID - 1
# The smooth 6000² result is a ~0.12 MB PNG (a photo that size would pass Pixazo's 25 MiB cap only as a
# JPEG): a limit below it forces the full decode, downscale and re-encode.
RESULT_UPLOAD_LIMIT = 60_000
SCENARIOS = ("huge", "nosize", "atcap", "result")


@functools.cache
def png(side: int, kind: str) -> bytes:
    return make_big_png(side, side, "RGBA", kind)


@functools.cache
def huge_result() -> bytes:
    return encode(gradient(6000, 6000, (30, 90, 200)), "PNG")


def heavy_attachments(fake: FakeDiscord, scenario: str, index: int) -> dict[str, dict]:
    side, mask = (4096, "black") if scenario == "atcap" else (8192, "mask")
    files = {"image": (f"big{index}.png", png(side, "image")), "mask": (f"big{index}-mask.png", png(side, mask))}
    if scenario != "nosize":
        return {role: {"filename": name, "content_type": "image/png", "data": data}
                for role, (name, data) in files.items()}
    # Put on the CDN by hand: an attachment object without Discord's width and height.
    return {role: {"url": fake.cdn_put(name, data, "image/png"), "filename": name, "size": len(data),
                   "content_type": "image/png"} for role, (name, data) in files.items()}


async def heavy_command(fake: FakeDiscord, scenario: str, index: int) -> tuple[str, float]:
    """How it ended ("image", "link" or the refusal's first words) and when (seconds after creation)."""
    if scenario == "result":
        interaction = await fake.invoke("sdxl", {"prompt": f"heavy {index}"}, user_id=HEAVY_USER,
                                        attachment_size_limit=RESULT_UPLOAD_LIMIT)
    else:
        interaction = await fake.invoke("inpaint", {"prompt": f"heavy {index}"}, user_id=HEAVY_USER,
                                        attachments=heavy_attachments(fake, scenario, index))
    callback = await interaction.wait_callback(timeout=30)
    answer = callback["data"] if callback["type"] == 4 else await interaction.wait_followup(timeout=120)
    done = asyncio.get_running_loop().time() - interaction.created_at
    if answer.get("_files"):
        return "image attached", done
    if answer.get("embeds"):
        return "image linked", done
    text = re.sub(r" \([^)]*\)", "", answer.get("content") or "")  # drop file names, so refusals group
    return "refused: " + " ".join(text.split()[:10]) + "…", done


async def bystander(fake: FakeDiscord, index: int, delay: float) -> FakeInteraction:
    await asyncio.sleep(delay)
    interaction = await fake.invoke("quota", user_id=FIRST_USER_ID + index, username=f"bystander{index}")
    await interaction.wait_followup(timeout=120)
    return interaction


@dataclass
class Result:
    scenario: str
    defers: list[float]
    heavy: list[tuple[str, float]]
    peak_rss_mb: float


async def run(scenario: str, workers: int, spread: float) -> Result:
    async with fakes(latency=0.0) as (discord_fake, pixazo_fake):
        discord_fake.callback_deadline = None  # measure a defer past Discord's 3 s instead of dropping it
        if scenario == "result":
            pixazo_fake.result_override = (huge_result(), "png")
        with tempfile.TemporaryDirectory(prefix="bench-stall-") as tmp:
            env = load_environment(Path(tmp), discord_fake, pixazo_fake, image_workers=workers, log_level="WARNING")
            async with bot_subprocess(env, Path(tmp), discord_fake) as probe:
                heavy = [asyncio.ensure_future(heavy_command(discord_fake, scenario, i)) for i in range(HEAVY)]
                others = [bystander(discord_fake, i, spread * i / BYSTANDERS) for i in range(BYSTANDERS)]
                quotas = await asyncio.gather(*others)
                outcomes = await asyncio.gather(*heavy)
                rss = probe.peak_rss_mb()
    defers = [q.callback_at - q.created_at for q in quotas if q.callback_at is not None]
    return Result(scenario, defers, outcomes, rss)


def report(result: Result) -> bool:
    ms = 1000
    p50, p99 = percentile(result.defers, 50), percentile(result.defers, 99)
    ends: dict[str, int] = {}
    for how, _ in result.heavy:
        ends[how] = ends.get(how, 0) + 1
    defer_ok, rss_ok = p99 <= DEFER_P99_TARGET, result.peak_rss_mb <= RSS_TARGET_MB
    print(f"{result.scenario}: {len(result.defers)} bystanders' /quota defer p50 {p50 * ms:.1f} ms, "
          f"p99 {p99 * ms:.1f} ms (target <= {DEFER_P99_TARGET * ms:.0f} ms: {'PASS' if defer_ok else 'MISS'}), "
          f"max {max(result.defers) * ms:.1f} ms")
    print(f"  bot peak RSS {result.peak_rss_mb:.1f} MB (target <= {RSS_TARGET_MB:.0f} MB: "
          f"{'PASS' if rss_ok else 'MISS'}; child VmHWM)")
    print(f"  the {HEAVY} heavy commands: last answered {max(t for _, t in result.heavy):.2f} s after it was sent;")
    for how, count in sorted(ends.items()):
        print(f"    {count} x {how}")
    return defer_ok and rss_ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", action="append", choices=SCENARIOS,
                        help="run only these (repeatable; default: all)")
    parser.add_argument("--workers", type=int, default=2, help="IMAGE_WORKERS for the bot (default 2, its default)")
    parser.add_argument("--spread", type=float, default=2.0,
                        help="seconds over which the 50 bystanders ask, one after another (default 2)")
    args = parser.parse_args(argv)
    raise_fake_backlog(1024)
    started = time.monotonic()
    # Made before any run: encoding an 8192² PNG takes seconds, which would stall the fakes' event loop.
    for side, kind in ((8192, "image"), (8192, "mask"), (4096, "image"), (4096, "black")):
        png(side, kind)
    huge_result()
    print(f"inpaint_stall: test images made in {time.monotonic() - started:.1f} s "
          f"(8192² RGBA PNG {len(png(8192, 'image')) / 1e6:.2f} MB, mask {len(png(8192, 'mask')) / 1e6:.2f} MB)")
    all_ok = True
    for scenario in args.scenario or SCENARIOS:
        all_ok = report(asyncio.run(run(scenario, args.workers, args.spread))) and all_ok
    print(f"inpaint_stall: IMAGE_WORKERS={args.workers}, done in {time.monotonic() - started:.0f} s")
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
