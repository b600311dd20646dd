"""What the queue says when a job ends without its result posted: the members' sentences, and the
operator's line for a job this process gave up that the ledger does not have refunded."""

from __future__ import annotations

import logging

from bot.core.i18n import _
from bot.domain import JobState
from bot.domain.records import JobRecord

# The queue's own logger: these are its lines.
log = logging.getLogger("bot.services.queue")

UNEXPECTED = _("Something unexpected went wrong on the bot's side; no credits were spent.")
NOT_RECORDED = _("The bot couldn't record your image, so it was not posted and no credits were spent. Please try again.")
WAITED_TOO_LONG = _("Your image waited in the queue too long and was not made; no credits were spent. Please try again.")
INTERRUPTED_TWICE = _("Your image could not be made: the bot was interrupted twice while making it. No credits were "
                      "spent; please try again.")


class Discarded(Exception):
    """The job was cancelled while its Pixazo call ran: the result is not delivered."""


def unsettled(job: JobRecord, exc: BaseException, *, lost: bool) -> None:
    """The job failed here but the ledger does not have it refunded (`exc` is the services' Unsettled):
    the member is told nothing about credits the ledger does not show as refunded."""
    job_id = job["id"]
    state: JobState | None = getattr(exc, "state", None)
    if isinstance(exc.__cause__, Discarded) or state is JobState.CANCELLED:
        discarded(job_id, lost=lost)
    elif state is None:
        log.warning("job %d /%s for user %s failed (%s); its refund is left to the next start, which "
                    "tells the member", job_id, job["model"], job["user_id"], _cause(exc))
    else:
        log.warning("job %d /%s for user %s failed here (%s), but the ledger has it %s (another process "
                    "holds it); its member is told by that one", job_id, job["model"], job["user_id"],
                    _cause(exc), state)


def discarded(job_id: int, *, lost: bool) -> None:
    if lost:
        log.warning("job %d: another process took it over (this one's lease expired); this result was "
                    "discarded, the other process delivers its own", job_id)
    else:
        log.info("job %d was cancelled while it ran; its result was discarded", job_id)


def _cause(exc: BaseException) -> str:
    cause = exc.__cause__
    return "unknown" if cause is None else getattr(cause, "detail", None) or f"{type(cause).__name__}: {cause}"
