"""The appeal of a prompt refused by a server's own words or patterns: the one place naming its statuses.

offered (the refusal carries the button) -> pending (in the review channel) -> allowed | denied.
A column named `status`, not `state`: `state` is the jobs' and tests hold every `state` in the SQL to
JobState.
"""

from __future__ import annotations

from enum import StrEnum


class AppealStatus(StrEnum):
    OFFERED = "offered"  # stored with the refusal; the member may still press Ask a moderator
    PENDING = "pending"  # posted to the review channel, waiting for a moderator
    ALLOWED = "allowed"  # Allow once: run for the requester, that one rule skipped
    DENIED = "denied"  # the requester is told the moderator's reason


DECIDED = frozenset({AppealStatus.ALLOWED, AppealStatus.DENIED})
