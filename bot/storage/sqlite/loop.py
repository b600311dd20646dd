"""The creative loop on SQLite: a batch queued all or nothing (one transaction, the whole cost checked at
once), its jobs read back together, and a member's defaults (/settings)."""

from __future__ import annotations

import json
from typing import Any

from bot.domain import Member, Refused, utc_day
from bot.domain.delivery import Delivery
from bot.domain.records import JobRecord
from bot.storage.base import HOLD_SQL, QUEUED, check_fits, quota
from bot.storage.records import defaults_of, encode_delivery, job_records
from bot.storage.sqlite.core import fetch
from bot.storage.sqlite.ledger import _SNAPSHOT_SQL, SqliteLedger, snapshot_args

_INSERT_SQL = ("INSERT INTO jobs (user_id, guild_id, channel_id, model, params, cost, day, state, created_at, delivery,"
               " interaction_token, rank, batch_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id")


class SqliteLoop(SqliteLedger):
    async def enqueue_batch(self, member: Member, *, channel_id: int | None, model: str,
                            params: list[dict[str, Any]], cost: int, default_allowance: int, max_jobs: int,
                            global_cap: int | None, max_queue: int, deliveries: list[Delivery],
                            token: str | None) -> list[int]:
        now = self.now()
        day = utc_day(now)
        ids: list[int] = []
        async with self._transaction() as conn:  # BEGIN IMMEDIATE: the snapshot and the rows are one step
            ((*read,),) = await fetch(conn, _SNAPSHOT_SQL, snapshot_args(member, now))
            snap = quota(*read, now=now, default_allowance=default_allowance)
            check_fits(snap, cost * len(params), max_jobs, global_cap)
            ((waiting,),) = await fetch(conn, "SELECT COUNT(*) FROM jobs WHERE state = ?", (QUEUED,))
            if waiting + len(params) > max_queue:
                raise Refused(Refused.QUEUE, snap)
            for index, (body, delivery) in enumerate(zip(params, deliveries, strict=True)):
                ((job_id,),) = await fetch(conn, _INSERT_SQL, (
                    member.user_id, member.guild_id, channel_id, model, json.dumps(body), cost, day, QUEUED, now,
                    encode_delivery(delivery), token, snap.in_flight + index, ids[0] if ids else None))
                ids.append(job_id)
            await conn.execute("UPDATE jobs SET batch_id = ? WHERE id = ?", (ids[0], ids[0]))
        return ids

    async def batch(self, batch_id: int) -> list[JobRecord]:
        return job_records(await self._rows("SELECT * FROM jobs WHERE batch_id = ? ORDER BY id", (batch_id,)))

    async def hold_batch(self, batch_id: int, holder: str, seconds: float) -> bool:
        now = self.now()
        return await self._count(HOLD_SQL.replace("$", "?"), (batch_id, holder, now + seconds, now)) > 0

    async def release_batch(self, batch_id: int, holder: str) -> None:
        await self._count("DELETE FROM batch_holds WHERE batch_id = ? AND holder = ?", (batch_id, holder))

    async def member_defaults(self, guild_id: int, user_id: int) -> dict[str, Any]:
        return defaults_of(await self._rows("SELECT name, value FROM member_defaults WHERE guild_id = ? AND user_id = ?",
                                            (guild_id, user_id)))

    async def members_with_defaults(self, guild_id: int) -> set[int]:
        return {row[0] for row in await self._rows("SELECT DISTINCT user_id FROM member_defaults WHERE guild_id = ?",
                                                   (guild_id,))}

    async def set_member_default(self, guild_id: int, user_id: int, name: str, value: Any) -> None:
        key = (guild_id, user_id, name)
        if value is None:
            await self._count("DELETE FROM member_defaults WHERE guild_id = ? AND user_id = ? AND name = ?", key)
            return
        await self._count("INSERT INTO member_defaults (guild_id, user_id, name, value, at) VALUES (?, ?, ?, ?, ?)"
                          " ON CONFLICT (guild_id, user_id, name) DO UPDATE SET value = excluded.value, at = excluded.at",
                          (*key, json.dumps(value), self.now()))

    async def reset_member_defaults(self, guild_id: int, user_id: int) -> int:
        return await self._count("DELETE FROM member_defaults WHERE guild_id = ? AND user_id = ?", (guild_id, user_id))
