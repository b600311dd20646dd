"""The buttons on every result: Reroll, Edit, Details, Delete and Report (persistent: the custom_id
carries the job id), and the Edit and Report forms. A button on a result posted before a restart is
answered by the new process from the job's row."""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import discord

from bot.catalog import Kind, Model
from bot.core.errors import UserFacingError
from bot.core.i18n import Text, _
from bot.domain import PERSONAL, JobState
from bot.domain.delivery import Delivery
from bot.domain.records import JobRecord
from bot.services import results
from bot.services.inpaint import Upload, ledger_inputs, prepare_inpaint
from bot.services.validation import clean_text, prepare
from bot.ui import presses
from bot.ui.cdn import fresh_links
from bot.ui.forms import REASON_MAX, edit_form, report_form
from bot.ui.i18n import for_member, words
from bot.ui.items.base import Form, Interaction, Press, ReadyView, finished_view
from bot.ui.loop import only_me_here
from bot.ui.replies import NO_PINGS
from bot.ui.requests import admit, member_of, submit

log = logging.getLogger(__name__)

NOT_YOURS = _("Only the member who asked for this image, or someone who can manage messages here, can delete it.")
DELETED = _("Deleted.")
DELETED_SPENT = _("Deleted. The credits stay spent: the image was made.")  # once the ledger has the job succeeded
GONE = _("That message is already gone.")
Words = Callable[[Text | str], str]


def _button(label: Text, emoji: str, style: discord.ButtonStyle, custom_id: str, t: Words | None
            ) -> discord.ui.Button[Any]:
    return discord.ui.Button(label=(t or str)(label), emoji=emoji, style=style, custom_id=custom_id)


class DetailsButton(Press, template=rf"result:details:(?P<job>{presses.ID})"):
    subject, what, where = presses.JOB, "details", "Details button"

    def __init__(self, job_id: int, t: Words | None = None) -> None:
        super().__init__(job_id, _button(_("Details"), "ℹ️", discord.ButtonStyle.secondary, f"result:details:{job_id}",
                                         t))

    async def act(self, interaction: Interaction, job: JobRecord) -> None:
        results.not_forgotten(job, "details")
        embed = discord.Embed(description=results.details_text(job, for_member(interaction)))
        await interaction.response.send_message(embed=embed, ephemeral=True, allowed_mentions=NO_PINGS)


class DeleteButton(Press, template=rf"result:delete:(?P<job>{presses.ID})"):
    subject, what, where = presses.JOB, "delete", "Delete button"
    who, refusal = presses.Who.OWNER_OR_MODERATOR, NOT_YOURS

    def __init__(self, job_id: int, t: Words | None = None) -> None:
        super().__init__(job_id, _button(_("Delete"), "🗑️", discord.ButtonStyle.danger, f"result:delete:{job_id}", t))

    async def act(self, interaction: Interaction, job: JobRecord) -> None:
        if interaction.message is None:
            raise UserFacingError(GONE, detail=f"delete of job {self.row_id}: no message")
        personal = job.get("guild_id") == PERSONAL
        try:
            if personal:  # a group DM the bot is not in: removed through the press's own webhook
                await interaction.response.defer()
                await interaction.delete_original_response()
            else:
                await interaction.message.delete()
        except discord.NotFound:
            raise UserFacingError(GONE, detail=f"job {self.row_id}: already deleted") from None
        except discord.HTTPException as exc:
            raise UserFacingError(_("Discord would not let the bot delete that message."),
                                  detail=f"delete of job {self.row_id}: HTTP {exc.status}: {exc.text}") from None
        log.info("result of job %d deleted by user %s", self.row_id, interaction.user.id)
        if interaction.user.id != job["user_id"]:  # a moderator's delete is an audited decision
            await interaction.client.services.results.record_delete(job, interaction.user.id, interaction.channel_id)
        # About credits only what the ledger says: a job whose success is not recorded yet holds them, unspent.
        said = for_member(interaction)(DELETED_SPENT if job["state"] == JobState.SUCCEEDED else DELETED)
        if personal:
            await interaction.followup.send(said, ephemeral=True, allowed_mentions=NO_PINGS)
        else:
            await interaction.response.send_message(said, ephemeral=True, allowed_mentions=NO_PINGS)


async def run_again(interaction: Interaction, job: JobRecord, model: Model, options: dict[str, Any],
                    note: str) -> None:
    """Run it for whoever pressed: checked like a slash command (a refusal costs nothing), then queued."""
    # Checked for whoever pressed, in this channel, before the defer, so a refusal is ephemeral.
    prepared = prepare(model, options)
    # "Only me" follows the presser, as on a slash command: a reroll of a private result stays private.
    admission = replace(await admit(interaction, prepared), only_me=await only_me_here(interaction))
    if model.kind is not Kind.INPAINT:
        await interaction.response.defer(thinking=True, ephemeral=admission.private)
        await submit(interaction, prepared, admission, note=note)
        return
    # /inpaint: the original attachments, checked again as /inpaint checks them, while Discord serves them.
    uploads = results.inpaint_uploads(model, job)
    await interaction.response.defer(thinking=True, ephemeral=admission.private)
    uploads = await fresh_uploads(interaction, uploads)
    checked = await interaction.client.services.inpaint.check_again(member_of(interaction), model.key, uploads, note)
    prepared = prepare_inpaint(model, options, *checked)
    await submit(interaction, prepared, admission, inputs=ledger_inputs(*checked), note=note)


async def fresh_uploads(interaction: Interaction, uploads: list[tuple[Upload, str]]) -> list[tuple[Upload, str]]:
    """The job's inputs at links Discord serves now: a day after the job, the links it kept have expired."""
    try:
        urls = await fresh_links(interaction.client, [upload.url for upload, _ in uploads])
    except discord.HTTPException as exc:  # the check then says the inputs are gone, if they are
        log.info("could not refresh a job's input links: HTTP %s", exc.status)
        return uploads
    return [(replace(upload, url=url), fmt) for (upload, fmt), url in zip(uploads, urls, strict=True)]


class RerollButton(Press, template=rf"result:reroll:(?P<job>{presses.ID})"):
    subject, what, where = presses.JOB, "reroll", "Reroll button"

    def __init__(self, job_id: int, t: Words | None = None) -> None:
        super().__init__(job_id, _button(_("Reroll"), "🎲", discord.ButtonStyle.primary, f"result:reroll:{job_id}", t))

    async def act(self, interaction: Interaction, job: JobRecord) -> None:
        model = results.to_run_again(job, "reroll")
        options = results.used_options(model, job)
        options.pop("seed", None)  # a new random seed; a model without one simply runs again
        await run_again(interaction, job, model, options,
                        for_member(interaction)(_("Reroll of job #{job}", job=self.row_id)))


class EditButton(Press, template=rf"result:edit:(?P<job>{presses.ID})"):
    subject, what, where = presses.JOB, "edit", "Edit button"

    def __init__(self, job_id: int, t: Words | None = None) -> None:
        super().__init__(job_id, _button(_("Edit"), "✏️", discord.ButtonStyle.secondary, f"result:edit:{job_id}", t))

    async def act(self, interaction: Interaction, job: JobRecord) -> None:
        model = results.to_run_again(job, "edit")
        form = edit_form(job["id"], model, results.used_options(model, job), results.shown_of(job),
                         for_member(interaction))
        await interaction.response.send_modal(form)


class EditForm(Form):
    pattern = re.compile(rf"^result:edit-modal:(?P<job>{presses.ID})$")
    subject, what, where = presses.JOB, "edit", "Edit form"

    @classmethod
    async def act(cls, interaction: Interaction, job: JobRecord, values: dict[str, str]) -> None:
        model = results.to_run_again(job, "edit")
        await run_again(interaction, job, model, results.edited_options(model, values),
                        for_member(interaction)(_("Edit of job #{job}", job=job["id"])))


class ReportButton(Press, template=rf"result:report:(?P<job>{presses.ID})"):
    subject, what, where = presses.JOB, "report", "Report button"

    def __init__(self, job_id: int, t: Words | None = None) -> None:
        super().__init__(job_id, _button(_("Report"), "🚩", discord.ButtonStyle.secondary, f"result:report:{job_id}",
                                         t))

    async def act(self, interaction: Interaction, job: JobRecord) -> None:
        await interaction.client.services.reviews.may_report(job, interaction.user.id)
        await interaction.response.send_modal(report_form(self.row_id, for_member(interaction)))


class ReportForm(Form):
    pattern = re.compile(rf"^result:report-modal:(?P<job>{presses.ID})$")
    subject, what, where = presses.JOB, "report form", "Report form"

    @classmethod
    async def act(cls, interaction: Interaction, job: JobRecord, values: dict[str, str]) -> None:
        from bot.ui.items.reports import submit_report  # the review channel's side of a report

        reason = clean_text(values.get("reason", ""))[:REASON_MAX] or None
        await submit_report(interaction, job, reason)


RESULT_BUTTONS = (RerollButton, EditButton, DetailsButton, DeleteButton, ReportButton)


def result_view(job_id: int, delivery: Delivery | None = None, locale: str = "en-US") -> discord.ui.View:
    """The buttons under a result, labelled in `locale` (its member's language): Reroll, Edit, Details, Delete,
    Report; then Zoom Out 1.5×, 2×, Vary Region and Pan ← → ↑ ↓. Paid by personal credits: no Report (no
    server's moderators to ask), no Delete on a result only the member sees (Discord's Dismiss removes it), and
    none of the edits (a server's, for now). The registered items answer their presses, so the message needs
    only how each looks: the components of a result in this language, with this job's id."""
    personal = delivery is not None and delivery.personal
    private = personal and delivery is not None and delivery.private
    return ReadyView([{"type": kind, "components": [{**face, "custom_id": f"{stem}{job_id}"} for face, stem in row]}
                      for kind, row in _rows(locale, personal, private)])


Row = tuple[int, tuple[tuple[dict[str, Any], str], ...]]


@functools.lru_cache(maxsize=64)
def _rows(locale: str, personal: bool, private: bool) -> tuple[Row, ...]:
    """A result's components in `locale` from the items themselves, each button's custom_id less the job id;
    made once per language, since twelve buttons built and serialised for every result cost more than the
    rest of its message."""
    from bot.ui.items.edits import edit_buttons

    t = words(locale)
    buttons: tuple[type[Press], ...] = RESULT_BUTTONS
    if personal:
        buttons = (RerollButton, EditButton, DetailsButton) + (() if private else (DeleteButton,))
    items = [*(button(0, t) for button in buttons), *(() if personal else edit_buttons(0, t))]  # type: ignore[arg-type]
    rows = []
    for row in finished_view(*items).to_components():
        faces = []
        for face in row["components"]:
            custom_id = face.pop("custom_id")
            assert custom_id.endswith(":0"), "a result's custom_id ends in its job id"
            faces.append((face, custom_id[:-1]))
        rows.append((row["type"], tuple(faces)))
    return tuple(rows)
