"""One log line when the ledger stops taking writes, one when it takes them again.

A full or read-only disk, an I/O error, a database server that is down: every caller meets the same
condition at once (the commands, the queue's loops, the audit poster, each settle), so the store
says it once, not each of them once a tick. Callers treat it as StoreDown and stay quiet.

Quiet until the store is open (`arm`): a ledger that can't be written while it is opened stops the
start, and the start's own one line says so (bot/preflight.py), not a promise about new commands.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

log = logging.getLogger("bot.storage")


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

    def wrote(self) -> None:
        """A write landed: the condition, if there was one, is over."""
        if self._since is not None:
            log.warning("%s takes writes again, after %.0f s", self._ledger, self._clock() - self._since)
            self._since = None
