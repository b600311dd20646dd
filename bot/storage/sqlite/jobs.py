"""Finished jobs on SQLite: one job, where its result was posted, /history's pages, and forgetting
(/forget and the retention sweep), which overwrites what it frees and empties the write-ahead log."""

from __future__ import annotations

from typing import Any

from bot.domain.appeals import AppealStatus
from bot.domain.audit import AuditAction
from bot.domain.records import JobRecord
from bot.storage.base import FORGET_SETS
from bot.storage.records import job_record, job_records
from bot.storage.sqlite.core import Conn, SqliteCore
from bot.storage.sqlite.ledger import OPEN_SQL

# A review of a forgotten job: a decided one needs its saved result embed no more; a pending one keeps only
# what shows the image again (title, image, footer), not the prompt, settings or requester.
_FORGET_REVIEW = ("detail = CASE WHEN status = 'pending' THEN json_remove(detail, '$.embed.description',"
                  " '$.embed.fields', '$.embed.author', '$.embed.thumbnail') END")


class SqliteJobs(SqliteCore):
    async def job(self, job_id: int) -> JobRecord | None:
        row = await self._row("SELECT * FROM jobs WHERE id = ?", (job_id,))
        return None if row is None else job_record(row)

    async def set_result_message(self, job_id: int, channel_id: int, message_id: int) -> None:
        await self._count("UPDATE jobs SET result_channel_id = ?, result_message_id = ? WHERE id = ?",
                          (channel_id, message_id, job_id))

    async def history(self, guild_id: int, user_id: int, *, model: str | None = None, offset: int = 0,
                      limit: int = 5) -> tuple[list[JobRecord], int]:
        where = "guild_id = ? AND user_id = ?" + (" AND model = ?" if model else "")
        args: tuple[Any, ...] = (guild_id, user_id, model) if model else (guild_id, user_id)
        # COUNT(*) OVER (): the page and the total in one statement, from one snapshot.
        rows = await self._rows(f"SELECT *, COUNT(*) OVER () AS total_rows FROM jobs WHERE {where}"
                                " ORDER BY id DESC LIMIT ? OFFSET ?", (*args, limit, offset))
        if rows:
            total = rows[0]["total_rows"]
        else:  # an offset past the end still says how many there are
            ((total,),) = await self._rows(f"SELECT COUNT(*) FROM jobs WHERE {where}", args)
        return job_records([{k: r[k] for k in r.keys() if k != "total_rows"} for r in rows]), total

    async def forget_member(self, user_id: int) -> int:
        return await self._forget("user_id = ?", (user_id,), "actor_id = ?", "user_id = ?", member=user_id)

    async def forget_older_than(self, created_before: float) -> int:
        return await self._forget("created_at < ?", (created_before,), "at < ?", "created_at < ?")

    async def _forget(self, where: str, args: tuple[Any, ...], audit_where: str, appeal_where: str, *,
                      member: int | None = None) -> int:
        sql = (f"UPDATE jobs SET {FORGET_SETS}, forgotten_at = ? WHERE {where} AND forgotten_at IS NULL"
               f" AND state NOT IN ({OPEN_SQL})")
        async with self._transaction() as conn:
            cleared = (await conn.execute(sql, (self.now(), *args))).rowcount
            await conn.execute(f"UPDATE reviews SET {_FORGET_REVIEW} WHERE detail IS NOT NULL AND job_id IN"
                               f" (SELECT id FROM jobs WHERE {where} AND forgotten_at IS NOT NULL)", args)
            await _forget_asked(conn, audit_where, appeal_where, args)
            if member is not None:  # /forget: the member's /settings defaults (a free-text negative prompt too)
                await conn.execute("DELETE FROM member_defaults WHERE user_id = ?", (member,))
        await self._checkpoint()
        return cleared


async def _forget_asked(conn: Conn, audit_where: str, appeal_where: str, args: tuple[Any, ...]) -> None:
    """What a member asked for also lives in audit rows (a generation's prompt, the text an appealed
    rule matched) and in appeals not waiting for a moderator; /forget and retention clear it with the jobs."""
    await conn.execute(f"UPDATE admin_actions SET detail = json_remove(detail, '$.prompt', '$.rule.matched')"
                       f" WHERE {audit_where} AND action IN (?, ?)",
                       (*args, AuditAction.GENERATION.value, AuditAction.APPEAL.value))
    await conn.execute(f"UPDATE appeals SET request = '{{}}', rule = json_remove(rule, '$.matched') WHERE {appeal_where}"
                       " AND status IN (?, ?, ?)",
                       (*args, AppealStatus.ALLOWED.value, AppealStatus.DENIED.value, AppealStatus.OFFERED.value))
