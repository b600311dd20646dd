"""Approval mode and reports on PostgreSQL: the `reviews` rows the review channel's buttons decide; the
first decision wins (row locks in id order)."""

from __future__ import annotations

import asyncpg

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
from bot.storage.postgres.core import PostgresCore
from bot.storage.records import (
    review_record,
)


class PostgresReviews(PostgresCore):
    async def open_review(self, guild_id: int, job_id: int, kind: ReviewKind, user_id: int, *,
                          channel_id: int | None, reason: str | None = None, application_id: int | None = None,
                          token: str | None = None, token_expires_at: float | None = None,
                          detail: str | None = None, while_running: bool = False) -> tuple[int, int]:
        try:
            async with self._write() as conn:
                if while_running:  # locked: a Cancel of the job waits for this review, or this for the Cancel
                    state = await conn.fetchval("SELECT state FROM jobs WHERE id = $1 FOR UPDATE", job_id)
                    if state != RUNNING:
                        raise NoLongerRunning(f"job {job_id} is {state or 'gone'}, not running")
                review_id = await conn.fetchval(
                    "INSERT INTO reviews (guild_id, job_id, kind, user_id, channel_id, reason, application_id,"
                    " interaction_token, token_expires_at, detail, created_at)"
                    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
                    guild_id, job_id, kind.value, user_id, channel_id, reason, application_id, token,
                    token_expires_at, detail, self.now())
                pending = await conn.fetchval("SELECT COUNT(*) FROM reviews WHERE job_id = $1 AND kind = $2"
                                              " AND status = $3", job_id, kind.value, ReviewState.PENDING.value)
        except asyncpg.UniqueViolationError as exc:
            raise AlreadyReviewed(f"job {job_id}: {kind.value} by {user_id} exists ({exc})") from None
        return review_id, pending

    async def set_review_message(self, review_id: int, channel_id: int, message_id: int) -> None:
        async with self._conn() as conn:
            await conn.execute("UPDATE reviews SET review_channel_id = $2, review_message_id = $3 WHERE id = $1",
                               review_id, channel_id, message_id)

    async def set_review_detail(self, review_id: int, detail: str | None) -> None:
        async with self._conn() as conn:
            await conn.execute("UPDATE reviews SET detail = $2 WHERE id = $1", review_id, detail)

    async def drop_review(self, review_id: int) -> None:
        async with self._conn() as conn:
            await conn.execute("DELETE FROM reviews WHERE id = $1 AND status = $2", review_id,
                               ReviewState.PENDING.value)

    async def review(self, review_id: int) -> ReviewRecord | None:
        async with self._read() as conn:
            row = await conn.fetchrow("SELECT * FROM reviews WHERE id = $1", review_id)
        return None if row is None else review_record(row)

    async def open_reviews(self, job_id: int, kind: ReviewKind) -> list[ReviewRecord]:
        async with self._read() as conn:
            rows = await conn.fetch("SELECT * FROM reviews WHERE job_id = $1 AND kind = $2 AND status = $3 ORDER BY id",
                                    job_id, kind.value, ReviewState.PENDING.value)
        return [review_record(r) for r in rows]

    async def reopen_review(self, review_id: int, *, decided_by: int, token: str | None) -> bool:
        async with self._conn() as conn:
            status = await conn.execute(
                "UPDATE reviews SET status = $1, decided_by = NULL, decided_at = NULL, interaction_token = $2"
                " WHERE id = $3 AND decided_by = $4 AND status <> $1",
                ReviewState.PENDING.value, token, review_id, decided_by)
        return status.split()[-1] == "1"

    async def reported_by(self, job_id: int, user_id: int) -> bool:
        async with self._read() as conn:
            found = await conn.fetchval("SELECT EXISTS (SELECT FROM reviews WHERE job_id = $1 AND kind = $2"
                                        " AND user_id = $3)", job_id, ReviewKind.REPORT.value, user_id)
        return bool(found)

    async def decide_review(self, review_id: int, status: ReviewState, *, decided_by: int,
                            reason: str | None = None) -> Decision | None:
        pending = ReviewState.PENDING.value
        sets = "status = $2, decided_by = $3, decided_at = $4, interaction_token = NULL"
        async with self._write() as conn:
            row = await conn.fetchrow("SELECT job_id, kind FROM reviews WHERE id = $1", review_id)
            if row is None:
                return None
            if status not in DECISIONS[ReviewKind(row["kind"])]:
                raise ValueError(f"{status} is no decision for a {row['kind']} review")
            # Every review of the result, locked in id order: decisions on the same result (one report's
            # Keep against another's Remove) take turns instead of deadlocking on each other's rows.
            await conn.execute("SELECT id FROM reviews WHERE job_id = $1 AND kind = $2 ORDER BY id FOR UPDATE",
                               row["job_id"], row["kind"])
            won = await conn.fetchrow(f"UPDATE reviews SET {sets}, reason = COALESCE($5, reason)"
                                      f" WHERE id = $1 AND status = $6 RETURNING id",
                                      review_id, status.value, decided_by, self.now(), reason, pending)
            also = []
            if won is not None and row["kind"] == ReviewKind.REPORT.value:
                also = await conn.fetch(f"UPDATE reviews SET {sets} WHERE job_id = $1 AND kind = $5 AND status = $6"
                                        " RETURNING *", row["job_id"], status.value, decided_by, self.now(),
                                        row["kind"], pending)
            now_row = await conn.fetchrow("SELECT * FROM reviews WHERE id = $1", review_id)
        return Decision(won is not None, review_record(now_row),
                        sorted((review_record(r) for r in also), key=lambda r: r["id"]))
