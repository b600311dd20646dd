"""Appeals, Discord-free: a prompt refused by the server's own blocked words or patterns may be sent to
a moderator. The refusal offers it (the request is stored with it); the member asks; a moderator allows
it once (queued for the requester, on their credits, skipping only the rule that refused it: every
other gate and the quota still apply) or denies it with a reason.

Never offered for the built-in rules (sexual content involving minors, the explicit-terms filter):
`Violation.appealable` says which are the server's own. /inpaint refusals are not offered either:
its inputs are Discord attachment links that expire, so the request cannot be kept to run later.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any, Protocol

from bot.catalog import MODELS, Kind
from bot.core.errors import UserFacingError
from bot.core.i18n import Text, _, render
from bot.core.settings import Settings
from bot.core.text import code_span
from bot.domain import Member
from bot.domain.appeals import AppealStatus
from bot.domain.delivery import DEFAULT_FILESIZE_LIMIT
from bot.domain.records import AppealRecord
from bot.moderation.config import REVIEW_CHANNEL, GuildConfig
from bot.moderation.gates import Asker, check
from bot.moderation.prompt_rules import PromptRules, Rule, Violation
from bot.services.moderation import Moderation
from bot.services.requests import Admission, Requester, Requests
from bot.services.validation import Prepared
from bot.storage.roles import Appeals as AppealRows

log = logging.getLogger(__name__)

TOO_OLD = _("This refusal is too old to send to the moderators; run the command again.")
CLEARED = _("You cleared this request with /forget, so there is nothing to send; run the command again.")
NO_REVIEW = _("This server has no review channel any more, so there is no moderator to ask.")
ALREADY_SENT = _("You already sent this to the moderators.")
DECIDED = _("A moderator already decided this one.")


class AppealStore(AppealRows, Protocol):
    """The role the appeals use."""


def rule_text(appeal: AppealRecord) -> Text:
    rule = appeal["rule"]
    term = code_span(rule.get("term", ""), 120)
    if rule.get("rule") == Rule.SERVER_WORD:
        return _("blocked word {term}", term=term)
    return _("blocked pattern {term}", term=term)


def locale_of(appeal: AppealRecord) -> str:
    """The language of the member whose prompt it is (kept with the request)."""
    return str((appeal["request"] or {}).get("locale") or "en-US")


def prompt_of(appeal: AppealRecord) -> str:
    return str(appeal["request"].get("prompt", ""))


def open_only(appeal: AppealRecord) -> None:
    if appeal["status"] != AppealStatus.PENDING:
        said = (_("A moderator already decided this one ({moderator}).", moderator=f"<@{appeal['decided_by']}>")
                if appeal.get("decided_by") else DECIDED)
        raise UserFacingError(said, detail=f"appeal {appeal['id']} is already {appeal['status']}")


def without(config: GuildConfig, rule: dict[str, Any]) -> GuildConfig:
    """The server's configuration less the one word or pattern the moderator allowed past, this once."""
    words = tuple(w for w in config.words if not (rule.get("rule") == Rule.SERVER_WORD and w == rule.get("term")))
    patterns = tuple(p for p in config.patterns
                     if not (rule.get("rule") == Rule.SERVER_PATTERN and p == rule.get("term")))
    return dataclasses.replace(config, words=words, patterns=patterns, rules=PromptRules.build(words, patterns))


class AppealDesk:
    def __init__(self, settings: Settings, store: AppealStore, moderation: Moderation, requests: Requests) -> None:
        self._settings = settings
        self._store = store
        self._moderation = moderation
        self._requests = requests

    async def offer(self, guild_id: int, channel_id: int, prepared: Prepared, asker: Asker, violation: Violation,
                    requester: Requester) -> int | None:
        """Store a refused request with the rule that refused it; its id, or None when there is nothing to
        offer (not the server's own rule, /inpaint, or no review channel)."""
        if not violation.appealable or prepared.model.kind is Kind.INPAINT:
            return None
        config = await self._moderation.config(guild_id)
        if config.get(REVIEW_CHANNEL) is None:
            return None
        request = {
            "prompt": prepared.prompt, "payload": prepared.payload, "shown": [list(s) for s in prepared.shown],
            "requester": requester.name, "avatar_url": requester.avatar_url,
            "filesize_limit": requester.filesize_limit, "asker": dataclasses.asdict(asker), "locale": requester.locale,
        }
        rule = {"rule": violation.rule.value, "term": violation.term, "matched": violation.matched}
        appeal_id = await self._store.create_appeal(
            guild_id, channel_id, asker.user_id, model=prepared.model.key, request=request, rule=rule,
            expires_at=self._store.now() + self._settings.appeal_window_seconds)
        log.info("appeal %d offered to user %s in guild %s (%s)", appeal_id, asker.user_id, guild_id,
                 violation.rule.value)
        return appeal_id

    async def ask(self, appeal: AppealRecord, user_id: int) -> int:
        """offered -> pending: the review channel to post it in, or the sentence saying why not."""
        appeal_id = appeal["id"]
        status = AppealStatus(appeal["status"])
        if status is not AppealStatus.OFFERED:
            raise UserFacingError(ALREADY_SENT if status is AppealStatus.PENDING else DECIDED,
                                  detail=f"appeal {appeal_id} is {status}")
        if appeal["expires_at"] <= self._store.now():
            raise UserFacingError(TOO_OLD, detail=f"appeal {appeal_id} expired")
        if not appeal["request"]:
            raise UserFacingError(CLEARED, detail=f"appeal {appeal_id} was cleared by /forget")
        review = (await self._moderation.config(appeal["guild_id"])).get(REVIEW_CHANNEL)
        if review is None:
            raise UserFacingError(NO_REVIEW, detail=f"appeal {appeal_id}: guild has no review channel")
        if not await self._store.ask_appeal(appeal_id, user_id):
            raise UserFacingError(ALREADY_SENT, detail=f"appeal {appeal_id} was asked meanwhile")
        return int(review)

    async def not_posted(self, appeal_id: int) -> None:
        """The review channel would not take it: offered again, the member may press again."""
        await self._store.reopen_appeal(appeal_id)

    async def posted(self, appeal_id: int, channel_id: int, message_id: int, *, actor_id: int) -> None:
        await self._store.appeal_posted(appeal_id, channel_id, message_id, actor_id=actor_id)
        log.info("appeal %d sent to review channel %s by user %s", appeal_id, channel_id, actor_id)

    async def decide(self, appeal: AppealRecord, allowed: bool, *, actor_id: int, reason: str | None) -> None:
        """pending -> allowed/denied; the sentence naming the other decision when one came first."""
        open_only(appeal)
        if not await self._store.decide_appeal(appeal["id"], allowed, actor_id=actor_id, reason=reason):
            open_only(await self._store.appeal(appeal["id"]) or appeal)  # the other moderator's decision
            raise UserFacingError(DECIDED, detail=f"appeal {appeal['id']} decided meanwhile")
        if not allowed:
            log.info("appeal %d denied by user %s", appeal["id"], actor_id)

    async def allow_once(self, appeal: AppealRecord, moderator_id: int, application_id: int) -> Text | str | None:
        """Queue the appealed request for its requester; None, or the sentence that refused it now.
        No interaction token: the result is a channel post in the original channel, naming the requester."""
        request = appeal["request"]
        model = MODELS[appeal["model"]]
        asker = Asker(**{**request["asker"], "role_ids": tuple(request["asker"]["role_ids"])})
        prepared = Prepared(model, request["prompt"], request["payload"], tuple(tuple(s) for s in request["shown"]))
        config = await self._moderation.config(appeal["guild_id"])
        try:
            allowed = without(config, appeal["rule"])
            check(allowed, asker, model.key, prepared.prompt)
            requester = Requester(Member(appeal["guild_id"], appeal["user_id"], asker.role_ids),
                                  request.get("requester") or f"member {appeal['user_id']}", request.get("avatar_url"),
                                  application_id, request.get("filesize_limit") or DEFAULT_FILESIZE_LIMIT,
                                  locale=locale_of(appeal))
            note = render(_("Allowed once by {moderator} (appeal #{appeal}).", moderator=f"<@{moderator_id}>",
                            appeal=appeal["id"]), locale_of(appeal))  # shown above the result, in its language
            job_id = await self._requests.submit(
                prepared, requester, Admission(allowed, asker), channel_id=appeal["channel_id"], token=None, note=note)
        except UserFacingError as exc:
            log.info("appeal %d allowed by %s but refused: %s", appeal["id"], moderator_id, exc.detail)
            return exc.text
        await self._store.set_appeal_job(appeal["id"], job_id)
        log.info("appeal %d allowed once by user %s: job %d queued for user %s", appeal["id"], moderator_id, job_id,
                 appeal["user_id"])
        return None
