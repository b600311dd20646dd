"""What the settle journal costs each delivered job: one line written in its reserved space and synced,
then zeros over what was written.

Every delivered job writes its line beside its first `succeed` try and, once that lands, empties the
file if nothing else is pending. This prints the mean and p99 wall time of that pair per job, one job
at a time and with N jobs settling at once, on a temp directory (the disk DATA_DIR would be on may differ).

Run from the repository root:

    python -m bench.settle_journal               # 500 jobs, 20 at once
    python -m bench.settle_journal --jobs 2000 --concurrent 50
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from bot.core.offload import Offload
from bot.storage.settle_journal import SettleJournal


async def one_job(journal: SettleJournal, job_id: int, took: list[float]) -> None:
    start = time.perf_counter()
    await journal.delivered(job_id, f"https://example.invalid/{job_id}.png")
    await journal.settled(job_id)
    took.append(time.perf_counter() - start)


async def scenario(directory: Path, jobs: int, concurrent: int) -> list[float]:
    offload = Offload(1, name="bench-journal")
    journal = SettleJournal(directory / f"journal-{concurrent}.jsonl", offload)
    await journal.reserve()  # at start, as the bot does; not part of any job's cost
    took: list[float] = []
    slots = asyncio.Semaphore(concurrent)

    async def limited(job_id: int) -> None:
        async with slots:
            await one_job(journal, job_id, took)

    try:
        await asyncio.gather(*(limited(i) for i in range(jobs)))
    finally:
        journal.close()
        offload.close()
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=500)
    parser.add_argument("--concurrent", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for concurrent in (1, args.concurrent):
            took = sorted(asyncio.run(scenario(Path(tmp), args.jobs, concurrent)))
            mean = sum(took) / len(took)
            p99 = took[min(len(took) - 1, int(len(took) * 0.99))]
            print(f"{args.jobs} jobs, {concurrent:>3} at once: journal mean {mean * 1000:.2f} ms, "
                  f"p99 {p99 * 1000:.2f} ms per delivered job")


if __name__ == "__main__":
    main()
