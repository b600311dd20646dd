"""The job state machine: the one place that names job states and the moves between them."""

from __future__ import annotations

from enum import StrEnum


class JobState(StrEnum):
    RESERVED = "reserved"  # credits held by a job run in-process only (rows of older versions, store tests)
    QUEUED = "queued"  # credits held, waiting in the durable queue for one of PIXAZO_MAX_CONCURRENCY slots
    RUNNING = "running"  # the Pixazo call has started
    SUCCEEDED = "succeeded"  # the member received the image; the credits stay spent
    FAILED = "failed"  # refunded: the credits stop counting the moment the row says so
    CANCELLED = "cancelled"  # refunded like a failed job, because a member asked

    @property
    def is_open(self) -> bool:
        return self in OPEN_STATES

    def can_become(self, other: JobState) -> bool:
        return other in TRANSITIONS[self]


TRANSITIONS: dict[JobState, frozenset[JobState]] = {
    JobState.RESERVED: frozenset({JobState.RUNNING, JobState.SUCCEEDED, JobState.FAILED}),
    JobState.QUEUED: frozenset({JobState.RUNNING, JobState.FAILED, JobState.CANCELLED}),
    # Back to QUEUED: a shutdown's grace ran out, or the process died mid-call (re-run once).
    JobState.RUNNING: frozenset({JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED, JobState.QUEUED}),
    JobState.SUCCEEDED: frozenset(),
    JobState.FAILED: frozenset(),
    JobState.CANCELLED: frozenset(),
}

OPEN_STATES: tuple[JobState, ...] = tuple(s for s, nxt in TRANSITIONS.items() if nxt)
# Final states whose credits come back; the triggers of both backends release on entering one.
REFUNDED_STATES: tuple[JobState, ...] = (JobState.FAILED, JobState.CANCELLED)


def sources_of(target: JobState) -> tuple[JobState, ...]:
    """The states a job may be in to move to `target`: the guard of every settling UPDATE."""
    return tuple(s for s, nxt in TRANSITIONS.items() if target in nxt)
