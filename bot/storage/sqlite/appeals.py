"""Appeals on SQLite: a refused prompt offered for review, asked for, posted, decided. Each move is one
conditional UPDATE, so of two moderators deciding at once exactly one wins; the post and each decision
record an admin action in the same transaction."""

from __future__ import annotations

import json
from typing import Any

from bot.domain.appeals import AppealStatus
from bot.domain.audit import AuditAction
from bot.domain.records import AppealRecord
from bot.storage.records import appeal_record
from bot.storage.sqlite.core import SqliteCore, fetch


class SqliteAppeals(SqliteCore):
    async def create_appeal(self, guild_id: int, channel_id: int, user_id: int, *, model: str,
                            request: dict[str, Any], rule: dict[str, Any], expires_at: float) -> int:
        ((appeal_id,),) = await self._change(
            "INSERT INTO appeals (guild_id, channel_id, user_id, model, request, rule, status, created_at, expires_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (guild_id, channel_id, user_id, model, json.dumps(request), json.dumps(rule), AppealStatus.OFFERED.value,
             self.now(), expires_at))
        return int(appeal_id)

    async def appeal(self, appeal_id: int) -> AppealRecord | None:
        row = await self._row("SELECT * FROM appeals WHERE id = ?", (appeal_id,))
        return None if row is None else appeal_record(row)

    async def ask_appeal(self, appeal_id: int, user_id: int) -> bool:
        now = self.now()
        return await self._count(
            "UPDATE appeals SET status = ?, asked_at = ? WHERE id = ? AND user_id = ? AND status = ? AND expires_at > ?",
            (AppealStatus.PENDING.value, now, appeal_id, user_id, AppealStatus.OFFERED.value, now)) == 1

    async def reopen_appeal(self, appeal_id: int) -> None:
        await self._count("UPDATE appeals SET status = ?, asked_at = NULL WHERE id = ? AND status = ?",
                          (AppealStatus.OFFERED.value, appeal_id, AppealStatus.PENDING.value))

    async def appeal_posted(self, appeal_id: int, channel_id: int, message_id: int, *, actor_id: int) -> None:
        now = self.now()
        async with self._transaction() as conn:
            found = await fetch(conn, "UPDATE appeals SET review_channel_id = ?, review_message_id = ?"
                                                " WHERE id = ? RETURNING guild_id, channel_id, model, rule",
                                                (channel_id, message_id, appeal_id))
            if found:
                guild_id, asked_in, model, rule = found[0]
                detail = {"appeal": appeal_id, "channel_id": asked_in, "model": model, "rule": json.loads(rule)}
                await self._record(conn, now, guild_id, actor_id, AuditAction.APPEAL.value, actor_id,
                                   json.dumps(detail))

    async def decide_appeal(self, appeal_id: int, allowed: bool, *, actor_id: int, reason: str | None) -> bool:
        now = self.now()
        status = AppealStatus.ALLOWED if allowed else AppealStatus.DENIED
        async with self._transaction() as conn:
            found = await fetch(conn, "UPDATE appeals SET status = ?, decided_by = ?, decided_at = ?,"
                                                " reason = ? WHERE id = ? AND status = ? RETURNING guild_id, user_id",
                                                (status.value, actor_id, now, reason, appeal_id,
                                                 AppealStatus.PENDING.value))
            if not found:
                return False
            action = AuditAction.ALLOW if allowed else AuditAction.DENY
            await self._record(conn, now, found[0][0], actor_id, action.value, found[0][1],
                               json.dumps({"appeal": appeal_id, "reason": reason}))
        return True

    async def set_appeal_job(self, appeal_id: int, job_id: int) -> None:
        await self._count("UPDATE appeals SET job_id = ? WHERE id = ?", (job_id, appeal_id))
