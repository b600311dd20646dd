"""Loaded by bench/threads.py's children (first on their PYTHONPATH): every Python thread gives the
kernel its name, so /proc/<pid>/task/<tid>/comm tells the ledger's thread from an image thread.

A thread called "Thread-N (target)" is named after its target; aiosqlite's connection thread "aiosqlite".
Linux keeps 15 bytes of a name. Measurement only: the bot does not load this.
"""

import ctypes
import threading

_PR_SET_NAME = 15
_libc = ctypes.CDLL(None, use_errno=True)
_run = threading.Thread.run


def _named_run(self: threading.Thread) -> None:
    target = getattr(self, "_target", None)
    name = self.name
    if name.startswith("Thread-") and target is not None:
        name = getattr(target, "__name__", name).strip("_")
        if getattr(target, "__module__", "").startswith("aiosqlite"):
            name = "aiosqlite"
    _libc.prctl(_PR_SET_NAME, name.encode()[:15], 0, 0, 0)
    _run(self)


threading.Thread.run = _named_run  # type: ignore[method-assign]
