"""Checks before the bot connects: DATA_DIR is usable (and the database opens: bot/storage/open.py).

Each failure is a `StartupError` whose text is the one line the operator reads: the path, what is
wrong with it, and the system's own reason. Without them a read-only volume surfaced as "could not
reach Discord" (an OSError caught as a network error), and a damaged database as a traceback.
"""

from __future__ import annotations

import errno
import logging
import os
import tempfile
from pathlib import Path

from bot.core.settings import Settings

log = logging.getLogger(__name__)


class StartupError(Exception):
    """The bot cannot start until the operator fixes what the message names."""


def check_data_dir(path: Path) -> None:
    """DATA_DIR exists (or can be made), is a directory, and this user can create files in it."""
    where = f"DATA_DIR {path}" + ("" if path.is_absolute() else f" ({path.absolute()})")
    if path.exists() and not path.is_dir():
        raise StartupError(f"{where} is not a directory; point DATA_DIR at a directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StartupError(f"{where} could not be created: {reason(exc)}") from None
    try:
        with tempfile.TemporaryFile(dir=path, prefix=".write-check-"):
            pass
    except OSError as exc:
        if exc.errno in DISK_ERRNOS:
            raise unwritable(path, f"no file can be created in it ({reason(exc)})", code=exc.errno) from None
        raise StartupError(f"{where} is not writable by uid {_uid()}: {reason(exc)}; "
                           "give that user write access to it") from None


# What a full, read-only or failing disk answers; the operator must act (exit 2), whichever it is.
DISK_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO})
FULL_BELOW_BYTES = 1024 * 1024  # less free than this under DATA_DIR, and a refused write is put down to it


def unwritable(data_dir: Path, what: str, *, code: int | None = None) -> StartupError:
    """DATA_DIR's file system would not take a write the start needs (`code`: the errno, when there is
    one): one line saying which condition (read-only, full, failing), the path, what could not be
    written, and what to do."""
    where = f"DATA_DIR {data_dir}" + ("" if data_dir.is_absolute() else f" ({data_dir.absolute()})")
    try:
        fs: os.statvfs_result | None = os.statvfs(data_dir)
    except OSError:
        fs = None
    if code == errno.EROFS or (fs is not None and fs.f_flag & os.ST_RDONLY):
        return StartupError(f"{where} is on a read-only file system: {what}; mount it read-write, then start the bot "
                            "again")
    free = None if fs is None else fs.f_bavail * fs.f_frsize
    no_files = fs is not None and fs.f_files > 0 and fs.f_favail == 0
    if code in (errno.ENOSPC, errno.EDQUOT) or no_files or (free is not None and free < FULL_BELOW_BYTES):
        left = "no file can be added" if no_files else f"{free // 1024} KiB free" if free is not None else "full"
        return StartupError(f"{where} is full ({left}): {what}; free space on it, then start the bot again")
    return StartupError(f"{where} can't be written: {what}; check the disk (dmesg) and its files' owner, permissions "
                        "and attributes (ls -l, lsattr), then start the bot again")


def ledger_name(settings: Settings) -> str:
    """Which ledger the settings name, for the log: the SQLite file, or PostgreSQL's user@host:port/database
    (never the password)."""
    if settings.database_url is None:
        return f"SQLite at {settings.database_path.absolute()}"
    from bot.core.database_url import DatabaseUrl

    return f"PostgreSQL at {DatabaseUrl.parse(settings.database_url.get_secret_value())}"


def reason(exc: BaseException) -> str:
    return exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)


def _uid() -> int | str:
    return os.getuid() if hasattr(os, "getuid") else "?"
