"""Appeals on PostgreSQL: each move one conditional UPDATE, so of two moderators deciding at once exactly
one wins; the post and each decision record an admin action in the same transaction."""

from __future__ import annotations

import json
from typing import Any

from bot.domain.appeals import AppealStatus
from bot.domain.audit import AuditAction
from bot.domain.records import AppealRecord
from bot.storage.postgres.core import RECORD_SQL, PostgresCore
from bot.storage.records import (
    appeal_record,
)


class PostgresAppeals(PostgresCore):
    async def create_appeal(self, guild_id: int, channel_id: int, user_id: int, *, model: str,
                            request: dict[str, Any], rule: dict[str, Any], expires_at: float) -> int:
        async with self._conn() as conn:
            return await conn.fetchval(
                "INSERT INTO appeals (guild_id, channel_id, user_id, model, request, rule, status, created_at,"
                " expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
                guild_id, channel_id, user_id, model, json.dumps(request), json.dumps(rule),
                AppealStatus.OFFERED.value, self.now(), expires_at)

    async def appeal(self, appeal_id: int) -> AppealRecord | None:
        async with self._read() as conn:
            row = await conn.fetchrow("SELECT * FROM appeals WHERE id = $1", appeal_id)
        return None if row is None else appeal_record(row)

    async def ask_appeal(self, appeal_id: int, user_id: int) -> bool:
        now = self.now()
        async with self._conn() as conn:
            status = await conn.execute(
                "UPDATE appeals SET status = $1, asked_at = $2 WHERE id = $3 AND user_id = $4 AND status = $5"
                " AND expires_at > $2", AppealStatus.PENDING.value, now, appeal_id, user_id, AppealStatus.OFFERED.value)
        return status.split()[-1] == "1"

    async def reopen_appeal(self, appeal_id: int) -> None:
        async with self._conn() as conn:
            await conn.execute("UPDATE appeals SET status = $1, asked_at = NULL WHERE id = $2 AND status = $3",
                               AppealStatus.OFFERED.value, appeal_id, AppealStatus.PENDING.value)

    async def appeal_posted(self, appeal_id: int, channel_id: int, message_id: int, *, actor_id: int) -> None:
        now = self.now()
        async with self._write() as conn:
            row = await conn.fetchrow("UPDATE appeals SET review_channel_id = $2, review_message_id = $3 WHERE id = $1"
                                      " RETURNING guild_id, channel_id, model, rule", appeal_id, channel_id, message_id)
            if row is not None:
                detail = {"appeal": appeal_id, "channel_id": row["channel_id"], "model": row["model"],
                          "rule": json.loads(row["rule"])}
                await conn.execute(RECORD_SQL, row["guild_id"], actor_id, AuditAction.APPEAL.value, actor_id,
                                   json.dumps(detail), now)

    async def decide_appeal(self, appeal_id: int, allowed: bool, *, actor_id: int, reason: str | None) -> bool:
        now = self.now()
        status = AppealStatus.ALLOWED if allowed else AppealStatus.DENIED
        async with self._write() as conn:
            # The row lock of this UPDATE makes a second decider wait, then find it no longer pending.
            row = await conn.fetchrow("UPDATE appeals SET status = $1, decided_by = $2, decided_at = $3, reason = $4"
                                      " WHERE id = $5 AND status = $6 RETURNING guild_id, user_id",
                                      status.value, actor_id, now, reason, appeal_id, AppealStatus.PENDING.value)
            if row is None:
                return False
            action = AuditAction.ALLOW if allowed else AuditAction.DENY
            await conn.execute(RECORD_SQL, row["guild_id"], actor_id, action.value, row["user_id"],
                               json.dumps({"appeal": appeal_id, "reason": reason}), now)
        return True

    async def set_appeal_job(self, appeal_id: int, job_id: int) -> None:
        async with self._conn() as conn:
            await conn.execute("UPDATE appeals SET job_id = $2 WHERE id = $1", appeal_id, job_id)
