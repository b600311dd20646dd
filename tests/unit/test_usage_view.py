"""The usage view's numbers and chart without Discord: windows, ordering, and work that runs late."""

from __future__ import annotations

import asyncio
import io
import threading
from datetime import date, timedelta

import pytest
from PIL import Image

from bot.catalog import MODELS
from bot.core.offload import Offload
from bot.domain.records import UsageRow
from bot.services.usage_chart import CHART_SIZE, colour_of, render_chart
from bot.services.usage_view import DAYS, Spend, UsageTooSlow, server_usage, summarize
from bot.ui.usage import NO_CHART, server_usage_message

TODAY = date(2026, 11, 23)


def row(back: int, model: str = "sdxl", user: int = 1, credits: int = 2, jobs: int = 1) -> UsageRow:
    return {"day": (TODAY - timedelta(days=back)).isoformat(), "model": model, "user_id": user, "credits": credits,
            "jobs": jobs}


def test_today_the_week_and_the_month_are_utc_days_counted_back_from_today():
    summary = summarize([row(DAYS), row(29), row(7), row(6), row(0, credits=5, jobs=2)], TODAY)
    assert summary.days[0] == "2026-10-25" and summary.days[-1] == "2026-11-23" and len(summary.days) == DAYS
    assert summary.today == Spend(5, 2)
    assert summary.week == Spend(7, 3), "today and the 6 days before it"
    assert summary.month == Spend(11, 5), "the 31st day back is not shown"
    assert summary.daily["sdxl"][0] == 2 and summary.daily["sdxl"][-1] == 5


def test_models_by_credits_and_the_top_ten_members():
    rows = [row(0, "sd3", user=u, credits=u) for u in range(1, 13)] + [row(1, "sdxl", user=99, credits=100)]
    summary = summarize(rows, TODAY)
    assert [m for m, _ in summary.by_model] == ["sdxl", "sd3"]
    assert [u for u, _ in summary.top_members] == [99, 12, 11, 10, 9, 8, 7, 6, 5, 4]
    assert list(summary.daily) == ["sd3", "sdxl"], "stacked in catalog order, whatever the spend"


def test_every_model_keeps_a_colour_of_its_own():
    colours = [colour_of(key) for key in MODELS]
    assert len(set(colours)) == len(colours)
    assert colour_of("retired-model") not in colours


def test_the_chart_is_a_png_of_the_stated_size_empty_or_full():
    for rows in ([], [row(back, model, credits=back + 1) for back in range(DAYS) for model in [*MODELS, "old"]]):
        image = Image.open(io.BytesIO(render_chart(summarize(rows, TODAY))))
        assert (image.format, image.size) == ("PNG", CHART_SIZE)


@pytest.fixture
async def busy_offload():
    """The real pool with its one worker held: whatever comes next waits past its deadline."""
    offload, release = Offload(1), threading.Event()
    holder = asyncio.ensure_future(offload.run(release.wait, timeout=10))
    await asyncio.sleep(0.05)
    yield offload
    release.set()
    await holder
    offload.close()


async def test_numbers_that_take_too_long_to_add_up_are_one_sentence(backend, busy_offload):
    store = await backend.open()
    try:
        with pytest.raises(UsageTooSlow) as refused:
            await server_usage(store, 10, offload=busy_offload, timeout=0.05)
    finally:
        await store.close()
    assert refused.value.user_message == "Adding up this server's usage took too long; try again in a minute."
    assert "guild 10" in refused.value.detail


async def test_a_chart_that_takes_too_long_leaves_the_numbers(busy_offload):
    embed, chart = await server_usage_message(summarize([row(0)], TODAY), guild_name="Test", offload=busy_offload,
                                              timeout=0.05)
    assert chart is None and embed.image.url is None
    assert embed.footer.text is not None and embed.footer.text.endswith(NO_CHART)
    assert {f.name: f.value for f in embed.fields}["Today"] == "2 credits · 1 job"
