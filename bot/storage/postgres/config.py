"""A server's configuration on PostgreSQL (/config): each change takes the server's and kind's advisory
lock, so the limit's count and "already exactly so" are read with nothing else half-done."""

from __future__ import annotations

from bot.domain.records import GuildRule
from bot.domain.rules import RuleKind, RuleLimit
from bot.storage.base import (
    config_action,
)
from bot.storage.postgres.core import RECORD_SQL, PostgresCore, lock_config
from bot.storage.records import (
    guild_rule,
)


class PostgresConfig(PostgresCore):
    async def guild_rules(self, guild_id: int) -> list[GuildRule]:
        async with self._read() as conn:
            rows = await conn.fetch("SELECT kind, value, detail, actor_id, at FROM guild_rules WHERE guild_id = $1"
                                    " ORDER BY kind, value", guild_id)
        return [guild_rule(r) for r in rows]

    async def put_rule(self, guild_id: int, kind: RuleKind, value: str, detail: str | None, *, actor_id: int,
                       limit: int | None = None) -> bool:
        now = self.now()
        async with self._write() as conn:
            await lock_config(conn, guild_id, kind)
            row = await conn.fetchrow("SELECT detail FROM guild_rules WHERE guild_id = $1 AND kind = $2 AND value = $3",
                                      guild_id, kind.value, value)
            if row is not None and row["detail"] == detail:
                return False
            if row is None and limit is not None:
                count = await conn.fetchval("SELECT COUNT(*) FROM guild_rules WHERE guild_id = $1 AND kind = $2",
                                            guild_id, kind.value)
                if count >= limit:
                    raise RuleLimit(kind, limit)
            await conn.execute("INSERT INTO guild_rules (guild_id, kind, value, detail, actor_id, at)"
                               " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (guild_id, kind, value) DO UPDATE"
                               " SET detail = excluded.detail, actor_id = excluded.actor_id, at = excluded.at",
                               guild_id, kind.value, value, detail, actor_id, now)
            await conn.execute(RECORD_SQL, guild_id, actor_id,
                               *config_action(kind, "add", value, {"value": value, "detail": detail}), now)
        return True

    async def remove_rule(self, guild_id: int, kind: RuleKind, value: str, *, actor_id: int) -> bool:
        now = self.now()
        async with self._write() as conn:
            await lock_config(conn, guild_id, kind)
            row = await conn.fetchrow("DELETE FROM guild_rules WHERE guild_id = $1 AND kind = $2 AND value = $3"
                                      " RETURNING detail", guild_id, kind.value, value)
            if row is None:
                return False
            await conn.execute(RECORD_SQL, guild_id, actor_id,
                               *config_action(kind, "remove", value, {"value": value, "detail": row["detail"]}), now)
        return True

    async def clear_rules(self, guild_id: int, kind: RuleKind, *, actor_id: int) -> int:
        now = self.now()
        async with self._write() as conn:
            await lock_config(conn, guild_id, kind)
            rows = await conn.fetch("DELETE FROM guild_rules WHERE guild_id = $1 AND kind = $2 RETURNING value",
                                    guild_id, kind.value)
            values = sorted(r["value"] for r in rows)
            if values:
                await conn.execute(RECORD_SQL, guild_id, actor_id,
                                   *config_action(kind, "clear", None, {"values": values}), now)
        return len(values)
