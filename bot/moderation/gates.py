"""The gates a generation passes before any credit is spent or Pixazo is called, in the issue's order:
blocked member → allowed roles → allowed channels → model enabled → prompt rules. The server budget
and the member's quota follow, in the ledger's own reservation (atomic, so they cannot be raced).

Discord-free: the cog layer describes who is asking and where as an `Asker`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bot.core.errors import UserFacingError
from bot.core.i18n import Text, _
from bot.core.text import plain
from bot.moderation.config import NSFW_FILTER, GuildConfig
from bot.moderation.prompt_rules import Violation

# A refusal lists at most this many channels or roles; the rest are counted.
LISTED = 10
REASON_SHOWN_MAX = 300


class Gate(StrEnum):
    BLOCKED = "blocked member"
    ROLES = "allowed roles"
    CHANNELS = "allowed channels"
    MODEL = "model enabled"
    PROMPT = "prompt rules"


@dataclass(frozen=True)
class Asker:
    user_id: int
    role_ids: tuple[int, ...]
    channel_id: int | None
    parent_id: int | None  # a thread's channel: a thread of an allowed channel is allowed too
    category_id: int | None  # the channel's category: allowing a category allows its channels
    age_restricted: bool


class Refusal(UserFacingError):
    """One gate said no; `violation` is set for the prompt rules (part 8's appeals read it)."""

    def __init__(self, gate: Gate, message: Text, *, detail: str, violation: Violation | None = None) -> None:
        super().__init__(message, detail=f"refused by {gate.value}: {detail}")
        self.gate = gate
        self.violation = violation


def _listed(mentions: list[str]) -> Text | str:
    shown, rest = mentions[:LISTED], len(mentions) - LISTED
    if rest > 0:
        return _("{listed} and {rest} more", listed=", ".join(shown), rest=rest)
    if len(shown) == 1:
        return shown[0]
    return _("{listed} and {last}", listed=", ".join(shown[:-1]), last=shown[-1])


def check(config: GuildConfig, asker: Asker, model_key: str, prompt: str) -> None:
    """Raise the first gate's Refusal, or return: the request may go on to the ledger."""
    try:
        _check(config, asker, model_key, prompt)
    except Refusal as refusal:
        # The operator's line names the server, channel and member (answer_error logs it at INFO).
        refusal.detail = (f"guild {config.guild_id}, channel {asker.channel_id}, member {asker.user_id}, "
                          f"/{model_key}: {refusal.detail}")
        raise


def _check(config: GuildConfig, asker: Asker, model_key: str, prompt: str) -> None:
    reason = config.blocked.get(asker.user_id)
    if reason is not None:
        said: Text | str = plain(reason, REASON_SHOWN_MAX) if reason else _("no reason was given")
        raise Refusal(Gate.BLOCKED, _("You are blocked from generating here: {reason}", reason=said),
                      detail=f"member {asker.user_id} is blocked ({reason!r})")
    if config.roles and not config.roles.intersection(asker.role_ids):
        roles = _listed([f"<@&{r}>" for r in sorted(config.roles)])
        raise Refusal(Gate.ROLES, _("Generating images here needs one of these roles: {roles}. Ask a server admin.",
                                    roles=roles),
                      detail=f"member {asker.user_id} has none of the roles {sorted(config.roles)}")
    if config.channels and not ({asker.channel_id, asker.parent_id, asker.category_id} & config.channels):
        channels = _listed([f"<#{c}>" for c in sorted(config.channels)])
        raise Refusal(Gate.CHANNELS, _("The bot can be used in {channels}.", channels=channels),
                      detail=f"channel {asker.channel_id} (parent {asker.parent_id}) is not allowed")
    if model_key in config.models_off:
        raise Refusal(Gate.MODEL, _("/{command} is turned off in this server.", command=model_key),
                      detail=f"/{model_key} is disabled")
    violation = config.rules.check(prompt, age_restricted=asker.age_restricted,
                                   mild_filter=bool(config.get(NSFW_FILTER)))
    if violation is not None:
        raise Refusal(Gate.PROMPT, violation.text, violation=violation,
                      detail=f"{violation.rule.value}: {violation.term!r} matched {violation.matched!r}")
