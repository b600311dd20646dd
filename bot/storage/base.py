"""What both backends share: the failures at open, and the rules every backend applies alike.

Credits are never a stored balance on either backend: every credit spent is a `jobs` row, and the
daily totals a reservation reads are kept in the same transaction as those rows, so `audit()` can
recompute every total from the rows.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any, TypeVar

from bot.domain import JobState, QuotaSnapshot, Refused
from bot.domain.jobs import sources_of
from bot.domain.rules import RuleKind
from bot.storage.roles import Store

INTERRUPTED = "interrupted"  # the error recorded on a job a shutdown or crash left open
MAX_ATTEMPTS = 2  # a job whose Pixazo call a crash cut short runs once more, then fails
EXPIRED = "waited longer than QUEUE_MAX_WAIT_SECONDS"


_log = logging.getLogger("bot.storage")
S = TypeVar("S", bound="Store")

# Kinds whose value is a Discord id: their admin action names it as its target, like an allowance's.
_ID_KINDS = frozenset({RuleKind.CHANNEL, RuleKind.ROLE, RuleKind.BLOCKED})


def config_action(kind: RuleKind, verb: str, value: str | None, detail: dict[str, Any]) -> tuple[str, int | None, str]:
    """The admin action a configuration change records on every backend: (action, target_id, detail JSON)."""
    target = int(value) if kind in _ID_KINDS and value is not None and value.isdigit() else None
    return f"config.{kind.value}.{verb}", target, json.dumps(detail)


def settled_as(job_id: int, target: JobState, found: str | None) -> JobState | None:
    """What a settle returns on every backend: the state the job is in after the guarded UPDATE.

    A job that was not where the state machine allows `target` from is left as it was and logged,
    except for RUNNING, only a progress mark that a job already settled is meant to skip."""
    if found != target.value and target is not JobState.RUNNING:
        _log.warning("job %d was %s, not %s; left as it was instead of marking it %s", job_id, found,
                     "/".join(s.value for s in sources_of(target)), target.value)
    return None if found is None else JobState(found)


async def recovered(store: S, delivered: Mapping[int, str | None] | None, *, recover: bool) -> S:
    """A just-opened store, with what the last run left open settled (see `recover_interrupted`);
    closed again if that fails, so a failed start leaves no connection behind."""
    try:
        released = await store.recover_interrupted(delivered or {}) if recover else []
    except BaseException:
        await store.close()
        raise
    if released:
        _log.warning("released %d job(s) interrupted by the last shutdown; their credits are refunded", len(released))
    store.interrupted = released
    store.outage.arm()
    return store


def check_fits(snap: QuotaSnapshot, cost: int, max_jobs: int, global_cap: int | None) -> None:
    """The reservation rules, in the order members are told about them (the server's before the member's)."""
    if snap.guild_budget is not None and snap.guild_used + cost > snap.guild_budget:
        raise Refused(Refused.BUDGET, snap)
    if snap.in_flight >= max_jobs:
        raise Refused(Refused.JOBS, snap)
    if cost > snap.left:
        raise Refused(Refused.CREDITS, snap)
    if global_cap is not None and snap.global_used + cost > global_cap:
        raise Refused(Refused.GLOBAL, snap)
