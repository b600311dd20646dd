"""What moderators decide in the review channel (part 8): a result waiting for approval, or a report
of a posted result. One `reviews` row each; the first decision is the one that counts."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypedDict


class ReviewKind(StrEnum):
    APPROVAL = "approval"  # a result made in an approval channel, not posted until a moderator says so
    REPORT = "report"  # a member's report of a posted result


class ReviewState(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"  # posted in the channel it was asked in
    REJECTED = "rejected"  # never posted; the requester is told why
    KEPT = "kept"  # the reported result stays (shown again if it was hidden)
    REMOVED = "removed"  # the reported result's message is deleted


# The decisions each kind allows; the migration's CHECK constraints say the same.
DECISIONS: dict[ReviewKind, tuple[ReviewState, ReviewState]] = {
    ReviewKind.APPROVAL: (ReviewState.APPROVED, ReviewState.REJECTED),
    ReviewKind.REPORT: (ReviewState.KEPT, ReviewState.REMOVED),
}

# The admin action each decision is recorded as (the audit log reads these).
ACTIONS: dict[ReviewState, str] = {ReviewState.APPROVED: "approve", ReviewState.REJECTED: "reject",
                                   ReviewState.KEPT: "keep", ReviewState.REMOVED: "remove"}
REPORT_ACTION = "report"


class ReviewRecord(TypedDict):
    id: int
    guild_id: int
    job_id: int
    kind: str  # a ReviewKind value
    status: str  # a ReviewState value (not `state`: that word is the jobs' own)
    user_id: int  # the requester (approval) or the reporter (report)
    channel_id: int | None  # where the result was asked for (approval) or is posted (report)
    reason: str | None  # the reporter's reason, or the moderator's reason for a rejection
    review_channel_id: int | None
    review_message_id: int | None
    application_id: int | None
    interaction_token: str | None  # a credential: the request's, to answer privately while it lives
    token_expires_at: float | None
    detail: dict[str, Any] | None  # the result's embed, to post it (approval) or show it again (report)
    created_at: float
    decided_by: int | None
    decided_at: float | None


class AlreadyReviewed(Exception):
    """This member already reported this result (or the job already waits for approval); nothing was added."""


class OutForReview(Exception):
    """A Cancel refused: the job's result is made and on its way to (or in) the review channel, where a
    moderator may decide on it; the job ends as a held job does."""


class NoLongerRunning(Exception):
    """A held result's review not opened: its job no longer runs (a Cancel came first), so nothing is posted."""


@dataclass(frozen=True)
class Decision:
    """What a moderator's press did: `won` when it was the first decision; `review` as it now stands
    (the earlier decision when not won); `also` the other reports of the same result it settled."""

    won: bool
    review: ReviewRecord
    also: list[ReviewRecord] = field(default_factory=list)
