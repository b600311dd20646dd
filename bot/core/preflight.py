"""Checks before the bot connects: DATA_DIR is usable and the database opens.

Each failure is a `StartupError` whose text is the one line the operator reads: the path, what is
wrong with it, and the system's own reason. Without them a read-only volume surfaced as "could not
reach Discord" (an OSError caught as a network error), and a damaged database as a traceback.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import tempfile
from collections.abc import Mapping
from pathlib import Path

from bot.core.settings import Settings
from bot.storage import Store
from bot.storage import open_store as open_ledger

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
        raise StartupError(f"{where} could not be created: {_reason(exc)}") from None
    try:
        with tempfile.TemporaryFile(dir=path, prefix=".write-check-"):
            pass
    except OSError as exc:
        raise StartupError(f"{where} is not writable by uid {_uid()}: {_reason(exc)}; "
                           "give that user write access to it") from None


async def open_store(settings: Settings, *, delivered: Mapping[int, str | None], owner: str | None = None) -> Store:
    # StoreBusy passes through: a lock held by another process is worth a retry, not a fix. So do
    # StoreUnavailable and SchemaTooNew, whose messages already name DATABASE_URL or the schema.
    database = settings.database_path
    try:
        # exclusive: the caller holds DATA_DIR's lock (bot/core/instance_lock.py), so on SQLite no other
        # process can be running a job and recovery may take them all as this one's.
        store = await open_ledger(settings, delivered=delivered, owner=owner, exclusive=True)
    except sqlite3.OperationalError as exc:
        hint = "; is another copy of the bot using this DATA_DIR?" if "locked" in str(exc) else ""
        raise StartupError(f"database {database} could not be opened: {exc}{hint}") from None
    except (sqlite3.Error, OSError) as exc:
        raise StartupError(f"database {database} could not be opened: {_reason(exc)}") from None
    # Once open: a failure to open is its own one line, naming the ledger already.
    log.info("ledger: %s", ledger_name(settings))
    return store


def ledger_name(settings: Settings) -> str:
    """Which ledger the settings name, for the log: the SQLite file, or PostgreSQL's user@host:port/database
    (never the password)."""
    if settings.database_url is None:
        return f"SQLite at {settings.database_path.absolute()}"
    from bot.storage.postgres.url import DatabaseUrl

    return f"PostgreSQL at {DatabaseUrl.parse(settings.database_url.get_secret_value())}"


def _reason(exc: BaseException) -> str:
    return exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)


def _uid() -> int | str:
    return os.getuid() if hasattr(os, "getuid") else "?"
