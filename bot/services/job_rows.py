"""A queued job's row read back as the request it was: the body sent to Pixazo and what the embed shows,
and who asked, with the roles their allowance counts."""

from __future__ import annotations

from bot.catalog import MODELS
from bot.domain import Member
from bot.domain.delivery import Delivery
from bot.domain.records import JobRecord
from bot.services.validation import Prepared


def prepared_of(job: JobRecord) -> Prepared:
    """The request again, from the row: the body sent to Pixazo and what the embed shows."""
    delivery = job.get("delivery") or Delivery()
    return Prepared(MODELS[job["model"]], delivery.prompt or "", dict(job["params"].body), delivery.shown)


def member_of_job(job: JobRecord) -> Member:
    delivery = job.get("delivery") or Delivery()
    return Member(job["guild_id"], job["user_id"], delivery.role_ids)
