"""What a server's admins set and see on SQLite (/quotas): allowances, grants, resets, the budget, usage.
Every change is one transaction that also records an admin action."""

from __future__ import annotations

import json

from bot.domain import utc_day
from bot.domain.records import JobRecord, UsageRow
from bot.storage.base import RECENT_COLUMNS, REFUNDED_SQL
from bot.storage.records import job_records, usage_row
from bot.storage.sqlite.core import SqliteCore, fetch

# Days are ISO dates, so text order is date order and `day >= ?` is a range on the index.
USAGE_SQL = ("SELECT day, model, user_id, SUM(cost) AS credits, COUNT(*) AS jobs FROM jobs"
             f" WHERE guild_id = ? AND day >= ? AND state NOT IN ({REFUNDED_SQL})"
             " GROUP BY day, model, user_id ORDER BY day, model, user_id")


class SqliteAllowances(SqliteCore):
    async def set_allowance(self, guild_id: int, scope: str, target_id: int, credits: int | None, *,
                            actor_id: int) -> None:
        now = self.now()
        async with self._transaction() as conn:
            if credits is None:
                await conn.execute("DELETE FROM allowances WHERE guild_id = ? AND scope = ? AND target_id = ?",
                                   (guild_id, scope, target_id))
            else:
                await conn.execute(
                    "INSERT INTO allowances (guild_id, scope, target_id, daily_credits) VALUES (?, ?, ?, ?)"
                    " ON CONFLICT (guild_id, scope, target_id) DO UPDATE SET daily_credits = excluded.daily_credits",
                    (guild_id, scope, target_id, credits))
            await self._record(conn, now, guild_id, actor_id, f"allowance.{scope}", target_id or None,
                               json.dumps({"daily_credits": credits}))

    async def grant(self, guild_id: int, user_id: int, credits: int, *, actor_id: int) -> None:
        now = self.now()
        async with self._transaction() as conn:
            await conn.execute("INSERT INTO grants (guild_id, user_id, day, credits, granted_by, created_at)"
                               " VALUES (?, ?, ?, ?, ?, ?)", (guild_id, user_id, utc_day(now), credits, actor_id, now))
            await self._record(conn, now, guild_id, actor_id, "grant", user_id, json.dumps({"credits": credits}))

    async def reset_usage(self, guild_id: int, user_id: int, *, actor_id: int) -> None:
        now = self.now()
        async with self._transaction() as conn:
            # Forgive what is counted now; jobs made later count as usual.
            await conn.execute(
                "INSERT INTO usage_resets (guild_id, user_id, day, reset_at, forgiven, last_job_id)"
                " VALUES (:g, :u, :day, :now,"
                "   COALESCE((SELECT credits FROM usage WHERE guild_id = :g AND user_id = :u AND day = :day), 0),"
                "   (SELECT COALESCE(MAX(id), 0) FROM jobs))"
                " ON CONFLICT (guild_id, user_id, day) DO UPDATE SET reset_at = excluded.reset_at,"
                "   forgiven = excluded.forgiven, last_job_id = excluded.last_job_id",
                {"g": guild_id, "u": user_id, "day": utc_day(now), "now": now})
            await self._record(conn, now, guild_id, actor_id, "reset", user_id, "{}")

    async def set_budget(self, guild_id: int, credits: int | None, *, actor_id: int) -> None:
        now = self.now()
        async with self._transaction() as conn:
            if credits is None:
                changed = await fetch(conn, "DELETE FROM guild_budgets WHERE guild_id = ? RETURNING 1",
                                                      (guild_id,))
            else:
                changed = await fetch(conn,
                    "INSERT INTO guild_budgets (guild_id, daily_credits) VALUES (?, ?) ON CONFLICT (guild_id)"
                    " DO UPDATE SET daily_credits = excluded.daily_credits"
                    " WHERE daily_credits != excluded.daily_credits RETURNING 1", (guild_id, credits))
            if changed:
                await self._record(conn, now, guild_id, actor_id, "budget", None,
                                   json.dumps({"daily_credits": credits}))

    async def record_view(self, guild_id: int, actor_id: int, target_id: int | None) -> None:
        await self._action(guild_id, actor_id, "view", target_id, "{}")

    async def recent_jobs(self, guild_id: int, user_id: int, limit: int = 5) -> list[JobRecord]:
        return job_records(await self._rows(f"SELECT {RECENT_COLUMNS} FROM jobs WHERE guild_id = ? AND user_id = ?"
                                            " ORDER BY id DESC LIMIT ?", (guild_id, user_id, limit)))

    async def guild_usage(self, guild_id: int, since_day: str) -> list[UsageRow]:
        return [usage_row(r) for r in await self._rows(USAGE_SQL, (guild_id, since_day))]
