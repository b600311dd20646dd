"""The roles of a server's admins and moderators: allowances, configuration, reviews, appeals, the audit,
and work one process does for all."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

from bot.domain import Member, QuotaSnapshot
from bot.domain.records import AdminAction, AppealRecord, AuditRow, GuildRule, JobRecord, UsageRow
from bot.domain.reviews import Decision, ReviewKind, ReviewRecord, ReviewState
from bot.domain.rules import RuleKind


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
                          detail: str | None = None, while_running: bool = False) -> tuple[int, int]:
        """A pending review; returns its id and how many pending reviews of `kind` the job has now.
        AlreadyReviewed when the member already reported the result (or the job already awaits approval).
        `while_running` (a held result's review): only while the job runs, checked with the job's row
        locked against a Cancel; NoLongerRunning when a Cancel came first (nothing is added)."""
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

    async def watch_audit(self, recorded: Callable[[int], None]) -> None:
        """Call `recorded(guild_id)` on the event loop once each row to post recorded from now on has
        committed, so the audit poster waits for rows instead of polling. SQLite (one process) calls it
        from its own writes; PostgreSQL does nothing here: every process hears every process's rows by
        LISTEN (bot/storage/postgres/notify.py)."""
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
