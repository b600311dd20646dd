"""A server's spend over the last 30 UTC days, summed from `Store.guild_usage` rows: what the
admins' usage view shows and what its chart draws. No Discord here, only numbers."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta

from bot.catalog import MODELS
from bot.core.errors import UserFacingError
from bot.core.i18n import _
from bot.core.offload import Offload, OffloadTimeout
from bot.domain import utc_day
from bot.domain.records import UsageRow
from bot.storage.roles import Allowances

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


async def server_usage(store: Allowances, guild_id: int, *, offload: Offload, timeout: float) -> UsageSummary:
    """The server's last DAYS UTC days by the store's clock, in one query. A busy server has a row
    per member, model and day, so adding them up runs on the offload pool, not the event loop."""
    today = date.fromisoformat(utc_day(store.now()))
    rows = await store.guild_usage(guild_id, first_day(today))
    try:
        return await offload.run(summarize, rows, today, timeout=timeout)
    except OffloadTimeout as exc:
        raise UsageTooSlow(_("Adding up this server's usage took too long; try again in a minute."),
                           detail=f"server usage of guild {guild_id}, {len(rows)} rows: {exc}") from None


def summarize(rows: list[UsageRow], today: date) -> UsageSummary:
    days = tuple((today - timedelta(days=back)).isoformat() for back in range(DAYS - 1, -1, -1))
    index = {day: i for i, day in enumerate(days)}
    # Plain ints while adding: a busy server has a row per member, model and day (1000 members, 5
    # models, 30 days: 150k rows, about 40 ms; with a Spend per row it was 20 times that).
    daily: dict[str, list[int]] = {}  # model -> credits per day
    daily_jobs: dict[str, list[int]] = {}
    by_member: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for row in rows:
        i = index.get(row["day"])
        if i is None:  # the store was asked for these days only; a clock step is no reason to fail
            continue
        model = row["model"]
        if model not in daily:
            daily[model], daily_jobs[model] = [0] * DAYS, [0] * DAYS
        daily[model][i] += row["credits"]
        daily_jobs[model][i] += row["jobs"]
        member = by_member[row["user_id"]]
        member[0] += row["credits"]
        member[1] += row["jobs"]

    def over(first: int) -> Spend:
        return Spend(sum(sum(c[first:]) for c in daily.values()), sum(sum(j[first:]) for j in daily_jobs.values()))

    # Ties broken by catalog order, then key (models the catalog no longer has), then member id: the
    # same data always reads the same.
    by_model = {model: Spend(sum(daily[model]), sum(daily_jobs[model])) for model in daily}
    models = sorted(by_model.items(), key=lambda item: (-item[1].credits, _catalog_rank(item[0]), item[0]))
    members = sorted(((user, Spend(c, j)) for user, (c, j) in by_member.items()),
                     key=lambda item: (-item[1].credits, -item[1].jobs, item[0]))
    ordered_daily = {model: tuple(daily[model]) for model in sorted(daily, key=lambda m: (_catalog_rank(m), m))}
    return UsageSummary(days, over(DAYS - 1), over(DAYS - WEEK), over(0), tuple(models),
                        tuple(members[:TOP_MEMBERS]), ordered_daily)


def _catalog_rank(model: str) -> int:
    keys = list(MODELS)
    return keys.index(model) if model in MODELS else len(keys)
