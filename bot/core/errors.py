"""Exceptions that carry the sentence a user should read.

The ui shows `text` (ephemeral) in the member's language; `user_message` is its English; `detail` is
for the operator's log only.
"""

from __future__ import annotations

from bot.core.i18n import Text


class UserFacingError(Exception):
    """An expected failure with a message fit for the user who caused it."""

    log_level = "INFO"

    def __init__(self, text: Text | str, *, detail: str | None = None) -> None:
        english = str(text)
        super().__init__(detail or english)
        self.text = text
        self.user_message = english
        self.detail = detail or english


class InvalidInput(UserFacingError):
    """An option value the bot will not send (out of range, not a multiple of 8, empty prompt...)."""


class QuotaError(UserFacingError):
    """The member (or the whole bot) has no credits left for this command."""
