"""The SQLite ledger: jobs, allowances, grants, admin actions.

Credits are never stored as a balance. Usage is summed from the `jobs` rows, so every credit can
be traced to the job that spent it, and a failed job stops counting the moment its row says so.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiosqlite

from bot.storage.migrations import apply_migrations

log = logging.getLogger(__name__)

OPEN_STATES = ("reserved", "running")
INTERRUPTED = "interrupted"


@dataclass(frozen=True)
class Member:
    guild_id: int
    user_id: int
    role_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class QuotaSnapshot:
    allowance: int  # today's allowance from default/role/member settings, before grants
    source: str  # where the allowance comes from: "bot default", "server default", "role", "member"
    granted: int
    used: int
    in_flight: int
    global_used: int
    renews_at: datetime

    @property
    def left(self) -> int:
        return max(0, self.allowance + self.granted - self.used)


class Refused(Exception):
    """A reservation the ledger would not make; `reason` is one of the class constants."""

    CREDITS = "credits"
    JOBS = "jobs"
    GLOBAL = "global"

    def __init__(self, reason: str, snapshot: QuotaSnapshot) -> None:
        super().__init__(reason)
        self.reason = reason
        self.snapshot = snapshot


def utc_day(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).date().isoformat()


def next_renewal(ts: float) -> datetime:
    today = datetime.fromtimestamp(ts, UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today + timedelta(days=1)


_SNAPSHOT_SQL = """
SELECT
  (SELECT daily_credits FROM allowances WHERE guild_id = :g AND scope = 'member' AND target_id = :u),
  (SELECT MAX(daily_credits) FROM allowances
     WHERE guild_id = :g AND scope = 'role' AND target_id IN (SELECT value FROM json_each(:roles))),
  (SELECT daily_credits FROM allowances WHERE guild_id = :g AND scope = 'default' AND target_id = 0),
  (SELECT COALESCE(SUM(credits), 0) FROM grants WHERE guild_id = :g AND user_id = :u AND day = :day),
  (SELECT COALESCE(SUM(cost), 0) FROM jobs
     WHERE guild_id = :g AND user_id = :u AND day = :day AND state != 'failed'
       AND created_at > COALESCE((SELECT reset_at FROM usage_resets
                                  WHERE guild_id = :g AND user_id = :u AND day = :day), 0)),
  (SELECT COUNT(*) FROM jobs WHERE user_id = :u AND state IN ('reserved', 'running'))
"""
# Kept apart so a bot without a global cap never pays for summing the whole day's ledger.
_GLOBAL_SQL = "SELECT COALESCE(SUM(cost), 0) FROM jobs WHERE day = ? AND state != 'failed'"


class Store:
    def __init__(self, db: aiosqlite.Connection, clock: Callable[[], float]) -> None:
        self._db = db
        self._clock = clock
        # One connection is shared by every coroutine; a transaction's statements must not interleave
        # with another's, so each transaction holds this lock from BEGIN to COMMIT.
        self._lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: Path, *, clock: Callable[[], float] = time.time) -> Store:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = await aiosqlite.connect(path, isolation_level=None)
        try:
            await db.execute("PRAGMA journal_mode = WAL")
            await db.execute("PRAGMA busy_timeout = 5000")
            await db.execute("PRAGMA synchronous = NORMAL")
            await apply_migrations(db)
        except BaseException:
            await db.close()
            raise
        store = cls(db, clock)
        released = await store.recover_interrupted()
        if released:
            log.warning("released %d job(s) interrupted by the last shutdown; their credits are refunded", released)
        return store

    async def close(self) -> None:
        await self._db.close()

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        async with self._lock:
            await self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                await self._db.execute("ROLLBACK")
                raise
            await self._db.execute("COMMIT")

    def now(self) -> float:
        return self._clock()

    # -- quotas -------------------------------------------------------------------------------

    async def snapshot(self, member: Member, *, default_allowance: int, with_global: bool = False) -> QuotaSnapshot:
        async with self._lock:
            return await self._snapshot(member, self.now(), default_allowance, with_global)

    async def _snapshot(self, member: Member, now: float, default_allowance: int, with_global: bool) -> QuotaSnapshot:
        day = utc_day(now)
        args = {"g": member.guild_id, "u": member.user_id, "day": day, "roles": json.dumps(list(member.role_ids))}
        async with self._db.execute(_SNAPSHOT_SQL, args) as cur:
            by_member, by_role, by_guild, granted, used, in_flight = await cur.fetchone()
        global_used = 0
        if with_global:
            async with self._db.execute(_GLOBAL_SQL, (day,)) as cur:
                (global_used,) = await cur.fetchone()
        allowance, source = next(
            (value, name)
            for value, name in ((by_member, "member"), (by_role, "role"), (by_guild, "server default"),
                                (default_allowance, "bot default"))
            if value is not None
        )
        return QuotaSnapshot(allowance, source, granted, used, in_flight, global_used, next_renewal(now))

    async def reserve(self, member: Member, *, channel_id: int | None, model: str, params: dict[str, Any],
                      cost: int, default_allowance: int, max_jobs: int, global_cap: int | None,
                      inputs: dict[str, Any] | None = None) -> tuple[int, QuotaSnapshot]:
        """Check the allowance and spend from it in one transaction; raise Refused when it won't fit."""
        async with self._transaction() as db:
            now = self.now()
            snap = await self._snapshot(member, now, default_allowance, global_cap is not None)
            if snap.in_flight >= max_jobs:
                raise Refused(Refused.JOBS, snap)
            if cost > snap.left:
                raise Refused(Refused.CREDITS, snap)
            if global_cap is not None and snap.global_used + cost > global_cap:
                raise Refused(Refused.GLOBAL, snap)
            cur = await db.execute(
                "INSERT INTO jobs (user_id, guild_id, channel_id, model, params, cost, day, state, created_at, inputs)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, 'reserved', ?, ?)",
                (member.user_id, member.guild_id, channel_id, model, json.dumps(params), cost, utc_day(now), now,
                 json.dumps(inputs) if inputs is not None else None),
            )
            job_id = cur.lastrowid
        after = QuotaSnapshot(snap.allowance, snap.source, snap.granted, snap.used + cost, snap.in_flight + 1,
                              snap.global_used + cost, snap.renews_at)
        return job_id, after

    async def mark_running(self, job_id: int) -> None:
        await self._settle(job_id, "running", ("reserved",), started_at=self.now())

    async def succeed(self, job_id: int, result_url: str | None) -> None:
        await self._settle(job_id, "succeeded", OPEN_STATES, finished_at=self.now(), result_url=result_url)

    async def fail(self, job_id: int, error: str) -> None:
        await self._settle(job_id, "failed", OPEN_STATES, finished_at=self.now(), error=error[:1000])

    async def _settle(self, job_id: int, state: str, from_states: tuple[str, ...], **columns: Any) -> None:
        # The state guard makes settling idempotent: a job already failed (say, by recovery) stays failed.
        sets = ", ".join(f"{name} = :{name}" for name in columns)
        marks = ", ".join(f"'{s}'" for s in from_states)
        async with self._lock:
            cur = await self._db.execute(
                f"UPDATE jobs SET state = :state, {sets} WHERE id = :id AND state IN ({marks})",
                {"state": state, "id": job_id, **columns},
            )
        if cur.rowcount != 1:
            log.warning("job %d was not %s; left as it was instead of marking it %s", job_id, "/".join(from_states), state)

    async def recover_interrupted(self) -> int:
        async with self._lock:
            cur = await self._db.execute(
                "UPDATE jobs SET state = 'failed', error = ?, finished_at = ? WHERE state IN ('reserved', 'running')",
                (INTERRUPTED, self.now()),
            )
        return cur.rowcount

    # -- admin --------------------------------------------------------------------------------

    async def set_allowance(self, guild_id: int, scope: str, target_id: int, credits: int | None, *,
                            actor_id: int) -> None:
        async with self._transaction() as db:
            if credits is None:
                await db.execute("DELETE FROM allowances WHERE guild_id = ? AND scope = ? AND target_id = ?",
                                 (guild_id, scope, target_id))
            else:
                await db.execute(
                    "INSERT INTO allowances (guild_id, scope, target_id, daily_credits) VALUES (?, ?, ?, ?)"
                    " ON CONFLICT (guild_id, scope, target_id) DO UPDATE SET daily_credits = excluded.daily_credits",
                    (guild_id, scope, target_id, credits),
                )
            await self._record(db, guild_id, actor_id, f"allowance.{scope}", target_id or None,
                               {"daily_credits": credits})

    async def grant(self, guild_id: int, user_id: int, credits: int, *, actor_id: int) -> None:
        async with self._transaction() as db:
            now = self.now()
            await db.execute(
                "INSERT INTO grants (guild_id, user_id, day, credits, granted_by, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (guild_id, user_id, utc_day(now), credits, actor_id, now),
            )
            await self._record(db, guild_id, actor_id, "grant", user_id, {"credits": credits})

    async def reset_usage(self, guild_id: int, user_id: int, *, actor_id: int) -> None:
        async with self._transaction() as db:
            now = self.now()
            await db.execute(
                "INSERT INTO usage_resets (guild_id, user_id, day, reset_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (guild_id, user_id, day) DO UPDATE SET reset_at = excluded.reset_at",
                (guild_id, user_id, utc_day(now), now),
            )
            await self._record(db, guild_id, actor_id, "reset", user_id, {})

    async def _record(self, db: aiosqlite.Connection, guild_id: int, actor_id: int, action: str,
                      target_id: int | None, detail: dict[str, Any]) -> None:
        await db.execute(
            "INSERT INTO admin_actions (guild_id, actor_id, action, target_id, detail, at) VALUES (?, ?, ?, ?, ?, ?)",
            (guild_id, actor_id, action, target_id, json.dumps(detail), self.now()),
        )

    async def record_view(self, guild_id: int, actor_id: int, target_id: int) -> None:
        async with self._lock:
            await self._record(self._db, guild_id, actor_id, "view", target_id, {})

    async def admin_actions(self, guild_id: int, limit: int = 50) -> list[dict[str, Any]]:
        return await self._rows(
            "SELECT actor_id, action, target_id, detail, at FROM admin_actions WHERE guild_id = ? ORDER BY id DESC LIMIT ?",
            (guild_id, limit),
        )

    async def recent_jobs(self, guild_id: int, user_id: int, limit: int = 5) -> list[dict[str, Any]]:
        return await self._rows(
            "SELECT id, model, cost, state, created_at, finished_at, error, result_url FROM jobs"
            " WHERE guild_id = ? AND user_id = ? ORDER BY id DESC LIMIT ?",
            (guild_id, user_id, limit),
        )

    async def job(self, job_id: int) -> dict[str, Any] | None:
        rows = await self._rows("SELECT * FROM jobs WHERE id = ?", (job_id,))
        return rows[0] if rows else None

    async def _rows(self, sql: str, args: tuple[Any, ...]) -> list[dict[str, Any]]:
        async with self._lock, self._db.execute(sql, args) as cur:
            names = [c[0] for c in cur.description]
            return [dict(zip(names, row, strict=True)) for row in await cur.fetchall()]
