"""Approval mode and reports on SQLite: the `reviews` rows the review channel's buttons decide. The first
decision wins: BEGIN IMMEDIATE holds the write lock from the first read, so no other decision interleaves."""

from __future__ import annotations

import sqlite3

from bot.domain.reviews import (
    DECISIONS,
    AlreadyReviewed,
    Decision,
    NoLongerRunning,
    ReviewKind,
    ReviewRecord,
    ReviewState,
)
from bot.storage.base import RUNNING
from bot.storage.records import review_record
from bot.storage.sqlite.core import SqliteCore, fetch

_PENDING = ReviewState.PENDING.value


async def _still_running(conn, job_id: int) -> None:
    """A held result's review is opened only while its job runs: a Cancel that landed first wins."""
    found = await fetch(conn, "SELECT state FROM jobs WHERE id = ?", (job_id,))
    if not found or found[0][0] != RUNNING:
        raise NoLongerRunning(f"job {job_id} is {found[0][0] if found else 'gone'}, not running")


class SqliteReviews(SqliteCore):
    async def open_review(self, guild_id: int, job_id: int, kind: ReviewKind, user_id: int, *,
                          channel_id: int | None, reason: str | None = None, application_id: int | None = None,
                          token: str | None = None, token_expires_at: float | None = None,
                          detail: str | None = None, while_running: bool = False) -> tuple[int, int]:
        row = (guild_id, job_id, kind.value, user_id, channel_id, reason, application_id, token, token_expires_at,
               detail, self.now())
        try:
            async with self._transaction() as conn:
                if while_running:
                    await _still_running(conn, job_id)
                ((review_id,),) = await fetch(conn,
                    "INSERT INTO reviews (guild_id, job_id, kind, user_id, channel_id, reason, application_id,"
                    " interaction_token, token_expires_at, detail, created_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id", row)
                ((pending,),) = await fetch(conn, "SELECT COUNT(*) FROM reviews WHERE job_id = ?"
                                                            " AND kind = ? AND status = ?",
                                                            (job_id, kind.value, _PENDING))
        except sqlite3.IntegrityError as exc:
            raise AlreadyReviewed(f"job {job_id}: {kind.value} by {user_id} exists ({exc})") from None
        return review_id, pending

    async def set_review_message(self, review_id: int, channel_id: int, message_id: int) -> None:
        await self._count("UPDATE reviews SET review_channel_id = ?, review_message_id = ? WHERE id = ?",
                          (channel_id, message_id, review_id))

    async def set_review_detail(self, review_id: int, detail: str | None) -> None:
        await self._count("UPDATE reviews SET detail = ? WHERE id = ?", (detail, review_id))

    async def drop_review(self, review_id: int) -> None:
        await self._count("DELETE FROM reviews WHERE id = ? AND status = ?", (review_id, _PENDING))

    async def review(self, review_id: int) -> ReviewRecord | None:
        row = await self._row("SELECT * FROM reviews WHERE id = ?", (review_id,))
        return None if row is None else review_record(row)

    async def open_reviews(self, job_id: int, kind: ReviewKind) -> list[ReviewRecord]:
        rows = await self._rows("SELECT * FROM reviews WHERE job_id = ? AND kind = ? AND status = ? ORDER BY id",
                                (job_id, kind.value, _PENDING))
        return [review_record(r) for r in rows]

    async def reopen_review(self, review_id: int, *, decided_by: int, token: str | None) -> bool:
        return await self._count("UPDATE reviews SET status = ?, decided_by = NULL, decided_at = NULL,"
                                 " interaction_token = ? WHERE id = ? AND decided_by = ? AND status != ?",
                                 (_PENDING, token, review_id, decided_by, _PENDING)) == 1

    async def reported_by(self, job_id: int, user_id: int) -> bool:
        return bool(await self._rows("SELECT id FROM reviews WHERE job_id = ? AND kind = ? AND user_id = ?",
                                     (job_id, ReviewKind.REPORT.value, user_id)))

    async def decide_review(self, review_id: int, status: ReviewState, *, decided_by: int,
                            reason: str | None = None) -> Decision | None:
        sets = "status = ?, decided_by = ?, decided_at = ?, interaction_token = NULL"
        decided = (status.value, decided_by, self.now())
        async with self._transaction() as conn:
            found = await fetch(conn, "SELECT job_id, kind FROM reviews WHERE id = ?", (review_id,))
            if not found:
                return None
            job_id, kind = found[0]
            if status not in DECISIONS[ReviewKind(kind)]:
                raise ValueError(f"{status} is no decision for a {kind} review")
            won = await fetch(conn, f"UPDATE reviews SET {sets}, reason = COALESCE(?, reason)"
                                              " WHERE id = ? AND status = ? RETURNING *",
                                              (*decided, reason, review_id, _PENDING))
            also = []
            if won and kind == ReviewKind.REPORT.value:
                also = await fetch(conn, f"UPDATE reviews SET {sets} WHERE job_id = ? AND kind = ?"
                                                   " AND status = ? RETURNING *", (*decided, job_id, kind, _PENDING))
            now_row = won[0] if won else (await fetch(conn, "SELECT * FROM reviews WHERE id = ?",
                                                                      (review_id,)))[0]
        return Decision(bool(won), review_record(now_row),
                        sorted((review_record(r) for r in also), key=lambda r: r["id"]))
