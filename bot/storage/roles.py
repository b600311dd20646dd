"""The ledger's roles: narrow interfaces, one per concern, that the services depend on. Each service
takes only the role it uses (the queue a `JobQueue`, the reviews a `Reviews`...); `Store`, every role
at once, is what the composition root opens, and `SqliteStore` and `PostgresStore` both are one
(tests/test_store_interface.py checks each backend against each role). After Red-DiscordBot's
narrow driver interface.

Credits are never a stored balance on either backend: every credit spent is a `jobs` row, and the
daily totals a reservation reads are kept in the same transaction as those rows, so `audit()` can
recompute every total from the rows.

Every method raises StoreBusy (the database would not take it in time), StoreDown (the ledger can't
be written or reached right now: a full or read-only disk, an I/O error, a server that is down;
nothing written) or WriteInDoubt (a write whose connection was lost in flight: it may have landed)
for conditions that pass; bot/domain/errors.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

from bot.domain import JobState, Member, QuotaSnapshot
from bot.domain.delivery import Delivery
from bot.domain.records import AdminAction, AppealRecord, AuditRow, GuildRule, JobRecord, UsageRow
from bot.domain.reviews import Decision, ReviewKind, ReviewRecord, ReviewState
from bot.domain.rules import RuleKind
from bot.storage.lease import DEFAULT_LEASE_SECONDS
from bot.storage.loop_roles import Batches, Defaults
from bot.storage.outage import Outage


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
                      delivery: Delivery, token: str | None,
                      inputs: dict[str, Any] | None = None) -> tuple[int, QuotaSnapshot]:
        """`reserve`, but the job waits in the durable queue (state queued) with what delivering it needs;
        Refused(QUEUE) when `max_queue` jobs are already waiting. `token` is a credential."""
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
        """Cancel a queued or running job (refunded); returns (state before, state after)."""
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
        """Forget the member's finished jobs in every server; returns how many were cleared."""
        ...

    async def forget_older_than(self, created_before: float) -> int:
        """Forget every finished job created before `created_before`; returns how many were cleared."""
        ...


class Allowances(Protocol):
    """What a server's admins set and see (/quotas): allowances, grants, resets, the budget, usage."""

    async def snapshot(self, member: Member, *, default_allowance: int) -> QuotaSnapshot: ...

    def now(self) -> float: ...

    async def set_allowance(self, guild_id: int, scope: str, target_id: int, credits: int | None, *,
                            actor_id: int) -> None: ...

    async def grant(self, guild_id: int, user_id: int, credits: int, *, actor_id: int) -> None: ...

    async def reset_usage(self, guild_id: int, user_id: int, *, actor_id: int) -> None: ...

    async def set_budget(self, guild_id: int, credits: int | None, *, actor_id: int) -> None:
        """The server's daily ceiling across all its members (None: no ceiling)."""
        ...

    async def record_view(self, guild_id: int, actor_id: int, target_id: int | None) -> None:
        """An admin looked at a member's usage, or with `target_id` None at the whole server's."""
        ...

    async def recent_jobs(self, guild_id: int, user_id: int, limit: int = 5) -> list[JobRecord]: ...

    async def guild_usage(self, guild_id: int, since_day: str) -> list[UsageRow]:
        """The server's spend per day, model and member from the UTC day `since_day` (YYYY-MM-DD) on,
        in one query, ordered by day, model, member. Refunded jobs do not count; open ones hold their
        credits and do; forgotten ones keep their cost and day and still count. Resets are ignored:
        they forgive a member's allowance, the credits were still spent."""
        ...


class Config(Protocol):
    """A server's configuration (/config). Every change is one transaction that also records an admin
    action."""

    async def guild_rules(self, guild_id: int) -> list[GuildRule]:
        """Every configuration row of the server, in one query (the moderation cache's one load)."""
        ...

    async def put_rule(self, guild_id: int, kind: RuleKind, value: str, detail: str | None, *, actor_id: int,
                       limit: int | None = None) -> bool:
        """Add the entry, or replace its detail; False when it was already exactly so (nothing recorded).
        RuleLimit when `limit` entries of `kind` exist and this one is new."""
        ...

    async def remove_rule(self, guild_id: int, kind: RuleKind, value: str, *, actor_id: int) -> bool:
        """False when there was no such entry (nothing recorded)."""
        ...

    async def clear_rules(self, guild_id: int, kind: RuleKind, *, actor_id: int) -> int:
        """Remove every entry of `kind`; returns how many there were."""
        ...


class Reviews(Protocol):
    """Approval mode and reports: the `reviews` rows that the review channel's buttons decide.

    The first decision wins: a conditional UPDATE of a pending row, so two moderators pressing at
    once, in one process or two, get one winner and one "already decided"."""

    def now(self) -> float: ...

    async def open_review(self, guild_id: int, job_id: int, kind: ReviewKind, user_id: int, *,
                          channel_id: int | None, reason: str | None = None, application_id: int | None = None,
                          token: str | None = None, token_expires_at: float | None = None,
                          detail: str | None = None) -> tuple[int, int]:
        """A pending review; returns its id and how many pending reviews of `kind` the job has now.
        AlreadyReviewed when the member already reported the result (or the job already awaits approval)."""
        ...

    async def set_review_message(self, review_id: int, channel_id: int, message_id: int) -> None:
        """Where the review was posted: its buttons' message."""
        ...

    async def set_review_detail(self, review_id: int, detail: str | None) -> None: ...

    async def drop_review(self, review_id: int) -> None:
        """Forget a pending review whose post never reached the review channel."""
        ...

    async def review(self, review_id: int) -> ReviewRecord | None: ...

    async def open_reviews(self, job_id: int, kind: ReviewKind) -> list[ReviewRecord]:
        """The job's pending reviews of `kind`, oldest first."""
        ...

    async def reopen_review(self, review_id: int, *, decided_by: int, token: str | None) -> bool:
        """Undo `decided_by`'s decision whose effect Discord refused (the approved image could not be
        posted): pending again, with the request's token back. False when the row was not so decided."""
        ...

    async def reported_by(self, job_id: int, user_id: int) -> bool:
        """Whether the member ever reported this result (decided or not)."""
        ...

    async def decide_review(self, review_id: int, status: ReviewState, *, decided_by: int,
                            reason: str | None = None) -> Decision | None:
        """Decide a pending review (None: no such review). A report's decision settles every pending
        report of the same result with it. The request's token is cleared from every row decided.
        ValueError when `status` is not a decision for the review's kind."""


class Appeals(Protocol):
    """Appeals of a prompt refused by a server's own words or patterns. An appeal moves only forward
    (AppealStatus), each move one conditional UPDATE, so of two moderators deciding at once exactly one
    wins; the move that puts it in front of moderators and each decision record an admin action in the
    same transaction."""

    def now(self) -> float: ...

    async def create_appeal(self, guild_id: int, channel_id: int, user_id: int, *, model: str,
                            request: dict[str, Any], rule: dict[str, Any], expires_at: float) -> int:
        """Store a refused request with the rule that refused it (status offered); returns its id."""
        ...

    async def appeal(self, appeal_id: int) -> AppealRecord | None: ...

    async def ask_appeal(self, appeal_id: int, user_id: int) -> bool:
        """offered -> pending, if it is `user_id`'s and has not expired; False otherwise (nothing changed)."""
        ...

    async def reopen_appeal(self, appeal_id: int) -> None:
        """pending -> offered, when the review channel would not take it (the member may press again)."""
        ...

    async def appeal_posted(self, appeal_id: int, channel_id: int, message_id: int, *, actor_id: int) -> None:
        """Where the appeal was posted for review; records the `appeal` action."""
        ...

    async def decide_appeal(self, appeal_id: int, allowed: bool, *, actor_id: int, reason: str | None) -> bool:
        """pending -> allowed/denied and the `allow`/`deny` action; False when it was already decided."""
        ...

    async def set_appeal_job(self, appeal_id: int, job_id: int) -> None: ...


class Audit(Protocol):
    """The server's record of who did what, and the audit channel's feed. Rows are posted once: claimed
    for a lease (several processes never take the same row), then marked posted; a claim whose poster
    died is taken again once its lease has passed."""

    def now(self) -> float: ...

    async def record_action(self, guild_id: int, actor_id: int, action: str, target_id: int | None,
                            detail: dict[str, Any]) -> None:
        """One row of the server's record of who did what (moderation decisions, generations: part 8)."""
        ...

    async def admin_actions(self, guild_id: int, limit: int = 50) -> list[AdminAction]: ...

    async def unposted_guilds(self) -> list[int]:
        """The servers with audit rows not yet posted (or skipped)."""
        ...

    async def claim_audit(self, guild_id: int, *, limit: int, lease_seconds: float) -> list[AuditRow]:
        """Up to `limit` of the server's oldest unposted rows nobody holds, now held for `lease_seconds`."""
        ...

    async def mark_audit_posted(self, ids: list[int]) -> None: ...

    async def release_audit(self, ids: list[int]) -> None:
        """Let go of claimed rows without posting them (the channel refused): taken again later."""
        ...

    async def skip_audit(self, guild_id: int) -> int:
        """Mark the server's unclaimed unposted rows as done without posting (it has no audit channel)."""
        ...

    async def audit_log(self, guild_id: int, *, member: int | None = None, action: str | None = None,
                        since: float | None = None, offset: int = 0, limit: int = 10) -> tuple[list[AuditRow], int]:
        """One page of the server's rows, newest first, and how many match in all. `member` matches the
        actor or the target; `action` the action itself or its family (`config` matches `config.word.add`)."""
        ...


class Singleton(Protocol):
    """Work only one process sharing the database may do at a time (command sync at start)."""

    owner: str  # this process's lease owner id (bot/storage/lease.py); every settle is guarded on it

    def singleton(self, name: str) -> AbstractAsyncContextManager[bool]:
        """`async with store.singleton(name) as mine`: True in at most one process sharing the database
        at a time (PostgreSQL: a session advisory lock, not waited for; SQLite: always, the DATA_DIR
        lock already means one process). Command sync at start runs inside it."""



class Store(Lifecycle, Ledger, JobQueue, Batches, Jobs, Allowances, Config, Defaults, Reviews, Appeals, Audit, Singleton,
            Protocol):
    """One ledger: every role. Every write is one transaction; a reservation's check-and-spend cannot
    interleave with another reservation's, from this process or another one sharing the database.

    Opening is each backend's own classmethod, `SqliteStore.open(path, ...)` and
    `PostgresStore.open(url, ...)`; `bot.storage.open_store(settings)` picks one by DATABASE_URL."""


ROLES: tuple[type, ...] = (Lifecycle, Ledger, JobQueue, Batches, Jobs, Allowances, Config, Defaults, Reviews, Appeals, Audit,
                           Singleton)
