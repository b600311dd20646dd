"""When the queue's dispatch looks at the ledger: on a wake-up, not on a clock.

A job queued here kicks it at once; one queued by another process (PostgreSQL's notification) a moment
later, so the process that queued it, looking at once, takes it when it has a free slot; a slot freed
here only when jobs were left waiting. Its own timer is a safety net: IDLE_POLL_SECONDS, the job lease on
PostgreSQL (a process that died leaves its jobs to whoever looks once their leases ran out), the expiry
sweep's interval while jobs wait, and POLL_SECONDS only while it has reason to look again soon: the
database refused, the cluster-wide bound holds jobs back, or (PostgreSQL without a listener) another
process may have queued something. No Discord, no ledger here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

from bot.core.settings import Settings

T = TypeVar("T")
POLL_SECONDS = 1.0
IDLE_POLL_SECONDS = 30.0
OTHERS_FIRST_SECONDS = 0.3
# Waiting past QUEUE_MAX_WAIT_SECONDS is looked for this often at most (a write, so not on every wake-up),
# and a tenth of that wait at least, so a job is failed soon after it waited too long; on PostgreSQL once a
# lease too (a job whose processes died twice is failed soon after its last lease ran out).
EXPIRY_SWEEP_SECONDS = 60.0


class Wakeups:
    def __init__(self, settings: Settings) -> None:
        self._event = asyncio.Event()
        self._shared = settings.database_url is not None  # other processes may claim, queue and settle too
        self._heard = not self._shared  # whether every job queued anywhere kicks this process
        self._lease = settings.job_lease_seconds
        self.sweep_seconds = min(EXPIRY_SWEEP_SECONDS, max(0.2, settings.queue_max_wait_seconds / 10))
        if self._shared:  # the sweep also fails the jobs of processes that died during their last attempt
            self.sweep_seconds = min(self.sweep_seconds, self._lease)
        self.again = True  # look again soon: the last look failed, or the bound held jobs back
        self.waiting = True  # jobs may be waiting (at start: those the last run left)
        self._claiming = False  # a claim is out: a freed slot waits for its answer
        self._freed = False  # a slot freed while it was out

    def queued(self) -> None:
        """A job was queued here: look now."""
        self.waiting = True
        self._event.set()

    def queued_elsewhere(self) -> None:
        """Another process queued a job: look after OTHERS_FIRST_SECONDS (that process looks at once)."""
        self.waiting = True
        asyncio.get_running_loop().call_later(OTHERS_FIRST_SECONDS, self._event.set)

    def freed(self) -> None:
        """A slot freed here: worth a look only when jobs were left waiting; during a claim, only if its
        look says so (its jobs start before that look, and may free their slots before it answers)."""
        if self._claiming:
            self._freed = True
        elif self.waiting:
            self._event.set()

    async def claim(self, claiming: Awaitable[tuple[list[T], bool]]) -> tuple[list[T], bool]:
        """A claim's jobs, and whether jobs are left waiting after it (unknown if it failed: assumed so)."""
        self._claiming, self._freed = True, False
        waiting = True
        try:
            jobs, waiting = await claiming
        finally:
            self._claiming, self.waiting = False, waiting
            if self._freed:
                self.freed()
        return jobs, waiting

    def listening(self) -> None:
        """Other processes' jobs reach this one as wake-ups (PostgreSQL's notifications)."""
        self._heard = True

    def seconds(self) -> float:
        if self.again or not self._heard:
            return POLL_SECONDS
        seconds = min(IDLE_POLL_SECONDS, self._lease) if self._shared else IDLE_POLL_SECONDS
        return min(seconds, self.sweep_seconds) if self.waiting else seconds

    def shared(self) -> bool:
        return self._shared

    async def wait(self) -> None:
        """Until a wake-up or the timer; the next one counts from here."""
        try:
            # Not asyncio.wait_for: on 3.11 it drops a cancellation that lands as the wait ends (a kick
            # during shutdown), and the dispatch would then outlive shutdown's cancel.
            async with asyncio.timeout(self.seconds()):
                await self._event.wait()
        except TimeoutError:
            pass
        self._event.clear()
