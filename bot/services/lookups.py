"""The rows a button or form is about, read by id: what the ui's press check loads (bot/ui/presses.py)."""

from __future__ import annotations

from typing import Protocol

from bot.domain.records import AppealRecord, JobRecord
from bot.domain.reviews import ReviewRecord


class Rows(Protocol):
    async def job(self, job_id: int) -> JobRecord | None: ...

    async def review(self, review_id: int) -> ReviewRecord | None: ...

    async def appeal(self, appeal_id: int) -> AppealRecord | None: ...

    async def batch(self, batch_id: int) -> list[JobRecord]: ...


class Lookups:
    def __init__(self, store: Rows) -> None:
        self._store = store

    async def job(self, job_id: int) -> JobRecord | None:
        return await self._store.job(job_id)

    async def review(self, review_id: int) -> ReviewRecord | None:
        return await self._store.review(review_id)

    async def appeal(self, appeal_id: int) -> AppealRecord | None:
        return await self._store.appeal(appeal_id)

    async def batch(self, batch_id: int) -> list[JobRecord]:
        """Every job of a batch, in order."""
        return await self._store.batch(batch_id)
