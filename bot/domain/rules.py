"""What a server's configuration (/config) is made of: each entry is one row of the `guild_rules` table."""

from __future__ import annotations

from enum import StrEnum


class RuleKind(StrEnum):
    CHANNEL = "channel"  # value: a channel id; the bot may be used there (none at all: everywhere)
    ROLE = "role"  # value: a role id allowed to generate (none at all: everyone)
    BLOCKED = "blocked"  # value: a member id; detail: {"reason": text shown to them}
    MODEL_OFF = "model_off"  # value: a catalog model key turned off in this server
    WORD = "word"  # value: a blocked word or phrase, as the admin typed it
    PATTERN = "pattern"  # value: a blocked regular expression (RE2 syntax)
    APPROVAL = "approval"  # value: a channel id where results wait for a moderator's approval (part 8)
    SETTING = "setting"  # value: a setting's name; detail: its JSON value (absent: the default)
    STYLE = "style"  # value: a style's name; detail: {"template": text with a {prompt} placeholder}
    STYLE_OFF = "style_off"  # value: a built-in style this server removed


# The setting naming the audit channel (bot/moderation/config.py's AUDIT_CHANNEL): the ledger reads it
# too, to record a delivered job's audit row as done in a server that has none.
AUDIT_CHANNEL_SETTING = "audit_channel"


class RuleLimit(Exception):
    """A server already has `limit` entries of `kind`; nothing was added."""

    def __init__(self, kind: RuleKind, limit: int) -> None:
        super().__init__(f"{kind.value}: at most {limit}")
        self.kind = kind
        self.limit = limit
