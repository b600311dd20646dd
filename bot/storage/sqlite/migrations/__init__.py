"""Numbered SQL migrations; the database's version lives in `PRAGMA user_version`."""

from __future__ import annotations

import sqlite3

from bot.storage.migrate import SchemaTooNew, read_migrations


def migrations() -> list[tuple[int, str]]:
    return read_migrations(__package__)


LATEST = len(migrations())


def schema_version(db: sqlite3.Connection) -> int:
    (version,) = db.execute("PRAGMA user_version").fetchone()
    return version


def pending(current: int, upto: int | None = None) -> list[str]:
    """The scripts that bring a schema at version `current` to `upto` (default: the latest), one
    transaction each; SchemaTooNew for a database a newer bot migrated."""
    target = LATEST if upto is None else upto
    if current > LATEST:
        raise SchemaTooNew(f"database schema version {current} is newer than this bot knows ({LATEST}); "
                           "run the bot version that wrote it, or a newer one")
    # executescript runs outside Python's transaction handling, so BEGIN/COMMIT are explicit.
    return [f"BEGIN IMMEDIATE;\n{sql}\nPRAGMA user_version = {version};\nCOMMIT;"
            for version, sql in migrations() if current < version <= target]


def apply_migrations(db: sqlite3.Connection, *, upto: int | None = None) -> int:
    """Bring the schema to `upto` (default: the latest), one transaction per migration."""
    for script in pending(schema_version(db), upto):
        try:
            db.executescript(script)
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
    return schema_version(db)
