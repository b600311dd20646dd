"""The server's record of who did what on SQLite, and the audit channel's feed: rows claimed for a lease,
then marked posted; a claim whose poster died is taken again once its lease has passed."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from bot.domain.records import AdminAction, AuditRow
from bot.storage.base import AUDIT_COLUMNS
from bot.storage.records import admin_action, audit_row
from bot.storage.sqlite.core import SqliteCore


class SqliteAudit(SqliteCore):
    async def watch_audit(self, recorded: Callable[[int], None]) -> None:
        """Every write that records a row to post tells `recorded` once it has committed (SqliteCore._tell)."""
        self._audit_watch = recorded

    async def record_action(self, guild_id: int, actor_id: int, action: str, target_id: int | None,
                            detail: dict[str, Any]) -> None:
        await self._action(guild_id, actor_id, action, target_id, json.dumps(detail))

    async def admin_actions(self, guild_id: int, limit: int = 50) -> list[AdminAction]:
        rows = await self._rows("SELECT actor_id, action, target_id, detail, at FROM admin_actions"
                                " WHERE guild_id = ? ORDER BY id DESC LIMIT ?", (guild_id, limit))
        return [admin_action(r) for r in rows]

    async def unposted_guilds(self) -> list[int]:
        return [r[0] for r in await self._rows("SELECT DISTINCT guild_id FROM admin_actions WHERE posted_at IS NULL")]

    async def claim_audit(self, guild_id: int, *, limit: int, lease_seconds: float) -> list[AuditRow]:
        now = self.now()
        rows = await self._change("UPDATE admin_actions SET claimed_until = ? WHERE id IN ("
                                  " SELECT id FROM admin_actions WHERE guild_id = ? AND posted_at IS NULL"
                                  " AND (claimed_until IS NULL OR claimed_until < ?) ORDER BY id LIMIT ?)"
                                  f" RETURNING {AUDIT_COLUMNS}", (now + lease_seconds, guild_id, now, limit))
        return [audit_row(r) for r in sorted(rows, key=lambda r: r["id"])]  # RETURNING has no order

    async def mark_audit_posted(self, ids: list[int]) -> None:
        await self._count("UPDATE admin_actions SET posted_at = ?, claimed_until = NULL"
                          " WHERE id IN (SELECT value FROM json_each(?))", (self.now(), json.dumps(ids)))

    async def release_audit(self, ids: list[int]) -> None:
        await self._count("UPDATE admin_actions SET claimed_until = NULL WHERE id IN (SELECT value FROM json_each(?))"
                          " AND posted_at IS NULL", (json.dumps(ids),))

    async def skip_audit(self, guild_id: int) -> int:
        now = self.now()
        return await self._count("UPDATE admin_actions SET posted_at = ? WHERE guild_id = ? AND posted_at IS NULL"
                                 " AND (claimed_until IS NULL OR claimed_until < ?)", (now, guild_id, now))

    async def audit_log(self, guild_id: int, *, member: int | None = None, action: str | None = None,
                        since: float | None = None, offset: int = 0, limit: int = 10) -> tuple[list[AuditRow], int]:
        # One WHERE for every filter, as PostgreSQL's: an unset filter is NULL and lets every row through.
        where = ("guild_id = :g AND (:m IS NULL OR actor_id = :m OR target_id = :m)"
                 " AND (:a IS NULL OR action = :a OR substr(action, 1, length(:a) + 1) = :a || '.')"
                 " AND (:s IS NULL OR at >= :s)")
        args = {"g": guild_id, "m": member, "a": action, "s": since}
        rows = await self._rows(f"SELECT {AUDIT_COLUMNS} FROM admin_actions WHERE {where}"
                                " ORDER BY id DESC LIMIT :limit OFFSET :offset", {**args, "limit": limit, "offset": offset})
        ((total,),) = await self._rows(f"SELECT COUNT(*) FROM admin_actions WHERE {where}", args)
        return [audit_row(r) for r in rows], total
