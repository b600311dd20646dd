"""Quota policy in words: turning the ledger's refusals and numbers into what a member reads."""

from __future__ import annotations

from dataclasses import dataclass, replace

from bot.catalog import MODELS
from bot.core.errors import QuotaError
from bot.core.i18n import Text, _, _n
from bot.core.offload import Offload
from bot.core.settings import Settings
from bot.core.text import credits, relative_time
from bot.domain.records import JobRecord
from bot.services.usage_view import UsageSummary, server_usage
from bot.storage import Member, QuotaSnapshot, Refused
from bot.storage.roles import Allowances

PERSONAL_SOURCE = "personal"
PERSONAL_OFF = _("This bot makes images only in servers that have added it: it offers no personal credits for DMs "
                 "or servers without it. No credits were taken.")


@dataclass(frozen=True)
class QuotaView:
    snapshot: QuotaSnapshot
    costs: dict[str, int]
    max_jobs: int

# Where an allowance comes from (QuotaSnapshot.source), as /quota and /quotas usage name it.
SOURCES = {"bot default": _("bot default"), "server default": _("server default"), "role": _("role"),
           "member": _("member"), "personal": _("personal")}


class Quotas:
    def __init__(self, settings: Settings, store: Allowances) -> None:
        self._settings = settings
        self._store = store

    def cost_of(self, model_key: str) -> int:
        return self._settings.cost_of(model_key)

    @property
    def personal_on(self) -> bool:
        return self._settings.personal_daily_credits > 0

    def check_open(self, member: Member) -> None:
        """Refuse, before anything is spent, personal use where the bot offers no personal credits."""
        if member.personal and not self.personal_on:
            raise QuotaError(PERSONAL_OFF, detail=f"user {member.user_id}: PERSONAL_DAILY_CREDITS is 0")

    async def view(self, member: Member) -> QuotaView:
        snap = await self._store.snapshot(member, default_allowance=self._settings.default_allowance(member))
        if member.personal:
            snap = replace(snap, source=PERSONAL_SOURCE)
        costs = {key: self.cost_of(key) for key in MODELS}
        return QuotaView(snap, costs, self._settings.quota_max_jobs_per_user)

    async def precheck(self, member: Member, model_key: str, *, pending: int = 0) -> None:
        """Raise now, from a read-only snapshot, the refusal a reservation would give.

        For work that costs the bot before the reservation (downloading and decoding /inpaint files):
        a member who could not pay anyway costs nothing. `pending` counts the member's other commands
        still being checked, not yet in the ledger, as jobs at once. The reservation re-checks atomically.
        """
        snap = await self._store.snapshot(member, default_allowance=self._settings.default_allowance(member))
        snap = replace(snap, in_flight=snap.in_flight + pending)
        reason = refused_reason(snap, self.cost_of(model_key), max_jobs=self._settings.quota_max_jobs_per_user,
                                global_cap=self._settings.quota_global_daily_credits)
        if reason is not None:
            raise self.refusal(Refused(reason, snap), model_key)

    # -- what a server's admins set (/quotas) ---------------------------------------------------------

    async def set_allowance(self, guild_id: int, scope: str, target_id: int, credits_per_day: int | None, *,
                            actor_id: int) -> None:
        await self._store.set_allowance(guild_id, scope, target_id, credits_per_day, actor_id=actor_id)

    async def grant(self, guild_id: int, user_id: int, extra: int, *, actor_id: int) -> None:
        await self._store.grant(guild_id, user_id, extra, actor_id=actor_id)

    async def reset(self, guild_id: int, user_id: int, *, actor_id: int) -> None:
        await self._store.reset_usage(guild_id, user_id, actor_id=actor_id)

    async def set_budget(self, guild_id: int, credits_per_day: int | None, *, actor_id: int) -> None:
        await self._store.set_budget(guild_id, credits_per_day, actor_id=actor_id)

    async def usage_of(self, member: Member, *, actor_id: int) -> tuple[QuotaView, list[JobRecord]]:
        """A member's credits and recent jobs, as an admin looked at them (recorded)."""
        view = await self.view(member)
        jobs = await self._store.recent_jobs(member.guild_id, member.user_id)
        await self._store.record_view(member.guild_id, actor_id, member.user_id)
        return view, jobs

    async def server_usage(self, guild_id: int, *, offload: Offload, timeout: float) -> UsageSummary:
        return await server_usage(self._store, guild_id, offload=offload, timeout=timeout)

    async def looked_at_server(self, guild_id: int, *, actor_id: int) -> None:
        await self._store.record_view(guild_id, actor_id, None)

    def refusal(self, refused: Refused, model_key: str, *, count: int = 1) -> QuotaError:
        """The member's sentence; `count` > 1: a batch, refused as one (its whole cost)."""
        snap = refused.snapshot
        cost = self.cost_of(model_key) * count
        renews = relative_time(snap.renews_at)
        if refused.reason == Refused.BUDGET:
            message = budget_refusal(snap, model_key, cost, count)
        elif refused.reason == Refused.JOBS:
            message = _("You already have {running} image(s) being made; the limit is {limit} at a time. "
                        "Try again when one is done.", running=snap.in_flight,
                        limit=self._settings.quota_max_jobs_per_user)
        elif refused.reason == Refused.QUEUE:
            message = _("The queue is full ({waiting} images waiting); no credits were taken. Please try again in a "
                        "few minutes.", waiting=self._settings.queue_max_length)
        elif refused.reason == Refused.GLOBAL:
            message = _("The bot has spent its whole daily budget across all servers. It renews {renews}. "
                        "No credits were taken from you.", renews=renews)
        else:
            message = (_("/{command} needs {cost} and you have {left} left today. Your credits renew {renews}.",
                         command=model_key, cost=credits(cost), left=snap.left, renews=renews) if count == 1 else
                       _n("{n} image on /{command} needs {cost} and you have {left} left today. Your credits renew "
                          "{renews}.", "{n} images on /{command} need {cost} and you have {left} left today. Your "
                          "credits renew {renews}.", count, command=model_key, cost=credits(cost), left=snap.left,
                          renews=renews))
        return QuotaError(message, detail=f"refused {refused.reason}: cost {cost}, {snap}")


def refused_reason(snap: QuotaSnapshot, cost: int, *, max_jobs: int, global_cap: int | None) -> str | None:
    """Why a reservation of `cost` would be refused, in the order `Store.reserve` checks; None if it fits."""
    if snap.guild_budget is not None and snap.guild_used + cost > snap.guild_budget:
        return Refused.BUDGET
    if snap.in_flight >= max_jobs:
        return Refused.JOBS
    if cost > snap.left:
        return Refused.CREDITS
    if global_cap is not None and snap.global_used + cost > global_cap:
        return Refused.GLOBAL
    return None


def budget_refusal(snap: QuotaSnapshot, model_key: str, cost: int, count: int = 1) -> Text:
    """The server's ceiling (/quotas budget) would be passed: say how much of it is left, if any."""
    budget = snap.guild_budget or 0
    left = max(0, budget - snap.guild_used)
    renews = relative_time(snap.renews_at)
    if left == 0:
        return _("This server has used its daily budget of {budget}; it renews {renews}. "
                 "No credits were taken from you.", budget=credits(budget), renews=renews)
    if count > 1:
        return _n("{n} image on /{command} needs {cost} and this server has {left} left of its daily budget of "
                  "{budget}; it renews {renews}. No credits were taken from you.",
                  "{n} images on /{command} need {cost} and this server has {left} left of its daily budget of "
                  "{budget}; it renews {renews}. No credits were taken from you.", count, command=model_key,
                  cost=credits(cost), left=left, budget=credits(budget), renews=renews)
    return _("/{command} needs {cost} and this server has {left} left of its daily budget of {budget}; it renews "
             "{renews}. No credits were taken from you.", command=model_key, cost=credits(cost), left=left,
             budget=credits(budget), renews=renews)
