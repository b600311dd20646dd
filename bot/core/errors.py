"""Exceptions that carry the sentence a user should read.

The cog layer shows `user_message` (ephemeral); `detail` is for the operator's log only.
"""

from __future__ import annotations


class UserFacingError(Exception):
    """An expected failure with a message fit for the user who caused it."""

    log_level = "INFO"

    def __init__(self, user_message: str, *, detail: str | None = None) -> None:
        super().__init__(detail or user_message)
        self.user_message = user_message
        self.detail = detail or user_message


class InvalidInput(UserFacingError):
    """An option value the bot will not send (out of range, not a multiple of 8, empty prompt...)."""


class QuotaError(UserFacingError):
    """The member (or the whole bot) has no credits left for this command."""
