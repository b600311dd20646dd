"""Heavy, blocking work (decoding and re-encoding images) off the event loop, bounded.

At most `workers` jobs run at once on their own threads; callers beyond that wait their turn on the
event loop, where waiting costs nothing. Each call has a deadline that includes the wait. A thread
cannot be killed, so a call past its deadline keeps its slot until the thread really ends: memory
stays bounded by `workers` whatever the deadlines do.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


class OffloadTimeout(Exception):
    """The work did not finish before its deadline; the caller falls back (a link, a refusal)."""


class Offload:
    def __init__(self, workers: int, *, name: str = "offload") -> None:
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)
        self._slots = asyncio.Semaphore(workers)
        self.waiting = 0  # callers waiting for a worker: the backlog (/metrics)
        self.busy = 0  # workers at work, a call past its deadline included until its thread ends

    async def run(self, fn: Callable[..., T], *args: Any, timeout: float) -> T:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        if self._slots.locked():  # a free worker is taken at once, with no deadline to arm
            self.waiting += 1
            try:
                async with asyncio.timeout_at(deadline):
                    await self._slots.acquire()
            except TimeoutError:
                raise OffloadTimeout(f"{getattr(fn, '__name__', fn)}: no worker free within {timeout:g}s") from None
            finally:
                self.waiting -= 1
        else:
            await self._slots.acquire()
        self.busy += 1
        future = loop.run_in_executor(self._executor, functools.partial(fn, *args))
        # The slot is given back when the thread ends, not when the caller stops waiting.
        future.add_done_callback(self._release)
        try:
            async with asyncio.timeout_at(deadline):
                return await asyncio.shield(future)
        except TimeoutError:
            future.add_done_callback(_swallow)
            raise OffloadTimeout(f"{getattr(fn, '__name__', fn)}: not done within {timeout:g}s") from None

    def _release(self, _: object) -> None:
        self.busy -= 1
        self._slots.release()

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


def _swallow(future: asyncio.Future) -> None:
    if not future.cancelled():
        future.exception()  # retrieved, so an abandoned failure is not reported as never retrieved
