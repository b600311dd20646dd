"""What both backends share: the failures at open, and the rules every backend applies alike.

Credits are never a stored balance on either backend: every credit spent is a `jobs` row, and the
daily totals a reservation reads are kept in the same transaction as those rows, so `audit()` can
recompute every total from the rows.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any, TypeVar

from bot.domain import OPEN_STATES, JobState, QuotaSnapshot, Refused, next_renewal
from bot.domain.audit import AuditEntry
from bot.domain.jobs import REFUNDED_STATES, sources_of
from bot.domain.rules import RuleKind
from bot.storage.roles import Store

INTERRUPTED = "interrupted"  # the error recorded on a job a shutdown or crash left open
MAX_ATTEMPTS = 2  # a job whose Pixazo call a crash cut short runs once more, then fails
EXPIRED = "waited longer than QUEUE_MAX_WAIT_SECONDS"

OPEN = [state.value for state in OPEN_STATES]
REFUNDED_SQL = ", ".join(f"'{state.value}'" for state in REFUNDED_STATES)  # a literal list for `NOT IN (...)`
QUEUED = JobState.QUEUED.value
RUNNING = JobState.RUNNING.value
# A running job whose result is out for review (Pixazo answered, and its held result has a review: its post
# is on its way to the review channel, or there, perhaps decided on before the job's success is recorded):
# a Cancel no longer applies. A claim clears answered_at, so a review left unposted by an earlier run does not
# hold a Cancel back while the call runs again. (A running job has no other review: reports are of posted
# results.)
OUT_FOR_REVIEW = (f"(state = '{RUNNING}' AND answered_at IS NOT NULL"
                  " AND EXISTS (SELECT 1 FROM reviews WHERE reviews.job_id = jobs.id))")
# What the mark before posting reads back of the job (JobQueue.delivering): a Cancel, a takeover, the mark.
DELIVERING_COLUMNS = "id, state, lease_owner, answered_at"
# What forgetting clears; params is NOT NULL (the body sent to Pixazo), so it becomes an empty object.
# A batch message's hold (Batches.hold_batch): taken when free or passed, renewed by its own holder. Numbered
# parameters, as both backends read them ($n on PostgreSQL, ?n on SQLite).
HOLD_SQL = ("INSERT INTO batch_holds (batch_id, holder, until) VALUES ($1, $2, $3) ON CONFLICT (batch_id) DO UPDATE"
            " SET holder = excluded.holder, until = excluded.until WHERE batch_holds.until < $4"
            " OR batch_holds.holder = $2")
FORGET_SETS = "params = '{}', inputs = NULL, result_url = NULL, delivery = NULL, interaction_token = NULL"
AUDIT_COLUMNS = "id, guild_id, actor_id, action, target_id, detail, at"
RECENT_COLUMNS = "id, model, cost, state, created_at, finished_at, error, result_url"

# audit(): every member and server total the triggers keep, against the sum of the rows, in SQL both
# backends speak; `AUDIT_SQL + ...` adds a backend's own totals (SQLite's whole-day one).
AUDIT_SQL = f"""
WITH ledger AS (
  SELECT guild_id, user_id, day, SUM(CASE WHEN state NOT IN ({REFUNDED_SQL}) THEN cost ELSE 0 END) AS credits
  FROM jobs GROUP BY guild_id, user_id, day
), ledger_guild AS (
  SELECT guild_id, day, SUM(credits) AS credits FROM ledger GROUP BY guild_id, day
)
SELECT 'member', l.guild_id || '/' || l.user_id || '/' || l.day, COALESCE(u.credits, 0), l.credits
  FROM ledger AS l LEFT JOIN usage AS u USING (guild_id, user_id, day)
  WHERE COALESCE(u.credits, 0) != l.credits
UNION ALL
SELECT 'member', u.guild_id || '/' || u.user_id || '/' || u.day, u.credits, 0
  FROM usage AS u LEFT JOIN ledger AS l USING (guild_id, user_id, day)
  WHERE l.credits IS NULL AND u.credits != 0
UNION ALL
SELECT 'server', l.guild_id || '/' || l.day, COALESCE(s.credits, 0), l.credits
  FROM ledger_guild AS l LEFT JOIN usage_guild AS s USING (guild_id, day)
  WHERE COALESCE(s.credits, 0) != l.credits
UNION ALL
SELECT 'server', s.guild_id || '/' || s.day, s.credits, 0
  FROM usage_guild AS s LEFT JOIN ledger_guild AS l USING (guild_id, day)
  WHERE l.credits IS NULL AND s.credits != 0
"""


_log = logging.getLogger("bot.storage")
S = TypeVar("S", bound="Store")

# Kinds whose value is a Discord id: their admin action names it as its target, like an allowance's.
_ID_KINDS = frozenset({RuleKind.CHANNEL, RuleKind.ROLE, RuleKind.BLOCKED})


def config_action(kind: RuleKind, verb: str, value: str | None, detail: dict[str, Any]) -> tuple[str, int | None, str]:
    """The admin action a configuration change records on every backend: (action, target_id, detail JSON)."""
    target = int(value) if kind in _ID_KINDS and value is not None and value.isdigit() else None
    return f"config.{kind.value}.{verb}", target, json.dumps(detail)


def quota(by_member: int | None, by_role: int | None, by_guild: int | None, granted: int, used: int,
          in_flight: int, global_used: int, guild_used: int, guild_budget: int | None, *, now: float,
          default_allowance: int) -> QuotaSnapshot:
    """A member's quota from what the snapshot query read: the first allowance set, member before role
    before the server's default before the bot's."""
    allowance, source = next(
        (value, name)
        for value, name in ((by_member, "member"), (by_role, "role"), (by_guild, "server default"),
                            (default_allowance, "bot default"))
        if value is not None
    )
    return QuotaSnapshot(allowance, source, granted, used, in_flight, global_used, next_renewal(now), guild_used,
                         guild_budget)


def check_fits(snap: QuotaSnapshot, cost: int, max_jobs: int, global_cap: int | None) -> None:
    """The reservation rules, in the order members are told about them (the server's before the member's).
    PostgreSQL applies the same rules inside reserve_job (migration 0004), in the same order."""
    if snap.guild_budget is not None and snap.guild_used + cost > snap.guild_budget:
        raise Refused(Refused.BUDGET, snap)
    if snap.in_flight >= max_jobs:
        raise Refused(Refused.JOBS, snap)
    if cost > snap.left:
        raise Refused(Refused.CREDITS, snap)
    if global_cap is not None and snap.global_used + cost > global_cap:
        raise Refused(Refused.GLOBAL, snap)


def spent(snap: QuotaSnapshot, cost: int) -> QuotaSnapshot:
    """The snapshot a reservation hands back: as read, plus the job it just reserved."""
    return replace(snap, used=snap.used + cost, in_flight=snap.in_flight + 1, global_used=snap.global_used + cost,
                   guild_used=snap.guild_used + cost)


def median(times: Iterable[float | None]) -> float | None:
    ordered = sorted(t for t in times if t is not None)
    return ordered[len(ordered) // 2] if ordered else None


def audit_lines(rows: Iterable[Any]) -> list[str]:
    """`audit()`'s answer from (kind, key, kept, actual) rows: one line a total that disagrees."""
    return [f"{kind} {key}: kept {kept}, ledger {actual}" for kind, key, kept, actual in rows]


def audit_values(audit: AuditEntry | None) -> tuple[int | None, str | None, int | None, str | None]:
    """A delivered settle's audit row as its statement takes it: actor, action, target, the detail's JSON
    (all None: no row)."""
    if audit is None:
        return None, None, None, None
    return audit.actor_id, audit.action, audit.target_id, json.dumps(audit.detail)


def delivered_log(succeeded: int) -> None:
    if succeeded:
        _log.warning("recorded %d job(s) delivered before the last shutdown as succeeded", succeeded)


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
