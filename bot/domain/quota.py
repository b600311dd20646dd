"""Who is asking, what they have left, and why a reservation was refused."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

# The ledger's scope for a member's personal credits, where no server decides: DMs, group DMs, and
# servers where only the member installed the app. Its rows are keyed by this guild id (no Discord id is 0).
PERSONAL = 0


@dataclass(frozen=True)
class Member:
    guild_id: int  # the server whose allowance pays, or PERSONAL
    user_id: int
    role_ids: tuple[int, ...] = ()

    @property
    def personal(self) -> bool:
        return self.guild_id == PERSONAL


@dataclass(frozen=True)
class QuotaSnapshot:
    allowance: int  # today's allowance from default/role/member settings, before grants
    source: str  # where the allowance comes from: "bot default", "server default", "role", "member"
    granted: int
    used: int
    in_flight: int
    global_used: int
    renews_at: datetime
    guild_used: int = 0  # the whole server's credits spent today (what /quotas budget caps)
    guild_budget: int | None = None  # the server's daily ceiling; None: no ceiling

    @property
    def left(self) -> int:
        return max(0, self.allowance + self.granted - self.used)


class Refused(Exception):
    """A reservation the ledger would not make; `reason` is one of the class constants."""

    CREDITS = "credits"
    JOBS = "jobs"
    GLOBAL = "global"
    QUEUE = "queue"  # QUEUE_MAX_LENGTH jobs are already waiting bot-wide
    BUDGET = "budget"  # the server's own daily ceiling (/quotas budget) would be passed

    def __init__(self, reason: str, snapshot: QuotaSnapshot) -> None:
        super().__init__(reason)
        self.reason = reason
        self.snapshot = snapshot


def utc_day(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).date().isoformat()


def next_renewal(ts: float) -> datetime:
    today = datetime.fromtimestamp(ts, UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today + timedelta(days=1)
