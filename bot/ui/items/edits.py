"""Zoom Out 1.5× and 2×, Pan ← → ↑ ↓ and Vary Region on every result (persistent: the custom_id carries the
job id and what to do), their forms, and the forms of the message menus "Inpaint this…" and "Zoom out
this" (cogs/menus.py): each runs the picture through the inpainting model, checked, gated and charged as
/inpaint is.

Pixazo fetches the image and mask itself, so they must be at https addresses: the bot posts them to the
member as the private answer to the form (Discord's CDN hosts them, nobody else sees them, and the
member sees exactly what will be repainted), and hands Pixazo those attachments' links. That message
is the job's own (its waiting notice edits it); the result comes as a new message in the channel.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import discord

from bot.catalog import INPAINT
from bot.core.errors import UserFacingError
from bot.core.i18n import Text, _
from bot.domain.records import JobRecord, prompt_of
from bot.services import results
from bot.services.edits import (
    CANVAS_FILE,
    MASK_FILE,
    ZOOMS,
    Plan,
    ledger_inputs,
    plan_for_region,
    plan_for_zoom,
    prepared_edit,
)
from bot.services.inpaint import Upload
from bot.services.validation import prepare
from bot.ui import presses
from bot.ui.edit_forms import chosen, outpaint_form, region_form, uploaded
from bot.ui.i18n import for_member
from bot.ui.items.base import Form, Interaction, Press
from bot.ui.loop import only_me_here
from bot.ui.replies import NO_PINGS
from bot.ui.requests import admit, member_of, submit

NO_PICTURE = _("That message has no picture the bot can work on: use it on a message with a PNG, JPEG or WebP "
               "image attached.")
HOST_REFUSED = _("Discord would not take the canvas and mask the painter needs, so nothing was spent. "
                 "Please try again.")
ZOOM = r"zoom-(?P<factor>1\.5|2)"
PAN = r"pan-(?P<direction>left|right|up|down)"
PAN_LABELS = {"left": _("Pan ←"), "right": _("Pan →"), "up": _("Pan ↑"), "down": _("Pan ↓")}
ZOOM_LABELS = {"1.5": _("Zoom Out 1.5×"), "2": _("Zoom Out 2×")}
VARY_LABEL = _("Vary Region")
Words = Callable[[Text | str], str]


def picture_of(message: discord.Message | None) -> Upload:
    """The message's first attached image, as Discord describes it; the member's sentence when there is none."""
    for attachment in message.attachments if message is not None else ():
        if (attachment.content_type or "").startswith("image/") or attachment.width:
            return Upload("image", attachment.filename, attachment.url, attachment.size, attachment.content_type,
                          attachment.width, attachment.height)
    raise UserFacingError(NO_PICTURE, detail=f"message {getattr(message, 'id', None)} has no image attachment")


DETAILS = re.compile(rf"result:details:({presses.ID})")


async def known_prompt(interaction: Interaction, message: discord.Message) -> str:
    """The prompt of the bot's own result in this server (its Details button names the job), to prefill a
    menu's form; "" for any other picture, and for a job whose details were forgotten."""
    me = interaction.client.user
    if me is None or message.author.id != me.id:
        return ""
    ids = [int(found[1]) for row in message.components for item in getattr(row, "children", ())
           if (found := DETAILS.fullmatch(getattr(item, "custom_id", None) or ""))]
    job = await interaction.client.services.lookups.job(ids[0]) if ids and ids[0] <= presses.MAX_ROW_ID else None
    if job is None or job["guild_id"] != interaction.guild_id or job.get("forgotten_at") is not None:
        return ""
    return prompt_of(job)


async def run_edit(interaction: Interaction, plan: Plan, prompt: str, source: Upload, note: Text,
                   mask: Upload | None = None) -> None:
    """Checked like /inpaint (a refusal is private and costs nothing), then the canvas and mask made off
    the loop, posted to the member, and the job queued with their links. `note` (the line above the
    result) is kept with the job in the member's language, as a reroll's is."""
    edits = interaction.client.services.edits
    admission = await admit(interaction, prepare(INPAINT, {"prompt": prompt}))
    admission = replace(admission, only_me=await only_me_here(interaction))  # "only me": the result too
    declared = edits.precheck(source, mask)
    await interaction.response.defer(thinking=True, ephemeral=True)
    composed = await edits.compose(member_of(interaction), plan, source, declared, mask=mask)
    files = [discord.File(io.BytesIO(composed.image), CANVAS_FILE), discord.File(io.BytesIO(composed.mask), MASK_FILE)]
    t = for_member(interaction)
    try:
        hosted = await interaction.followup.send(
            t(_("{edit}: this canvas goes to the painter, and the white of the mask is repainted. The picture "
                "follows here.", edit=note)), files=files, ephemeral=True, wait=True, allowed_mentions=NO_PINGS)
    except discord.HTTPException as exc:
        raise UserFacingError(HOST_REFUSED, detail=f"canvas upload refused: HTTP {exc.status}: {exc.text}") from None
    image_url, mask_url = (a.url for a in hosted.attachments[:2])
    await submit(interaction, prepared_edit(prompt, composed, image_url, mask_url), admission,
                 inputs=ledger_inputs(composed, source), note=t(note), holds_inputs=True)


def _button(label: Text, emoji: str | None, custom_id: str, row: int, t: Words | None) -> discord.ui.Button[Any]:
    return discord.ui.Button(label=(t or str)(label), emoji=emoji, style=discord.ButtonStyle.secondary, custom_id=custom_id,
                             row=row)


class OutpaintButton(Press, template=rf"result:(?P<op>{ZOOM}|{PAN}):(?P<job>{presses.ID})"):
    """Zoom Out 1.5×, 2× and Pan ← → ↑ ↓: the form with the job's prompt, editable."""

    subject, what, where = presses.JOB, "outpaint", "Zoom Out or Pan button"

    def __init__(self, job_id: int, op: str = "zoom-2", t: Words | None = None) -> None:
        kind, _sep, arg = op.partition("-")
        label, emoji, row = (ZOOM_LABELS[arg], "🔍", 1) if kind == "zoom" else (PAN_LABELS[arg], None, 2)
        super().__init__(job_id, _button(label, emoji, f"result:{op}:{job_id}", row, t))
        self.op = op

    @classmethod
    def from_match(cls, match: re.Match[str]) -> OutpaintButton:
        return cls(int(match["job"]), match["op"])

    async def act(self, interaction: Interaction, job: JobRecord) -> None:
        results.to_run_again(job, self.what)
        plan = plan_of(self.op)
        await interaction.response.send_modal(outpaint_form(plan.title, f"result:{self.op}-form:{job['id']}",
                                                            prompt_of(job), for_member(interaction)))


def of_job(plan: Plan, job: JobRecord) -> Text:
    """The note above an edit's result: "Zoom out 2× of job #12"."""
    return _("{edit} of job #{job}", edit=plan.title, job=job["id"])


def custom_id_of(interaction: Interaction) -> str:
    data: Any = interaction.data or {}
    return str(data.get("custom_id", ""))


def plan_of(op: str) -> Plan:
    kind, _sep, arg = op.partition("-")
    return Plan("zoom", factor=ZOOMS[arg]) if kind == "zoom" else Plan("pan", direction=arg)


class OutpaintForm(Form):
    pattern = re.compile(rf"^result:(?P<op>{ZOOM}|{PAN})-form:(?P<job>{presses.ID})$")
    subject, what, where = presses.JOB, "outpaint", "Zoom Out or Pan form"

    @classmethod
    async def act(cls, interaction: Interaction, job: JobRecord, values: dict[str, str]) -> None:
        results.to_run_again(job, cls.what)
        match = cls.pattern.match(custom_id_of(interaction))
        assert match is not None, "answered only for its own pattern"
        plan = plan_of(match["op"])
        await run_edit(interaction, plan, values.get("prompt", ""), picture_of(interaction.message),
                       of_job(plan, job))


class VaryButton(Press, template=rf"result:vary:(?P<job>{presses.ID})"):
    subject, what, where = presses.JOB, "vary region", "Vary Region button"

    def __init__(self, job_id: int, t: Words | None = None) -> None:
        super().__init__(job_id, _button(VARY_LABEL, "🖌️", f"result:vary:{job_id}", 1, t))

    async def act(self, interaction: Interaction, job: JobRecord) -> None:
        results.to_run_again(job, self.what)
        await interaction.response.send_modal(region_form(f"result:vary-form:{job['id']}", prompt_of(job),
                                                          for_member(interaction)))


def region_plan(interaction: Interaction) -> tuple[Plan, Upload | None]:
    mask = uploaded(interaction.data, "mask", "mask")
    region = (chosen(interaction.data).get("region") or [""])[0]
    return plan_for_region(region, mask is not None), mask


class VaryForm(Form):
    pattern = re.compile(rf"^result:vary-form:(?P<job>{presses.ID})$")
    subject, what, where = presses.JOB, "vary region", "Vary Region form"

    @classmethod
    async def act(cls, interaction: Interaction, job: JobRecord, values: dict[str, str]) -> None:
        results.to_run_again(job, cls.what)
        plan, mask = region_plan(interaction)
        await run_edit(interaction, plan, values.get("prompt", ""), picture_of(interaction.message),
                       of_job(plan, job), mask)


MENU_GONE = _("That message is gone, so there is nothing to work on.")
MENU_UNREADABLE = _("The bot cannot read messages in that channel, so it cannot work on that picture.")


async def menu_target(interaction: Interaction, channel_id: int, message_id: int) -> discord.Message:
    """The message a menu was used on, read again now (its links fresh), in the channel the form came from."""
    if channel_id != interaction.channel_id:
        raise UserFacingError(presses.MEMBER.unknown, detail=f"menu form for channel {channel_id} submitted in "
                                                             f"{interaction.channel_id}")
    channel = interaction.client.get_partial_messageable(channel_id, guild_id=interaction.guild_id)
    try:
        return await channel.fetch_message(message_id)
    except discord.NotFound:
        raise UserFacingError(MENU_GONE, detail=f"menu target {message_id} is gone") from None
    except discord.HTTPException as exc:
        raise UserFacingError(MENU_UNREADABLE, detail=f"menu target {message_id}: HTTP {exc.status}: {exc.text}") from None


class MenuForm(Form):
    """The forms of "Inpaint this…" and "Zoom out this": the member's own (the id in the custom_id), about
    the message named in it."""

    pattern = re.compile(r"^menu:(?P<op>inpaint|zoom):(?P<user>[0-9]{1,100}):(?P<channel>[0-9]{1,20}):"
                         r"(?P<message>[0-9]{1,20})$")
    subject, what, where, id_group = presses.MEMBER, "menu form", "picture form", "user"
    who, refusal = presses.Who.OWNER, _("Only the member who opened this form can send it.")

    @classmethod
    async def act(cls, interaction: Interaction, row: Any, values: dict[str, str]) -> None:
        match = cls.pattern.match(custom_id_of(interaction))
        assert match is not None, "answered only for its own pattern"
        mask: Upload | None = None
        if match["op"] == "zoom":
            plan = plan_for_zoom((chosen(interaction.data).get("factor") or [""])[0])
        else:
            plan, mask = region_plan(interaction)
        message = await menu_target(interaction, int(match["channel"]), int(match["message"]))
        await run_edit(interaction, plan, values.get("prompt", ""), picture_of(message), plan.title, mask)


def edit_buttons(job_id: int, t: Words | None = None) -> list[Press]:
    """The second and third rows of every result, labelled by `t` as the first row is."""
    return [*(OutpaintButton(job_id, f"zoom-{z}", t) for z in ZOOM_LABELS), VaryButton(job_id, t),
            *(OutpaintButton(job_id, f"pan-{d}", t) for d in PAN_LABELS)]
