"""The buttons on every result: Reroll, Edit, Details and Delete (persistent, the custom_id carries the job id).

Each is a `DynamicItem` registered at start, so a button on a result posted before a restart is
answered by the new process from the job's row. Errors go through `answer_error`, the funnel the
slash commands use.
"""

from __future__ import annotations

import json
import logging
import re
import time
from typing import Any

import discord
from discord.ext import commands

from bot import presses
from bot.app import PixazoBot, answer_error, answer_form
from bot.catalog import MODELS, Kind, Model
from bot.domain import JobState
from bot.domain.audit import AuditAction
from bot.domain.records import JobRecord, prompt_of
from bot.errors import InvalidInput, UserFacingError
from bot.replies import NO_PINGS
from bot.reproduce import command_for, parse_settings, settings_line
from bot.services.inpaint import Upload, check_pair, check_upload, ledger_inputs, prepare_inpaint
from bot.services.validation import prepare
from bot.text import code_block, code_span, credits
from cogs.generate import admit, member_of, run_and_post
from cogs.report_button import ReportButton

log = logging.getLogger(__name__)

FORGOTTEN = "The details of that image were cleared (by /forget or after the history retention period)."
NOT_YOURS = "Only the member who asked for this image, or someone who can manage messages here, can delete it."
DELETED = "Deleted."
STAY_SPENT = "The credits stay spent: the image was made."  # only once the ledger has the job succeeded
DESCRIPTION_MAX = 4096
# Shown in full in the command; listed again they could push Details past Discord's limit.
IN_COMMAND = ("prompt", "negative_prompt")


async def record_delete(interaction: discord.Interaction, job: JobRecord) -> None:
    """The audit row of a result deleted by someone other than its requester; the message is gone
    either way, so a store that will not take the row is logged, not raised."""
    bot: PixazoBot = interaction.client  # type: ignore[assignment]
    detail = {"job": job["id"], "model": job["model"], "channel_id": interaction.channel_id}
    try:
        await bot.store.record_action(job["guild_id"], interaction.user.id, AuditAction.DELETE.value, job["user_id"],
                                      detail)
    except Exception as exc:
        log.warning("job %d: could not record its deletion by %s: %s: %s", job["id"], interaction.user.id,
                    type(exc).__name__, exc)


def details_text(job: JobRecord) -> str:
    delivery = json.loads(job.get("delivery") or "{}")
    model = MODELS[job["model"]]
    shown = [(name, value) for name, value in delivery.get("shown", ())]
    finished, begun = job.get("finished_at"), job.get("started_at")
    taken = f"{finished - begun:.1f} s" if finished is not None and begun is not None else "not finished"
    lines = [f"**Job #{job['id']}** · {model.title} · asked by <@{job['user_id']}> <t:{int(job['created_at'])}:f>",
             f"State: {job['state']} · time taken: {taken} · cost: {credits(job['cost'])}"]
    lines += [f"{name.replace('_', ' ')}: {code_span(value, 200)}" for name, value in shown if name not in IN_COMMAND]
    if job.get("inputs"):
        lines.append("Made from an attached image and mask: the command needs them attached again.")
    lines.append("Make it again:")
    head = "\n".join(lines)
    return head + "\n" + code_block(command_for(model, prompt_of(job), shown),
                                    DESCRIPTION_MAX - len(head) - 1)


class DetailsButton(discord.ui.DynamicItem[discord.ui.Button], template=rf"result:details:(?P<job>{presses.ID})"):
    def __init__(self, job_id: int) -> None:
        super().__init__(discord.ui.Button(label="Details", emoji="ℹ️", style=discord.ButtonStyle.secondary,
                                           custom_id=f"result:details:{job_id}"))
        self.job_id = job_id

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Item[Any],
                             match: re.Match[str], /) -> DetailsButton:
        return cls(int(match["job"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        try:
            job = await presses.pressed(interaction, presses.JOB, self.job_id, what="details")
            if job.get("forgotten_at") is not None:
                raise UserFacingError(FORGOTTEN, detail=f"details of forgotten job {self.job_id}")
            embed = discord.Embed(description=details_text(job))
            await interaction.response.send_message(embed=embed, ephemeral=True, allowed_mentions=NO_PINGS)
        except Exception as exc:
            await answer_error(interaction, exc, "Details button")


class DeleteButton(discord.ui.DynamicItem[discord.ui.Button], template=rf"result:delete:(?P<job>{presses.ID})"):
    def __init__(self, job_id: int) -> None:
        super().__init__(discord.ui.Button(label="Delete", emoji="🗑️", style=discord.ButtonStyle.danger,
                                           custom_id=f"result:delete:{job_id}"))
        self.job_id = job_id

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Item[Any],
                             match: re.Match[str], /) -> DeleteButton:
        return cls(int(match["job"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        try:
            await self._delete(interaction)
        except Exception as exc:
            await answer_error(interaction, exc, "Delete button")

    async def _delete(self, interaction: discord.Interaction) -> None:
        job = await presses.pressed(interaction, presses.JOB, self.job_id, what="delete",
                                    who=presses.Who.OWNER_OR_MODERATOR, refusal=NOT_YOURS)
        if interaction.message is None:
            raise UserFacingError("That message is already gone.", detail=f"delete of job {self.job_id}: no message")
        try:
            await interaction.message.delete()
        except discord.NotFound:
            raise UserFacingError("That message is already gone.", detail=f"job {self.job_id}: already deleted") from None
        except discord.HTTPException as exc:
            raise UserFacingError("Discord would not let the bot delete that message.",
                                  detail=f"delete of job {self.job_id}: HTTP {exc.status}: {exc.text}") from None
        log.info("result of job %d deleted by user %s", self.job_id, interaction.user.id)
        if interaction.user.id != job["user_id"]:  # part 8: a moderator's delete is an audited decision
            await record_delete(interaction, job)
        # About credits only what the ledger says: a job whose success is not recorded yet holds them, unspent.
        said = f"{DELETED} {STAY_SPENT}" if job["state"] == JobState.SUCCEEDED else DELETED
        await interaction.response.send_message(said, ephemeral=True, allowed_mentions=NO_PINGS)


INPAINT_GONE = ("Discord no longer serves the original image or mask, so nothing was spent; run /inpaint again "
                "with them attached.")
MODAL_TITLE = "Edit and run again"


async def remembered_job(interaction: discord.Interaction, job_id: int, what: str) -> tuple[JobRecord, Model]:
    """The job to run again, or the one sentence saying why it cannot be."""
    job: JobRecord = await presses.pressed(interaction, presses.JOB, job_id, what=what)
    if job.get("forgotten_at") is not None or not prompt_of(job):
        raise UserFacingError(FORGOTTEN, detail=f"{what} of forgotten job {job_id}")
    return job, MODELS[job["model"]]


def used_options(model: Model, job: JobRecord) -> dict[str, Any]:
    """The job's slash options (prompt included), as the member gave them or as defaults filled in."""
    delivery = json.loads(job.get("delivery") or "{}")
    options = {p.option for p in model.params}
    used = {name: value for name, value in delivery.get("shown", ()) if name in options}
    return {**used, "prompt": prompt_of(job)}


async def run_again(interaction: discord.Interaction, job: JobRecord, model: Model, options: dict[str, Any],
                    note: str) -> None:
    """Run it for whoever pressed: checked like a slash command (a refusal costs nothing), then queued."""
    started = time.monotonic()
    bot: PixazoBot = interaction.client  # type: ignore[assignment]
    # Checked for whoever pressed, in this channel, before the defer, so a refusal is ephemeral.
    prepared = prepare(model, options)
    admission = await admit(bot, interaction, prepared)
    if model.kind is not Kind.INPAINT:
        await interaction.response.defer(thinking=True, ephemeral=admission.private)
        await run_and_post(bot, interaction, prepared, started, admission, note=note)
        return
    # /inpaint: the original attachments, checked again as /inpaint checks them, while Discord serves them.
    uploads = inpaint_uploads(model, job)
    await interaction.response.defer(thinking=True, ephemeral=admission.private)
    await bot.quotas.precheck(member_of(interaction), model.key, pending=0)
    settings = bot.settings
    try:
        image, mask = [await check_upload(bot.http_session, bot.offload, upload, fmt,
                                          max_bytes=settings.inpaint_max_file_bytes,
                                          timeout=settings.pixazo_timeout_seconds,
                                          work_timeout=settings.image_work_timeout_seconds)
                       for upload, fmt in uploads]
    except InvalidInput as exc:
        raise UserFacingError(INPAINT_GONE, detail=f"{note}: the inputs are gone: {exc.detail}") from None
    check_pair(image, mask)
    prepared = prepare_inpaint(model, options, image, mask)
    await run_and_post(bot, interaction, prepared, started, admission, inputs=ledger_inputs(image, mask), note=note)


def inpaint_uploads(model: Model, job: JobRecord) -> list[tuple[Upload, str]]:
    """The job's image and mask as /inpaint saw them: their URLs from the body sent to Pixazo, their
    names and formats from the ledger's inputs."""
    params = json.loads(job["params"])
    inputs = json.loads(job.get("inputs") or "{}")
    found = []
    for role, field in (("image", model.image_field), ("mask", model.mask_field)):
        seen = inputs.get(role) or {}
        url = params.get(field or "")
        if not url or not seen.get("format"):
            raise UserFacingError(INPAINT_GONE, detail=f"job {job['id']} has no {role} URL or format")
        upload = Upload(role, seen.get("filename", role), url, seen.get("bytes", 0), f"image/{seen['format']}",
                        seen.get("width"), seen.get("height"))
        found.append((upload, seen["format"]))
    return found


class RerollButton(discord.ui.DynamicItem[discord.ui.Button], template=rf"result:reroll:(?P<job>{presses.ID})"):
    def __init__(self, job_id: int) -> None:
        super().__init__(discord.ui.Button(label="Reroll", emoji="🎲", style=discord.ButtonStyle.primary,
                                           custom_id=f"result:reroll:{job_id}"))
        self.job_id = job_id

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Item[Any],
                             match: re.Match[str], /) -> RerollButton:
        return cls(int(match["job"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        try:
            job, model = await remembered_job(interaction, self.job_id, "reroll")
            options = used_options(model, job)
            options.pop("seed", None)  # a new random seed; a model without one simply runs again
            await run_again(interaction, job, model, options, f"Reroll of job #{self.job_id}")
        except Exception as exc:
            await answer_error(interaction, exc, "Reroll button")


MODAL_ID = re.compile(rf"^result:edit-modal:(?P<job>{presses.ID})$")


class EditModal(discord.ui.Modal):
    """The form only: its submission is answered by `Results.on_interaction` from the job's row, so a
    form opened before a restart still runs when submitted after it. The inputs' custom_ids name them."""

    def __init__(self, job: JobRecord, model: Model, options: dict[str, Any], shown: list[tuple[str, Any]]) -> None:
        super().__init__(title=MODAL_TITLE, custom_id=f"result:edit-modal:{job['id']}", timeout=None)
        prompt = model.param("prompt")
        self.add_item(discord.ui.TextInput(label="Prompt", custom_id="prompt", style=discord.TextStyle.paragraph,
                                           default=options["prompt"],
                                           max_length=int(prompt.max) if prompt and prompt.max else None))
        if model.param("negative_prompt"):
            self.add_item(discord.ui.TextInput(label="Negative prompt", custom_id="negative_prompt",
                                               style=discord.TextStyle.paragraph, required=False,
                                               default=options.get("negative_prompt") or ""))
        if model.param("seed"):
            seed = options.get("seed")
            self.add_item(discord.ui.TextInput(label="Seed (empty = random)", custom_id="seed", required=False,
                                               default="" if seed is None else str(seed)))
        self.add_item(discord.ui.TextInput(label="Other settings", custom_id="other", required=False,
                                           default=settings_line(model, shown)))
        # Finished at once, as the result view: discord.py keeps no copy in memory to answer it.
        self.stop()


def submitted_values(data: Any) -> dict[str, str]:
    """custom_id -> text of a modal submission (rows of text inputs, or labels around them)."""
    values: dict[str, str] = {}
    for row in (data or {}).get("components") or []:
        inner = [row["component"]] if row.get("component") else row.get("components") or []
        for item in inner:
            values[item.get("custom_id", "")] = item.get("value") or ""
    return values


def edited_options(model: Model, values: dict[str, str]) -> dict[str, Any]:
    options: dict[str, Any] = {"prompt": values.get("prompt", ""), **parse_settings(model, values.get("other", ""))}
    if model.param("negative_prompt") and values.get("negative_prompt", "").strip():
        options["negative_prompt"] = values["negative_prompt"]
    if model.param("seed") and values.get("seed", "").strip():
        options["seed"] = _seed(values["seed"].strip())
    return options


async def submit_edit(interaction: discord.Interaction, job_id: int) -> None:
    job, model = await remembered_job(interaction, job_id, "edit")
    options = edited_options(model, submitted_values(interaction.data))
    await run_again(interaction, job, model, options, f"Edit of job #{job_id}")


def _seed(raw: str) -> int | str:
    try:
        return int(raw)
    except ValueError:
        return raw  # prepare names it: "`seed` must be a whole number."


class EditButton(discord.ui.DynamicItem[discord.ui.Button], template=rf"result:edit:(?P<job>{presses.ID})"):
    def __init__(self, job_id: int) -> None:
        super().__init__(discord.ui.Button(label="Edit", emoji="✏️", style=discord.ButtonStyle.secondary,
                                           custom_id=f"result:edit:{job_id}"))
        self.job_id = job_id

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Item[Any],
                             match: re.Match[str], /) -> EditButton:
        return cls(int(match["job"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        try:
            job, model = await remembered_job(interaction, self.job_id, "edit")
            shown = [(n, v) for n, v in json.loads(job.get("delivery") or "{}").get("shown", ())]
            await interaction.response.send_modal(EditModal(job, model, used_options(model, job), shown))
        except Exception as exc:
            await answer_error(interaction, exc, "Edit button")


RESULT_BUTTONS = (RerollButton, EditButton, DetailsButton, DeleteButton, ReportButton)  # Report: part 8


def result_view(job_id: int) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    for button in RESULT_BUTTONS:
        view.add_item(button(job_id))
    # Finished at once, as the Cancel view: the dynamic items answer the presses, now and after a restart.
    view.stop()
    return view


async def remember_result(bot: PixazoBot, job_id: int,
                          posted: discord.Message | discord.WebhookMessage | None) -> None:
    """Keep where a result was posted, for /history's link and the buttons' lookups. The image is
    delivered either way: a store that will not take this now costs only the link, so it is logged."""
    if posted is None:
        return
    try:
        await bot.store.set_result_message(job_id, posted.channel.id, posted.id)
    except Exception as exc:
        log.warning("job %d: could not record result message %s: %s", job_id, posted.id, exc)


class Results(commands.Cog):
    def __init__(self, bot: PixazoBot) -> None:
        self.bot = bot

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(*RESULT_BUTTONS)

    @commands.Cog.listener()
    async def on_interaction(self, interaction: discord.Interaction) -> None:
        await answer_form(interaction, MODAL_ID, lambda i, m: submit_edit(i, int(m["job"])), "Edit form")


async def setup(bot: PixazoBot) -> None:
    await bot.add_cog(Results(bot))
