"""One generation, start to finish: reserve credits, call Pixazo, deliver, settle the ledger.

No Discord here. The caller hands in `deliver`, which posts the result wherever it belongs; the job
only counts as succeeded once delivery worked, so a result the member never saw costs nothing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from bot.errors import UserFacingError
from bot.pixazo import GeneratedImage, PixazoClient
from bot.pixazo.errors import PixazoTimeout
from bot.services.quotas import Quotas
from bot.services.validation import Prepared
from bot.settings import Settings
from bot.storage import Member, QuotaSnapshot, Refused, Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    job_id: int
    prepared: Prepared
    image: GeneratedImage
    seconds: float
    cost: int
    quota: QuotaSnapshot  # after this job's credits were spent


Deliver = Callable[[Outcome], Awaitable[None]]


class GenerationService:
    def __init__(self, settings: Settings, store: Store, pixazo: PixazoClient, quotas: Quotas) -> None:
        self._settings = settings
        self._store = store
        self._pixazo = pixazo
        self._quotas = quotas
        self._active: set[asyncio.Task] = set()

    async def run(self, prepared: Prepared, member: Member, *, channel_id: int | None, deliver: Deliver,
                  started: float | None = None, inputs: dict[str, Any] | None = None) -> Outcome:
        """`started` is when the member asked (monotonic); the whole job must end before Discord's token does."""
        started = time.monotonic() if started is None else started
        task = asyncio.current_task()
        if task is not None:
            self._active.add(task)
            task.add_done_callback(self._active.discard)
        model = prepared.model
        cost = self._quotas.cost_of(model.key)
        try:
            job_id, quota = await self._store.reserve(
                member, channel_id=channel_id, model=model.key, params=prepared.payload, cost=cost,
                default_allowance=self._settings.quota_default_daily_credits,
                max_jobs=self._settings.quota_max_jobs_per_user,
                global_cap=self._settings.quota_global_daily_credits, inputs=inputs,
            )
        except Refused as refused:
            raise self._quotas.refusal(refused, model.key) from None
        try:
            image = await self._generate(prepared, started, on_start=lambda: self._store.mark_running(job_id))
            outcome = Outcome(job_id, prepared, image, time.monotonic() - started, cost, quota)
            await deliver(outcome)
            # Shielded: once the member has the image, a shutdown must not turn it into a refund.
            await asyncio.shield(self._store.succeed(job_id, image.url))
            log.info("job %d /%s for user %s in guild %s succeeded in %.1fs (%d credit(s), %d attempt(s))",
                     job_id, model.key, member.user_id, member.guild_id, outcome.seconds, cost, image.attempts)
        except UserFacingError as exc:
            await self._store.fail(job_id, exc.detail)
            raise
        except BaseException as exc:
            # Cancellation or a bug: the credits still come back, even while the task is being torn down.
            # (After a shielded succeed this is a no-op: settling only moves jobs out of open states.)
            await asyncio.shield(self._store.fail(job_id, f"{type(exc).__name__}: {exc}"))
            raise
        return outcome

    async def shutdown(self) -> None:
        """Cancel jobs still running so each settles (and refunds) before the database closes."""
        tasks = [t for t in self._active if not t.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            log.warning("shutting down: cancelled %d job(s) in progress; those not yet delivered are refunded",
                        len(tasks))
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _generate(self, prepared: Prepared, started: float,
                        on_start: Callable[[], Awaitable[None]]) -> GeneratedImage:
        left = self._settings.job_deadline_seconds - (time.monotonic() - started)
        try:
            async with asyncio.timeout(max(0.0, left)):
                return await self._pixazo.generate(prepared.model, prepared.payload, on_start=on_start,
                                                   use_stream=self._settings.pixazo_use_stream_endpoints)
        except TimeoutError:
            raise PixazoTimeout(
                self._settings.job_deadline_seconds,
                detail=f"job deadline of {self._settings.job_deadline_seconds}s reached (queue and retries)",
            ) from None
