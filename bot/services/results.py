"""What the buttons on a result do, Discord-free: Details' text, the options a Reroll or an Edit runs
again with (an /inpaint job's inputs checked again), where a result was posted, and a moderator's Delete
in the server's record."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

from bot.catalog import MODELS, Model
from bot.core.errors import UserFacingError
from bot.core.i18n import Text, _
from bot.core.text import code_block, code_span, credits
from bot.domain.audit import AuditAction
from bot.domain.records import JobRecord, prompt_of
from bot.services.inpaint import INPAINT_GONE, Upload
from bot.services.reproduce import command_for, parse_settings
from bot.storage.roles import Audit, Jobs

log = logging.getLogger(__name__)

FORGOTTEN = _("The details of that image were cleared (by /forget or after the history retention period).")
STATES = {"queued": _("queued"), "running": _("running"), "succeeded": _("succeeded"), "failed": _("failed"),
          "cancelled": _("cancelled")}
DESCRIPTION_MAX = 4096
# Shown in full in the command; listed again they could push Details past Discord's limit.
IN_COMMAND = ("prompt", "negative_prompt")


def shown_of(job: JobRecord) -> list[tuple[str, Any]]:
    delivery = job.get("delivery")
    return [(name, value) for name, value in (delivery.shown if delivery is not None else ())]


def details_text(job: JobRecord, word: Callable[[Text | str], str] = str) -> str:
    """Details' text, each sentence worded by `word` (the reader's language; English by default)."""
    model = MODELS[job["model"]]
    shown = shown_of(job)
    finished, begun = job.get("finished_at"), job.get("started_at")
    taken = (_("{seconds} s", seconds=f"{finished - begun:.1f}") if finished is not None and begun is not None
             else _("not finished"))
    state = str(job["state"])
    lines = [word(_("**Job #{job}** · {model} · asked by {member} {when}", job=job["id"], model=model.title,
                    member=f"<@{job['user_id']}>", when=f"<t:{int(job['created_at'])}:f>")),
             word(_("State: {state} · time taken: {taken} · cost: {cost}", state=STATES.get(state, state), taken=taken,
                    cost=credits(job["cost"])))]
    lines += [f"{name.replace('_', ' ')}: {code_span(value, 200)}" for name, value in shown if name not in IN_COMMAND]
    delivery = job.get("delivery")
    if delivery is not None and delivery.style:
        lines.append(word(_("style: {style} (its text is in the prompt below)", style=code_span(delivery.style, 40))))
    if delivery is not None and delivery.from_defaults:
        lines.append(word(_("from your /settings: {options}",
                            options=", ".join(name.replace("_", " ") for name in delivery.from_defaults))))
    if delivery is not None and delivery.in_batch:
        lines.append(word(_("image {place} of {size} of batch #{batch}", place=delivery.batch_index + 1,
                            size=delivery.batch_size, batch=job.get("batch_id"))))
    if job.get("inputs"):
        lines.append(word(_("Made from an attached image and mask: the command needs them attached again.")))
    lines.append(word(_("Make it again:")))
    head = "\n".join(lines)
    return head + "\n" + code_block(command_for(model, prompt_of(job), shown), DESCRIPTION_MAX - len(head) - 1)


def not_forgotten(job: JobRecord, what: str) -> None:
    if job.get("forgotten_at") is not None:
        raise UserFacingError(FORGOTTEN, detail=f"{what} of forgotten job {job['id']}")


def to_run_again(job: JobRecord, what: str) -> Model:
    """The model of a job to run again, or the one sentence saying why it cannot be."""
    if job.get("forgotten_at") is not None or not prompt_of(job):
        raise UserFacingError(FORGOTTEN, detail=f"{what} of forgotten job {job['id']}")
    return MODELS[job["model"]]


def used_options(model: Model, job: JobRecord) -> dict[str, Any]:
    """The job's slash options (prompt included), as the member gave them or as defaults filled in."""
    options = {p.option for p in model.params}
    used = {name: value for name, value in shown_of(job) if name in options}
    return {**used, "prompt": prompt_of(job)}


def edited_options(model: Model, values: dict[str, str]) -> dict[str, Any]:
    """The options of a submitted Edit form (custom_id -> text)."""
    options: dict[str, Any] = {"prompt": values.get("prompt", ""), **parse_settings(model, values.get("other", ""))}
    if model.param("negative_prompt") and values.get("negative_prompt", "").strip():
        options["negative_prompt"] = values["negative_prompt"]
    if model.param("seed") and values.get("seed", "").strip():
        options["seed"] = _seed(values["seed"].strip())
    return options


def _seed(raw: str) -> int | str:
    try:
        return int(raw)
    except ValueError:
        return raw  # prepare names it: "`seed` must be a whole number."


def inpaint_uploads(model: Model, job: JobRecord) -> list[tuple[Upload, str]]:
    """The job's image and mask as /inpaint saw them: their URLs from the body sent to Pixazo, their
    names and formats from the ledger's inputs."""
    params = job["params"]
    inputs = job.get("inputs") or {}
    found = []
    for role, url in (("image", params.image_url), ("mask", params.mask_url)):
        seen = inputs.get(role) or {}
        if not url or not seen.get("format"):
            raise UserFacingError(INPAINT_GONE, detail=f"job {job['id']} has no {role} URL or format")
        upload = Upload(role, seen.get("filename", role), url, seen.get("bytes", 0), f"image/{seen['format']}",
                        seen.get("width"), seen.get("height"))
        found.append((upload, seen["format"]))
    return found


class ResultsStore(Jobs, Audit, Protocol):
    """The two roles the result buttons use."""


class Results:
    def __init__(self, store: ResultsStore) -> None:
        self._store = store

    async def remember(self, job_id: int, channel_id: int, message_id: int) -> None:
        """Keep where a result was posted, for /history's link and the buttons' lookups. The image is
        delivered either way: a store that will not take this now costs only the link, so it is logged."""
        try:
            await self._store.set_result_message(job_id, channel_id, message_id)
        except Exception as exc:
            log.warning("job %d: could not record result message %s: %s", job_id, message_id, exc)

    async def record_delete(self, job: JobRecord, actor_id: int, channel_id: int | None) -> None:
        """The audit row of a result deleted by someone other than its requester; the message is gone
        either way, so a store that will not take the row is logged, not raised."""
        detail = {"job": job["id"], "model": job["model"], "channel_id": channel_id}
        try:
            await self._store.record_action(job["guild_id"], actor_id, AuditAction.DELETE.value, job["user_id"], detail)
        except Exception as exc:
            log.warning("job %d: could not record its deletion by %s: %s: %s", job["id"], actor_id,
                        type(exc).__name__, exc)
