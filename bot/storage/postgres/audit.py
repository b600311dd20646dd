"""The server's record of who did what on PostgreSQL, and the audit channel's feed (rows claimed with
SKIP LOCKED for a lease, then marked posted)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from bot.domain.records import AdminAction, AuditRow
from bot.storage.base import (
    AUDIT_COLUMNS,
)
from bot.storage.postgres.core import RECORD_SQL, PostgresCore
from bot.storage.records import (
    admin_action,
    audit_row,
)


class PostgresAudit(PostgresCore):
    async def watch_audit(self, recorded: Callable[[int], None]) -> None:
        """Nothing here: every process's rows reach every process by LISTEN (bot/storage/postgres/notify.py)."""

    async def record_action(self, guild_id: int, actor_id: int, action: str, target_id: int | None,
                            detail: dict[str, Any]) -> None:
        async with self._conn() as conn:
            await conn.execute(RECORD_SQL, guild_id, actor_id, action, target_id, json.dumps(detail), self.now())

    async def admin_actions(self, guild_id: int, limit: int = 50) -> list[AdminAction]:
        async with self._read() as conn:
            rows = await conn.fetch("SELECT actor_id, action, target_id, detail, at FROM admin_actions"
                                    " WHERE guild_id = $1 ORDER BY id DESC LIMIT $2", guild_id, limit)
        return [admin_action(r) for r in rows]

    async def unposted_guilds(self) -> list[int]:
        async with self._read() as conn:
            rows = await conn.fetch("SELECT DISTINCT guild_id FROM admin_actions WHERE posted_at IS NULL")
        return [r[0] for r in rows]

    async def claim_audit(self, guild_id: int, *, limit: int, lease_seconds: float) -> list[AuditRow]:
        now = self.now()
        async with self._write() as conn:
            # SKIP LOCKED: a second poster takes the rows after these instead of waiting for them.
            rows = await conn.fetch(
                "UPDATE admin_actions SET claimed_until = $1 WHERE id IN ("
                " SELECT id FROM admin_actions WHERE guild_id = $2 AND posted_at IS NULL"
                " AND (claimed_until IS NULL OR claimed_until < $3) ORDER BY id LIMIT $4 FOR UPDATE SKIP LOCKED)"
                f" RETURNING {AUDIT_COLUMNS}", now + lease_seconds, guild_id, now, limit)
        return [audit_row(r) for r in sorted(rows, key=lambda r: r["id"])]  # RETURNING has no order

    async def mark_audit_posted(self, ids: list[int]) -> None:
        async with self._conn() as conn:
            await conn.execute("UPDATE admin_actions SET posted_at = $1, claimed_until = NULL WHERE id = ANY($2::bigint[])",
                               self.now(), ids)

    async def release_audit(self, ids: list[int]) -> None:
        async with self._conn() as conn:
            await conn.execute("UPDATE admin_actions SET claimed_until = NULL WHERE id = ANY($1::bigint[])"
                               " AND posted_at IS NULL", ids)

    async def skip_audit(self, guild_id: int) -> int:
        now = self.now()
        async with self._conn() as conn:
            status = await conn.execute("UPDATE admin_actions SET posted_at = $1 WHERE guild_id = $2 AND posted_at IS NULL"
                                        " AND (claimed_until IS NULL OR claimed_until < $1)", now, guild_id)
        return int(status.split()[-1])

    async def audit_log(self, guild_id: int, *, member: int | None = None, action: str | None = None,
                        since: float | None = None, offset: int = 0, limit: int = 10) -> tuple[list[AuditRow], int]:
        where = ("guild_id = $1 AND ($2::bigint IS NULL OR actor_id = $2 OR target_id = $2)"
                 " AND ($3::text IS NULL OR action = $3 OR starts_with(action, $3 || '.'))"
                 " AND ($4::double precision IS NULL OR at >= $4)")
        args = (guild_id, member, action, since)
        async with self._read() as conn:
            rows = await conn.fetch(f"SELECT {AUDIT_COLUMNS} FROM admin_actions WHERE {where}"
                                    " ORDER BY id DESC LIMIT $5 OFFSET $6", *args, limit, offset)
            total = await conn.fetchval(f"SELECT COUNT(*) FROM admin_actions WHERE {where}", *args)
        return [audit_row(r) for r in rows], total
