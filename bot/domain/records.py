"""What the ledger hands back about jobs and admin actions, the same shape from every backend.

TypedDicts keyed by the column names of both backends' tables, with typed values: a job's state is a
JobState, and the columns the database keeps as JSON (a job's params, inputs and delivery, a review's
detail, an appeal's request and rule, an admin action's detail) arrive parsed, once, by the storage
boundary (bot/storage/records.py). Nothing above the storage parses JSON.
"""

from __future__ import annotations

from typing import Any, TypedDict

from bot.domain.delivery import Delivery
from bot.domain.jobs import JobState
from bot.domain.params import Params


class JobRecord(TypedDict, total=False):
    id: int
    user_id: int
    guild_id: int
    channel_id: int | None
    model: str
    params: Params  # the body sent to Pixazo, read through the model's catalog entry (empty once forgotten)
    cost: int
    day: str  # the UTC date (YYYY-MM-DD) whose allowance the credits count against
    state: JobState
    created_at: float
    started_at: float | None
    finished_at: float | None
    result_url: str | None
    error: str | None
    inputs: dict[str, Any] | None  # inpainting inputs' names and sizes, never the bytes
    delivery: Delivery | None  # what delivering a queued job needs (None: forgotten, or from before the queue)
    interaction_token: str | None  # a credential: only while the job is open, never logged
    attempts: int  # Pixazo calls started for it
    rank: int  # the member's open jobs when it was queued: the fair order's first key
    cancelled_by: int | None
    result_channel_id: int | None  # where the result was posted (buttons, /history)
    result_message_id: int | None
    forgotten_at: float | None  # /forget or HISTORY_RETENTION_DAYS cleared what was asked for
    lease_owner: str | None  # the process running it (bot/storage/lease.py)
    lease_until: float | None
    answered_at: float | None  # its Pixazo call answered: being delivered, its slot free
    batch_id: int | None  # the first job's id on every job of a batch (/imagine count:4); None: on its own


def prompt_of(job: JobRecord) -> str:
    """The prompt the job was asked with; "" once forgotten.

    A job queued by this bot keeps it in `delivery`. A ledger from before the durable queue (schema
    version 4 and older) has no `delivery`: its jobs' prompt is only in the body sent to Pixazo."""
    delivery = job.get("delivery")
    if delivery is not None and delivery.prompt is not None:
        return delivery.prompt
    params = job.get("params")
    prompt = params.option("prompt", "") if params is not None else ""
    return prompt if isinstance(prompt, str) else ""


class UsageRow(TypedDict):
    """Credits spent in one server on one UTC day with one model by one member (`Store.guild_usage`)."""

    day: str  # YYYY-MM-DD, the day the credits count against
    model: str  # a catalog key, or a model the catalog no longer has
    user_id: int
    credits: int  # cost of the jobs that were not refunded (failed or cancelled)
    jobs: int


class AdminAction(TypedDict):
    actor_id: int
    action: str
    target_id: int | None
    detail: dict[str, Any]
    at: float


class GuildRule(TypedDict):
    """One row of a server's configuration (/config): a list entry or a setting, see bot/moderation."""

    kind: str  # a RuleKind value
    value: str  # the channel, role or member id as text, a model key, a term, a pattern, a setting's name
    detail: Any  # a block's {"reason": ...}, a setting's value; None: none (or unreadable)
    actor_id: int
    at: float


class AuditRow(TypedDict):
    """One `admin_actions` row as the audit channel and /config audit see it (part 8)."""

    id: int
    guild_id: int
    actor_id: int
    action: str  # an AuditAction value, or one of its family (bot/domain/audit.py)
    target_id: int | None
    detail: dict[str, Any]
    at: float


class AppealRecord(TypedDict):
    """One `appeals` row (part 8): a prompt refused by the server's own words or patterns."""

    id: int
    guild_id: int
    channel_id: int
    user_id: int
    model: str
    request: dict[str, Any]  # the request as prepared, enough to queue it without the interaction ({}: forgotten)
    rule: dict[str, Any]  # {"rule": "server_word"|"server_pattern", "term": ..., "matched": ...}
    status: str  # an AppealStatus value
    created_at: float
    expires_at: float
    asked_at: float | None
    review_channel_id: int | None
    review_message_id: int | None
    decided_by: int | None
    decided_at: float | None
    reason: str | None
    job_id: int | None
