"""Text that came from outside (Pixazo bodies, URLs, exception text), made safe to show, store or log.

Gateways echo request headers back in error bodies, so the subscription key can arrive inside a
"reason"; a status line can be thousands of characters long. Everything outside text passes here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

REDACTED = "[redacted]"
# Control characters (NUL, escapes, bidi overrides, zero-width) have no place in a shown reason.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")
_SPACE = re.compile(r"\s+")
# Interaction tokens are credentials (they post as the bot for 15 minutes) and are not known in
# advance. They travel in two URL shapes and as the "token" field of gateway events, all of which
# discord.py logs at DEBUG.
_INTERACTION_TOKEN = re.compile(r"(/(?:webhooks|interactions)/\d+/)[A-Za-z0-9._-]{16,}")
_TOKEN_FIELD = re.compile(r"""(['"](?:token|interaction_token)['"]:\s*['"])[^'"]{16,}""")


class Redactor:
    """Knows the secrets of this process and removes them from any text."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        # Longest first, so a secret that contains another is replaced whole.
        self._secrets = tuple(sorted({s for s in secrets if s}, key=len, reverse=True))

    @property
    def secrets(self) -> tuple[str, ...]:
        return self._secrets

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        if "/webhooks/" in text or "/interactions/" in text:
            text = _INTERACTION_TOKEN.sub(rf"\1{REDACTED}", text)
        if "token" in text:
            text = _TOKEN_FIELD.sub(rf"\1{REDACTED}", text)
        return text

    def external(self, text: object, limit: int = 300) -> str:
        """One line of outside text: secrets removed, control characters dropped, at most `limit` characters."""
        # Redacted again once control characters are gone: a zero-width character inside a secret
        # would otherwise hide it from the first pass and reassemble it in the second.
        line = self.redact(_SPACE.sub(" ", _CONTROL.sub("", self.redact(str(text)))).strip())
        return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"
