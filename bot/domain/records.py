"""What the ledger hands back about jobs and admin actions, the same shape from every backend.

Plain dicts (TypedDicts) so the cogs keep indexing them as they always have; the keys are the
column names of both backends' `jobs` and `admin_actions` tables.
"""

from __future__ import annotations

import json
from typing import TypedDict

from bot.catalog import MODELS


class JobRecord(TypedDict, total=False):
    id: int
    user_id: int
    guild_id: int
    channel_id: int | None
    model: str
    params: str  # JSON: the body sent to Pixazo
    cost: int
    day: str  # the UTC date (YYYY-MM-DD) whose allowance the credits count against
    state: str  # a JobState value
    created_at: float
    started_at: float | None
    finished_at: float | None
    result_url: str | None
    error: str | None
    inputs: str | None  # JSON: inpainting inputs' names and sizes, never the bytes
    delivery: str | None  # JSON: what delivering a queued job needs (application id, prompt, shown values, ...)
    interaction_token: str | None  # a credential: only while the job is open, never logged
    attempts: int  # Pixazo calls started for it
    rank: int  # the member's open jobs when it was queued: the fair order's first key
    cancelled_by: int | None
    result_channel_id: int | None  # where the result was posted (buttons, /history)
    result_message_id: int | None
    forgotten_at: float | None  # /forget or HISTORY_RETENTION_DAYS cleared what was asked for


def prompt_of(job: JobRecord) -> str:
    """The prompt the job was asked with; "" once forgotten.

    A job queued by this bot keeps it in `delivery`. A ledger from before the durable queue (schema
    version 4 and older) has no `delivery`: its jobs' prompt is only in the body sent to Pixazo."""
    delivery = json.loads(job.get("delivery") or "{}")
    if "prompt" in delivery:
        return str(delivery["prompt"])
    model = MODELS.get(job.get("model", ""))
    param = model.param("prompt") if model is not None else None
    prompt = json.loads(job.get("params") or "{}").get(param.field if param is not None else "prompt", "")
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
    detail: str  # JSON
    at: float


class GuildRule(TypedDict):
    """One row of a server's configuration (/config): a list entry or a setting, see bot/moderation."""

    kind: str  # a RuleKind value
    value: str  # the channel, role or member id as text, a model key, a term, a pattern, a setting's name
    detail: str | None  # JSON: a block's reason, a setting's value
    actor_id: int
    at: float


class AuditRow(TypedDict):
    """One `admin_actions` row as the audit channel and /config audit see it (part 8)."""

    id: int
    guild_id: int
    actor_id: int
    action: str  # see bot/audit/actions.py
    target_id: int | None
    detail: str  # JSON
    at: float


class AppealRecord(TypedDict):
    """One `appeals` row (part 8): a prompt refused by the server's own words or patterns."""

    id: int
    guild_id: int
    channel_id: int
    user_id: int
    model: str
    request: str  # JSON: the request as prepared, enough to queue it without the interaction
    rule: str  # JSON: {"rule": "word"|"pattern", "term": ..., "matched": ...}
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
