"""A batch's one message (/imagine count:2–4): its images, each image's seed, Use 1…4 and Reroll all.

The images are the message's attachments, shown by Discord as a gallery, not a grid composed by the
bot: on desktop and on mobile a gallery of 2 to 4 shows every image side by side at once and opens
each one full size with a tap, as a member expects of a picture; each image keeps its full resolution
(a 2×2 grid would show each at a quarter, and the chosen one would have to be kept somewhere else to
be posted alone); Use posts the very file Discord holds, with no call to Pixazo and nothing stored by
the bot; and each image that lands is one upload added to the message, where a grid would be composed
and uploaded whole again each time. Each file is named `<place>-<job id>`, so the message itself
says which image is which job, after a restart too.

The message is the batch's interaction's "@original", edited as each image lands or fails, one edit
at a time per batch across every process (bot/services/batch_holds.py): each edit reads the message's
files and the ledger's rows while it holds the batch, so two images finishing at once in two processes
both stay; what it shows is read from the ledger's rows and from the message's files.
"""

from __future__ import annotations

import io
import logging
import re
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any

import discord

from bot.catalog import MODELS
from bot.core.errors import UserFacingError
from bot.core.i18n import Text, _
from bot.core.imaging import fit_off_loop
from bot.core.text import code_block, truncate
from bot.domain import JobState
from bot.domain.delivery import Delivery
from bot.domain.records import JobRecord, prompt_of
from bot.services.generation import Outcome
from bot.ui.embeds import AUTHOR_MAX, COLOUR, PROMPT_SHOWN_MAX, label
from bot.ui.i18n import words
from bot.ui.replies import NO_PINGS

if TYPE_CHECKING:
    from bot.ui.app import PixazoBot

log = logging.getLogger(__name__)

_FILE = re.compile(r"^(?:SPOILER_)?(?P<place>[0-9]+)-(?P<job>[0-9]+)\.")
STATE_WORDS = {JobState.QUEUED: _("waiting"), JobState.RUNNING: _("being made…"),
               JobState.FAILED: _("not made; refunded"), JobState.CANCELLED: _("cancelled; refunded"),
               JobState.SUCCEEDED: _("not shown here")}
HELD = _("held for the moderators")
# The /settings defaults a batch can have used, as "From your /settings" names them (the rest: the result's labels).
DEFAULT_LABELS = {"model": _("Model"), "count": _("Count"), "style": _("Style"), "private": _("Results only to me")}


def job_of(filename: str) -> int | None:
    """The job whose image a batch message's file is (None: not one of a batch's)."""
    found = _FILE.match(filename)
    return int(found["job"]) if found else None


def place_of(filename: str) -> int:
    found = _FILE.match(filename)
    return int(found["place"]) if found else 0


def locale_of_batch(rows: list[JobRecord]) -> str:
    """The language of the member who asked for the batch: its message is theirs, as a result is."""
    delivery = rows[0].get("delivery")
    return delivery.locale if delivery is not None else "en-US"


def image_place(place: int) -> Text:
    return _("Image {place}", place=place)


def batch_embed(rows: list[JobRecord], done: set[int], held: frozenset[int] = frozenset()) -> discord.Embed:
    """The batch's embed, in its asker's language: the prompt, then each image's place with its seed (or
    where it is)."""
    first = rows[0]
    delivery = first.get("delivery") or Delivery()
    t = words(locale_of_batch(rows))
    model = MODELS[first["model"]]
    embed = discord.Embed(title=truncate(t(_("{model} · {n} images", model=model.title, n=len(rows))), 256),
                          description=code_block(prompt_of(first), PROMPT_SHOWN_MAX), colour=COLOUR)
    requester = delivery.requester or t(_("member {id}", id=first["user_id"]))
    embed.set_author(name=truncate(t(_("Requested by {name}", name=requester)), AUTHOR_MAX),
                     icon_url=delivery.avatar_url)
    for place, row in enumerate(rows, 1):
        seed = row["params"].option("seed") if row.get("params") is not None else None
        if row["id"] in done:
            value: Text | str = _("seed {seed}", seed=seed) if seed is not None else _("made")
        elif row["id"] in held:
            value = HELD
        else:
            value = STATE_WORDS.get(row["state"], str(row["state"]))
        embed.add_field(name=t(image_place(place)), value=t(value))
    if delivery.style:
        embed.add_field(name=t(_("Style")), value=truncate(delivery.style, 100))
    if delivery.from_defaults:
        used = ", ".join(t(DEFAULT_LABELS.get(n) or label(n)) for n in delivery.from_defaults)
        embed.add_field(name=t(_("From your /settings")), value=used)
    embed.set_footer(text=t(_("/{command} · batch #{batch} · Use posts one image alone, at no cost",
                              command=model.key, batch=first["id"])))
    return embed


def batch_view(rows: list[JobRecord], done: set[int]) -> discord.ui.View:
    """Use 1…4 (the images on the message), Reroll all, and Cancel while some are still to come."""
    from bot.ui.items.base import finished_view
    from bot.ui.items.batch import RerollAllButton, UseButton
    from bot.ui.items.queue import CancelButton

    t = words(locale_of_batch(rows))
    items: list[Any] = [UseButton(row["id"], place, t) for place, row in enumerate(rows, 1) if row["id"] in done]
    items.append(RerollAllButton(rows[0]["id"], t))
    if any(row["state"] in (JobState.QUEUED, JobState.RUNNING) and row["id"] not in done for row in rows):
        items.append(CancelButton(rows[0]["id"], t))
    return finished_view(*items)


def done_in(message: discord.Message | discord.WebhookMessage) -> set[int]:
    return {job for a in message.attachments if (job := job_of(a.filename)) is not None}


def held_in(message: discord.Message | discord.WebhookMessage, rows: list[JobRecord]) -> frozenset[int]:
    """The images the message already shows as held (the image check): the message keeps that, as it
    keeps which images are on it."""
    fields = {f.name: f.value for embed in message.embeds[:1] for f in embed.fields}
    t = words(locale_of_batch(rows))  # the message is worded in its asker's language
    return frozenset(row["id"] for place, row in enumerate(rows, 1) if fields.get(t(image_place(place))) == t(HELD))


class BatchCourier:
    """Adds each image of a batch to its one message, or marks it not made; one edit at a time per batch."""

    def __init__(self, bot: PixazoBot) -> None:
        self.bot = bot

    def _editing(self, job: JobRecord) -> AbstractAsyncContextManager[None]:
        """The batch's message to this writer alone, in this process and in every other one: what it
        reads of the message is what it edits, so no other image's file is dropped."""
        return self.bot.services.batch_holds.editing(int(job.get("batch_id") or job["id"]))

    async def deliver(self, job: JobRecord, outcome: Outcome, webhook: discord.Webhook) -> None:
        """Add the image to the message (Discord refuses: UserFacingError, so the job is refunded; the
        token is gone: the HTTPException, and the caller posts it alone in the channel)."""
        from bot.ui.delivery import edit_original, fetch_original, shown_note

        delivery = job.get("delivery") or Delivery()
        settings = self.bot.settings
        stem = f"{delivery.batch_index + 1}-{job['id']}"
        # Discord's upload limit is per file: each image of the batch gets all of it.
        upload = await fit_off_loop(self.bot.offload, outcome.image.data, outcome.image.format, stem,
                                    delivery.upload_limit, timeout=settings.image_work_timeout_seconds)
        if upload is None:
            raise UserFacingError(_("The image came back too large to post here."), detail="batch image too large")
        file = discord.File(io.BytesIO(upload.data), filename=upload.filename, spoiler=delivery.spoiler)
        async with self._editing(job):
            current = await fetch_original(webhook)
            kept = [a for a in current.attachments if job_of(a.filename) not in (None, job["id"])]
            rows = await self.bot.services.lookups.batch(int(job.get("batch_id") or job["id"]))
            done = {job_of(a.filename) or 0 for a in kept} | {job["id"]}
            files: list[Any] = sorted([*kept, file], key=lambda f: place_of(f.filename))
            try:
                posted = await edit_original(webhook, content=shown_note(delivery),
                                             embed=batch_embed(rows, done, held_in(current, rows)),
                                             attachments=files, view=batch_view(rows, done))
            except discord.HTTPException as exc:
                if exc.status in (401, 404):
                    raise
                raise UserFacingError(_("Discord would not take the finished image, so no credits were spent for "
                                        "it."), detail=f"batch edit refused: HTTP {exc.status}: {exc.text}") from None
        await self.bot.services.results.remember(job["id"], posted.channel.id, posted.id)

    async def tell(self, job: JobRecord, text: Text | str, webhook: discord.Webhook | None) -> None:
        """An image not made: the message says so at its place, and the member hears why, privately (in
        their language)."""
        from bot.ui.delivery import edit_original, fetch_original

        delivery = job.get("delivery") or Delivery()
        said = words(delivery.locale)(_("Image {place} of {size}: {reason}", place=delivery.batch_index + 1,
                                        size=delivery.batch_size, reason=text))
        if webhook is not None:
            try:
                async with self._editing(job):
                    current = await fetch_original(webhook)
                    rows = await self.bot.services.lookups.batch(int(job.get("batch_id") or job["id"]))
                    done = done_in(current)
                    # Told while still open in the ledger: the image check held it (a refund is recorded first).
                    mine = next((r for r in rows if r["id"] == job["id"]), job)
                    held = held_in(current, rows) | (
                        {job["id"]} if mine["state"] in (JobState.RUNNING, JobState.SUCCEEDED) else set())
                    await edit_original(webhook, embed=batch_embed(rows, done, held), view=batch_view(rows, done))
                await webhook.send(said, ephemeral=True, allowed_mentions=NO_PINGS)
                return
            except discord.HTTPException as exc:
                log.info("job %d: could not show its end on its batch's message (HTTP %s); telling the channel",
                         job["id"], exc.status)
        if delivery.private and not delivery.personal:
            return  # never in public what was asked privately; the refund stands all the same
        try:
            if delivery.personal:  # no server channel is the bot's: the member's DM with it
                await (await self.bot.create_dm(discord.Object(job["user_id"]))).send(said, allowed_mentions=NO_PINGS)
            else:
                channel = self.bot.get_partial_messageable(job["channel_id"] or 0, guild_id=job["guild_id"])
                await channel.send(f"<@{job['user_id']}> {said}", allowed_mentions=NO_PINGS)
        except discord.HTTPException as exc:
            log.warning("job %d: could not tell user %s %r: HTTP %s", job["id"], job["user_id"], said, exc.status)
