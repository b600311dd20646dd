"""A reservation's refusals in the member's words: what the queue says when the ledger will not take a
job (or a batch), whatever the reason, with nothing spent (or, in doubt, what may follow)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from bot.core.settings import Settings
from bot.domain import Member, Refused, StoreBusy, StoreDown, WriteInDoubt
from bot.domain.delivery import Delivery
from bot.services.generation import BUSY, DOWN, IN_DOUBT, Busy, Down
from bot.services.quotas import Quotas
from bot.services.validation import Prepared
from bot.storage.roles import Batches


@contextmanager
def reservation(quotas: Quotas, model_key: str, count: int = 1) -> Iterator[None]:
    """Around the ledger's enqueue: each refusal becomes the member's sentence (a UserFacingError)."""
    try:
        yield
    except Refused as refused:
        raise quotas.refusal(refused, model_key, count=count) from None
    except WriteInDoubt as exc:
        # If it landed, the job is queued with its token and is delivered like any other.
        raise Busy(IN_DOUBT, detail=f"the reservation may or may not have landed: {exc}") from None
    except StoreDown as exc:
        raise Down(DOWN, detail=f"reservation refused, the ledger can't be written: {exc}") from None
    except StoreBusy as exc:
        raise Busy(BUSY, detail=f"reservation refused, the database is busy: {exc}") from None


async def enqueue_batch(store: Batches, settings: Settings, quotas: Quotas, prepared: list[Prepared], member: Member,
                        *, channel_id: int | None, deliveries: list[Delivery], token: str) -> list[int]:
    """Every image's credits reserved in one transaction, or none: the one refusal names the whole cost."""
    model = prepared[0].model.key
    with reservation(quotas, model, len(prepared)):
        return await store.enqueue_batch(
            member, channel_id=channel_id, model=model, params=[p.payload for p in prepared],
            cost=quotas.cost_of(model), default_allowance=settings.default_allowance(member),
            max_jobs=settings.quota_max_jobs_per_user, global_cap=settings.quota_global_daily_credits,
            max_queue=settings.queue_max_length, deliveries=deliveries, token=token)
