"""The roles of a job's life: the open ledger, the credits, the durable queue, finished jobs."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from bot.domain import JobState, Member, QuotaSnapshot
from bot.domain.audit import Delivered
from bot.domain.delivery import Delivery
from bot.domain.records import JobRecord
from bot.storage.lease import DEFAULT_LEASE_SECONDS
from bot.storage.outage import Outage


@dataclass(frozen=True)
class StartNow:
    """Asked of `enqueue`: take the job at once, as a claim would, when no job waits before it (none queued,
    none to take over) and fewer than `max_running` jobs hold a live lease and wait for Pixazo; then it is
    running with `owner`'s lease for `lease_seconds`, and `started` is handed it before `enqueue` returns."""

    owner: str
    lease_seconds: float
    max_running: int | None
    started: Callable[[JobRecord], None]


class Lifecycle(Protocol):
    """An open ledger: closing it, its clock, and the outage it reports once."""

    async def close(self) -> None: ...

    def now(self) -> float: ...

    outage: Outage  # says once when the ledger stops taking writes (StoreDown), once when it takes them again


class Ledger(Protocol):
    """The credits: what a member has, reservations, and settling a job (JobState.TRANSITIONS only).

    Settling moves a job only along JobState.TRANSITIONS (a repeat is a no-op) and returns the state
    the job is in afterwards (None: no such job); StoreBusy when the database would not take it in
    time, with nothing changed, so it may simply be called again; StoreDown when the ledger can't be
    written right now (likewise); WriteInDoubt when the connection was lost with the write in
    flight: calling it again lands it or finds it landed, and says which state the job is in."""

    def now(self) -> float: ...

    async def snapshot(self, member: Member, *, default_allowance: int) -> QuotaSnapshot: ...

    async def reserve(self, member: Member, *, channel_id: int | None, model: str, params: dict[str, Any],
                      cost: int, default_allowance: int, max_jobs: int, global_cap: int | None,
                      inputs: dict[str, Any] | None = None) -> tuple[int, QuotaSnapshot]:
        """Check the allowance and spend from it in one transaction; raise Refused when it won't fit."""
        ...

    async def requeue(self, job_id: int) -> JobState | None:
        """A running job back to the queue, its attempt not counted (a shutdown's grace ran out).

        Like every settle below, only while no other process holds the job's lease."""
        ...

    async def mark_running(self, job_id: int) -> JobState | None: ...

    async def succeed(self, job_id: int, result_url: str | None) -> JobState | None: ...

    async def settle_delivered(self, job_id: int, delivered: Delivered) -> JobState | None:
        """`succeed`, with where the result was posted and its audit row (if it succeeded by this call):
        everything a delivered job leaves in the ledger, in one call (one statement on PostgreSQL; on
        SQLite the success, then the row). The audit row is recorded as done (never posted) in a server
        without an audit channel."""
        ...

    async def fail(self, job_id: int, error: str) -> JobState | None: ...

    async def recover_interrupted(self, delivered: Mapping[int, str | None] | None = None) -> list[JobRecord]:
        """Settle what the last run left open, in one transaction: `delivered` jobs (id -> result URL)
        succeed; queued jobs stay queued; a queued job's Pixazo call cut short goes back to the queue
        once (a second time it fails); every other open job fails (its credits come back).
        Only jobs this store's owner or its instance's earlier processes held (bot/storage/lease.py), or
        that have no lease: another live process's jobs are its own, and an expired lease is taken
        over by `claim` (an SQLite store opened `exclusive`, under the DATA_DIR lock, takes every
        running job as its own). Returns the jobs it failed, as they were (with their tokens)."""
        ...

    async def audit(self) -> list[str]:
        """Where a kept total disagrees with the job rows; empty when the ledger is whole."""
        ...


class JobQueue(Protocol):
    """The durable queue (the `jobs` table, state queued) and the leases of the jobs a process runs.

    Several processes share one queue: every claim takes a lease in this process's name, renewed
    while the job runs."""

    def now(self) -> float: ...

    owner: str  # this process's lease owner id (bot/storage/lease.py); every settle is guarded on it

    interrupted: list[JobRecord]  # what recovery at open failed: the queue tells their members

    async def enqueue(self, member: Member, *, channel_id: int | None, model: str, params: dict[str, Any],
                      cost: int, default_allowance: int, max_jobs: int, global_cap: int | None, max_queue: int,
                      delivery: Delivery, token: str | None, inputs: dict[str, Any] | None = None,
                      start: StartNow | None = None) -> tuple[int, QuotaSnapshot]:
        """`reserve`, but the job waits in the durable queue (state queued) with what delivering it needs;
        Refused(QUEUE) when `max_queue` jobs are already waiting. `token` is a credential. `start`: the job
        skips the wait when nothing waits before it and the bound has room (StartNow), in the same step."""
        ...

    async def claim(self, owner: str | None = None, lease_seconds: float = DEFAULT_LEASE_SECONDS,
                    max_running: int | None = None) -> JobRecord | None:
        """Move the next job, by fair rank then id, to running (one more attempt) with `owner`'s lease
        (default: the store's) for `lease_seconds`, and return it. The next job is a queued one, or a
        running one whose lease expired (its process is presumed dead: an interrupted attempt), with an
        attempt left, and never one `owner` itself holds (it is still its own: bot/storage/lease.py).
        None when there is none, or when `max_running` jobs hold a live lease already
        (PIXAZO_MAX_CONCURRENCY, across every process sharing the database).

        One transaction under one lock: two processes never take the same job or the same last slot."""
        ...

    async def claim_batch(self, owner: str | None = None, lease_seconds: float = DEFAULT_LEASE_SECONDS, *,
                          limit: int, max_running: int | None = None,
                          claimed: Callable[[list[JobRecord]], None] | None = None,
                          room: bool = False) -> tuple[list[JobRecord], bool]:
        """`claim` for up to `limit` jobs (the free slots) in one statement, in the same fair order and
        within the same bound; and whether claimable jobs are left after it. `claimed` is handed the jobs
        as soon as they are claimed, before that look (which may fail: the jobs are claimed all the same).
        `room`: the caller vouches that the bound leaves room for `limit` jobs (it alone holds the jobs the
        bound counts, and counts them as the ledger does); a claim that took fewer then took every claimable
        job, and answers "none left" without the look."""
        ...

    async def delivering(self, job_id: int, member: Member, *, default_allowance: int
                         ) -> tuple[JobRecord | None, QuotaSnapshot]:
        """Just before a result is posted, in one round trip: the job's Pixazo call marked answered (while
        this store's owner holds it: its slot is free for the next claim), the job as it is now (its id, state,
        holder and mark: cancelled, or taken over by another process?) and the member's credits for the
        result's embed."""
        ...

    async def fail_worn_out(self) -> list[JobRecord]:
        """Fail (refund) every running job whose lease expired during its last allowed attempt (its
        process died twice on it), except this store owner's own; returns them as they were (with
        their tokens: their members are told)."""
        ...

    async def requeue_orphans(self, running: list[int]) -> list[int]:
        """Put back at the head of the queue (the attempt not counted) every job this store's owner
        holds that is not in `running`: a claim whose answer the connection lost may have landed.
        Returns their ids."""
        ...

    async def requeue(self, job_id: int) -> JobState | None:
        """A running job back to the queue, its attempt not counted (a shutdown's grace ran out).

        Like every settle below, only while no other process holds the job's lease."""
        ...

    async def cancel(self, job_id: int, actor_id: int) -> tuple[JobState | None, JobState | None]:
        """Cancel a queued or running job (refunded); returns (state before, state after). OutForReview
        (nothing changed) when its result is out for review: its held result has a review (the
        same lock as `open_review(while_running=True)`, so exactly one of the two lands)."""
        ...

    async def queue_positions(self) -> dict[int, int]:
        """Every queued job's place in the order the claim takes them, 1 first."""
        ...

    async def median_seconds(self, model: str, recent: int = 20) -> float | None:
        """The median run time of the model's last `recent` succeeded jobs; None without any."""
        ...

    async def expire_waiting(self, queued_before: float) -> list[JobRecord]:
        """Fail (refund) every job queued since before `queued_before`; returns them as they were."""
        ...

    async def renew(self, owner: str, job_ids: list[int], lease_seconds: float) -> set[int]:
        """Extend `owner`'s leases on those of `job_ids` it still holds; returns them (a missing id:
        the lease expired and another process took the job over)."""
        ...

    async def job(self, job_id: int) -> JobRecord | None: ...


class Jobs(Protocol):
    """Finished jobs: the result buttons, /history and /forget.

    Forgetting clears what a member asked for (prompt, parameters, input names, result URL, delivery
    details) of finished jobs; cost, day and state stay, so the credit arithmetic and the audit are
    unchanged. Open jobs are left until they end: they still run. Every other copy goes with them: the
    result embed a review keeps (a decided review's whole, a pending one's prompt, settings and
    requester, so a decision still shows the image), the prompt in audit rows, and appeals not waiting
    for a moderator. SQLite overwrites what it frees (secure_delete) and empties its write-ahead log
    after a forget, so the text leaves the files."""

    def now(self) -> float: ...

    async def job(self, job_id: int) -> JobRecord | None: ...

    async def set_result_message(self, job_id: int, channel_id: int, message_id: int) -> None:
        """Where the job's result was posted: the buttons and /history find it again by this."""
        ...

    async def history(self, guild_id: int, user_id: int, *, model: str | None = None, offset: int = 0,
                      limit: int = 5) -> tuple[list[JobRecord], int]:
        """One page of the member's jobs in the server, newest first, and how many there are in all."""
        ...

    async def forget_member(self, user_id: int) -> int:
        """Forget the member's finished jobs in every server, and remove their /settings defaults in every
        server (on PostgreSQL every process hears of it: NOTIFY member_defaults); returns how many jobs
        were cleared."""
        ...

    async def forget_older_than(self, created_before: float) -> int:
        """Forget every finished job created before `created_before`; returns how many were cleared.
        Members' /settings defaults stay: they are preferences in use, not history (/forget removes them)."""
        ...
