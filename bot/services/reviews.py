"""The review channel's decisions, Discord-free: a result waiting for approval, a member's report of a
posted result, and an image the image check held back. The ui posts, edits and deletes the messages;
this keeps the `reviews` rows, decides who may report, and records every decision.

Every decision starts with the store's conditional UPDATE (`decide`); only its winner acts, so two
moderators pressing at once cause one effect.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from bot.core.errors import UserFacingError
from bot.core.i18n import Text, _
from bot.domain import PERSONAL, JobState, StoreBusy
from bot.domain.audit import AuditAction
from bot.domain.detections import Detection
from bot.domain.records import JobRecord
from bot.domain.reviews import AlreadyReviewed, Decision, ReviewKind, ReviewRecord, ReviewState
from bot.moderation.config import REPORTS_HIDE_AFTER, REVIEW_CHANNEL, GuildConfig
from bot.services.moderation import Moderation
from bot.storage.roles import Audit, Jobs, Reviews

log = logging.getLogger(__name__)

TOKEN_LIFETIME_SECONDS = 15 * 60 - 30  # Discord's 15 minutes, less a margin for a slow press
REPORTING_OFF = _("Reporting results is turned off in this server.")
NO_REVIEW_CHANNEL = _("This server has no review channel set, so results cannot be reported here; ask a server "
                      "admin.")
ALREADY_REPORTED = _("You already reported this image; a moderator will look at it.")
# Who decided a review, and when (Discord shows the time in the reader's own words).
ALREADY = {ReviewState.APPROVED: _("Approved already by {who}{when}."),
           ReviewState.REJECTED: _("Rejected already by {who}{when}."),
           ReviewState.KEPT: _("Kept already by {who}{when}."),
           ReviewState.REMOVED: _("Removed already by {who}{when}.")}
DECIDED_ALREADY = _("Decided already by {who}{when}.")


def already(review: ReviewRecord) -> Text:
    """The loser of a race, or a late press, is told who decided and when."""
    state = ReviewState(review["status"])
    decided_at = review.get("decided_at")
    when = f" <t:{int(decided_at)}:R>" if decided_at is not None else ""
    said = ALREADY.get(state, DECIDED_ALREADY)
    return Text(said.msgid, {"who": f"<@{review['decided_by']}>", "when": when})


def locale_of(review: ReviewRecord) -> str:
    """The language of the member whose image it is (kept with the review when it was held)."""
    return str(detail_of(review).get("locale") or "en-US")


def detail_of(review: ReviewRecord) -> dict[str, Any]:
    return review.get("detail") or {}


def reporting_channel(config: GuildConfig) -> int:
    """Where reports go, or the one sentence saying why this server takes none."""
    if int(config.get(REPORTS_HIDE_AFTER)) <= 0:
        raise UserFacingError(REPORTING_OFF, detail=f"guild {config.guild_id}: reporting is off")
    channel = config.get(REVIEW_CHANNEL)
    if channel is None:
        raise UserFacingError(NO_REVIEW_CHANNEL, detail=f"guild {config.guild_id}: a report but no review channel")
    return int(channel)


def finding_text(finding: Detection) -> str:
    return f"{finding.words}, {finding.score:.0%} sure"


class ReviewStore(Reviews, Jobs, Audit, Protocol):
    """The roles the review channel's workflows use."""


# (job id, what, a write safe to repeat) -> (landed, its answer): the generation's retry of a settle,
# which gives up only at shutdown (GenerationService.until_landed).
UntilLanded = Callable[[int, str, Callable[[], Awaitable[Any]]], Awaitable[tuple[bool, Any]]]


# (job id, what, a write safe to repeat) -> None: the same retry, in the background, so the job's settle is
# not held back by it; shutdown waits for it (GenerationService.later).
Later = Callable[[int, str, Callable[[], Awaitable[Any]]], None]


async def _once(job_id: int, what: str, call: Callable[[], Awaitable[Any]]) -> tuple[bool, Any]:
    return True, await call()


class ReviewDesk:
    def __init__(self, store: ReviewStore, moderation: Moderation, *, until_landed: UntilLanded = _once,
                 later: Later | None = None) -> None:
        self._store = store
        self._moderation = moderation
        self._until_landed = until_landed
        self._later = later

    def now(self) -> float:
        return self._store.now()

    async def job(self, job_id: int) -> JobRecord | None:
        return await self._store.job(job_id)

    async def succeeded(self, job_id: int) -> bool:
        """Whether the ledger has the job succeeded (its credits spent); a ledger that can't answer now
        says nothing, and neither does the sentence."""
        try:
            job = await self._store.job(job_id)
        except StoreBusy:
            return False
        return job is not None and job["state"] == JobState.SUCCEEDED

    async def review(self, review_id: int) -> ReviewRecord | None:
        return await self._store.review(review_id)

    # -- approval mode, and the image check's held results ------------------------------------------

    async def hold(self, job: JobRecord, kind: ReviewKind, saved: dict[str, Any], *, reason: str | None = None
                   ) -> int | None:
        """A pending review of a result not posted yet (approval, or held by the image check), keeping the
        request's token to answer privately while it lives; None when the job already has one (the same
        job delivered twice: the first post stands). Opened only while the job runs: NoLongerRunning when
        a member's Cancel landed first (nothing is posted); once it is open, a Cancel is refused
        (OutForReview), so a review post is never one of a cancelled job."""
        delivery = job.get("delivery")
        application_id = delivery.application_id if delivery is not None and delivery.application_id else None
        try:
            review_id, _ = await self._store.open_review(
                job["guild_id"], job["id"], kind, job["user_id"], channel_id=job["channel_id"], reason=reason,
                application_id=application_id, token=job.get("interaction_token"),
                token_expires_at=job["created_at"] + TOKEN_LIFETIME_SECONDS, detail=_json(saved), while_running=True)
        except AlreadyReviewed:
            unposted = await self._unposted(job, kind)
            if unposted is None:
                log.info("job %d already waits in the review channel; not posted for review again", job["id"])
                return None
            # Its post was withdrawn (or lost in a crash) before it was recorded: the job runs again, and
            # posts again under the same review, with what this run made.
            log.info("job %d: its review %d has no post recorded; posting it again", job["id"], unposted)
            await self._store.set_review_detail(unposted, _json(saved))
            return unposted
        return review_id

    async def _unposted(self, job: JobRecord, kind: ReviewKind) -> int | None:
        """The job's own pending review whose post was never recorded, if it has one."""
        for review in await self._store.open_reviews(job["id"], kind):
            if review["user_id"] == job["user_id"] and review.get("review_message_id") is None:
                return review["id"]
        return None

    async def posted(self, review_id: int, channel_id: int, message_id: int) -> None:
        await self._store.set_review_message(review_id, channel_id, message_id)

    async def held_posted(self, job_id: int, review_id: int, channel_id: int, message_id: int) -> bool:
        """The post of a held result recorded on its review: retried while the ledger is busy or down, as
        the job's settles are (the image is in the review channel, a moderator may decide on it). False
        only when shutdown came first: the caller withdraws the post."""
        landed, _ = await self._until_landed(job_id, "record its review post", lambda: self._store.set_review_message(
            review_id, channel_id, message_id))
        return bool(landed)

    async def drop(self, review_id: int) -> None:
        await self._store.drop_review(review_id)

    async def decide(self, review_id: int, status: ReviewState, moderator: int, *, reason: str | None = None
                     ) -> Decision | None:
        return await self._store.decide_review(review_id, status, decided_by=moderator, reason=reason)

    async def reopen(self, review_id: int, moderator: int, token: str | None) -> None:
        """The decision's effect was refused by Discord: the review waits again, the image not lost."""
        await self._store.reopen_review(review_id, decided_by=moderator, token=token)

    # -- reports -------------------------------------------------------------------------------------

    async def may_report(self, job: JobRecord, reporter: int) -> int:
        """The review channel a report of the job goes to; refuses (nothing recorded) otherwise."""
        channel = reporting_channel(await self._moderation.config(job["guild_id"]))
        if await self._store.reported_by(job["id"], reporter):
            raise UserFacingError(ALREADY_REPORTED, detail=f"user {reporter} already reported job {job['id']}")
        return channel

    async def report(self, job: JobRecord, reporter: int, channel_id: int, reason: str | None
                     ) -> tuple[ReviewRecord, int, bool]:
        """The report's pending review, how many reports of the result are pending, and whether an
        earlier report already hid the result."""
        try:
            review_id, pending = await self._store.open_review(job["guild_id"], job["id"], ReviewKind.REPORT,
                                                               reporter, channel_id=channel_id, reason=reason)
        except AlreadyReviewed:
            raise UserFacingError(ALREADY_REPORTED, detail=f"user {reporter} reported job {job['id']} again") from None
        review = await self._store.review(review_id)
        assert review is not None
        open_reports = await self._store.open_reviews(job["id"], ReviewKind.REPORT)
        return review, pending, any(detail_of(r).get("hidden") for r in open_reports)

    async def hide_after(self, guild_id: int) -> int:
        return int((await self._moderation.config(guild_id)).get(REPORTS_HIDE_AFTER))

    async def keep_hidden(self, review_id: int, saved: dict[str, Any] | None) -> None:
        """What a hidden result looked like (Keep puts it back); None: it was not hidden after all."""
        await self._store.set_review_detail(review_id, _json(saved) if saved is not None else None)

    async def review_channel(self, guild_id: int) -> int | None:
        channel = (await self._moderation.config(guild_id)).get(REVIEW_CHANNEL)
        return None if channel is None else int(channel)

    # -- the server's record -------------------------------------------------------------------------

    async def record(self, review: ReviewRecord, actor_id: int, action: str, requester_id: int,
                     **detail: Any) -> None:
        """The decision in the server's record (the audit log reads it). The decision already took effect,
        so a store that will not take the row now is logged, not raised."""
        try:
            await self._store.record_action(review["guild_id"], actor_id, action, requester_id,
                                            {"job_id": review["job_id"], "review_id": review["id"],
                                             "channel_id": review.get("channel_id"), **detail})
        except Exception as exc:
            log.warning("review %d: could not record %s by %s: %s: %s", review["id"], action, actor_id,
                        type(exc).__name__, exc)

    async def record_held(self, job: JobRecord, actor_id: int, finding: Detection, review_id: int | None) -> None:
        """The hold in the server's record: with no review channel, the only trace moderators have of it.
        A ledger busy or down now gets it later, retried in the background as a settle is (not holding
        back the job's settle, nor what the member is told of it)."""
        job_id = job["id"]
        log.info("job %d: held by the image check (%s); review %s", job_id, finding_text(finding), review_id)
        if job["guild_id"] == PERSONAL:
            return  # no server's audit log is about personal use

        async def write() -> None:
            await self._store.record_action(job["guild_id"], actor_id, AuditAction.HELD.value, job["user_id"],
                                            {"job_id": job_id, "channel_id": job["channel_id"],
                                             "found": finding_text(finding), "review_id": review_id})

        try:
            await write()
        except StoreBusy as exc:
            if self._later is None:
                log.warning("job %d: could not record that the image check held it: %s", job_id, exc)
                return
            # Only a write in doubt (its COMMIT's answer lost) may, retried, be recorded twice: never lost.
            log.info("job %d: the ledger did not take the image check's hold at once (%s); retrying it in the "
                     "background", job_id, exc)
            self._later(job_id, "record that the image check held it", write)
        except Exception as exc:
            log.warning("job %d: could not record that the image check held it: %s: %s", job_id,
                        type(exc).__name__, exc)


def _json(value: dict[str, Any]) -> str:
    return json.dumps(value)
