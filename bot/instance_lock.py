"""One bot process per DATA_DIR: an exclusive `flock` on DATA_DIR/bot.lock, held for the process's life.

On SQLite that means one process per ledger, which is what the SQLite backend is for: its recovery at
start takes every running job as its own (no other process can hold one), and two processes would
each release the other's jobs. On PostgreSQL several processes share the ledger, but each needs its
own DATA_DIR: the settle journal, the heartbeat and the command-sync record are per process.
The kernel drops the lock when the process dies, even by kill -9, so a crash never leaves it stale.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from bot.preflight import StartupError

LOCK_NAME = "bot.lock"


class InstanceLock:
    def __init__(self, fd: int, path: Path) -> None:
        self._fd: int | None = fd
        self.path = path

    @classmethod
    def take(cls, data_dir: Path, *, sqlite: bool) -> InstanceLock:
        """The lock, or a StartupError (one line) naming what to do when another process holds it."""
        path = data_dir / LOCK_NAME
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read(fd)
            os.close(fd)
            why = ("the SQLite ledger runs one bot process only; to run several, set DATABASE_URL to a "
                   "PostgreSQL database and give each process its own DATA_DIR") if sqlite else \
                  "each process sharing DATABASE_URL needs a DATA_DIR of its own"
            raise StartupError(f"another bot process{holder} is already using DATA_DIR {data_dir}; {why}") from None
        except OSError:
            os.close(fd)
            raise
        # Who holds it, for the message a second process prints; the lock itself is the flock.
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        return cls(fd, path)

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)  # closing the descriptor drops the flock


def _read(fd: int) -> str:
    try:
        pid = os.pread(fd, 32, 0).decode().strip()
    except (OSError, UnicodeDecodeError):
        return ""
    return f" (pid {pid})" if pid.isdigit() else ""
