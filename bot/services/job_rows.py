"""A queued job's row read back as the request it was: the body sent to Pixazo and what the embed shows,
and who asked, with the roles their allowance counts; an inpainting job's input links made to work again."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING

from bot.catalog import MODELS
from bot.domain import Member
from bot.domain.delivery import Delivery
from bot.domain.records import JobRecord
from bot.services.validation import Prepared

if TYPE_CHECKING:
    from bot.services.notices import Courier

log = logging.getLogger(__name__)


def prepared_of(job: JobRecord) -> Prepared:
    """The request again, from the row: the body sent to Pixazo and what the embed shows."""
    delivery = job.get("delivery") or Delivery()
    return Prepared(MODELS[job["model"]], delivery.prompt or "", dict(job["params"].body), delivery.shown)


def member_of_job(job: JobRecord) -> Member:
    delivery = job.get("delivery") or Delivery()
    return Member(job["guild_id"], job["user_id"], delivery.role_ids)


async def with_fresh_inputs(prepared: Prepared, courier: Courier) -> Prepared:
    """An inpainting request whose image and mask links still work when Pixazo fetches them: a job that
    waited long enough for Discord's CDN links to expire gets fresh ones (bot/ui/cdn.py). Never raises: a
    refresh Discord refuses leaves the old links, and a Pixazo that cannot fetch them fails the job."""
    model = prepared.model
    fields = [f for f in (model.image_field, model.mask_field) if f and isinstance(prepared.payload.get(f), str)]
    if not fields:
        return prepared
    try:
        fresh = await courier.fresh_links([prepared.payload[f] for f in fields])
    except Exception as exc:
        log.warning("could not refresh the input links of a /%s job: %s: %s", model.key, type(exc).__name__, exc)
        return prepared
    return replace(prepared, payload={**prepared.payload, **dict(zip(fields, fresh, strict=True))})
