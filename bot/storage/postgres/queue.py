"""The durable queue on PostgreSQL: enqueue, the fair claim under one advisory lock with its lease,
renewals, positions, expiry and what a dead process held."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from bot.domain import (
    JobState,
    Member,
    QuotaSnapshot,
    Refused,
)
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
    spent,
)
from bot.storage.lease import DEFAULT_LEASE_SECONDS
from bot.storage.postgres.core import quota_of
from bot.storage.postgres.ledger import REASONS, RESERVE_SQL, SNAPSHOT_SQL, PostgresLedger, snapshot_args
from bot.storage.records import (
    encode_delivery,
    job_record,
    job_records,
)
from bot.storage.roles.jobs import StartNow

# Every claim, from every process, takes this transaction lock first: the count of live leases and the
# claim that follows it are then one step, so two processes can never both take the last free slot of
# PIXAZO_MAX_CONCURRENCY. Two int4 keys beside MIGRATION_LOCK's (0x7078, 1) and the cap's (0x7078, 2).
CLAIM_LOCK = (0x7078, 3)
# What the bound counts: live leases waiting for Pixazo (a job whose call answered is being delivered).
_CALLING = f"state = '{RUNNING}' AND lease_until >= $1 AND answered_at IS NULL"
# Room in the bound $4 (NULL: no bound).
_ROOM = f"($4::bigint IS NULL OR (SELECT COUNT(*) FROM jobs WHERE {_CALLING}) < $4::bigint)"
# A running job to take over: its holder's lease ran out (never the claimer's own, $2), an attempt left.
_TO_TAKE_OVER = (f"state = '{RUNNING}' AND lease_until < $1 AND delivery IS NOT NULL AND attempts < {MAX_ATTEMPTS}"
                 " AND lease_owner <> $2")
# One statement after the lock. The next job by fair rank then id is a queued one or a running one whose
# holder's lease ran out (its process is presumed dead; never the claimer's own, bot/storage/lease.py)
# with an attempt left; it is taken only while fewer than $4 (NULL: no bound) jobs hold a live lease and wait
# for Pixazo. A claim clears answered_at.
_CLAIM_SQL = f"""
WITH next AS (
  SELECT id FROM (
    (SELECT id, rank FROM jobs WHERE state = '{QUEUED}' ORDER BY rank, id LIMIT 1)
    UNION ALL
    (SELECT id, rank FROM jobs WHERE {_TO_TAKE_OVER} ORDER BY rank, id LIMIT 1)
  ) AS candidates ORDER BY rank, id LIMIT 1
)
UPDATE jobs SET state = '{RUNNING}', started_at = $1, attempts = attempts + 1, lease_owner = $2, lease_until = $3,
       answered_at = NULL
 WHERE id = (SELECT id FROM next) AND {_ROOM}
 RETURNING *
"""
# Up to $5 jobs at once in the same order, within the same bound $4 (a batch claim: the fair order is each
# job's rank, fixed when it was queued, so a batch takes what one-at-a-time claims would). Claims are
# serialised by CLAIM_LOCK, so the live count holds; SKIP LOCKED passes over a row another transaction is
# changing (a Cancel, a settle) rather than waiting for it.
_CLAIM_BATCH_SQL = f"""
WITH room AS (
  SELECT CASE WHEN $4::bigint IS NULL THEN $5::bigint
              ELSE LEAST($5::bigint, $4::bigint - (SELECT COUNT(*) FROM jobs WHERE {_CALLING})) END AS n
), queued AS (
  SELECT id, rank FROM jobs WHERE state = '{QUEUED}' ORDER BY rank, id LIMIT $5 FOR UPDATE SKIP LOCKED
), expired AS (
  SELECT id, rank FROM jobs WHERE {_TO_TAKE_OVER} ORDER BY rank, id LIMIT $5 FOR UPDATE SKIP LOCKED
), next AS (
  SELECT id FROM (SELECT * FROM queued UNION ALL SELECT * FROM expired) AS candidates
   ORDER BY rank, id LIMIT GREATEST(0, (SELECT n FROM room))
)
UPDATE jobs SET state = '{RUNNING}', started_at = $1, attempts = attempts + 1, lease_owner = $2, lease_until = $3,
       answered_at = NULL
 WHERE id IN (SELECT id FROM next)
 RETURNING *
"""
# StartNow, after CLAIM_LOCK in the enqueue's transaction: the new job $5 taken as a claim of one would take
# it, when no other job waits before it (none queued, none to take over) and the bound $4 has room.
_START_NOW_SQL = f"""
UPDATE jobs SET state = '{RUNNING}', started_at = $1, attempts = attempts + 1, lease_owner = $2, lease_until = $3
 WHERE id = $5
   AND NOT EXISTS (SELECT FROM jobs WHERE state = '{QUEUED}' AND id <> $5)
   AND NOT EXISTS (SELECT FROM jobs WHERE {_TO_TAKE_OVER})
   AND {_ROOM}
 RETURNING *
"""
# The job's Pixazo call answered, while this process holds it: its slot is free for the next claim.
_ANSWERED_SQL = (f"UPDATE jobs SET answered_at = $2 WHERE id = $1 AND state = '{RUNNING}'"
                 f" AND (lease_owner IS NULL OR lease_owner = $3) RETURNING {DELIVERING_COLUMNS}")
_MORE_SQL = f"""
SELECT EXISTS (SELECT FROM jobs WHERE state = '{QUEUED}')
    OR EXISTS (SELECT FROM jobs WHERE {_TO_TAKE_OVER})
"""
# A running job whose lease ran out during its last allowed attempt, not $2's own: failed, refunded (part
# 5's rule). The rows come back as they were (a CTE reads the snapshot before the UPDATE), tokens included.
_WORN_OUT_SQL = f"""
WITH worn AS (
  SELECT * FROM jobs WHERE state = '{RUNNING}' AND lease_until < $1 AND attempts >= {MAX_ATTEMPTS}
     AND lease_owner <> $2 FOR UPDATE SKIP LOCKED
), failed AS (
  UPDATE jobs SET state = '{JobState.FAILED.value}', error = $3, finished_at = $1, interaction_token = NULL
   WHERE id IN (SELECT id FROM worn) RETURNING id
)
SELECT * FROM worn WHERE id IN (SELECT id FROM failed) ORDER BY id
"""



class PostgresQueue(PostgresLedger):
    async def enqueue(self, member: Member, *, channel_id: int | None, model: str, params: dict[str, Any],
                      cost: int, default_allowance: int, max_jobs: int, global_cap: int | None, max_queue: int,
                      delivery: Delivery, token: str | None, inputs: dict[str, Any] | None = None,
                      start: StartNow | None = None) -> tuple[int, QuotaSnapshot]:
        """reserve_job inserts the row queued; the same transaction adds what delivering it needs, and with
        `start`, takes it at once under the claims' lock when a claim of one would.

        The queue's length is checked first, in this transaction but without a lock: processes sharing
        the database may overshoot QUEUE_MAX_LENGTH by as many as reserve at the same instant."""
        now = self.now()
        async with self._write() as conn:
            waiting = await conn.fetchval("SELECT COUNT(*) FROM jobs WHERE state = $1", QUEUED)
            if waiting >= max_queue:
                snap_row = await conn.fetchrow(SNAPSHOT_SQL, *snapshot_args(member, now))
                raise Refused(Refused.QUEUE, quota_of(snap_row, now, default_allowance))
            row = await conn.fetchrow(
                RESERVE_SQL, *snapshot_args(member, now),
                default_allowance, max_jobs, global_cap, cost, channel_id, model, json.dumps(params),
                QUEUED, now, None if inputs is None else json.dumps(inputs))
            snap = quota_of(row, now, default_allowance)
            if row["refused"] is not None:
                raise Refused(REASONS[row["refused"]], snap)
            # rank: the member's open jobs, all ahead of this one (in_flight counts exactly those).
            # Every other process hears of it at COMMIT (NOTIFY jobs '<owner>': bot/storage/postgres/notify.py).
            await conn.execute("UPDATE jobs SET delivery = $2, interaction_token = $3, rank = $4 WHERE id = $1"
                               " RETURNING pg_notify('jobs', $5)",
                               row["job_id"], encode_delivery(delivery), token, snap.in_flight, self.owner)
            started = None
            if start is not None:
                await conn.execute("SELECT pg_advisory_xact_lock($1, $2)", *CLAIM_LOCK)
                started = await conn.fetchrow(_START_NOW_SQL, now, start.owner, now + start.lease_seconds,
                                              start.max_running, row["job_id"])
        if started is not None and start is not None:  # handed over once the transaction committed
            start.started(job_record(started))
        return row["job_id"], spent(snap, cost)

    async def claim(self, owner: str | None = None, lease_seconds: float = DEFAULT_LEASE_SECONDS,
                    max_running: int | None = None) -> JobRecord | None:
        now = self.now()
        async with self._write() as conn:
            await conn.execute("SELECT pg_advisory_xact_lock($1, $2)", *CLAIM_LOCK)
            row = await conn.fetchrow(_CLAIM_SQL, now, owner or self.owner, now + lease_seconds, max_running)
        return None if row is None else job_record(row)

    async def claim_batch(self, owner: str | None = None, lease_seconds: float = DEFAULT_LEASE_SECONDS, *,
                          limit: int, max_running: int | None = None,
                          claimed: Callable[[list[JobRecord]], None] | None = None,
                          room: bool = False) -> tuple[list[JobRecord], bool]:
        now = self.now()
        owner = owner or self.owner
        async with self._write() as conn:
            await conn.execute("SELECT pg_advisory_xact_lock($1, $2)", *CLAIM_LOCK)
            rows = await conn.fetch(_CLAIM_BATCH_SQL, now, owner, now + lease_seconds, max_running, limit)
            more = False if room and len(rows) < limit else await conn.fetchval(_MORE_SQL, now, owner)
        jobs = job_records(sorted(rows, key=lambda r: (r["rank"], r["id"])))  # RETURNING has no order
        if claimed is not None:  # claimed once the transaction committed, with the look for more in it
            claimed(jobs)
        return jobs, bool(more)

    async def delivering(self, job_id: int, member: Member, *, default_allowance: int
                         ) -> tuple[JobRecord | None, QuotaSnapshot]:
        now = self.now()
        try:
            async with self._write() as conn:
                # Losing this mark to a crash loses nothing (the lease goes with it): no wait for the disk.
                await conn.execute("SET LOCAL synchronous_commit TO OFF")
                row = await conn.fetchrow(_ANSWERED_SQL, job_id, now, self.owner)
                if row is None:
                    row = await conn.fetchrow(f"SELECT {DELIVERING_COLUMNS} FROM jobs WHERE id = $1", job_id)
                snap = await conn.fetchrow(SNAPSHOT_SQL, *snapshot_args(member, now))
        except StoreBusy:  # a server that takes no writes (a full disk, say) may still answer reads
            async with self._read() as conn:
                row = await conn.fetchrow(f"SELECT {DELIVERING_COLUMNS} FROM jobs WHERE id = $1", job_id)
                snap = await conn.fetchrow(SNAPSHOT_SQL, *snapshot_args(member, now))
        return (None if row is None else job_record(row)), quota_of(snap, now, default_allowance)

    async def fail_worn_out(self) -> list[JobRecord]:
        async with self._write() as conn:
            rows = await conn.fetch(_WORN_OUT_SQL, self.now(), self.owner, INTERRUPTED)
        return job_records(rows)

    async def requeue_orphans(self, running: list[int]) -> list[int]:
        async with self._conn() as conn:
            rows = await conn.fetch("UPDATE jobs SET state = $1, started_at = NULL, attempts = GREATEST(0, attempts - 1),"
                                    " lease_owner = NULL, lease_until = NULL WHERE state = $2 AND lease_owner = $3"
                                    " AND NOT (id = ANY($4::bigint[])) RETURNING id, pg_notify('jobs', $3)",
                                    QUEUED, RUNNING, self.owner, running)
        return sorted(r[0] for r in rows)

    async def requeue(self, job_id: int) -> JobState | None:
        async with self._conn() as conn:
            await conn.execute("UPDATE jobs SET state = $1, started_at = NULL, attempts = GREATEST(0, attempts - 1),"
                               " lease_owner = NULL, lease_until = NULL, answered_at = NULL WHERE id = $2 AND state = $3"
                               " AND (lease_owner IS NULL OR lease_owner = $4) RETURNING pg_notify('jobs', $4)",
                               QUEUED, job_id, RUNNING, self.owner)
            now = await conn.fetchval("SELECT state FROM jobs WHERE id = $1", job_id)
        return None if now is None else JobState(now)

    async def cancel(self, job_id: int, actor_id: int) -> tuple[JobState | None, JobState | None]:
        from_states = [s.value for s in sources_of(JobState.CANCELLED)]
        async with self._write() as conn:
            before = await conn.fetchval("SELECT state FROM jobs WHERE id = $1 FOR UPDATE", job_id)
            if before is None:
                return None, None
            # Its own statement, so it sees a review opened by a transaction the lock above waited for.
            if await conn.fetchval(f"SELECT {OUT_FOR_REVIEW} FROM jobs WHERE id = $1", job_id):
                raise OutForReview(f"job {job_id}: its result is out for review")
            after = await conn.fetchval(
                "UPDATE jobs SET state = $1, finished_at = $2, cancelled_by = $3, interaction_token = NULL"
                " WHERE id = $4 AND state = ANY($5::text[]) RETURNING state",
                JobState.CANCELLED.value, self.now(), actor_id, job_id, from_states)
        return JobState(before), JobState(after or before)

    async def queue_positions(self) -> dict[int, int]:
        async with self._read() as conn:
            rows = await conn.fetch("SELECT id, ROW_NUMBER() OVER (ORDER BY rank, id) FROM jobs WHERE state = $1",
                                    QUEUED)
        return {r[0]: r[1] for r in rows}

    async def median_seconds(self, model: str, recent: int = 20) -> float | None:
        async with self._read() as conn:
            rows = await conn.fetch("SELECT finished_at - started_at FROM jobs WHERE model = $1 AND state = $2"
                                    " AND started_at IS NOT NULL ORDER BY id DESC LIMIT $3",
                                    model, JobState.SUCCEEDED.value, recent)
        return median(r[0] for r in rows)

    async def expire_waiting(self, queued_before: float) -> list[JobRecord]:
        async with self._write() as conn:
            rows = await conn.fetch("SELECT * FROM jobs WHERE state = $1 AND created_at < $2 FOR UPDATE SKIP LOCKED",
                                    QUEUED, queued_before)
            await conn.execute("UPDATE jobs SET state = $1, finished_at = $2, error = $3, interaction_token = NULL"
                               " WHERE id = ANY($4::bigint[]) AND state = $5", JobState.FAILED.value, self.now(),
                               EXPIRED, [r["id"] for r in rows], QUEUED)
        return job_records(rows)

    async def renew(self, owner: str, job_ids: list[int], lease_seconds: float) -> set[int]:
        """Push the leases `owner` still holds on `job_ids` forward; returns those it still holds."""
        if not job_ids:
            return set()
        async with self._conn() as conn:
            rows = await conn.fetch("UPDATE jobs SET lease_until = $1 WHERE id = ANY($2::bigint[]) AND state = $3"
                                    " AND lease_owner = $4 RETURNING id", self.now() + lease_seconds, job_ids,
                                    RUNNING, owner)
        return {r[0] for r in rows}
