"""Delivery to Discord: the queue's courier, and the one helper for a stored interaction token.

A job keeps its interaction's token (a credential, only while the job is open) and the bot's
application id, so its messages can be answered from the row after a restart: `interaction_webhook`
builds that webhook with discord.py's public `Webhook.partial`, and `edit_original`/`delete_original`
reach its "@original" message.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import discord

from bot.core.errors import UserFacingError
from bot.core.i18n import Text, _, render
from bot.core.imaging import fit_off_loop
from bot.domain import PERSONAL, JobState
from bot.domain.delivery import UNDELIVERED, Delivery
from bot.domain.records import JobRecord
from bot.services.generation import Outcome
from bot.ui.batch import BatchCourier
from bot.ui.embeds import TooLargeToPost, file_stem, result_message
from bot.ui.i18n import words
from bot.ui.installs import PRIVATE_HERE
from bot.ui.replies import NO_PINGS

if TYPE_CHECKING:
    from bot.ui.app import PixazoBot

log = logging.getLogger(__name__)

TOKEN_GONE = (401, 404)  # 401 Invalid Webhook Token (expired), 404 Unknown Webhook
LATE_BY_DM = _("Your image is ready. The command's own reply had expired, so it comes here.")


def interaction_webhook(bot: discord.Client, application_id: int, token: str) -> discord.Webhook:
    """The webhook of a stored interaction: Discord's interaction webhooks are the application's id with
    the interaction's token. `Webhook.partial` builds an incoming webhook (type 1), and discord.py
    refuses `ephemeral=True` on anything but an application webhook (type 3), which an interaction's
    own followup webhook is; so its documented `type` attribute is set to say what it is. Editing it
    instead of building one through discord.py's private state is the point: only public API."""
    webhook = discord.Webhook.partial(application_id, token, client=bot)
    webhook.type = discord.WebhookType.application
    return webhook


async def edit_original(webhook: discord.Webhook, **fields: Any) -> discord.WebhookMessage:
    """Edit the interaction's first answer ("@original": discord.py puts the id in the route as given;
    its stubs type the id as an int, hence the one ignore)."""
    return await webhook.edit_message("@original", allowed_mentions=NO_PINGS, **fields)  # type: ignore[call-overload]


async def fetch_original(webhook: discord.Webhook) -> discord.WebhookMessage:
    return await webhook.fetch_message("@original")  # type: ignore[arg-type]  # see edit_original


async def delete_original(webhook: discord.Webhook) -> None:
    await webhook.delete_message("@original")  # type: ignore[arg-type]  # see edit_original


class WebhookCourier:
    """The queue's Discord side (the services' `Courier`): the waiting notice, the result, the failure,
    each from the job's own row (application id + interaction token), never from a live interaction,
    so a job resumed after a restart is delivered exactly like one queued a second ago. When Discord no
    longer takes the token (15 minutes, 401 Invalid Webhook Token / 404 Unknown Webhook), the result
    goes to the channel as a normal message naming the requester, without a ping."""

    def __init__(self, bot: PixazoBot) -> None:
        self.bot = bot
        self.batches = BatchCourier(bot)
        self._after_settle: dict[int, Callable[[JobState | None], Awaitable[None]]] = {}  # job id -> what follows

    async def settled(self, job: JobRecord, state: JobState | None) -> None:
        after = self._after_settle.pop(job["id"], None)
        if after is not None:
            await after(state)

    def _webhook(self, job: JobRecord) -> discord.Webhook | None:
        delivery = job.get("delivery")
        token = job.get("interaction_token")
        if not token or delivery is None:
            return None
        return interaction_webhook(self.bot, delivery.application_id, token)

    async def notice(self, job: JobRecord, text: Text | str, *, cancellable: bool) -> None:
        webhook = self._webhook(job)
        if webhook is None:
            return
        # "@original", not an id: discord.py puts it in the route as given.
        await edit_original(webhook, content=render(text, locale_of(job)), view=cancel_view(job) if cancellable else None)

    async def _message(self, job: JobRecord, outcome: Outcome) -> tuple[discord.Embed, discord.File | None]:
        delivery = job.get("delivery") or Delivery()
        settings = self.bot.settings
        upload = await fit_off_loop(self.bot.offload, outcome.image.data, outcome.image.format, file_stem(outcome),
                                    delivery.upload_limit, timeout=settings.image_work_timeout_seconds)
        try:
            return result_message(outcome, requester=delivery.requester or f"member {job['user_id']}",
                                  avatar_url=delivery.avatar_url, upload=upload, thumbnail_url=delivery.thumbnail_url,
                                  spoiler=delivery.spoiler, locale=delivery.locale)
        except TooLargeToPost as exc:
            raise UserFacingError(_("The image came back too large to post here, and Pixazo gave no link to it."),
                                  detail=f"result too large: {exc}") from None

    async def deliver(self, job: JobRecord, outcome: Outcome, *, noticed: bool) -> tuple[int, int] | None:
        """Post the result; returns where (the settle records it with the job's success), or None when it
        is held for a moderator."""
        delivery = job.get("delivery") or Delivery()
        if delivery.review:  # approval mode: a moderator decides first
            await hold_for_review(self.bot, job, *await self._message(job, outcome))
            return None
        # The image check, outside age-restricted channels.
        finding = await self.bot.services.image_checks.finding(job, outcome.image.data)
        if finding is not None:
            word = await hold_flagged(self.bot, job, *await self._message(job, outcome), finding)
            # Told once the ledger answers the settle: "its credits stay spent" only when it has them spent.
            self._after_settle[job["id"]] = lambda state: self.tell(job, word(state is JobState.SUCCEEDED),
                                                                   noticed=noticed)
            return None
        webhook = self._webhook(job)
        status = "no interaction token"
        if webhook is not None:
            try:
                if delivery.in_batch:  # the batch's message: where each image is, it records itself
                    await self.batches.deliver(job, outcome, webhook)
                    return None
                return await self._followup(job, outcome, webhook, noticed=noticed)
            except discord.HTTPException as exc:  # the token is gone: posted alone below
                status = f"HTTP {exc.status} {exc.text}"
        if delivery.private and not delivery.personal:  # "only me" in a server: never in public
            raise UserFacingError(_("Your image was made but could no longer be shown to you alone, so no credits "
                                    "were spent. Please try again."), detail=f"private result undeliverable: {status}")
        embed, file = await self._message(job, outcome)
        # Personal: by DM now, no longer only in a place the bot cannot reach, so Delete works.
        view = result_view(job["id"], delivery.model_copy(update={"private": False}) if delivery.personal else delivery)
        kwargs: dict[str, Any] = {"embed": embed, "allowed_mentions": NO_PINGS, "view": view}
        if file is not None:
            kwargs["file"] = file
        sent = await (self._dm_result(job, status, delivery.note, kwargs) if delivery.personal else
                      self._channel_result(job, status, delivery.note, kwargs))
        return sent.channel.id, sent.id

    async def _channel_result(self, job: JobRecord, status: str, note: str | None,
                              kwargs: dict[str, Any]) -> discord.Message:
        """The token is gone: the result as a channel post naming the member, without a ping."""
        log.info("job %d: the interaction token is gone (%s); posting the result in channel %s instead",
                 job["id"], status, job["channel_id"])
        channel = self.bot.get_partial_messageable(job["channel_id"] or 0, guild_id=job["guild_id"])
        try:
            return await channel.send(content=f"<@{job['user_id']}> {note or ''}".rstrip(), **kwargs)
        except discord.HTTPException as exc:
            raise UserFacingError(_("Discord would not take the finished image, so no credits were spent."),
                                  detail=f"interaction token gone and channel {job['channel_id']} refused the result:"
                                         f" HTTP {exc.status}: {exc.text}") from None

    async def _dm_result(self, job: JobRecord, status: str, note: str | None,
                         kwargs: dict[str, Any]) -> discord.Message:
        """The token is gone and personal credits paid: no server channel is the bot's to post in (a
        group DM, a server that did not add it), so the result goes to the member's DM with the bot.
        DMs closed: the job fails and is refunded, and /history says why."""
        log.info("job %d: the interaction token is gone (%s); sending the result to user %s by DM instead",
                 job["id"], status, job["user_id"])
        try:
            dm = await self.bot.create_dm(discord.Object(job["user_id"]))
            said = render(LATE_BY_DM, locale_of(job))
            return await dm.send(content=said + (f"\n{note}" if note else ""), **kwargs)
        except discord.HTTPException as exc:
            raise UserFacingError(_("Discord would not take the finished image, so no credits were spent."),
                                  detail=f"{UNDELIVERED}: interaction token gone and user {job['user_id']}'s DMs "
                                         f"refused the result: HTTP {exc.status}: {exc.text}") from None

    async def _followup(self, job: JobRecord, outcome: Outcome, webhook: discord.Webhook, *,
                        noticed: bool) -> tuple[int, int]:
        """The result on the interaction's token, and where it is (the token gone: the HTTPException, for the
        caller)."""
        delivery = job.get("delivery") or Delivery()
        note = shown_note(delivery)  # "Reroll of job #N", and why only the member sees it
        view = result_view(job["id"], delivery)
        embed, file = await self._message(job, outcome)
        try:
            if noticed and not delivery.holds_inputs:  # the notice becomes the result
                posted = await edit_original(webhook, content=note, embed=embed,
                                             attachments=[file] if file else [], view=view)
            else:  # still "thinking…" (the first followup replaces it), or a message to keep: a new one
                kwargs: dict[str, Any] = {"embed": embed, "allowed_mentions": NO_PINGS, "wait": True,
                                          "view": view, "content": note, "ephemeral": delivery.private}
                if file is not None:
                    kwargs["file"] = file
                posted = await webhook.send(**kwargs)
        except discord.HTTPException as exc:
            if exc.status in TOKEN_GONE:
                raise
            raise UserFacingError(_("Discord would not take the finished image, so no credits were spent. "
                                    "Please try again."), detail=f"followup refused: HTTP {exc.status}: {exc.text}") from None
        await self._notice_done(job, webhook, note, noticed=noticed and delivery.holds_inputs)
        return posted.channel.id, posted.id

    @staticmethod
    async def _notice_done(job: JobRecord, webhook: discord.Webhook, note: str | None, *, noticed: bool) -> None:
        """The member's message holding the job's inputs showed its waiting notice (and Cancel): it says the
        picture is posted now, its files kept. A courtesy: the result is posted either way."""
        if not noticed:
            return
        try:
            said = _("{edit}: done, posted below.", edit=note) if note else _("Your picture: done, posted below.")
            await edit_original(webhook, content=render(said, locale_of(job)), view=None)
        except discord.HTTPException as exc:
            log.info("job %d: could not update its notice after the result: HTTP %s", job["id"], exc.status)

    async def fresh_links(self, urls: list[str]) -> list[str]:
        """The job's input links, those Discord's CDN no longer serves (or soon won't) exchanged for fresh ones."""
        from bot.ui.cdn import fresh_links

        return await fresh_links(self.bot, urls)

    async def tell(self, job: JobRecord, said: Text | str, *, noticed: bool) -> None:
        """A private word where the token still works (the public "thinking…" or notice removed first);
        else a short message in the channel, naming the member without a ping. A notice Discord would
        not remove does not keep the member from being told: the word goes out all the same, and the
        notice is made to say it too (it would otherwise stay "Generating…")."""
        webhook = self._webhook(job)
        if (job.get("delivery") or Delivery()).in_batch:
            return await self.batches.tell(job, said, webhook)
        text = render(said, locale_of(job))
        if webhook is not None:
            kept: discord.HTTPException | None = None  # why @original could not be removed
            try:
                try:
                    await delete_original(webhook)
                except discord.NotFound:
                    pass
                except discord.HTTPException as exc:
                    if exc.status in TOKEN_GONE:
                        raise
                    kept = exc
                    log.info("job %d: could not remove its notice (HTTP %s); telling user %s all the same",
                             job["id"], exc.status, job["user_id"])
                try:
                    await webhook.send(text, ephemeral=True, allowed_mentions=NO_PINGS)
                except discord.HTTPException:
                    if kept is None:
                        raise
                    await self._replace_notice(webhook, text)  # the notice is the one place left to say it
                    return
                if kept is not None:
                    # A public "thinking…" was replaced by that followup (Discord's rule for the first
                    # one); a notice ("Generating…") was not, and would go on saying so: it says this too.
                    try:
                        await self._replace_notice(webhook, text)
                    except discord.HTTPException as exc:
                        log.info("job %d: its notice still could not be replaced (HTTP %s)", job["id"], exc.status)
                return
            except discord.HTTPException as exc:
                if exc.status not in TOKEN_GONE:
                    log.warning("job %d: could not tell user %s %r: HTTP %s", job["id"], job["user_id"], text,
                                exc.status)
                    return
        await self._tell_elsewhere(job, text)

    async def _tell_elsewhere(self, job: JobRecord, text: str) -> None:
        """The token is gone: a word in the channel naming the member, or by DM where no server decides."""
        personal = job["guild_id"] == PERSONAL  # no server channel: the member's DM with the bot
        try:
            if personal:
                await (await self.bot.create_dm(discord.Object(job["user_id"]))).send(text, allowed_mentions=NO_PINGS)
            else:
                channel = self.bot.get_partial_messageable(job["channel_id"] or 0, guild_id=job["guild_id"])
                await channel.send(f"<@{job['user_id']}> {text}", allowed_mentions=NO_PINGS)
        except discord.HTTPException as exc:
            log.warning("job %d: could not tell user %s %r %s either: HTTP %s", job["id"], job["user_id"], text,
                        "by DM" if personal else "in the channel", exc.status)

    @staticmethod
    async def _replace_notice(webhook: discord.Webhook, text: str) -> None:
        await edit_original(webhook, content=text, embeds=[], attachments=[], view=None)


def locale_of(job: JobRecord) -> str:
    """The language of the member who asked for the job (English for a row from before it was kept)."""
    delivery = job.get("delivery")
    return delivery.locale if delivery is not None else "en-US"


def shown_note(delivery: Delivery) -> str | None:
    """The line above a result: its note ("Reroll of job #N"), and, where only the member sees it because
    the server did not add the bot, why (a member who chose "only me" knows why)."""
    if not (delivery.private and delivery.personal):
        return delivery.note
    return render(PRIVATE_HERE, delivery.locale) + (f"\n{delivery.note}" if delivery.note else "")


def cancel_view(job: JobRecord) -> discord.ui.View:
    from bot.ui.items.base import finished_view
    from bot.ui.items.queue import CancelButton

    return finished_view(CancelButton(job["id"], words(locale_of(job))))


def result_view(job_id: int, delivery: Delivery | None = None) -> discord.ui.View:
    """The result's buttons, in the language of the member who asked for it, as its embed is."""
    from bot.ui.items.results import result_view as view

    return view(job_id, delivery, delivery.locale if delivery is not None else "en-US")


async def hold_for_review(bot: PixazoBot, job: JobRecord, embed: discord.Embed, file: discord.File | None) -> None:
    from bot.ui.items.approval import hold_for_review as hold

    await hold(bot, job, embed, file)


async def hold_flagged(bot: PixazoBot, job: JobRecord, embed: discord.Embed, file: discord.File | None,
                       finding: Any) -> Callable[[bool], Text]:
    from bot.ui.items.reports import hold_flagged as hold

    return await hold(bot, job, embed, file, finding)
