"""The credits on PostgreSQL: a member's snapshot, reservations (reserve_job, migration 0004: the
member's lock, the snapshot, the checks and the INSERT in one round trip), settles, recovery, the audit."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from bot.domain import (
    JobState,
    Member,
    QuotaSnapshot,
    Refused,
    utc_day,
)
from bot.domain.audit import Delivered
from bot.domain.jobs import sources_of
from bot.domain.records import JobRecord
from bot.domain.rules import AUDIT_CHANNEL_SETTING, RuleKind
from bot.storage.base import (
    AUDIT_SQL,
    INTERRUPTED,
    MAX_ATTEMPTS,
    OPEN,
    QUEUED,
    RUNNING,
    audit_lines,
    audit_values,
    delivered_log,
    settled_as,
    spent,
)
from bot.storage.lease import same_instance_pattern
from bot.storage.postgres.core import PostgresCore, quota_of
from bot.storage.records import (
    job_records,
)

SNAPSHOT_SQL = "SELECT * FROM quota_snapshot($1, $2, $3, $4, $5)"  # migration 0004
# A delivered job's settle, one statement: the success (guarded on the lease, as every settle), where its
# result was posted, and its audit row, recorded as done in a server without an audit channel (as
# skip_audit would mark it); a row to post tells every process (NOTIFY audit_rows). When the guard does
# not let the job through, the row's state as it is, and nothing else is written.
_DELIVERED_SQL = f"""
WITH moved AS (
  UPDATE jobs SET state = '{JobState.SUCCEEDED.value}', finished_at = $2, result_url = $3, interaction_token = NULL,
         result_channel_id = COALESCE($4, result_channel_id), result_message_id = COALESCE($5, result_message_id)
   WHERE id = $1 AND state = ANY($6::text[]) AND (lease_owner IS NULL OR lease_owner = $7)
   RETURNING state, guild_id
), audited AS (
  INSERT INTO admin_actions (guild_id, actor_id, action, target_id, detail, at, posted_at)
  SELECT guild_id, $8, $9, $10, $11, $2,
         CASE WHEN EXISTS (SELECT FROM guild_rules r WHERE r.guild_id = moved.guild_id
                           AND r.kind = '{RuleKind.SETTING.value}' AND r.value = '{AUDIT_CHANNEL_SETTING}')
              THEN NULL ELSE $2 END
    FROM moved WHERE $9::text IS NOT NULL
  RETURNING guild_id, posted_at
), told AS (
  SELECT COUNT(*) AS n FROM audited, LATERAL pg_notify('audit_rows', audited.guild_id::text)
   WHERE audited.posted_at IS NULL
)
SELECT state FROM moved, told
UNION ALL
SELECT state FROM jobs WHERE id = $1 AND NOT EXISTS (SELECT FROM moved)
"""
RESERVE_SQL = "SELECT * FROM reserve_job($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
REASONS = {Refused.JOBS: Refused.JOBS, Refused.CREDITS: Refused.CREDITS, Refused.GLOBAL: Refused.GLOBAL,
            Refused.BUDGET: Refused.BUDGET}


# There is no whole-day total row on PostgreSQL (see migration 0004): the day's global use is always
# summed from the members' rows, so base.AUDIT_SQL is the whole audit.


def snapshot_args(member: Member, now: float) -> tuple[Any, ...]:
    """SNAPSHOT_SQL's parameters, and RESERVE_SQL's first five."""
    return member.guild_id, member.user_id, list(member.role_ids), utc_day(now), OPEN


class PostgresLedger(PostgresCore):
    async def snapshot(self, member: Member, *, default_allowance: int) -> QuotaSnapshot:
        now = self.now()
        async with self._read() as conn:
            row = await conn.fetchrow(SNAPSHOT_SQL, *snapshot_args(member, now))
        return quota_of(row, now, default_allowance)

    async def reserve(self, member: Member, *, channel_id: int | None, model: str, params: dict[str, Any],
                      cost: int, default_allowance: int, max_jobs: int, global_cap: int | None,
                      inputs: dict[str, Any] | None = None) -> tuple[int, QuotaSnapshot]:
        """Check the allowance and spend from it in one transaction; raise Refused when it won't fit.

        One call of reserve_job (migration 0004): the member's lock, the snapshot, the checks and the
        INSERT in one implicit transaction and one round trip."""
        now = self.now()
        async with self._conn() as conn:
            row = await conn.fetchrow(
                RESERVE_SQL, *snapshot_args(member, now),
                default_allowance, max_jobs, global_cap, cost, channel_id, model, json.dumps(params),
                str(JobState.RESERVED), now, None if inputs is None else json.dumps(inputs))
        snap = quota_of(row, now, default_allowance)
        if row["refused"] is not None:
            raise Refused(REASONS[row["refused"]], snap)
        return row["job_id"], spent(snap, cost)

    async def mark_running(self, job_id: int) -> JobState | None:
        return await self._settle(job_id, JobState.RUNNING, "started_at = $4", self.now())

    async def succeed(self, job_id: int, result_url: str | None) -> JobState | None:
        return await self._settle(job_id, JobState.SUCCEEDED,
                                  "finished_at = $4, result_url = $5, interaction_token = NULL", self.now(), result_url)

    async def settle_delivered(self, job_id: int, delivered: Delivered) -> JobState | None:
        posted = delivered.posted or (None, None)
        async with self._conn() as conn:
            now = await conn.fetchval(
                _DELIVERED_SQL, job_id, self.now(), delivered.result_url, posted[0], posted[1],
                [s.value for s in sources_of(JobState.SUCCEEDED)], self.owner, *audit_values(delivered.audit))
        return settled_as(job_id, JobState.SUCCEEDED, now)

    async def fail(self, job_id: int, error: str) -> JobState | None:
        return await self._settle(job_id, JobState.FAILED, "finished_at = $4, error = $5, interaction_token = NULL",
                                  self.now(), error[:1000])

    async def _settle(self, job_id: int, state: JobState, sets: str, *values: Any) -> JobState | None:
        """Move the job to `state` if the state machine allows it; return the state it is in afterwards."""
        from_states = [s.value for s in sources_of(state)]
        held = f"${4 + len(values)}"  # the lease guard: a process that lost the job leaves it to the new holder
        # One statement either way: the UPDATE when the guard lets it through, else the row as it is.
        sql = (f"WITH moved AS (UPDATE jobs SET state = $1, {sets} WHERE id = $2 AND state = ANY($3::text[])"
               f" AND (lease_owner IS NULL OR lease_owner = {held})"
               " RETURNING state) SELECT state FROM moved UNION ALL SELECT state FROM jobs"
               " WHERE id = $2 AND NOT EXISTS (SELECT FROM moved)")
        async with self._conn() as conn:
            now = await conn.fetchval(sql, state.value, job_id, from_states, *values, self.owner)
        return settled_as(job_id, state, now)

    async def recover_interrupted(self, delivered: Mapping[int, str | None] | None = None) -> list[JobRecord]:
        """Settle what the last run left open: `delivered` jobs succeed, every other open job fails.

        One transaction, so a delivered job can never be refunded by the second step. Returns the jobs
        it failed (refunded), as they were: their members are told (the queue, once it starts)."""
        now = self.now()
        # Only what this process held or its predecessor on the same DATA_DIR did (or a row without a
        # lease: older versions, in-process jobs): a job another live process holds is its own, and one
        # whose lease expired is taken over by the next claim.
        mine = "(lease_owner IS NULL OR lease_owner = $1 OR lease_owner LIKE $2)"
        pattern = same_instance_pattern(self.owner)  # None without an instance id: LIKE NULL matches nothing
        async with self._write() as conn:
            succeeded = 0
            for job_id, url in (delivered or {}).items():
                status = await conn.execute(
                    "UPDATE jobs SET state = $1, finished_at = $2, result_url = COALESCE($3, result_url)"
                    " WHERE id = $4 AND state = ANY($5::text[])", JobState.SUCCEEDED.value, now, url, job_id, OPEN)
                succeeded += int(status.split()[-1])
            # A queued job's call cut short runs once more; queued jobs simply stay queued.
            await conn.execute("UPDATE jobs SET state = $3, started_at = NULL, lease_owner = NULL, lease_until = NULL"
                               f" WHERE state = $4 AND delivery IS NOT NULL AND attempts < $5 AND {mine}",
                               self.owner, pattern, QUEUED, RUNNING, MAX_ATTEMPTS)
            failed = await conn.fetch(f"WITH left_open AS (SELECT * FROM jobs WHERE state = ANY($3::text[]) AND state <> $4"
                                      f" AND {mine} FOR UPDATE), failed AS (UPDATE jobs SET state = $5, error = $6,"
                                      " finished_at = $7, interaction_token = NULL WHERE id IN (SELECT id FROM left_open)"
                                      " RETURNING id) SELECT * FROM left_open WHERE id IN (SELECT id FROM failed) ORDER BY id",
                                      self.owner, pattern, OPEN, QUEUED, JobState.FAILED.value, INTERRUPTED, now)
        delivered_log(succeeded)
        return job_records(failed)

    async def audit(self) -> list[str]:
        """Where the trigger-kept totals disagree with the job rows; empty when the ledger is whole."""
        async with self._read() as conn:
            rows = await conn.fetch(AUDIT_SQL)
        return audit_lines(rows)
