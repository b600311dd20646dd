"""What a server's admins set and see on PostgreSQL (/quotas): allowances, grants, resets, the budget,
usage. Every change is one transaction that also records an admin action."""

from __future__ import annotations

import json

from bot.domain import (
    utc_day,
)
from bot.domain.records import JobRecord, UsageRow
from bot.storage.base import (
    REFUNDED_SQL,
)
from bot.storage.postgres.core import RECORD_SQL, PostgresCore, lock_member
from bot.storage.records import (
    job_records,
    usage_row,
)

# Days are ISO dates, so text order is date order and `day >= $2` is a range on the index.
# SUM over INTEGER is BIGINT and COUNT is BIGINT: both come back as Python ints.
USAGE_SQL = ("SELECT day, model, user_id, SUM(cost) AS credits, COUNT(*) AS jobs FROM jobs"
              f" WHERE guild_id = $1 AND day >= $2 AND state NOT IN ({REFUNDED_SQL})"
              " GROUP BY day, model, user_id ORDER BY day, model, user_id")



class PostgresAllowances(PostgresCore):
    async def set_allowance(self, guild_id: int, scope: str, target_id: int, credits: int | None, *,
                            actor_id: int) -> None:
        now = self.now()
        async with self._write() as conn:
            if credits is None:
                await conn.execute("DELETE FROM allowances WHERE guild_id = $1 AND scope = $2 AND target_id = $3",
                                   guild_id, scope, target_id)
            else:
                await conn.execute(
                    "INSERT INTO allowances (guild_id, scope, target_id, daily_credits) VALUES ($1, $2, $3, $4)"
                    " ON CONFLICT (guild_id, scope, target_id) DO UPDATE SET daily_credits = excluded.daily_credits",
                    guild_id, scope, target_id, credits)
            await conn.execute(RECORD_SQL, guild_id, actor_id, f"allowance.{scope}", target_id or None,
                               json.dumps({"daily_credits": credits}), now)

    async def grant(self, guild_id: int, user_id: int, credits: int, *, actor_id: int) -> None:
        now = self.now()
        async with self._write() as conn:
            await conn.execute("INSERT INTO grants (guild_id, user_id, day, credits, granted_by, created_at)"
                               " VALUES ($1, $2, $3, $4, $5, $6)", guild_id, user_id, utc_day(now), credits,
                               actor_id, now)
            await conn.execute(RECORD_SQL, guild_id, actor_id, "grant", user_id, json.dumps({"credits": credits}), now)

    async def reset_usage(self, guild_id: int, user_id: int, *, actor_id: int) -> None:
        now = self.now()
        async with self._write() as conn:
            # The member's lock: none of their reservations is half-done, so every job id at or below
            # MAX(id) that is theirs is already in `usage`, and every later one gets a higher id.
            await lock_member(conn, user_id)
            # Forgive what is counted now; jobs made later count as usual.
            await conn.execute(
                "INSERT INTO usage_resets (guild_id, user_id, day, reset_at, forgiven, last_job_id)"
                " VALUES ($1, $2, $3, $4,"
                "   COALESCE((SELECT credits FROM usage WHERE guild_id = $1 AND user_id = $2 AND day = $3), 0),"
                "   (SELECT COALESCE(MAX(id), 0) FROM jobs))"
                " ON CONFLICT (guild_id, user_id, day) DO UPDATE SET reset_at = excluded.reset_at,"
                "   forgiven = excluded.forgiven, last_job_id = excluded.last_job_id",
                guild_id, user_id, utc_day(now), now)
            await conn.execute(RECORD_SQL, guild_id, actor_id, "reset", user_id, "{}", now)

    async def set_budget(self, guild_id: int, credits: int | None, *, actor_id: int) -> None:
        now = self.now()
        async with self._write() as conn:
            # Waits for the server's reservations under way, and holds new ones back until COMMIT
            # (reserve_job takes this lock shared): none is checked against a budget half-set.
            await conn.execute("SELECT pg_advisory_xact_lock(28794, hashtext($1::bigint::text))", guild_id)
            # One statement each, holding the row's lock: a concurrent equal change finds it already so.
            if credits is None:
                changed = await conn.fetchval("DELETE FROM guild_budgets WHERE guild_id = $1 RETURNING 1", guild_id)
            else:
                changed = await conn.fetchval(
                    "INSERT INTO guild_budgets (guild_id, daily_credits) VALUES ($1, $2) ON CONFLICT (guild_id)"
                    " DO UPDATE SET daily_credits = excluded.daily_credits"
                    " WHERE guild_budgets.daily_credits <> excluded.daily_credits RETURNING 1", guild_id, credits)
            if changed is not None:
                await conn.execute(RECORD_SQL, guild_id, actor_id, "budget", None,
                                   json.dumps({"daily_credits": credits}), now)

    async def record_view(self, guild_id: int, actor_id: int, target_id: int | None) -> None:
        async with self._conn() as conn:
            await conn.execute(RECORD_SQL, guild_id, actor_id, "view", target_id, "{}", self.now())

    async def recent_jobs(self, guild_id: int, user_id: int, limit: int = 5) -> list[JobRecord]:
        async with self._read() as conn:
            rows = await conn.fetch("SELECT id, model, cost, state, created_at, finished_at, error, result_url"
                                    " FROM jobs WHERE guild_id = $1 AND user_id = $2 ORDER BY id DESC LIMIT $3",
                                    guild_id, user_id, limit)
        return job_records(rows)

    async def guild_usage(self, guild_id: int, since_day: str) -> list[UsageRow]:
        async with self._read() as conn:
            rows = await conn.fetch(USAGE_SQL, guild_id, since_day)
        return [usage_row(r) for r in rows]
