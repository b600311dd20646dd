"""What both backends' migration runners share."""

from __future__ import annotations


class SchemaTooNew(RuntimeError):
    """The database was migrated by a newer bot than this one: refuse rather than guess."""
