"""What both backends' migration runners share."""

from __future__ import annotations

import re
from importlib import resources

_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


def read_migrations(package: str) -> list[tuple[int, str]]:
    """(version, SQL) for every NNNN_name.sql file in `package`, in order; versions must run 1, 2, 3...
    with no gap, so both backends can be held to the same numbers."""
    found = sorted(
        (int(m.group(1)), entry.read_text(encoding="utf-8"))
        for entry in resources.files(package).iterdir()
        if (m := _NAME.match(entry.name))
    )
    if [v for v, _ in found] != list(range(1, len(found) + 1)):
        raise RuntimeError(f"migration files in {package} are not numbered 1..N: {[v for v, _ in found]}")
    return found


class SchemaTooNew(RuntimeError):
    """The database was migrated by a newer bot than this one: refuse rather than guess."""
