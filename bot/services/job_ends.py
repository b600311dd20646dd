"""What the queue says when a job ends without its result posted: the members' sentences, and the
operator's line for a job this process gave up that the ledger does not have refunded."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from bot.core.i18n import Text, _
from bot.core.metrics import Metrics
from bot.core.settings import Settings
from bot.domain import JobState
from bot.domain.records import JobRecord
from bot.services.notices import Board
from bot.storage.roles import JobQueue

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


class Sweeps:
    """The dispatch's sweeps: jobs the ledger fails (refunds) without running them, whose members are told:
    those that waited past QUEUE_MAX_WAIT_SECONDS, those interrupted twice, those recovery failed at start."""

    def __init__(self, settings: Settings, store: JobQueue, metrics: Metrics, board: Board,
                 tell: Callable[..., Awaitable[None]]) -> None:
        self._settings = settings
        self._store = store
        self._metrics = metrics
        self._board = board  # the queue's notices: a job's is removed as it is failed
        self._tell = tell  # the queue's word to a member: (job, text, noticed=)

    async def expire(self) -> None:
        wait = self._settings.queue_max_wait_seconds
        for job in await self._store.expire_waiting(self._store.now() - wait):
            log.warning("job %d /%s for user %s waited longer than QUEUE_MAX_WAIT_SECONDS (%.0fs); refunded",
                        job["id"], job["model"], job["user_id"], wait)
            await self._tell_failed(job, WAITED_TOO_LONG, "expired")
        for job in await self._store.fail_worn_out():
            log.warning("job %d /%s for user %s was interrupted twice (its process died during its last allowed "
                        "attempt); refunded", job["id"], job["model"], job["user_id"])
            await self._tell_failed(job, INTERRUPTED_TWICE, "failed")

    async def tell_interrupted(self) -> None:
        """The jobs recovery failed at start (interrupted twice, or never queued): their members hear it,
        and their "Generating…" notices are replaced."""
        interrupted, self._store.interrupted = self._store.interrupted, []
        for job in interrupted:
            if job.get("delivery") is not None:  # a queued job: it has a message to replace and a member to tell
                await self._tell_failed(job, INTERRUPTED_TWICE, "failed")

    async def _tell_failed(self, job: JobRecord, text: Text, outcome: str) -> None:
        """A job the ledger has failed (refunded) here without running it: counted, and its member told."""
        self._metrics.job_ended(job["model"], outcome, job["cost"])
        notice = self._board.pop(job["id"], None)
        try:
            await self._tell(job, text, noticed=notice is not None and notice.text is not None)
        except Exception as exc:  # one member's message must not stop the queue (the courier logs its own)
            log.warning("job %d: could not tell user %s that it failed: %s: %s", job["id"], job["user_id"],
                        type(exc).__name__, exc)
