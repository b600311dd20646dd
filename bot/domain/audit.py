"""The actions an `admin_actions` row can record: the one list the audit channel, /config audit's
`action` choices and the code that records them share.

Some are families: `config.word.add`, `allowance.role` are recorded with a suffix, and filtering by
the family (`config`, `allowance`) matches them all.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class AuditAction(StrEnum):
    GENERATION = "generation"  # an image delivered: who, where, model, prompt, cost, link
    APPEAL = "appeal"  # a member asked a moderator about a refused prompt
    ALLOW = "allow"  # a moderator allowed an appealed prompt once
    DENY = "deny"  # ... or denied it, with a reason
    DELETE = "delete"  # a result deleted by someone other than its requester
    APPROVE = "approve"  # approval mode: a result approved (part 8, review)
    REJECT = "reject"
    REPORT = "report"  # a member reported a result
    KEEP = "keep"  # a moderator kept a reported result
    REMOVE = "remove"  # ... or removed it
    HELD = "held"  # the image check held a result back (a moderator's Keep posts it)
    CONFIG = "config"  # family: config.<kind>.<add|remove|clear> (/config)
    ALLOWANCE = "allowance"  # family: allowance.<default|role|member> (/quotas)
    GRANT = "grant"
    RESET = "reset"
    BUDGET = "budget"
    VIEW = "view"  # an admin looked at a member's usage


def family(action: str) -> AuditAction | None:
    """The AuditAction a recorded action belongs to (`config.word.add` -> CONFIG); None if unknown."""
    head = action.split(".", 1)[0]
    try:
        return AuditAction(head)
    except ValueError:
        return None


@dataclass(frozen=True)
class AuditEntry:
    """One row to record in the same transaction as something else (a delivered job's settle)."""

    actor_id: int
    action: str
    target_id: int | None
    detail: dict[str, Any]


@dataclass(frozen=True)
class Delivered:
    """What the settle of a delivered job records with its success, in one transaction: where its result
    was posted (None: held for review, or posted nowhere yet) and the audit row of its generation."""

    result_url: str | None
    posted: tuple[int, int] | None = None  # (channel id, message id)
    audit: AuditEntry | None = None
