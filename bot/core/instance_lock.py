"""One bot process per DATA_DIR: an exclusive `flock` on DATA_DIR/bot.lock, held for the process's life.

On SQLite that means one process per ledger, which is what the SQLite backend is for: its recovery at
start takes every running job as its own (no other process can hold one), and two processes would
each release the other's jobs. On PostgreSQL several processes share the ledger, but each needs its
own DATA_DIR: the settle journal, the heartbeat and the command-sync record are per process.
The kernel drops the lock when the process dies, even by kill -9, so a crash never leaves it stale.

Because one process at a time owns a DATA_DIR, the DATA_DIR names the bot instance: DATA_DIR/instance-id
keeps a random id, made at the first start, that every job lease of its processes starts with
(bot/storage/lease.py). A process that starts there is its predecessor's successor and takes over
that one's running jobs at once; another instance's wait for their leases to expire.
"""

from __future__ import annotations

import fcntl
import os
import secrets
from pathlib import Path

from bot.core.preflight import StartupError

LOCK_NAME = "bot.lock"
INSTANCE_NAME = "instance-id"


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
        # Who holds it, for the message a second process prints; the lock itself is the flock. Written
        # over the last holder's pid, then cut to length: no new block, so a full disk does not refuse it
        # (nor does it stop the start: the pid is only a courtesy).
        pid = f"{os.getpid()}\n".encode()
        try:
            os.pwrite(fd, pid, 0)
            os.ftruncate(fd, len(pid))
        except OSError:
            pass
        return cls(fd, path)

    def instance_id(self) -> str:
        """DATA_DIR's instance id (letters and digits), made and kept on the first call ever."""
        path = self.path.parent / INSTANCE_NAME
        try:
            kept = path.read_text(encoding="ascii").strip()
        except (FileNotFoundError, UnicodeDecodeError):
            kept = ""
        if kept.isalnum() and len(kept) <= 32:
            return kept
        made = secrets.token_hex(6)
        temporary = path.with_name(f".{INSTANCE_NAME}.tmp")
        try:
            with temporary.open("w", encoding="ascii") as f:
                f.write(made + "\n")
                f.flush()
                os.fsync(f.fileno())
            os.replace(temporary, path)  # whole or not at all, under the lock
        except OSError as exc:  # a full or read-only disk: the start's one line names the file
            raise OSError(exc.errno, exc.strerror, str(path)) from None
        return made

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
