"""What a member reads when Pixazo fails: the services' wording for the client's neutral errors
(bot/pixazo/errors.py). Every Pixazo call belongs to a job, and a failed job is refunded: each sentence
says so, once."""

from __future__ import annotations

import re

from bot.core.errors import UserFacingError
from bot.core.i18n import Text, _
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
NOTHING_SPENT = _("{sentence} No credits were spent.")
_LINK = re.compile(r"https?://\S+")  # the links Pixazo names in a refusal: long, signed, of no use to a member

_ANSWERS = {
    Problem.FAR_TOO_LARGE: _("Pixazo returned an image far larger than any model makes, too large to check and post."),
    Problem.DAMAGED: _("Pixazo returned an image that is damaged or incomplete."),
    Problem.NOT_CHECKED_IN_TIME: _("Pixazo returned an image the bot could not check in time."),
    Problem.UNREADABLE_ADDRESS: _("Pixazo returned an image address the bot could not read."),
    Problem.TOO_MANY_REDIRECTS: _("Pixazo sent its image through too many redirects."),
    Problem.REFUSED_ADDRESS: _("Pixazo returned an image address the bot will not open."),
    Problem.PRIVATE_ADDRESS: _("Pixazo returned an image address on a private network, which the bot will not open."),
    Problem.EMPTY_IMAGE: _("Pixazo returned an empty image."),
    Problem.NOT_AN_IMAGE: _("Pixazo returned something that is not an image."),
    Problem.UNREADABLE_ANSWER: _("Pixazo answered with something the bot could not read."),
    Problem.NO_IMAGE: _("Pixazo answered without an image."),
    Problem.EMPTY_RESULT: _("Pixazo returned no image (an empty result)."),
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


def _answer(exc: PixazoBadResponse) -> Text:
    if exc.problem is Problem.LINK_FAILED:
        return _("Pixazo returned an image link that does not work (HTTP {status}).", status=exc.status)
    if exc.problem is Problem.TOO_LARGE:
        return _("Pixazo returned an image larger than the bot accepts ({mib} MiB).", mib=(exc.limit or 0) // 2**20)
    return _ANSWERS[exc.problem]


def _timeout(exc: PixazoTimeout) -> Text:
    shown = f"{exc.seconds:.1f}" if exc.seconds < 10 else f"{exc.seconds:.0f}"
    if exc.tries > 1:
        return _("Pixazo did not answer in {seconds} seconds ({tries} tries), so the request was dropped.",
                 seconds=shown, tries=exc.tries)
    return _("Pixazo did not answer within {seconds} seconds, so the request was dropped.", seconds=shown)


def _rejected(exc: PixazoRejected, inputs: tuple[str, ...]) -> Text:
    if exc.reason and any(field in exc.reason for field in inputs):  # the image or mask it could not fetch
        return _("Pixazo could not fetch the picture or the mask from Discord (the files were removed, or Discord "
                 "stopped serving them): {reason}.", reason=literal(_LINK.sub("…", exc.reason), 120))
    if not exc.reason:
        return _("Pixazo refused this request.")
    reason = literal(exc.reason)
    if end_sentence(f": {reason}") == f": {reason}":  # the quoted reason already ends a sentence
        return _("Pixazo refused this request: {reason}", reason=reason)
    return _("Pixazo refused this request: {reason}.", reason=reason)


def sentence(exc: PixazoError, inputs: tuple[str, ...] = ()) -> str:
    """The member's sentence in English (the log's and the tests' view of `said`)."""
    return str(said(exc, inputs))


def said(exc: PixazoError, inputs: tuple[str, ...] = ()) -> Text:
    """The member's sentence for a failed Pixazo call, ending in "No credits were spent.". `inputs`: the
    fields of the links Pixazo fetches (inpainting's image and mask), named by a refusal it could not fetch."""
    if isinstance(exc, PixazoAuthError):
        return _("Pixazo refused the bot's API key. The bot's operator needs to fix its configuration; "
                 "no credits were spent.")
    if isinstance(exc, PixazoRejected):
        told = _rejected(exc, inputs)
    elif isinstance(exc, PixazoNotFound):
        told = _("Pixazo does not know this model's address (404). The bot's operator should check PIXAZO_BASE_URL.")
    elif isinstance(exc, PixazoBusy):
        told = _("Pixazo is busy right now (too many requests). Please try again in a minute.")
    elif isinstance(exc, PixazoServerError):
        told = _("Pixazo had an internal error (HTTP {status}). Please try again later.", status=exc.status)
    elif isinstance(exc, PixazoTimeout):
        told = _timeout(exc)
    elif isinstance(exc, PixazoUnavailable):
        told = _("The bot could not reach Pixazo. Please try again later.")
    elif isinstance(exc, PixazoBadResponse):
        told = _answer(exc)
    elif isinstance(exc, PixazoGenerationFailed):
        told = _("Pixazo reported the generation as {status} and returned no image.", status=literal(exc.status, 60))
    else:
        told = _("Pixazo could not make the image.")
    return Text(NOTHING_SPENT.msgid, {"sentence": told})


class PixazoFailed(UserFacingError):
    """A failed Pixazo call, worded for the member; the client's error is its __cause__."""

    def __init__(self, exc: PixazoError, inputs: tuple[str, ...] = ()) -> None:
        super().__init__(said(exc, inputs), detail=exc.detail)
        self.log_level = exc.log_level
