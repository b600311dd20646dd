"""Numbered SQL migrations; the database's version lives in `PRAGMA user_version`."""

from __future__ import annotations

import re
from importlib import resources

import aiosqlite

_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


def migrations() -> list[tuple[int, str]]:
    """(version, SQL) for every migration file, in order; versions must run 1, 2, 3... with no gap."""
    found = sorted(
        (int(m.group(1)), entry.read_text(encoding="utf-8"))
        for entry in resources.files(__package__).iterdir()
        if (m := _NAME.match(entry.name))
    )
    if [v for v, _ in found] != list(range(1, len(found) + 1)):
        raise RuntimeError(f"migration files are not numbered 1..N: {[v for v, _ in found]}")
    return found


LATEST = len(migrations())


async def schema_version(db: aiosqlite.Connection) -> int:
    async with db.execute("PRAGMA user_version") as cur:
        (version,) = await cur.fetchone()
    return version


async def apply_migrations(db: aiosqlite.Connection, *, upto: int | None = None) -> int:
    """Bring the schema to `upto` (default: the latest), one transaction per migration."""
    current = await schema_version(db)
    target = LATEST if upto is None else upto
    if current > LATEST:
        raise RuntimeError(f"database schema version {current} is newer than this bot knows ({LATEST})")
    for version, sql in migrations():
        if current < version <= target:
            # executescript runs outside Python's transaction handling, so BEGIN/COMMIT are explicit.
            await db.executescript(f"BEGIN IMMEDIATE;\n{sql}\nPRAGMA user_version = {version};\nCOMMIT;")
    return await schema_version(db)
