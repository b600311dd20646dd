"""The creative loop on PostgreSQL: a batch queued all or nothing (reserve_job for each image in one
transaction, the whole cost checked at once), its jobs read back together, and a member's defaults
(/settings)."""

from __future__ import annotations

import json
from typing import Any

from bot.domain import Member, QuotaSnapshot, Refused
from bot.domain.delivery import Delivery
from bot.domain.records import JobRecord
from bot.storage.base import HOLD_SQL, QUEUED, check_fits
from bot.storage.postgres.core import quota_of
from bot.storage.postgres.ledger import REASONS, RESERVE_SQL, PostgresLedger, snapshot_args
from bot.storage.records import defaults_of, encode_delivery, job_records

NO_LIMIT = 2**62  # a batch's later images: the batch counted once toward QUOTA_MAX_JOBS_PER_USER


class PostgresLoop(PostgresLedger):
    async def enqueue_batch(self, member: Member, *, channel_id: int | None, model: str,
                            params: list[dict[str, Any]], cost: int, default_allowance: int, max_jobs: int,
                            global_cap: int | None, max_queue: int, deliveries: list[Delivery],
                            token: str | None) -> list[int]:
        """reserve_job for each image in one transaction: the first takes the member's and the server's
        locks (held to the end), and the batch's whole cost is checked against its snapshot; a refusal
        anywhere rolls back all of it."""
        now = self.now()
        ids: list[int] = []
        async with self._write() as conn:
            waiting = await conn.fetchval("SELECT COUNT(*) FROM jobs WHERE state = $1", QUEUED)
            first: QuotaSnapshot | None = None
            for index, (body, delivery) in enumerate(zip(params, deliveries, strict=True)):
                row = await conn.fetchrow(
                    RESERVE_SQL, *snapshot_args(member, now),
                    default_allowance, max_jobs if first is None else NO_LIMIT, global_cap, cost, channel_id,
                    model, json.dumps(body), QUEUED, now, None)
                snap = quota_of(row, now, default_allowance)
                if first is None:
                    first = snap
                    if waiting + len(params) > max_queue:
                        raise Refused(Refused.QUEUE, snap)
                    check_fits(snap, cost * len(params), max_jobs, global_cap)
                if row["refused"] is not None:
                    raise Refused(REASONS[row["refused"]], first)
                ids.append(row["job_id"])
                await conn.execute("UPDATE jobs SET delivery = $2, interaction_token = $3, rank = $4, batch_id = $5"
                                   " WHERE id = $1", row["job_id"], encode_delivery(delivery), token,
                                   first.in_flight + index, ids[0])
        return ids

    async def batch(self, batch_id: int) -> list[JobRecord]:
        async with self._read() as conn:
            rows = await conn.fetch("SELECT * FROM jobs WHERE batch_id = $1 ORDER BY id", batch_id)
        return job_records(rows)

    async def hold_batch(self, batch_id: int, holder: str, seconds: float) -> bool:
        now = self.now()
        async with self._conn() as conn:
            status = await conn.execute(HOLD_SQL, batch_id, holder, now + seconds, now)
        return status.split()[-1] != "0"

    async def release_batch(self, batch_id: int, holder: str) -> None:
        async with self._conn() as conn:
            await conn.execute("DELETE FROM batch_holds WHERE batch_id = $1 AND holder = $2", batch_id, holder)

    async def member_defaults(self, guild_id: int, user_id: int) -> dict[str, Any]:
        async with self._read() as conn:
            rows = await conn.fetch("SELECT name, value FROM member_defaults WHERE guild_id = $1 AND user_id = $2",
                                    guild_id, user_id)
        return defaults_of(rows)

    async def members_with_defaults(self, guild_id: int) -> set[int]:
        async with self._read() as conn:
            rows = await conn.fetch("SELECT DISTINCT user_id FROM member_defaults WHERE guild_id = $1", guild_id)
        return {row[0] for row in rows}

    async def set_member_default(self, guild_id: int, user_id: int, name: str, value: Any) -> None:
        async with self._write() as conn:
            if value is None:
                await conn.execute("DELETE FROM member_defaults WHERE guild_id = $1 AND user_id = $2 AND name = $3",
                                   guild_id, user_id, name)
                return
            await conn.execute("INSERT INTO member_defaults (guild_id, user_id, name, value, at) VALUES ($1, $2, $3,"
                               " $4, $5) ON CONFLICT (guild_id, user_id, name) DO UPDATE SET value = excluded.value,"
                               " at = excluded.at", guild_id, user_id, name, json.dumps(value), self.now())

    async def reset_member_defaults(self, guild_id: int, user_id: int) -> int:
        async with self._write() as conn:
            status = await conn.execute("DELETE FROM member_defaults WHERE guild_id = $1 AND user_id = $2",
                                        guild_id, user_id)
        return int(status.split()[-1])
