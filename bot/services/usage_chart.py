"""The usage view's chart: credits per UTC day for the last DAYS (30) days, stacked by model, as a PNG.

Pillow only, no display and no font files of the system: Pillow's own scalable font (10.1+) draws
the labels, so the same image comes out in the Docker image and on a developer's machine. Blocking
work: callers run `render_chart` through `bot.core.offload`.
"""

from __future__ import annotations

from PIL import Image, ImageDraw, ImageFont

from bot.catalog import MODELS
from bot.core.imaging import encoded
from bot.services.usage_view import DAYS, UsageSummary

CHART_SIZE = (1000, 500)  # 2:1: 30 bars of ~21 px with gaps, labels still legible when Discord scales it down
FILENAME = "usage.png"
# The plot area (left, top, right, bottom); below it the day labels, then the legend.
PLOT = (64, 44, CHART_SIZE[0] - 24, CHART_SIZE[1] - 112)
BAR_FILL = 0.7  # of each day's slot; the rest is the gap between bars

BACKGROUND = (255, 255, 255)
INK = (40, 40, 48)
GRID = (225, 225, 232)
# Distinct on white and for the common colour-vision deficiencies (Tableau 10); a model's colour is
# fixed by its place in the catalog, so it keeps its colour from one day's chart to the next.
PALETTE = ((78, 121, 167), (242, 142, 43), (225, 87, 89), (118, 183, 178), (89, 161, 79),
           (237, 201, 72), (176, 122, 161), (255, 157, 167), (156, 117, 95), (186, 176, 172))
EMPTY_TEXT = f"No credits spent in the last {DAYS} days"


def colour_of(model: str) -> tuple[int, int, int]:
    """Catalog models take the palette in catalog order; a model the catalog no longer has (older
    rows) takes one of the colours after them, never a catalog model's."""
    keys = list(MODELS)
    if model in MODELS:
        return PALETTE[keys.index(model) % len(PALETTE)]
    spare = max(1, len(PALETTE) - len(keys))
    return PALETTE[(len(keys) + sum(model.encode()) % spare) % len(PALETTE)]


def title_of(model: str) -> str:
    found = MODELS.get(model)
    return found.title if found else model


def bar_x(index: int, days: int = DAYS) -> int:
    """The x of the middle of day `index`'s bar (0 the oldest day)."""
    left, _, right, _ = PLOT
    slot = (right - left) / days
    return round(left + slot * (index + 0.5))


def render_chart(summary: UsageSummary) -> bytes:
    image = Image.new("RGB", CHART_SIZE, BACKGROUND)
    draw = ImageDraw.Draw(image)
    small, normal = ImageFont.load_default(size=12), ImageFont.load_default(size=15)
    left, top, right, bottom = PLOT
    draw.text((left, 12), f"Credits per day, last {DAYS} days (UTC)", font=normal, fill=INK)
    totals = [sum(series[i] for series in summary.daily.values()) for i in range(len(summary.days))]
    ceiling, step = _scale(max(totals, default=0))
    for tick in range(0, ceiling + 1, step):
        y = bottom - (bottom - top) * tick / ceiling
        draw.line((left, y, right, y), fill=GRID)
        draw.text((left - 8, y), str(tick), font=small, fill=INK, anchor="rm")
    slot = (right - left) / len(summary.days)
    half = slot * BAR_FILL / 2
    for i, day in enumerate(summary.days):
        x = bar_x(i, len(summary.days))
        base = float(bottom)
        for model, series in summary.daily.items():
            if series[i]:
                height = (bottom - top) * series[i] / ceiling
                draw.rectangle((x - half, base - height, x + half, base), fill=colour_of(model))
                base -= height
        # Every fifth day counted back from today, so today is always labelled.
        if (len(summary.days) - 1 - i) % 5 == 0:
            draw.text((x, bottom + 8), day[5:], font=small, fill=INK, anchor="mt")
    draw.line((left, top, left, bottom), fill=INK)
    draw.line((left, bottom, right, bottom), fill=INK)
    if summary.empty:
        draw.text(((left + right) / 2, (top + bottom) / 2), EMPTY_TEXT, font=normal, fill=INK, anchor="mm")
    _legend(draw, list(summary.daily), small)
    return encoded(image, "PNG", optimize=True)


def _scale(highest: int) -> tuple[int, int]:
    """A round top for the y axis at or above `highest`, and a step (1, 2, 5, 10, 20, ...) giving at
    most 5 gridlines above zero."""
    magnitude = 1
    while True:
        for step in (magnitude, 2 * magnitude, 5 * magnitude):
            if step * 5 >= highest:
                return max(step, -(-highest // step) * step), step
        magnitude *= 10


def _legend(draw: ImageDraw.ImageDraw, models: list[str], font: ImageFont.FreeTypeFont | ImageFont.ImageFont) -> None:
    x: float = PLOT[0]
    y = PLOT[3] + 36
    for model in models:
        text = title_of(model)
        width = draw.textlength(text, font=font) + 40
        if x + width > CHART_SIZE[0] - 24:  # next row
            x, y = PLOT[0], y + 22
        draw.rectangle((x, y, x + 14, y + 14), fill=colour_of(model))
        draw.text((x + 20, y + 7), text, font=font, fill=INK, anchor="lm")
        x += width
