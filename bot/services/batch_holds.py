"""One edit of a batch's message at a time: in this process (a lock per batch) and across every process
sharing the ledger (a hold in the ledger, `Batches.hold_batch`).

A batch's images are the files of one message, and each edit names every file the message keeps: two
writers that each read the message and then edit it would each drop the file the other added. So the
writer reads, adds and edits while it holds the batch: another process's writer waits for the hold
(retrying, a little longer each time) and then reads a message that has the first one's file. The hold
is renewed while the edit runs, and passes by itself if its process dies.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator
from typing import Protocol

log = logging.getLogger(__name__)

FIRST_WAIT = 0.05  # seconds before asking again for a hold someone else has; doubled up to LONGEST_WAIT
LONGEST_WAIT = 0.5


class Holds(Protocol):
    owner: str

    async def hold_batch(self, batch_id: int, holder: str, seconds: float) -> bool: ...

    async def release_batch(self, batch_id: int, holder: str) -> None: ...


class BatchHolds:
    def __init__(self, store: Holds, *, seconds: float) -> None:
        """`seconds`: how long a hold lasts unrenewed (a job's lease: a process silent that long is dead)."""
        self._store = store
        self._seconds = seconds
        self._locks: dict[int, asyncio.Lock] = {}
        self._users: dict[int, int] = {}

    @contextlib.asynccontextmanager
    async def editing(self, batch_id: int) -> AsyncIterator[None]:
        """While inside, nobody else edits the batch's message: read it, add to it, edit it."""
        lock = self._locks.setdefault(batch_id, asyncio.Lock())
        self._users[batch_id] = self._users.get(batch_id, 0) + 1
        try:
            async with lock:
                holder = f"{self._store.owner}:{secrets.token_hex(4)}"
                await self._take(batch_id, holder)
                keeper = asyncio.create_task(self._keep(batch_id, holder), name=f"batch-hold-{batch_id}")
                try:
                    yield
                finally:
                    keeper.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await keeper
                    await self._release(batch_id, holder)
        finally:
            self._users[batch_id] -= 1
            if not self._users[batch_id]:
                del self._users[batch_id], self._locks[batch_id]

    async def _take(self, batch_id: int, holder: str) -> None:
        wait = FIRST_WAIT
        while not await self._store.hold_batch(batch_id, holder, self._seconds):
            await asyncio.sleep(wait)
            wait = min(wait * 2, LONGEST_WAIT)

    async def _keep(self, batch_id: int, holder: str) -> None:
        """Renew the hold every third of its length while the edit runs (a long upload)."""
        while True:
            await asyncio.sleep(self._seconds / 3)
            try:
                if not await self._store.hold_batch(batch_id, holder, self._seconds):
                    log.warning("batch %d: its message's hold passed to another process during an edit", batch_id)
                    return
            except Exception as exc:  # the ledger is down: the hold lasts its length, the edit goes on
                log.warning("batch %d: could not renew its message's hold: %s", batch_id, type(exc).__name__)

    async def _release(self, batch_id: int, holder: str) -> None:
        try:
            await asyncio.shield(self._store.release_batch(batch_id, holder))
        except Exception as exc:  # it passes by itself after its length
            log.warning("batch %d: could not release its message's hold: %s", batch_id, type(exc).__name__)
