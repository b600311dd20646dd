"""Checks before the bot connects: DATA_DIR is usable (and the database opens: bot/storage/open.py).

Each failure is a `StartupError` whose text is the one line the operator reads: the path, what is
wrong with it, and the system's own reason. Without them a read-only volume surfaced as "could not
reach Discord" (an OSError caught as a network error), and a damaged database as a traceback.
"""

from __future__ import annotations

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
        raise StartupError(f"{where} is not writable by uid {_uid()}: {reason(exc)}; "
                           "give that user write access to it") from None


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
