"""A server's spend over the last 30 UTC days, summed from `Store.guild_usage` rows: what the
admins' usage view shows and what its chart draws. No Discord here, only numbers."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta

from bot.catalog import MODELS
from bot.domain import utc_day
from bot.domain.records import UsageRow
from bot.errors import UserFacingError
from bot.offload import Offload, OffloadTimeout
from bot.storage import Store

DAYS = 30  # the chart's days, today included; the view's longest total
WEEK = 7
TOP_MEMBERS = 10


@dataclass(frozen=True)
class Spend:
    credits: int = 0
    jobs: int = 0

    def __add__(self, other: Spend) -> Spend:
        return Spend(self.credits + other.credits, self.jobs + other.jobs)


@dataclass(frozen=True)
class UsageSummary:
    days: tuple[str, ...]  # the DAYS UTC days shown, oldest first, today last
    today: Spend
    week: Spend  # the last WEEK days, today included
    month: Spend  # all DAYS days
    by_model: tuple[tuple[str, Spend], ...]  # over all DAYS days, most credits first
    top_members: tuple[tuple[int, Spend], ...]  # the TOP_MEMBERS who spent most over all DAYS days
    daily: dict[str, tuple[int, ...]]  # model -> credits on each of `days`, models in catalog order

    @property
    def empty(self) -> bool:
        return self.month.credits == 0 and self.month.jobs == 0


def first_day(today: date) -> str:
    """The `since_day` to ask the store for."""
    return (today - timedelta(days=DAYS - 1)).isoformat()


class UsageTooSlow(UserFacingError):
    """Adding up the rows ran past IMAGE_WORK_TIMEOUT_SECONDS (a very busy server, a loaded machine)."""

    log_level = "WARNING"


async def server_usage(store: Store, guild_id: int, *, offload: Offload, timeout: float) -> UsageSummary:
    """The server's last DAYS UTC days by the store's clock, in one query. A busy server has a row
    per member, model and day, so adding them up runs on the offload pool, not the event loop."""
    today = date.fromisoformat(utc_day(store.now()))
    rows = await store.guild_usage(guild_id, first_day(today))
    try:
        return await offload.run(summarize, rows, today, timeout=timeout)
    except OffloadTimeout as exc:
        raise UsageTooSlow("Adding up this server's usage took too long; try again in a minute.",
                           detail=f"server usage of guild {guild_id}, {len(rows)} rows: {exc}") from None


def summarize(rows: list[UsageRow], today: date) -> UsageSummary:
    days = tuple((today - timedelta(days=back)).isoformat() for back in range(DAYS - 1, -1, -1))
    index = {day: i for i, day in enumerate(days)}
    week_start = days[-WEEK]
    total_today = total_week = total_month = Spend()
    by_model: dict[str, Spend] = defaultdict(Spend)
    by_member: dict[int, Spend] = defaultdict(Spend)
    daily: dict[str, list[int]] = {}
    for row in rows:
        if row["day"] not in index:  # the store was asked for these days only; a clock step is no reason to fail
            continue
        spend = Spend(row["credits"], row["jobs"])
        total_month += spend
        if row["day"] >= week_start:
            total_week += spend
        if row["day"] == days[-1]:
            total_today += spend
        by_model[row["model"]] += spend
        by_member[row["user_id"]] += spend
        daily.setdefault(row["model"], [0] * DAYS)[index[row["day"]]] += row["credits"]
    # Ties broken by catalog order, then key (models the catalog no longer has), then member id: the
    # same data always reads the same.
    models = sorted(by_model.items(), key=lambda item: (-item[1].credits, _catalog_rank(item[0]), item[0]))
    members = sorted(by_member.items(), key=lambda item: (-item[1].credits, -item[1].jobs, item[0]))
    ordered_daily = {model: tuple(daily[model]) for model in sorted(daily, key=lambda m: (_catalog_rank(m), m))}
    return UsageSummary(days, total_today, total_week, total_month, tuple(models), tuple(members[:TOP_MEMBERS]),
                        ordered_daily)


def _catalog_rank(model: str) -> int:
    keys = list(MODELS)
    return keys.index(model) if model in MODELS else len(keys)
