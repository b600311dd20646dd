"""A server's configuration as the gates read it: built from its `guild_rules` rows, rules compiled once."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from bot.domain import PERSONAL
from bot.domain.records import GuildRule
from bot.domain.rules import AUDIT_CHANNEL_SETTING, RuleKind
from bot.moderation.prompt_rules import NO_RULES, PromptRules
from bot.moderation.styles import BUILTIN_STYLES, styles_of

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Setting:
    """A scalar setting stored as a SETTING row; absent means `default`."""

    name: str
    default: Any
    kind: type


NSFW_FILTER = Setting("nsfw_filter", True, bool)  # explicit terms refused outside age-restricted channels
SPOILER = Setting("spoiler", True, bool)  # results in age-restricted channels posted as spoilers
NEGATIVE_PROMPT = Setting("negative_prompt", "", str)  # added to every request on models that take one
REVIEW_CHANNEL = Setting("review_channel", None, int)  # where moderators review (part 8); None: nowhere
AUDIT_CHANNEL = Setting(AUDIT_CHANNEL_SETTING, None, int)  # where the audit log is posted (part 8); None: nowhere
REPORTS_HIDE_AFTER = Setting("reports_hide_after", 1, int)  # reports that hide a result; 0: reporting off
# Blocked words and patterns also match leetspeak and letters spelled apart (`c4stl3`, `c a s t l e`);
# look-alike letters and accents are undone either way. Off by default: false refusals cost.
WORDS_STRICT = Setting("words_strict", False, bool)
# The image check before a result is posted outside age-restricted channels (when installed), and the
# score past which a detection holds the image; None: the bot's IMAGE_CHECK_THRESHOLD.
IMAGE_CHECK = Setting("image_check", True, bool)
IMAGE_THRESHOLD = Setting("image_check_threshold", None, float)
IMAGINE_MODEL = Setting("imagine_model", "sdxl", str)  # /imagine's model when the member has no default
PRIVATE_RESULTS = Setting("private_results", False, bool)  # members may have their results shown to them alone
SETTINGS = {s.name: s for s in (NSFW_FILTER, SPOILER, NEGATIVE_PROMPT, REVIEW_CHANNEL, AUDIT_CHANNEL,
                                REPORTS_HIDE_AFTER, WORDS_STRICT, IMAGE_CHECK, IMAGE_THRESHOLD, IMAGINE_MODEL,
                                PRIVATE_RESULTS)}


@dataclass(frozen=True)
class GuildConfig:
    guild_id: int
    channels: frozenset[int] = frozenset()  # empty: everywhere
    roles: frozenset[int] = frozenset()  # empty: everyone
    blocked: Mapping[int, str] = field(default_factory=lambda: MappingProxyType({}))  # member id -> reason
    models_off: frozenset[str] = frozenset()
    approval: frozenset[int] = frozenset()  # channels whose results wait for a moderator (part 8)
    words: tuple[str, ...] = ()  # in the order they were added
    patterns: tuple[str, ...] = ()
    values: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))  # SETTING rows, decoded
    rules: PromptRules = NO_RULES
    styles: Mapping[str, str] = field(default_factory=lambda: MappingProxyType(dict(BUILTIN_STYLES)))  # name -> template
    own_styles: frozenset[str] = frozenset()  # the names the server added itself

    def get(self, setting: Setting) -> Any:
        return self.values.get(setting.name, setting.default)

    @classmethod
    def from_rows(cls, guild_id: int, rows: Iterable[GuildRule]) -> GuildConfig:
        by_kind: dict[RuleKind, list[GuildRule]] = {kind: [] for kind in RuleKind}
        for row in sorted(rows, key=lambda r: r["at"]):
            try:
                by_kind[RuleKind(row["kind"])].append(row)
            except ValueError:
                log.warning("guild %d: ignoring a configuration row of unknown kind %r", guild_id, row["kind"])
        values: dict[str, Any] = {}
        for row in by_kind[RuleKind.SETTING]:
            setting = SETTINGS.get(row["value"])
            value = _decoded(row)
            if setting is not None and setting.kind is float and type(value) is int:
                value = float(value)  # JSON keeps 1.0 as 1
            if setting is None or not isinstance(value, setting.kind):
                log.warning("guild %d: ignoring setting %r = %r", guild_id, row["value"], value)
                continue
            values[setting.name] = value
        blocked = {int(r["value"]): str((_decoded(r) or {}).get("reason") or "") for r in by_kind[RuleKind.BLOCKED]}
        words = tuple(r["value"] for r in by_kind[RuleKind.WORD])
        patterns = tuple(r["value"] for r in by_kind[RuleKind.PATTERN])
        own_styles = {r["value"]: str((_decoded(r) or {}).get("template") or "") for r in by_kind[RuleKind.STYLE]}
        return cls(
            guild_id=guild_id,
            channels=frozenset(int(r["value"]) for r in by_kind[RuleKind.CHANNEL]),
            roles=frozenset(int(r["value"]) for r in by_kind[RuleKind.ROLE]),
            blocked=MappingProxyType(blocked),
            models_off=frozenset(r["value"] for r in by_kind[RuleKind.MODEL_OFF]),
            approval=frozenset(int(r["value"]) for r in by_kind[RuleKind.APPROVAL]),
            words=words,
            patterns=patterns,
            values=MappingProxyType(values),
            styles=MappingProxyType(styles_of(own_styles, frozenset(r["value"] for r in by_kind[RuleKind.STYLE_OFF]))),
            own_styles=frozenset(own_styles),
            rules=PromptRules.build(words, patterns, strict=bool(values.get(WORDS_STRICT.name, WORDS_STRICT.default))),
        )


# Where no server decides (DMs, servers that did not add the bot): the bot's own rules only. Built-in
# rules, the explicit-terms filter and the image check on; no approval, no lists; never stored or changed.
PERSONAL_CONFIG = GuildConfig(guild_id=PERSONAL)


def _decoded(row: GuildRule) -> Any:
    """The row's detail, parsed by the storage boundary (None: none, or unreadable)."""
    return row["detail"]
