"""Small wording helpers shared by services and embeds."""

from __future__ import annotations

from datetime import datetime


def credits(n: int) -> str:
    return f"{n} credit" if n == 1 else f"{n} credits"


def relative_time(when: datetime) -> str:
    """Discord renders this markup as "in 5 hours" in the reader's own locale and time zone."""
    return f"<t:{int(when.timestamp())}:R>"


def truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
