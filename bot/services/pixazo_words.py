"""What a member reads when Pixazo fails: the services' wording for the client's neutral errors
(bot/pixazo/errors.py). Every Pixazo call belongs to a job, and a failed job is refunded: each sentence
says so, once."""

from __future__ import annotations

import re

from bot.core.errors import UserFacingError
from bot.core.text import end_sentence
from bot.pixazo.errors import (
    PixazoAuthError,
    PixazoBadResponse,
    PixazoBusy,
    PixazoError,
    PixazoGenerationFailed,
    PixazoNotFound,
    PixazoRejected,
    PixazoServerError,
    PixazoTimeout,
    PixazoUnavailable,
    Problem,
)

# What Pixazo says is shown to the member, but only this much of it: a reason is a sentence, and the
# whole refusal must stay far below Discord's 2000-character message limit.
SHOWN_MAX = 200
NOTHING_SPENT = "No credits were spent."
_LINK = re.compile(r"https?://\S+")  # the links Pixazo names in a refusal: long, signed, of no use to a member

_ANSWERS = {
    Problem.FAR_TOO_LARGE: "returned an image far larger than any model makes, too large to check and post",
    Problem.DAMAGED: "returned an image that is damaged or incomplete",
    Problem.NOT_CHECKED_IN_TIME: "returned an image the bot could not check in time",
    Problem.UNREADABLE_ADDRESS: "returned an image address the bot could not read",
    Problem.TOO_MANY_REDIRECTS: "sent its image through too many redirects",
    Problem.REFUSED_ADDRESS: "returned an image address the bot will not open",
    Problem.PRIVATE_ADDRESS: "returned an image address on a private network, which the bot will not open",
    Problem.EMPTY_IMAGE: "returned an empty image",
    Problem.NOT_AN_IMAGE: "returned something that is not an image",
    Problem.UNREADABLE_ANSWER: "answered with something the bot could not read",
    Problem.NO_IMAGE: "answered without an image",
    Problem.EMPTY_RESULT: "returned no image (an empty result)",
}


def literal(text: str, limit: int = SHOWN_MAX) -> str:
    """Outside text as Discord shows it verbatim: one code span, so no markdown, mention or link renders.

    The text is expected already scrubbed (secrets, control characters) by the client; this only caps
    it and keeps it from closing its code span early.
    """
    line = " ".join(text.replace("`", "\u02cb").split())
    if len(line) > limit:
        line = line[: limit - 1].rstrip() + "…"
    return f"`{line}`" if line else "`(empty)`"


def _answer(exc: PixazoBadResponse) -> str:
    if exc.problem is Problem.LINK_FAILED:
        return f"returned an image link that does not work (HTTP {exc.status})"
    if exc.problem is Problem.TOO_LARGE:
        return f"returned an image larger than the bot accepts ({(exc.limit or 0) // 2**20} MiB)"
    return _ANSWERS[exc.problem]


def _timeout(exc: PixazoTimeout) -> str:
    shown = f"{exc.seconds:.1f}" if exc.seconds < 10 else f"{exc.seconds:.0f}"
    if exc.tries > 1:
        return f"Pixazo did not answer in {shown} seconds ({exc.tries} tries), so the request was dropped."
    return f"Pixazo did not answer within {shown} seconds, so the request was dropped."


def sentence(exc: PixazoError, inputs: tuple[str, ...] = ()) -> str:
    """The member's sentence for a failed Pixazo call, ending in "No credits were spent.". `inputs`: the
    fields of the links Pixazo fetches (inpainting's image and mask), named by a refusal it could not fetch."""
    if isinstance(exc, PixazoRejected) and exc.reason and any(field in exc.reason for field in inputs):
        said = ("Pixazo could not fetch the picture or the mask from Discord (the files were removed, or Discord "
                f"stopped serving them): {literal(_LINK.sub('…', exc.reason), 120)}.")
    elif isinstance(exc, PixazoRejected):
        said = f"Pixazo refused this request{end_sentence(f': {literal(exc.reason)}') if exc.reason else '.'}"
    elif isinstance(exc, PixazoAuthError):
        said = ("Pixazo refused the bot's API key. The bot's operator needs to fix its configuration; "
                "no credits were spent.")
    elif isinstance(exc, PixazoNotFound):
        said = "Pixazo does not know this model's address (404). The bot's operator should check PIXAZO_BASE_URL."
    elif isinstance(exc, PixazoBusy):
        said = "Pixazo is busy right now (too many requests). Please try again in a minute."
    elif isinstance(exc, PixazoServerError):
        said = f"Pixazo had an internal error (HTTP {exc.status}). Please try again later."
    elif isinstance(exc, PixazoTimeout):
        said = _timeout(exc)
    elif isinstance(exc, PixazoUnavailable):
        said = "The bot could not reach Pixazo. Please try again later."
    elif isinstance(exc, PixazoBadResponse):
        said = f"Pixazo {_answer(exc)}."
    elif isinstance(exc, PixazoGenerationFailed):
        said = f"Pixazo reported the generation as {literal(exc.status, 60)} and returned no image."
    else:
        said = "Pixazo could not make the image."
    return said if NOTHING_SPENT.lower() in said.lower() else f"{said} {NOTHING_SPENT}"


class PixazoFailed(UserFacingError):
    """A failed Pixazo call, worded for the member; the client's error is its __cause__."""

    def __init__(self, exc: PixazoError, inputs: tuple[str, ...] = ()) -> None:
        super().__init__(sentence(exc, inputs), detail=exc.detail)
        self.log_level = exc.log_level
