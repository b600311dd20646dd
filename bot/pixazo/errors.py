"""What can go wrong talking to Pixazo, one class per cause.

`retryable` marks the failures that may succeed if simply tried again.
"""

from __future__ import annotations

from bot.core.errors import UserFacingError
from bot.core.text import end_sentence

# What Pixazo says is shown to the member, but only this much of it: a reason is a sentence, and the
# whole refusal must stay far below Discord's 2000-character message limit.
SHOWN_MAX = 200


def literal(text: str, limit: int = SHOWN_MAX) -> str:
    """Outside text as Discord shows it verbatim: one code span, so no markdown, mention or link renders.

    The text is expected already scrubbed (secrets, control characters) by the client; this only caps
    it and keeps it from closing its code span early.
    """
    line = " ".join(text.replace("`", "\u02cb").split())
    if len(line) > limit:
        line = line[: limit - 1].rstrip() + "…"
    return f"`{line}`" if line else "`(empty)`"


class PixazoError(UserFacingError):
    retryable = False
    log_level = "WARNING"

    def __init__(self, user_message: str, *, detail: str | None = None) -> None:
        # Every Pixazo call belongs to a job, and a failed job is refunded: say so, once.
        if "no credits were spent" not in user_message.lower():
            user_message = f"{user_message} No credits were spent."
        super().__init__(user_message, detail=detail)


class PixazoRejected(PixazoError):
    """400: Pixazo refused the request as given."""

    def __init__(self, reason: str | None, *, detail: str) -> None:
        said = end_sentence(f": {literal(reason)}") if reason else "."
        super().__init__(f"Pixazo refused this request{said}", detail=detail)


class PixazoAuthError(PixazoError):
    """401/403: the operator's key is missing, wrong or not subscribed."""

    log_level = "ERROR"

    def __init__(self, *, detail: str) -> None:
        super().__init__(
            "Pixazo refused the bot's API key. The bot's operator needs to fix its configuration; "
            "no credits were spent.",
            detail=detail,
        )


class PixazoNotFound(PixazoError):
    log_level = "ERROR"

    def __init__(self, *, detail: str) -> None:
        super().__init__(
            "Pixazo does not know this model's address (404). The bot's operator should check "
            "PIXAZO_BASE_URL.",
            detail=detail,
        )


class PixazoBusy(PixazoError):
    retryable = True

    def __init__(self, *, detail: str, retry_after: float | None = None) -> None:
        super().__init__("Pixazo is busy right now (too many requests). Please try again in a minute.",
                         detail=detail)
        self.retry_after = retry_after


class PixazoServerError(PixazoError):
    retryable = True

    def __init__(self, status: int, *, detail: str) -> None:
        super().__init__(f"Pixazo had an internal error (HTTP {status}). Please try again later.",
                         detail=detail)
        self.status = status


class PixazoTimeout(PixazoError):
    retryable = True

    def __init__(self, seconds: float, *, detail: str, tries: int = 1) -> None:
        """`seconds`: the member's whole wait, every try and the pauses between them included."""
        shown = f"{seconds:.1f}" if seconds < 10 else f"{seconds:.0f}"
        if tries > 1:
            said = f"Pixazo did not answer in {shown} seconds ({tries} tries), so the request was dropped."
        else:
            said = f"Pixazo did not answer within {shown} seconds, so the request was dropped."
        super().__init__(said, detail=detail)
        self.seconds = seconds


class PixazoUnavailable(PixazoError):
    """The connection itself failed: DNS, refused, reset."""

    retryable = True

    def __init__(self, *, detail: str) -> None:
        super().__init__("The bot could not reach Pixazo. Please try again later.", detail=detail)


class PixazoBadResponse(PixazoError):
    """A 200 that holds no usable image: malformed JSON, no URL, a URL that fails, not an image."""

    def __init__(self, what: str, *, detail: str) -> None:
        super().__init__(f"Pixazo {what}.", detail=detail)


class PixazoGenerationFailed(PixazoError):
    """Endpoint 2 answered with a status other than "succeeded"."""

    def __init__(self, status: str, *, detail: str) -> None:
        super().__init__(f"Pixazo reported the generation as {literal(status, 60)} and returned no image.", detail=detail)
