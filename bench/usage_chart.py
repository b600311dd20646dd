"""What drawing the usage view's chart costs: bot.services.usage_chart.render_chart, empty and full.

    python bench/usage_chart.py

Prints the median time of adding the rows up and of drawing, and the PNG's size, over 20 runs on
one core. "Full" is every day of the 30 with every catalog model and one the catalog no longer has,
for 20 members; "busy" the same for 1000 members (the store's rows are per day, model and member).
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path

# In place of bench/ itself: bench/queue.py would shadow the standard library's queue.
sys.path[0] = str(Path(__file__).resolve().parent.parent)

from bot.catalog import MODELS  # noqa: E402
from bot.domain.records import UsageRow  # noqa: E402
from bot.services.usage_chart import render_chart  # noqa: E402
from bot.services.usage_view import DAYS, summarize  # noqa: E402

TODAY = date(2026, 11, 23)


def full_rows(members: int) -> list[UsageRow]:
    rng = random.Random(1)
    rows: list[UsageRow] = []
    for back in range(DAYS):
        day = (TODAY - timedelta(days=back)).isoformat()
        for model in [*MODELS, "retired-model"]:
            for user in range(members):
                rows.append({"day": day, "model": model, "user_id": user, "credits": rng.randrange(1, 9), "jobs": 1})
    return rows


def main() -> None:
    for label, rows in (("empty", []), ("full", full_rows(20)), ("busy", full_rows(1000))):
        summary_times, render_times = [], []
        for _ in range(20):
            start = time.perf_counter()
            summary = summarize(rows, TODAY)
            middle = time.perf_counter()
            png = render_chart(summary)
            summary_times.append(middle - start)
            render_times.append(time.perf_counter() - middle)
        print(f"{label:5} rows={len(rows):6} summarize={statistics.median(summary_times) * 1000:6.2f} ms"
              f" render={statistics.median(render_times) * 1000:6.1f} ms png={len(png)} bytes")


if __name__ == "__main__":
    main()
