"""The durable queue on SQLite: enqueue, the fair claim with its lease, renewals, positions, expiry and
the recovery of what a dead process held."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from bot.domain import JobState, Member, QuotaSnapshot
from bot.domain.delivery import Delivery
from bot.domain.errors import StoreBusy
from bot.domain.jobs import sources_of
from bot.domain.records import JobRecord
from bot.domain.reviews import OutForReview
from bot.storage.base import (
    DELIVERING_COLUMNS,
    EXPIRED,
    INTERRUPTED,
    MAX_ATTEMPTS,
    OUT_FOR_REVIEW,
    QUEUED,
    RUNNING,
    median,
    quota,
)
from bot.storage.lease import DEFAULT_LEASE_SECONDS
from bot.storage.records import encode_delivery, job_record, job_records
from bot.storage.roles.jobs import StartNow
from bot.storage.sqlite.core import fetch
from bot.storage.sqlite.ledger import (
    HELD,
    SNAPSHOT_COLUMNS,
    SNAPSHOT_EXPRESSIONS,
    SqliteLedger,
    reserve_sql,
    snapshot_args,
)

# The next job a claim takes, by fair rank then id: a queued one, or a running one whose holder's lease
# ran out (its process is presumed dead; never the claimer's own, bot/storage/lease.py) and that may run
# once more. Two one-row scans of their own indexes, then the earlier of the two.
_NEXT_SQL = f"""
SELECT id FROM (
  SELECT * FROM (SELECT id, rank FROM jobs WHERE state = '{QUEUED}' ORDER BY rank, id LIMIT 1)
  UNION ALL
  SELECT * FROM (SELECT id, rank FROM jobs WHERE state = '{RUNNING}' AND lease_until < :now
                   AND delivery IS NOT NULL AND attempts < {MAX_ATTEMPTS} AND lease_owner != :owner
                   ORDER BY rank, id LIMIT 1)
) ORDER BY rank, id LIMIT 1"""
_CALLING = f"state = '{RUNNING}' AND lease_until >= :now AND answered_at IS NULL"  # what the bound counts
_ROOM = f"(:max_running IS NULL OR (SELECT COUNT(*) FROM jobs WHERE {_CALLING}) < :max_running)"
# Taken only while fewer than :max_running (NULL: no bound) jobs hold a live lease and wait for Pixazo (a job
# whose call answered is being delivered: answered_at): one statement, under the write lock like every other,
# so two claims never take the same job or the same last slot. A claim clears answered_at.
_CLAIM_SQL = (f"UPDATE jobs SET state = '{RUNNING}', started_at = :now, attempts = attempts + 1, lease_owner = :owner,"
              f" lease_until = :until, answered_at = NULL WHERE id = ({_NEXT_SQL}) AND {_ROOM} RETURNING *")
# Up to :limit jobs at once in the same order, within the same bound (a batch claim: the fair order is
# each job's rank, fixed when it was queued, so a batch takes what one-at-a-time claims would). The
# candidates and the room left are read once, before any row changes; a negative LIMIT would mean none.
_CLAIM_BATCH_SQL = (
    f"UPDATE jobs SET state = '{RUNNING}', started_at = :now, attempts = attempts + 1, lease_owner = :owner,"
    f" lease_until = :until, answered_at = NULL WHERE id IN (SELECT id FROM ("
    f" SELECT * FROM (SELECT id, rank FROM jobs WHERE state = '{QUEUED}' ORDER BY rank, id LIMIT :limit)"
    " UNION ALL"
    f" SELECT * FROM (SELECT id, rank FROM jobs WHERE state = '{RUNNING}' AND lease_until < :now"
    f" AND delivery IS NOT NULL AND attempts < {MAX_ATTEMPTS} AND lease_owner != :owner ORDER BY rank, id LIMIT :limit)"
    ") ORDER BY rank, id LIMIT MAX(0, CASE WHEN :max_running IS NULL THEN :limit ELSE MIN(:limit, :max_running -"
    f" (SELECT COUNT(*) FROM jobs WHERE {_CALLING})) END)) RETURNING *")
# The job's Pixazo call answered, while this process holds it (its slot is free for the next claim), with the
# member's credits for the result's embed: one trip to the writer.
_ANSWERED_SQL = (f"UPDATE jobs SET answered_at = :now WHERE id = :id AND state = '{RUNNING}' AND {HELD}"
                 f" RETURNING {DELIVERING_COLUMNS}, {SNAPSHOT_EXPRESSIONS}")
# A running job whose lease ran out after its last allowed attempt (never one of this process's own:
# it may be waiting for its settle to land): failed, refunded (part 5's rule).
_WORN_OUT = f"state = '{RUNNING}' AND lease_until < :now AND attempts >= {MAX_ATTEMPTS} AND lease_owner != :owner"
_REQUEUE_SETS = (f"state = '{QUEUED}', started_at = NULL, attempts = MAX(0, attempts - 1), lease_owner = NULL,"
                 " lease_until = NULL, answered_at = NULL")


# StartNow's condition, read with the reservation's snapshot: a claim would find no job before this one and
# room in the bound.
_START_NOW_SQL = reserve_sql(f"NOT EXISTS ({_NEXT_SQL}) AND {_ROOM}")


class SqliteQueue(SqliteLedger):
    async def enqueue(self, member: Member, *, channel_id: int | None, model: str, params: dict[str, Any],
                      cost: int, default_allowance: int, max_jobs: int, global_cap: int | None, max_queue: int,
                      delivery: Delivery, token: str | None, inputs: dict[str, Any] | None = None,
                      start: StartNow | None = None) -> tuple[int, QuotaSnapshot]:
        job: dict[str, Any] = {
            "channel": channel_id, "model": model, "params": json.dumps(params), "state": QUEUED,
            "inputs": None if inputs is None else json.dumps(inputs), "delivery": encode_delivery(delivery),
            "token": token, "max_jobs": max_jobs, "cap": global_cap, "max_queue": max_queue}
        if start is None:
            job_id, snap, _ = await self._reserve(member, cost, default_allowance, job)
            return job_id, snap
        job.update(owner=start.owner, lease=start.lease_seconds, max_running=start.max_running)
        job_id, snap, row = await self._reserve(member, cost, default_allowance, job, _START_NOW_SQL)
        if row["state"] == RUNNING:
            start.started(job_record(row))
        return job_id, snap

    async def claim(self, owner: str | None = None, lease_seconds: float = DEFAULT_LEASE_SECONDS,
                    max_running: int | None = None) -> JobRecord | None:
        now = self.now()
        rows = await self._change(_CLAIM_SQL, {"now": now, "owner": owner or self.owner, "until": now + lease_seconds,
                                               "max_running": max_running})
        return job_record(rows[0]) if rows else None

    async def claim_batch(self, owner: str | None = None, lease_seconds: float = DEFAULT_LEASE_SECONDS, *,
                          limit: int, max_running: int | None = None,
                          claimed: Callable[[list[JobRecord]], None] | None = None,
                          room: bool = False) -> tuple[list[JobRecord], bool]:
        now = self.now()
        args = {"now": now, "owner": owner or self.owner, "until": now + lease_seconds, "limit": limit,
                "max_running": max_running}
        rows = await self._change(_CLAIM_BATCH_SQL, args) if limit > 0 else []
        jobs = job_records(sorted(rows, key=lambda r: (r["rank"], r["id"])))  # RETURNING has no order
        if claimed is not None:  # the jobs start while the reader looks for more
            claimed(jobs)
        if room and len(jobs) < limit:  # the reader's trip spared: a job one at a time costs one fewer
            return jobs, False
        (more,) = await self._rows(f"SELECT EXISTS ({_NEXT_SQL})", args)
        return jobs, bool(more[0])

    async def delivering(self, job_id: int, member: Member, *, default_allowance: int
                         ) -> tuple[JobRecord | None, QuotaSnapshot]:
        now = self.now()
        try:
            marked = await self._change(_ANSWERED_SQL, {**snapshot_args(member, now), "now": now, "id": job_id,
                                                        "owner": self.owner})
        except StoreBusy:  # a full disk, say: the image is delivered all the same; the slot stays counted
            marked = []
        if not marked:  # not (or no longer) this process's to deliver, or the mark could not be written
            found = await self._row(f"SELECT {DELIVERING_COLUMNS} FROM jobs WHERE id = ?", (job_id,))
            return (None if found is None else job_record(found)), await self.snapshot(
                member, default_allowance=default_allowance)
        row = dict(marked[0])
        read = [row.pop(column) for column in SNAPSHOT_COLUMNS]
        return job_record(row), quota(*read, now=now, default_allowance=default_allowance)

    async def fail_worn_out(self) -> list[JobRecord]:
        args = {"now": self.now(), "owner": self.owner}
        async with self._transaction() as conn:
            rows = await fetch(conn, f"SELECT * FROM jobs WHERE {_WORN_OUT}", args)
            if rows:
                await conn.execute(f"UPDATE jobs SET state = '{JobState.FAILED.value}', error = :error,"
                                   f" finished_at = :now, interaction_token = NULL WHERE {_WORN_OUT}",
                                   {**args, "error": INTERRUPTED})
        return job_records(list(rows))

    async def requeue_orphans(self, running: list[int]) -> list[int]:
        rows = await self._change(f"UPDATE jobs SET {_REQUEUE_SETS} WHERE state = ? AND lease_owner = ?"
                                  " AND id NOT IN (SELECT value FROM json_each(?)) RETURNING id",
                                  (RUNNING, self.owner, json.dumps(running)))
        return sorted(r[0] for r in rows)

    async def requeue(self, job_id: int) -> JobState | None:
        async with self._writing() as conn:
            await conn.execute(f"UPDATE jobs SET {_REQUEUE_SETS} WHERE id = :id AND state = :is_running AND {HELD}",
                               {"id": job_id, "is_running": RUNNING, "owner": self.owner})
            found = await fetch(conn, "SELECT state FROM jobs WHERE id = ?", (job_id,))
        return JobState(found[0][0]) if found else None

    async def cancel(self, job_id: int, actor_id: int) -> tuple[JobState | None, JobState | None]:
        from_states = sources_of(JobState.CANCELLED)
        marks = ", ".join("?" for _ in from_states)
        async with self._transaction() as conn:
            found = await fetch(conn, f"SELECT state, {OUT_FOR_REVIEW} FROM jobs WHERE id = ?", (job_id,))
            if not found:
                return None, None
            if found[0][1]:
                raise OutForReview(f"job {job_id}: its result is out for review")
            moved = await fetch(conn,
                "UPDATE jobs SET state = ?, finished_at = ?, cancelled_by = ?, interaction_token = NULL"
                f" WHERE id = ? AND state IN ({marks}) RETURNING state",
                (JobState.CANCELLED.value, self.now(), actor_id, job_id, *(s.value for s in from_states)))
        before = JobState(found[0][0])
        return before, JobState(moved[0][0]) if moved else before

    async def queue_positions(self) -> dict[int, int]:
        rows = await self._rows("SELECT id, ROW_NUMBER() OVER (ORDER BY rank, id) FROM jobs WHERE state = ?", (QUEUED,))
        return {r[0]: r[1] for r in rows}

    async def median_seconds(self, model: str, recent: int = 20) -> float | None:
        rows = await self._rows("SELECT finished_at - started_at FROM jobs WHERE model = ? AND state = ?"
                                " AND started_at IS NOT NULL ORDER BY id DESC LIMIT ?",
                                (model, JobState.SUCCEEDED.value, recent))
        return median(r[0] for r in rows)

    async def expire_waiting(self, queued_before: float) -> list[JobRecord]:
        async with self._transaction() as conn:
            rows = await fetch(conn, "SELECT * FROM jobs WHERE state = ? AND created_at < ?",
                                               (QUEUED, queued_before))
            await conn.executemany("UPDATE jobs SET state = ?, finished_at = ?, error = ?, interaction_token = NULL"
                                   " WHERE id = ? AND state = ?",
                                   [(JobState.FAILED.value, self.now(), EXPIRED, r["id"], QUEUED) for r in rows])
        return job_records(list(rows))

    async def renew(self, owner: str, job_ids: list[int], lease_seconds: float) -> set[int]:
        """Push the leases `owner` still holds on `job_ids` forward; returns those it still holds."""
        if not job_ids:
            return set()
        rows = await self._change("UPDATE jobs SET lease_until = ? WHERE id IN (SELECT value FROM json_each(?))"
                                  " AND state = ? AND lease_owner = ? RETURNING id",
                                  (self.now() + lease_seconds, json.dumps(job_ids), RUNNING, owner))
        return {r[0] for r in rows}
