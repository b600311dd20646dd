"""The ledger's roles for the creative loop: batches (one job per image, queued together) and a member's
defaults in a server (/settings). Part of `Store` (bot/storage/roles/), like every other role."""

from __future__ import annotations

from typing import Any, Protocol

from bot.domain import Member
from bot.domain.delivery import Delivery
from bot.domain.records import JobRecord


class Batches(Protocol):
    """A batch: that many jobs in the durable queue, each charged, run and refunded on its own."""

    async def enqueue_batch(self, member: Member, *, channel_id: int | None, model: str,
                            params: list[dict[str, Any]], cost: int, default_allowance: int, max_jobs: int,
                            global_cap: int | None, max_queue: int, deliveries: list[Delivery],
                            token: str | None) -> list[int]:
        """`enqueue` of one job per `params` in one transaction: all queued or none. The whole cost is
        checked at once (Refused names the snapshot before the batch); the batch counts as one request
        toward `max_jobs`. Each job has its own fair rank (the member's open jobs ahead of it) and the
        first one's id as batch_id. Returns the ids in order."""
        ...

    async def batch(self, batch_id: int) -> list[JobRecord]:
        """Every job of a batch, in order (empty: no such batch)."""
        ...

    async def hold_batch(self, batch_id: int, holder: str, seconds: float) -> bool:
        """Take (or renew) the hold on the batch's one message for `holder` until `seconds` from now: True
        when nobody else holds it, or their hold has passed. One edit of the message at a time across
        every process sharing the ledger."""
        ...

    async def release_batch(self, batch_id: int, holder: str) -> None:
        """Let go of `holder`'s hold (nothing if it is no longer theirs)."""
        ...


class Defaults(Protocol):
    """A member's defaults in a server (/settings): name -> value, stored as JSON."""

    def now(self) -> float: ...

    async def member_defaults(self, guild_id: int, user_id: int) -> dict[str, Any]: ...

    async def members_with_defaults(self, guild_id: int) -> set[int]:
        """Who has any default in this server: every other member's are none, without a read each."""
        ...

    async def set_member_default(self, guild_id: int, user_id: int, name: str, value: Any) -> None:
        """Set one default (None: remove it)."""
        ...

    async def reset_member_defaults(self, guild_id: int, user_id: int) -> int:
        """Remove all of the member's defaults in the server; returns how many there were."""
        ...
