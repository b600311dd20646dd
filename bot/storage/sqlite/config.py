"""A server's configuration on SQLite (/config). BEGIN IMMEDIATE takes SQLite's write lock first, so each
read-then-write below (the limit's count, "already exactly so") sees every other change, from this
process or another, as done or not begun."""

from __future__ import annotations

from bot.domain.records import GuildRule
from bot.domain.rules import RuleKind, RuleLimit
from bot.storage.base import config_action
from bot.storage.records import guild_rule
from bot.storage.sqlite.core import SqliteCore, fetch


class SqliteConfig(SqliteCore):
    async def guild_rules(self, guild_id: int) -> list[GuildRule]:
        rows = await self._rows("SELECT kind, value, detail, actor_id, at FROM guild_rules WHERE guild_id = ?"
                                " ORDER BY kind, value", (guild_id,))
        return [guild_rule(r) for r in rows]

    async def put_rule(self, guild_id: int, kind: RuleKind, value: str, detail: str | None, *, actor_id: int,
                       limit: int | None = None) -> bool:
        now = self.now()
        key = (guild_id, kind.value, value)
        async with self._transaction() as conn:
            found = await fetch(conn, "SELECT detail FROM guild_rules WHERE guild_id = ? AND kind = ?"
                                                " AND value = ?", key)
            if found and found[0][0] == detail:
                return False
            if not found and limit is not None:
                ((count,),) = await fetch(conn, "SELECT COUNT(*) FROM guild_rules WHERE guild_id = ?"
                                                          " AND kind = ?", key[:2])
                if count >= limit:
                    raise RuleLimit(kind, limit)
            await conn.execute("INSERT INTO guild_rules (guild_id, kind, value, detail, actor_id, at)"
                               " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (guild_id, kind, value) DO UPDATE"
                               " SET detail = excluded.detail, actor_id = excluded.actor_id, at = excluded.at",
                               (*key, detail, actor_id, now))
            await self._record(conn, now, guild_id, actor_id,
                               *config_action(kind, "add", value, {"value": value, "detail": detail}))
        return True

    async def remove_rule(self, guild_id: int, kind: RuleKind, value: str, *, actor_id: int) -> bool:
        now = self.now()
        async with self._transaction() as conn:
            found = await fetch(conn, "DELETE FROM guild_rules WHERE guild_id = ? AND kind = ? AND value = ?"
                                                " RETURNING detail", (guild_id, kind.value, value))
            if not found:
                return False
            await self._record(conn, now, guild_id, actor_id,
                               *config_action(kind, "remove", value, {"value": value, "detail": found[0][0]}))
        return True

    async def clear_rules(self, guild_id: int, kind: RuleKind, *, actor_id: int) -> int:
        now = self.now()
        async with self._transaction() as conn:
            values = sorted(v for (v,) in await fetch(conn,
                "DELETE FROM guild_rules WHERE guild_id = ? AND kind = ? RETURNING value", (guild_id, kind.value)))
            if values:
                await self._record(conn, now, guild_id, actor_id, *config_action(kind, "clear", None, {"values": values}))
        return len(values)
