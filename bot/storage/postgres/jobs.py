"""Finished jobs on PostgreSQL: one job, where its result was posted, /history's pages, and forgetting
(/forget and the retention sweep)."""

from __future__ import annotations

from typing import Any

import asyncpg

from bot.domain.appeals import AppealStatus
from bot.domain.audit import AuditAction
from bot.domain.records import JobRecord
from bot.storage.base import (
    FORGET_SETS,
    OPEN,
)
from bot.storage.postgres.core import PostgresCore
from bot.storage.records import (
    job_record,
    job_records,
)

# A review of a forgotten job: a decided one needs its saved result embed no more; a pending one keeps only
# what shows the image again (title, image, footer), not the prompt, settings or requester.
_FORGET_REVIEW = ("detail = CASE WHEN status = 'pending' THEN (detail::jsonb #- '{embed,description}'"
                  " #- '{embed,fields}' #- '{embed,author}' #- '{embed,thumbnail}')::text END")


class PostgresJobs(PostgresCore):
    async def job(self, job_id: int) -> JobRecord | None:
        async with self._read() as conn:
            row = await conn.fetchrow("SELECT * FROM jobs WHERE id = $1", job_id)
        return None if row is None else job_record(row)

    async def set_result_message(self, job_id: int, channel_id: int, message_id: int) -> None:
        async with self._conn() as conn:
            await conn.execute("UPDATE jobs SET result_channel_id = $2, result_message_id = $3 WHERE id = $1",
                               job_id, channel_id, message_id)

    async def history(self, guild_id: int, user_id: int, *, model: str | None = None, offset: int = 0,
                      limit: int = 5) -> tuple[list[JobRecord], int]:
        where = "guild_id = $1 AND user_id = $2 AND ($3::text IS NULL OR model = $3)"
        async with self._read() as conn:
            rows = await conn.fetch(f"SELECT * FROM jobs WHERE {where} ORDER BY id DESC LIMIT $4 OFFSET $5",
                                    guild_id, user_id, model, limit, offset)
            total = await conn.fetchval(f"SELECT COUNT(*) FROM jobs WHERE {where}", guild_id, user_id, model)
        return job_records(rows), total

    async def forget_member(self, user_id: int) -> int:
        return await self._forget("user_id = $1", user_id, "actor_id = $1", "user_id = $1", member=True)

    async def forget_older_than(self, created_before: float) -> int:
        return await self._forget("created_at < $1", created_before, "at < $1", "created_at < $1")

    async def _forget(self, where: str, value: Any, audit_where: str, appeal_where: str, *,
                      member: bool = False) -> int:
        sql = (f"UPDATE jobs SET {FORGET_SETS}, forgotten_at = $2 WHERE {where} AND forgotten_at IS NULL"
               " AND state <> ALL($3::text[])")
        now = self.now()
        async with self._write() as conn:
            status = await conn.execute(sql, value, now, OPEN)
            await conn.execute(f"UPDATE reviews SET {_FORGET_REVIEW} WHERE detail IS NOT NULL AND job_id IN"
                               f" (SELECT id FROM jobs WHERE {where} AND forgotten_at IS NOT NULL)", value)
            await self._forget_asked(conn, audit_where, appeal_where, value)
            if member:  # /forget: the member's /settings defaults (every process hears it: migration 0013)
                await conn.execute("DELETE FROM member_defaults WHERE user_id = $1", value)
        return int(status.split()[-1])

    @staticmethod
    async def _forget_asked(conn: asyncpg.Connection, audit_where: str, appeal_where: str, value: Any) -> None:
        """What a member asked for also lives in audit rows (a generation's prompt, the text an appealed
        rule matched) and in appeals not waiting for a moderator; /forget and retention clear it with the jobs."""
        await conn.execute(f"UPDATE admin_actions SET detail = ((detail::jsonb - 'prompt') #- '{{rule,matched}}')::text"
                           f" WHERE {audit_where} AND action = ANY($2::text[])",
                           value, [AuditAction.GENERATION.value, AuditAction.APPEAL.value])
        await conn.execute(f"UPDATE appeals SET request = '{{}}', rule = (rule::jsonb - 'matched')::text"
                           f" WHERE {appeal_where} AND status = ANY($2::text[])",
                           value, [AppealStatus.ALLOWED.value, AppealStatus.DENIED.value, AppealStatus.OFFERED.value])
