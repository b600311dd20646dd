"""What can go wrong talking to Pixazo, one class per cause: neutral facts (a status, Pixazo's own
reason, how long was waited, which part of an answer was wrong), never a sentence for the member.
The services choose the member's wording (bot/services/pixazo_words.py).

`retryable` marks the failures that may succeed if simply tried again; `detail` is the operator's line
(already scrubbed of secrets by the client); `log_level` how loud it is; `kind` the status a call is
counted under in /metrics (a fixed word, never outside text).
"""

from __future__ import annotations

from enum import StrEnum


class PixazoError(Exception):
    retryable = False
    log_level = "WARNING"
    kind = "error"

    def __init__(self, *, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class PixazoRejected(PixazoError):
    """400 (or another 4xx): Pixazo refused the request as given; `reason` is its own, scrubbed."""

    kind = "rejected"

    def __init__(self, reason: str | None, *, detail: str) -> None:
        super().__init__(detail=detail)
        self.reason = reason


class PixazoAuthError(PixazoError):
    """401/403: the operator's key is missing, wrong or not subscribed."""

    kind = "auth"
    log_level = "ERROR"


class PixazoNotFound(PixazoError):
    """404: the model's address is wrong (PIXAZO_BASE_URL)."""

    kind = "not_found"
    log_level = "ERROR"


class PixazoBusy(PixazoError):
    """429: too many requests."""

    kind = "busy"
    retryable = True

    def __init__(self, *, detail: str, retry_after: float | None = None) -> None:
        super().__init__(detail=detail)
        self.retry_after = retry_after


class PixazoServerError(PixazoError):
    kind = "server_error"
    retryable = True

    def __init__(self, status: int, *, detail: str) -> None:
        super().__init__(detail=detail)
        self.status = status


class PixazoTimeout(PixazoError):
    kind = "timeout"
    retryable = True

    def __init__(self, seconds: float, *, detail: str, tries: int = 1) -> None:
        """`seconds`: the whole wait, every try and the pauses between them included."""
        super().__init__(detail=detail)
        self.seconds = seconds
        self.tries = tries


class PixazoUnavailable(PixazoError):
    """The connection itself failed: DNS, refused, reset."""

    kind = "unreachable"
    retryable = True


class Problem(StrEnum):
    """What was wrong with an answer that held no usable image."""

    FAR_TOO_LARGE = "far_too_large"  # past RESULT_MAX_PIXELS: treated as a decompression bomb
    DAMAGED = "damaged"  # does not decode to the last pixel
    NOT_CHECKED_IN_TIME = "not_checked_in_time"
    LINK_FAILED = "link_failed"  # the image URL answered another status (`status`)
    UNREADABLE_ADDRESS = "unreadable_address"
    TOO_MANY_REDIRECTS = "too_many_redirects"
    REFUSED_ADDRESS = "refused_address"  # a scheme the bot will not open
    PRIVATE_ADDRESS = "private_address"
    TOO_LARGE = "too_large"  # past PIXAZO_MAX_IMAGE_BYTES (`limit`)
    EMPTY_IMAGE = "empty_image"
    NOT_AN_IMAGE = "not_an_image"
    UNREADABLE_ANSWER = "unreadable_answer"  # not JSON, or not an object
    NO_IMAGE = "no_image"  # no result field
    EMPTY_RESULT = "empty_result"


class PixazoBadResponse(PixazoError):
    """A 200 that holds no usable image: malformed JSON, no URL, a URL that fails, not an image."""

    kind = "bad_response"

    def __init__(self, problem: Problem, *, detail: str, status: int | None = None, limit: int | None = None) -> None:
        super().__init__(detail=detail)
        self.problem = problem
        self.status = status  # LINK_FAILED: what the image's address answered
        self.limit = limit  # TOO_LARGE: the bytes the bot accepts


class PixazoGenerationFailed(PixazoError):
    """Endpoint 2 answered with a status other than "succeeded" (`status`, scrubbed)."""

    kind = "generation_failed"

    def __init__(self, status: str, *, detail: str) -> None:
        super().__init__(detail=detail)
        self.status = status
