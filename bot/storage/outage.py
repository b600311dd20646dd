"""One log line when the ledger stops taking writes, one when it takes them again.

A full or read-only disk, an I/O error, a database server that is down: every caller meets the same
condition at once (the commands, the queue's loops, the audit poster, each settle), so the store
says it once, not each of them once a tick. Callers treat it as StoreDown and stay quiet.

Quiet until the store is open (`arm`): a ledger that can't be written while it is opened stops the
start, and the start's own one line says so (bot/preflight.py), not a promise about new commands.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import Callable
from contextvars import ContextVar

log = logging.getLogger("bot.storage")

# The last task that wrote to the ledger, or may have (a write whose answer was lost), as this task's
# context sees it. A new task starts with a copy of its parent's context, so the task is kept, not a
# flag: a command's task inherits the start's writes, and they are not its own.
_writer: ContextVar[weakref.ref[asyncio.Task] | None] = ContextVar("ledger_writer", default=None)


def ledger_written() -> bool:
    """Whether the running task (a command's, a button's) has written to the ledger, or may have. One
    that has not may say "nothing was spent or changed" when it fails; one that has (a job queued and
    its credits held, a setting changed) may not."""
    writer = _writer.get()
    return writer is not None and writer() is _current()


def _wrote_here() -> None:
    task = _current()
    _writer.set(None if task is None else weakref.ref(task))


def _current() -> asyncio.Task | None:
    try:
        return asyncio.current_task()
    except RuntimeError:  # no event loop running
        return None


class Outage:
    def __init__(self, ledger: str, clock: Callable[[], float] = time.monotonic) -> None:
        self._ledger = ledger  # what the lines name: "the SQLite ledger data/bot.sqlite3", ...
        self._clock = clock
        self._since: float | None = None
        self._armed = False

    def arm(self) -> None:
        """The store is open (recovery done): from now on an outage is the running bot's to report."""
        self._armed = True

    @property
    def down(self) -> bool:
        return self._since is not None

    def failed(self, reason: str) -> None:
        """A call met the condition; logged only when it starts."""
        if self._since is None and self._armed:
            self._since = self._clock()
            log.warning("%s can't be written right now (%s): new commands are refused with nothing spent, and "
                        "finished jobs are recorded once it can; logged once until it recovers", self._ledger, reason)

    def in_doubt(self, reason: str) -> None:
        """A write's answer was lost with the connection: it may have landed (WriteInDoubt)."""
        _wrote_here()
        self.failed(reason)

    def wrote(self) -> None:
        """A write landed: the condition, if there was one, is over."""
        _wrote_here()
        if self._since is not None:
            log.warning("%s takes writes again, after %.0f s", self._ledger, self._clock() - self._since)
            self._since = None
