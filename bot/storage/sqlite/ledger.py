"""The credits on SQLite: a member's snapshot, reservations, settles, recovery at start and the audit.

Credits are never stored as a balance. Every credit spent is a `jobs` row; the daily totals a
reservation reads are kept by triggers in the same transaction as those rows (migration 0004), and
`audit()` recomputes them from the rows. A failed job stops counting the moment its row says so.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping
from typing import Any

from bot.domain import OPEN_STATES, JobState, Member, QuotaSnapshot, Refused, utc_day
from bot.domain.audit import Delivered
from bot.domain.jobs import sources_of
from bot.domain.records import JobRecord
from bot.domain.rules import AUDIT_CHANNEL_SETTING, RuleKind
from bot.storage.base import (
    AUDIT_SQL,
    INTERRUPTED,
    MAX_ATTEMPTS,
    QUEUED,
    RUNNING,
    audit_lines,
    audit_values,
    check_fits,
    delivered_log,
    quota,
    settled_as,
    spent,
)
from bot.storage.lease import same_instance_pattern
from bot.storage.records import job_records
from bot.storage.sqlite.core import Row, SqliteCore, fetch

OPEN_SQL = ", ".join(f"'{state.value}'" for state in OPEN_STATES)
# Settles by a process are guarded on its lease: one that lost the job must not undo the new holder's work.
HELD = "(lease_owner IS NULL OR lease_owner = :owner)"

_SNAPSHOT_SQL = """
SELECT
  (SELECT daily_credits FROM allowances WHERE guild_id = :g AND scope = 'member' AND target_id = :u) AS by_member,
  (SELECT MAX(daily_credits) FROM allowances
     WHERE guild_id = :g AND scope = 'role' AND target_id IN (SELECT value FROM json_each(:roles))) AS by_role,
  (SELECT daily_credits FROM allowances WHERE guild_id = :g AND scope = 'default' AND target_id = 0) AS by_guild,
  (SELECT COALESCE(SUM(credits), 0) FROM grants WHERE guild_id = :g AND user_id = :u AND day = :day) AS granted,
  COALESCE((SELECT credits FROM usage WHERE guild_id = :g AND user_id = :u AND day = :day), 0)
    - COALESCE((SELECT forgiven FROM usage_resets WHERE guild_id = :g AND user_id = :u AND day = :day), 0) AS used,
  (SELECT COUNT(*) FROM jobs WHERE user_id = :u AND state IN (""" + OPEN_SQL + """)) AS in_flight,
  COALESCE((SELECT credits FROM usage_global WHERE day = :day), 0) AS global_used,
  COALESCE((SELECT credits FROM usage_guild WHERE guild_id = :g AND day = :day), 0) AS guild_used,
  (SELECT daily_credits FROM guild_budgets WHERE guild_id = :g) AS guild_budget
"""

# The snapshot's columns, as SNAPSHOT_COLUMNS names them, for a statement that returns them beside its own.
SNAPSHOT_COLUMNS = ("by_member", "by_role", "by_guild", "granted", "used", "in_flight", "global_used", "guild_used",
                    "guild_budget")
SNAPSHOT_EXPRESSIONS = _SNAPSHOT_SQL.strip().removeprefix("SELECT")

# The check-and-spend as one statement, in one trip to the connection's thread: an INSERT takes SQLite's
# write lock before it reads, so the snapshot, the rules and the row it adds are one step, for this
# process and any other on the file. The rules are check_fits itself, which SQLite calls as the SQL
# function ledger_fits (Reservation below) with what the snapshot read; the queue's length is counted
# only for a queued job, which is ranked behind the member's open jobs.
def reserve_sql(start: str | None = None) -> str:
    """The reservation's INSERT; `start`, a condition read with the snapshot (before the row is added): when it
    holds, the job is added running, with the lease of :owner for :lease seconds (the queue's StartNow)."""
    state, lease, source, returning = ":state", "NULL, 0, NULL, NULL", "", "id"
    if start is not None:
        state = f"CASE WHEN c.go THEN '{RUNNING}' ELSE :state END"
        lease = "CASE WHEN c.go THEN :now END, c.go, CASE WHEN c.go THEN :owner END, CASE WHEN c.go THEN :now + :lease END"
        source, returning = f", (SELECT {start} AS go) AS c", "*"
    return f"""
INSERT INTO jobs (user_id, guild_id, channel_id, model, params, cost, day, state, created_at, inputs, delivery,
                  interaction_token, rank, started_at, attempts, lease_owner, lease_until)
SELECT :u, :g, :channel, :model, :params, :cost, :day, {state}, :now, :inputs, :delivery, :token,
       CASE WHEN :max_queue IS NULL THEN 0 ELSE s.in_flight END, {lease}
  FROM ({_SNAPSHOT_SQL}) AS s{source}
 WHERE ledger_fits(:ticket, s.by_member, s.by_role, s.by_guild, s.granted, s.used, s.in_flight, s.global_used, s.guild_used,
                   s.guild_budget, CASE WHEN :max_queue IS NULL THEN 0
                                        ELSE (SELECT COUNT(*) FROM jobs WHERE state = '{QUEUED}') END)
RETURNING {returning}"""


_RESERVE_SQL = reserve_sql()


class Reservation:
    """ledger_fits: the reservation rules, called by SQLite on the writer's thread inside the INSERT,
    with the snapshot it read. `expect` says what a reservation asks, under a ticket the INSERT passes
    along; `seen` hands back what that reservation saw (the snapshot, and why it was refused)."""

    ARITY = 11

    def __init__(self) -> None:
        self._asked: dict[int, tuple[float, int, int, int, int | None, int | None]] = {}
        self._seen: dict[int, tuple[QuotaSnapshot, Refused | None]] = {}
        self._tickets = itertools.count()

    def expect(self, now: float, default_allowance: int, cost: int, max_jobs: int, global_cap: int | None,
               max_queue: int | None) -> int:
        ticket = next(self._tickets)
        self._asked[ticket] = (now, default_allowance, cost, max_jobs, global_cap, max_queue)
        return ticket

    def seen(self, ticket: int) -> tuple[QuotaSnapshot | None, Refused | None]:
        self._asked.pop(ticket, None)  # a statement that failed before the rules were read
        return self._seen.pop(ticket, (None, None))

    def __call__(self, ticket: int, *read: Any) -> int:
        now, default_allowance, cost, max_jobs, global_cap, max_queue = self._asked.pop(ticket)
        snap = quota(*read[:9], now=now, default_allowance=default_allowance)
        try:
            check_fits(snap, cost, max_jobs, global_cap)
            if max_queue is not None and read[9] >= max_queue:
                raise Refused(Refused.QUEUE, snap)
        except Refused as refused:
            self._seen[ticket] = snap, refused
            return 0
        self._seen[ticket] = snap, None
        return 1


# The whole day's total too (usage_global, which PostgreSQL does not keep).
_AUDIT_SQL = AUDIT_SQL + """UNION ALL
SELECT 'global', l.day, COALESCE(g.credits, 0), l.credits
  FROM (SELECT day, SUM(credits) AS credits FROM ledger GROUP BY day) AS l LEFT JOIN usage_global AS g USING (day)
  WHERE COALESCE(g.credits, 0) != l.credits
"""


def snapshot_args(member: Member, now: float) -> dict[str, Any]:
    return {"g": member.guild_id, "u": member.user_id, "day": utc_day(now), "roles": json.dumps(list(member.role_ids))}


# A delivered job's settle: the success (guarded on the lease, as every settle) with where its result was
# posted and, for a server's job, its audit row, left in audit_entry for migration 0015's trigger to add to
# admin_actions in the same statement (one commit, one trip to the writer). `post`: the server's audit
# channel is to post it (posted_at NULL); without one the row is recorded as done (as skip_audit would mark
# it), so no poster round follows it.
_DELIVERED_FROM = sources_of(JobState.SUCCEEDED)
_POSTED_SQL = ("EXISTS (SELECT 1 FROM guild_rules WHERE guild_id = jobs.guild_id AND kind = :kind"
               " AND value = :setting)")
_DELIVERED_SQL = (
    f"UPDATE jobs SET state = '{JobState.SUCCEEDED.value}', finished_at = :now, result_url = :url,"
    " interaction_token = NULL, result_channel_id = COALESCE(:channel, result_channel_id),"
    " result_message_id = COALESCE(:message, result_message_id),"
    " audit_entry = CASE WHEN :detail IS NOT NULL THEN json_object('actor', :actor, 'action', :action,"
    f" 'target', :target, 'detail', :detail, 'post', {_POSTED_SQL}) END"
    f" WHERE id = :id AND state IN ({', '.join(f':from{i}' for i in range(len(_DELIVERED_FROM)))}) AND {HELD}"
    # RETURNING reports the row as this statement left it, not as the trigger empties it afterwards.
    " RETURNING guild_id, json_extract(audit_entry, '$.post')")


class SqliteLedger(SqliteCore):
    _reservation: Reservation  # ledger_fits, registered on the writer at open (store.py)

    async def snapshot(self, member: Member, *, default_allowance: int) -> QuotaSnapshot:
        now = self.now()
        (row,) = await self._rows(_SNAPSHOT_SQL, snapshot_args(member, now))
        return quota(*row, now=now, default_allowance=default_allowance)

    async def reserve(self, member: Member, *, channel_id: int | None, model: str, params: dict[str, Any],
                      cost: int, default_allowance: int, max_jobs: int, global_cap: int | None,
                      inputs: dict[str, Any] | None = None) -> tuple[int, QuotaSnapshot]:
        """Check the allowance and spend from it in one statement; raise Refused when it won't fit."""
        job_id, snap, _ = await self._reserve(member, cost, default_allowance, {
            "channel": channel_id, "model": model, "params": json.dumps(params), "state": JobState.RESERVED.value,
            "inputs": None if inputs is None else json.dumps(inputs), "delivery": None, "token": None,
            "max_jobs": max_jobs, "cap": global_cap, "max_queue": None})
        return job_id, snap

    async def _reserve(self, member: Member, cost: int, default_allowance: int, job: dict[str, Any],
                       sql: str = _RESERVE_SQL) -> tuple[int, QuotaSnapshot, Row]:
        """_RESERVE_SQL (or a `reserve_sql` of the caller's): the job's id, what the member has after it
        (spent(before), as the roles promise) and its row as RETURNING gave it, or Refused with the snapshot
        that refused it."""
        now = self.now()
        ticket = self._reservation.expect(now, default_allowance, cost, job["max_jobs"], job["cap"], job["max_queue"])
        try:
            added = await self._change(sql, {**snapshot_args(member, now), **job, "cost": cost, "now": now,
                                             "ticket": ticket})
        finally:
            snap, refused = self._reservation.seen(ticket)
        if refused is not None:
            raise refused
        assert added and snap is not None, "ledger_fits said yes: the row was added"
        return added[0]["id"], spent(snap, cost), added[0]

    # Settling raises StoreBusy when the write lock could not be had; nothing changed then, and every
    # settle may simply be called again: the state guard makes a repeat a no-op.

    async def mark_running(self, job_id: int) -> JobState | None:
        return await self._settle(job_id, JobState.RUNNING, started_at=self.now())

    async def succeed(self, job_id: int, result_url: str | None) -> JobState | None:
        return await self._settle(job_id, JobState.SUCCEEDED, finished_at=self.now(), result_url=result_url,
                                  interaction_token=None)

    async def settle_delivered(self, job_id: int, delivered: Delivered) -> JobState | None:
        """One autocommit statement, so the success is visible from its trip to the writer, as a plain
        succeed's is: the success with where the result was posted, and its audit row (_DELIVERED_SQL)."""
        posted, audit = delivered.posted or (None, None), audit_values(delivered.audit)
        moved = await self._change(_DELIVERED_SQL, {
            "now": self.now(), "url": delivered.result_url, "channel": posted[0], "message": posted[1], "id": job_id,
            "owner": self.owner, **{f"from{i}": s.value for i, s in enumerate(_DELIVERED_FROM)},
            **dict(zip(("actor", "action", "target", "detail"), audit, strict=True)),
            "kind": RuleKind.SETTING.value, "setting": AUDIT_CHANNEL_SETTING})
        if not moved:
            found = await self._row("SELECT state FROM jobs WHERE id = ?", (job_id,))
            return settled_as(job_id, JobState.SUCCEEDED, None if found is None else found[0])
        ((guild_id, post),) = moved
        if post:  # to be posted: the poster hears of it
            self._tell([guild_id])
        return settled_as(job_id, JobState.SUCCEEDED, JobState.SUCCEEDED.value)

    async def fail(self, job_id: int, error: str) -> JobState | None:
        return await self._settle(job_id, JobState.FAILED, finished_at=self.now(), error=error[:1000],
                                  interaction_token=None)

    async def _settle(self, job_id: int, state: JobState, **columns: Any) -> JobState | None:
        """Move the job to `state` if the state machine allows it; return the state it is in afterwards."""
        from_states = sources_of(state)
        sets = ", ".join(f"{name} = :{name}" for name in columns)
        marks = ", ".join(f":from{i}" for i in range(len(from_states)))
        sql = f"UPDATE jobs SET state = :state, {sets} WHERE id = :id AND state IN ({marks}) AND {HELD} RETURNING 1"
        args = {"state": state.value, "id": job_id, "owner": self.owner, **columns,
                **{f"from{i}": s.value for i, s in enumerate(from_states)}}
        if await self._change(sql, args):  # one autocommit UPDATE; the state read only when it did not move
            return settled_as(job_id, state, state.value)
        found = await self._row("SELECT state FROM jobs WHERE id = ?", (job_id,))
        return settled_as(job_id, state, None if found is None else found[0])

    async def recover_interrupted(self, delivered: Mapping[int, str | None] | None = None) -> list[JobRecord]:
        """Settle what the last run left open: `delivered` jobs succeed, every other open job fails.

        One transaction, so a delivered job can never be refunded by the second step. Returns the jobs
        it failed (refunded), as they were: their members are told (the queue, once it starts)."""
        now = self.now()
        # Only what this process held or its predecessor on the same DATA_DIR did (or a row without a
        # lease: older versions, in-process jobs); a job another live process holds is its own, and one
        # whose lease expired is taken over by the claim. Exclusive (SQLite under DATA_DIR's lock): all.
        pattern = same_instance_pattern(self.owner)
        mine = "" if self._exclusive else (f" AND ({HELD} OR lease_owner LIKE :pattern)" if pattern else f" AND {HELD}")
        owner = {"owner": self.owner, "pattern": pattern}
        where = f"state IN ({OPEN_SQL}) AND state != :is_queued{mine}"
        args = {"is_failed": JobState.FAILED.value, "error": INTERRUPTED, "now": now, "is_queued": QUEUED, **owner}
        async with self._transaction() as conn:
            moved = await conn.executemany(f"UPDATE jobs SET state = ?, finished_at = ?, result_url = COALESCE(?, result_url)"
                                   f" WHERE id = ? AND state IN ({OPEN_SQL})",
                                   [(JobState.SUCCEEDED.value, now, url, job_id) for job_id, url in
                                    (delivered or {}).items()])
            succeeded = max(0, moved.rowcount)
            # A queued job's call cut short runs once more; queued jobs simply stay queued.
            await conn.execute("UPDATE jobs SET state = :is_queued, started_at = NULL, lease_owner = NULL,"
                               " lease_until = NULL WHERE state = :is_running AND delivery IS NOT NULL"
                               f" AND attempts < :max{mine}",
                               {"is_queued": QUEUED, "is_running": RUNNING, "max": MAX_ATTEMPTS, **owner})
            failed = await fetch(conn, f"SELECT * FROM jobs WHERE {where} ORDER BY id", args)
            await conn.execute("UPDATE jobs SET state = :is_failed, error = :error, finished_at = :now,"
                               f" interaction_token = NULL WHERE {where}", args)
        delivered_log(succeeded)
        return job_records(list(failed))

    async def audit(self) -> list[str]:
        """Where the trigger-kept totals disagree with the job rows; empty when the ledger is whole."""
        return audit_lines(await self._rows(_AUDIT_SQL))
