"""The SQLite connection's own thread: one function at a time, in the order they were handed over.

What aiosqlite does, without reaching into its private `Connection._execute`: the store needs to run
a whole transaction (a plain function over the connection) as one uninterruptible step. A bare
thread and a queue cost less per call than `run_in_executor`, which matters at thousands of calls a
second (bench/ledger.py).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from queue import SimpleQueue
from typing import Any, TypeVar

T = TypeVar("T")


def _deliver(future: asyncio.Future, result: Any, error: BaseException | None) -> None:
    if future.cancelled():  # the caller stopped waiting; the work itself has run all the same
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


class DatabaseThread:
    def __init__(self, name: str = "sqlite") -> None:
        self._queue: SimpleQueue = SimpleQueue()
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while (item := self._queue.get()) is not None:
            future, loop, work, args = item
            try:
                result, error = work(*args), None
            except BaseException as exc:  # noqa: BLE001 - handed to the awaiting coroutine, which re-raises it
                result, error = None, exc
            try:
                loop.call_soon_threadsafe(_deliver, future, result, error)
            except RuntimeError:  # the loop is closed: nobody is waiting any more
                pass

    def run(self, work: Callable[..., T], *args: Any) -> asyncio.Future[T]:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._queue.put((future, loop, work, args))
        return future

    def stop(self) -> None:
        """Finish what was handed over, then end the thread."""
        self._queue.put(None)
        self._thread.join()
