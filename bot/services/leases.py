"""This process's leases on the jobs it runs (part 9), for the queue's runner (bot/services/queue.py).

Every claim takes a lease in this process's name; every third of the lease the runner's leases are
pushed forward in one ledger call. A job whose lease did not renew is judged by its row: another
process took it over (this one stalled), so it is stopped here, neither delivered nor settled, its new
holder does both; or a member cancelled it in another process, so its call stops here too.
"""

from __future__ import annotations

import asyncio
import logging

from bot.core.metrics import Metrics
from bot.domain import JobState, StoreBusy, StoreDown
from bot.storage.roles import JobQueue

log = logging.getLogger(__name__)


class Leases:
    def __init__(self, store: JobQueue, owner: str, seconds: float, running: dict[int, asyncio.Task],
                 cancelled: set[int], metrics: Metrics) -> None:
        self._store = store
        self._owner = owner
        self._seconds = seconds
        self._running = running  # the runner's: job id -> its task
        self._cancelled = cancelled  # the runner's: cancelled by a member while running here
        self._metrics = metrics
        self.lost: set[int] = set()  # its lease expired and another process took it over

    async def loop(self) -> None:
        """Every third of the lease, push this process's leases forward (a job waiting for its settle
        to land included: it stays this process's). Only a job still running is judged by its lease:
        once its settle landed, the work after it (delivering, telling the member) always finishes."""
        while True:
            await asyncio.sleep(self._seconds / 3)
            ids = [job_id for job_id, task in self._running.items() if not task.done()]
            if not ids:
                continue  # nothing held: nothing to ask the ledger
            try:
                held = await self._store.renew(self._owner, ids, self._seconds)
                for job_id in ids:
                    if job_id not in held:
                        await self._judge(job_id)
            except StoreDown:
                continue  # the store has logged the outage once; nobody else can claim them meanwhile either
            except StoreBusy as exc:
                log.warning("queue: could not renew %d lease(s), the database is busy: %s", len(ids), exc)
                continue
            except Exception:
                log.exception("queue: renewing %d lease(s) failed; trying again", len(ids))
                continue

    async def _judge(self, job_id: int) -> None:
        """A job of this process's whose lease did not renew: the ledger says why."""
        task = self._running.get(job_id)
        if task is None or task.done():
            return
        row = await self._store.job(job_id)
        if row is None:
            return
        state = JobState(row["state"])
        if state is JobState.RUNNING and row.get("lease_owner") not in (None, self._owner):
            log.warning("job %d: its lease expired and another process took it over; stopping it here", job_id)
            self.lose(job_id)
            task.cancel()
        elif state is JobState.CANCELLED:
            log.info("job %d was cancelled in another process; stopping it here", job_id)
            self._cancelled.add(job_id)
            task.cancel()
        # Else it is settled here (succeeded, failed, back in the queue): what follows the settle finishes.

    def lose(self, job_id: int) -> None:
        """Another process holds the job now: what this one made of it is discarded."""
        self.lost.add(job_id)
        self._metrics.lease_lost()
