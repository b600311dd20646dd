"""The job state machine: the one place that names job states and the moves between them."""

from __future__ import annotations

from enum import StrEnum


class JobState(StrEnum):
    RESERVED = "reserved"  # credits held, waiting for a Pixazo slot
    RUNNING = "running"  # the Pixazo call has started
    SUCCEEDED = "succeeded"  # the member received the image; the credits stay spent
    FAILED = "failed"  # refunded: the credits stop counting the moment the row says so

    @property
    def is_open(self) -> bool:
        return self in OPEN_STATES

    def can_become(self, other: JobState) -> bool:
        return other in TRANSITIONS[self]


TRANSITIONS: dict[JobState, frozenset[JobState]] = {
    JobState.RESERVED: frozenset({JobState.RUNNING, JobState.SUCCEEDED, JobState.FAILED}),
    JobState.RUNNING: frozenset({JobState.SUCCEEDED, JobState.FAILED}),
    JobState.SUCCEEDED: frozenset(),
    JobState.FAILED: frozenset(),
}

OPEN_STATES: tuple[JobState, ...] = tuple(s for s, nxt in TRANSITIONS.items() if nxt)


def sources_of(target: JobState) -> tuple[JobState, ...]:
    """The states a job may be in to move to `target`: the guard of every settling UPDATE."""
    return tuple(s for s, nxt in TRANSITIONS.items() if target in nxt)
