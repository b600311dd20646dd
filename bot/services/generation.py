"""One generation, start to finish: reserve credits, call Pixazo, deliver, settle the ledger.

No Discord here. The caller hands in `deliver`, which posts the result wherever it belongs; the job
only counts as succeeded once delivery worked, so a result the member never saw costs nothing.

Settling (running, succeeded, failed) is retried while the database is busy or can't be written (a
full disk, a server that is down), until it lands; only shutdown ends the retries, and then the next
start finishes the job: a delivered one (in the settle journal, written when its success could not land
at once) as succeeded, any other as failed and refunded. A failure says "no credits were spent" only once the ledger has it refunded.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from bot.core.errors import UserFacingError
from bot.core.i18n import _
from bot.core.redact import Redactor
from bot.core.settings import Settings
from bot.domain import JobState, StoreDown
from bot.domain.audit import AuditEntry, Delivered
from bot.pixazo import GeneratedImage, PixazoClient
from bot.pixazo.errors import PixazoError, PixazoTimeout
from bot.services.pixazo_words import PixazoFailed
from bot.services.quotas import Quotas
from bot.services.validation import Prepared
from bot.storage import Member, QuotaSnapshot, StoreBusy
from bot.storage.roles import Ledger
from bot.storage.settle_journal import SettleJournal

log = logging.getLogger(__name__)
T = TypeVar("T")

# Between tries of a settle the database refused as busy (each try already waited
# DATABASE_BUSY_TIMEOUT_SECONDS for the lock): short at first, so the job lands soon after the lock
# is released, and capped so that a long outage costs little.
SETTLE_RETRY_FIRST_DELAY = 0.05
SETTLE_RETRY_MAX_DELAY = 1.0
BUSY = _("The bot is busy right now; nothing was spent. Please try again in a moment.")
DOWN = _("The bot can't record anything right now; nothing was spent. Please try again in a few minutes.")
IN_DOUBT = _("The bot lost its connection to its records while queueing this image. If it was queued, your image "
             "will follow here; if not, nothing was spent.")


class Busy(UserFacingError):
    """The ledger could not take the reservation (BUSY, DOWN), or may have (IN_DOUBT)."""

    log_level = "WARNING"


class Down(Busy):
    """DOWN: the store has logged the outage once; each refused command is only worth an INFO line."""

    log_level = "INFO"


class Unsettled(Exception):
    """The job failed here, but the ledger does not have it refunded: `state` is what it has (None: the
    refund is left to the next start). Another process holds the job, a member cancelled it, or the
    database never took the refund before shutdown: whatever the member is told must not be "no
    credits were spent". The failure itself is this exception's __cause__."""

    def __init__(self, job_id: int, state: JobState | None) -> None:
        super().__init__(f"job {job_id} is {state or 'still open'} in the ledger, not failed")
        self.state = state


def cause_of(exc: BaseException) -> str:
    """What an Unsettled job failed of, for the operator's line."""
    cause = exc.__cause__
    return "unknown" if cause is None else getattr(cause, "detail", None) or f"{type(cause).__name__}: {cause}"


@dataclass(frozen=True)
class Outcome:
    job_id: int
    prepared: Prepared
    image: GeneratedImage
    seconds: float
    cost: int
    quota: QuotaSnapshot  # after this job's credits were spent


# Posts the result; returns where (channel id, message id), or None (held for review, or not posted here).
Deliver = Callable[[Outcome], Awaitable[tuple[int, int] | None]]
# Just before the result is posted: the member's credits for its embed (raises when it must not be posted).
Ready = Callable[[], Awaitable[QuotaSnapshot]]
# Where it was posted -> the audit row its generation leaves (recorded with its success).
Record = Callable[[tuple[int, int] | None], AuditEntry | None]
# After the delivery's settle: the state the ledger has the job in (None: not recorded yet, still retried).
Settled = Callable[[JobState | None], Awaitable[None]]


class Early(Generic[T]):
    """A call the caller starts early (`start`, from a callback) or, at the latest, when it asks for its result."""

    def __init__(self, call: Callable[[], Awaitable[T]]) -> None:
        self._call = call
        self.task: asyncio.Future[T] | None = None
        self.asked = False  # its result was awaited: its end is the caller's to hear

    def start(self) -> None:
        if self.task is None:
            self.task = asyncio.ensure_future(self._call())

    async def result(self) -> T:
        self.start()
        assert self.task is not None
        self.asked = True
        return await self.task


@contextmanager
def early(call: Callable[[], Awaitable[T]]) -> Iterator[Early[T]]:
    """An `Early` call, cancelled if the body fails before it asked for the result (its error then unheard)."""
    read = Early(call)
    try:
        yield read
    finally:
        if read.task is not None and not read.asked:
            read.task.cancel()  # done already: nothing
            read.task.add_done_callback(lambda task: task.cancelled() or task.exception())


async def _nothing() -> None:
    """The claim already marked the job running."""


class GenerationService:
    def __init__(self, settings: Settings, store: Ledger, pixazo: PixazoClient, quotas: Quotas, *,
                 journal: SettleJournal | None = None, redactor: Redactor | None = None) -> None:
        self._settings = settings
        self._store = store
        self._pixazo = pixazo
        self._quotas = quotas
        self._journal = journal
        self._redactor = redactor or Redactor(settings.secrets)
        self._active: set[asyncio.Task] = set()
        self._settling: set[asyncio.Task] = set()  # settles outlive the job's task, until shutdown
        self._closing = asyncio.Event()

    async def execute(self, job_id: int, prepared: Prepared, member: Member, *, deliver: Deliver, ready: Ready,
                      record: Record, cost: int, started: float, requeue: Callable[[], bool],
                      inputs: Callable[[Prepared], Awaitable[Prepared]] | None = None,
                      settled: Settled | None = None) -> Outcome | None:
        """Run a job the queue claimed (its row is running): call Pixazo, deliver, settle.

        `started` (monotonic) is the claim: the job deadline bounds the Pixazo call, not the wait.
        `ready` is asked just before the result is posted (the ledger's last word on the job, and the
        member's credits); `record` gives the audit row settled with the success; `settled` hears what
        the ledger has after the settle's first try (what a member is told about credits follows it).
        Cancelled (a shutdown's grace ran out, or a member's Cancel): when `requeue()` says so, the
        job goes back to the head of the queue instead of being refunded. Returns None then."""
        try:
            if inputs is not None:  # an inpainting job's input links, working again if they expired
                prepared = await inputs(prepared)
            # Once Pixazo answered, the ledger's trip before posting (its slot freed, the member's credits)
            # runs while the image is fetched and checked. A ledger that can't answer now is waited for (the
            # image is in hand), like a settle, rather than failing a job that Pixazo made.
            with early(lambda: self.until_landed(job_id, "read the job and the member's credits", ready)) as read:
                image = await self._generate(prepared, started, on_start=_nothing, on_answer=read.start)
                landed, quota = await read.result()
            if not landed or quota is None:
                raise asyncio.CancelledError()  # shutdown: put back, made again at the next start
            outcome = Outcome(job_id, prepared, image, time.monotonic() - started, cost, quota)
            posted = await deliver(outcome)
        except UserFacingError as exc:
            if (state := await self._settle_failed(job_id, exc.detail)) is not JobState.FAILED:
                raise Unsettled(job_id, state) from exc
            raise
        except asyncio.CancelledError:
            if requeue():
                await asyncio.shield(self._track(
                    self.until_landed(job_id, "requeue", lambda: self._store.requeue(job_id))))
            else:
                await self._settle_failed(job_id, "cancelled while running")
            raise
        except Exception as exc:
            if (state := await self._settle_failed(job_id, exc)) is not JobState.FAILED:
                raise Unsettled(job_id, state) from exc
            raise
        except BaseException as exc:
            await self._settle_failed(job_id, exc)
            raise
        delivered = Delivered(image.url, posted, record(posted))
        await asyncio.shield(self._track(self._settle_delivered(job_id, delivered, settled)))
        log.info("job %d /%s for user %s in guild %s succeeded in %.1fs (%d credit(s), %d attempt(s))",
                 job_id, prepared.model.key, member.user_id, member.guild_id, outcome.seconds, cost, image.attempts)
        return outcome

    async def shutdown(self) -> None:
        """Cancel jobs still running so each settles (and refunds) before the database closes.

        A settle the database still refuses gets one last try; what does not land then is finished
        by the next start (delivered jobs succeed from the settle journal, the rest are refunded).
        """
        self._closing.set()
        tasks = [t for t in self._active if not t.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            log.warning("shutting down: cancelled %d job(s) in progress; those not yet delivered are refunded",
                        len(tasks))
            await asyncio.gather(*tasks, return_exceptions=True)
        if self._settling:
            await asyncio.gather(*self._settling, return_exceptions=True)
        if self._journal is not None:
            await self._journal.flush()  # a delivery the disk would not take before, once more

    async def _settle_delivered(self, job_id: int, delivered: Delivered, settled: Settled | None = None) -> None:
        """Record the success; never raises (the member has the image).

        The success, where the result was posted and the generation's audit row land together (the row only
        with the success that moved the job), which is the record that the job was delivered. Only when the
        ledger cannot take it at the first try is the delivery written to the settle journal (fsync'd, before
        a shutdown can come: shutdown waits for it), and then retried until it lands; the next start applies
        what is journalled.
        `settled` hears the first try's answer (None when it did not land), not after the retries: a
        member is not kept waiting for the ledger, only told no more than it has.
        """
        async def settle() -> JobState | None:
            return await self._store.settle_delivered(job_id, delivered)

        try:
            try:
                state = await settle()
            except Exception as exc:  # busy, down, in doubt or worse: journalled first, then retried (safe to repeat)
                log.info("job %d: the ledger did not take its success at once (%s: %s); journalling the delivery",
                         job_id, type(exc).__name__, exc)
            else:
                await self._after_settle(job_id, settled, state)
                return
            journal = self._journal
            journalled = None if journal is None else self._track(journal.delivered(job_id, delivered.result_url))
            told = self._track(self._after_settle(job_id, settled, None))
            landed, _ = await self.until_landed(job_id, "succeed", settle)
            if journalled is not None and journal is not None:
                await journalled
                if landed:
                    await journal.settled(job_id)
            await told
        except Exception:
            log.error("job %d was delivered but its success could not be recorded; the next start records "
                      "it from the settle journal", job_id, exc_info=True)

    @staticmethod
    async def _after_settle(job_id: int, settled: Settled | None, state: JobState | None) -> None:
        if settled is None:
            return
        try:
            await settled(state)
        except Exception:
            log.warning("job %d: what follows its settle failed", job_id, exc_info=True)

    async def refund(self, job_id: int, error: object) -> JobState | None:
        """Fail a job this process holds that could not even start (see _settle_failed)."""
        return await self._settle_failed(job_id, error)

    async def _settle_failed(self, job_id: int, error: object) -> JobState | None:
        """Refund until it lands; shielded, so cancelling the job's task does not stop it. Returns the
        state the ledger has the job in afterwards (FAILED: refunded), None when left to the next start."""
        text = self._error_text(error)
        _, state = await asyncio.shield(self._track(
            self.until_landed(job_id, "fail", lambda: self._store.fail(job_id, text))))
        return state

    def later(self, job_id: int, what: str, call: Callable[[], Awaitable[Any]]) -> None:
        """`until_landed` in the background, for a write a job's delivery needs that must not hold back its
        settle (the image check's hold in the audit log); shutdown waits for it, after one last try."""
        async def retried() -> None:
            try:
                landed, _ = await self.until_landed(job_id, what, call)
            except Exception as exc:
                log.warning("job %d: could not %s: %s: %s", job_id, what, type(exc).__name__, exc)
                return
            if not landed:
                log.warning("job %d: could not %s before shutdown", job_id, what)

        self._track(retried())

    def _track(self, coro: Awaitable[Any]) -> asyncio.Task:
        task = asyncio.ensure_future(coro)
        self._settling.add(task)
        task.add_done_callback(self._settling.discard)
        return task

    async def until_landed(self, job_id: int, what: str, call: Callable[[], Awaitable[T]]) -> tuple[bool, T | None]:
        """call() until the ledger takes it: (True, its answer), or (False, None) at shutdown. Also for a
        write a job's delivery needs after its result is out (the review post's record: services/reviews.py).

        Busy, down or in doubt alike: every call made here is safe to repeat (a settle that landed
        is a no-op the second time and answers the job's state: read back, not guessed)."""
        delay = SETTLE_RETRY_FIRST_DELAY
        since: float | None = None
        while True:
            try:
                result = await call()
            except StoreBusy as exc:
                down = isinstance(exc, StoreDown)
                if self._closing.is_set():
                    log.warning("job %d: the database is still %s at shutdown; '%s' is left to the next start", job_id,
                                "down" if down else "busy", what)
                    return False, None
                if since is None:
                    since = time.monotonic()
                    # Down: the store has said so once for everyone; this only names the job.
                    log.log(logging.INFO if down else logging.WARNING, "job %d: database %s (%s); retrying '%s' "
                            "until it lands", job_id, "down" if down else "busy", exc, what)
                try:  # wake early on shutdown, for one last try
                    await asyncio.wait_for(self._closing.wait(), delay)
                except TimeoutError:
                    pass
                delay = min(delay * 2, SETTLE_RETRY_MAX_DELAY)
                continue
            if since is not None:
                log.info("job %d: '%s' landed after %.1fs of a busy or down database", job_id, what,
                         time.monotonic() - since)
            return True, result

    def _error_text(self, error: object) -> str:
        text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
        return self._redactor.external(text, 1000)

    async def _generate(self, prepared: Prepared, started: float, on_start: Callable[[], Awaitable[None]],
                        on_answer: Callable[[], None] | None = None) -> GeneratedImage:
        """The image, or the member's sentence for why Pixazo gave none (PixazoFailed)."""
        left = self._settings.job_deadline_seconds - (time.monotonic() - started)
        try:
            async with asyncio.timeout(max(0.0, left)):
                return await self._pixazo.generate(prepared.model, prepared.payload, on_start=on_start,
                                                   on_answer=on_answer,
                                                   use_stream=self._settings.pixazo_use_stream_endpoints)
        except PixazoError as exc:
            model = prepared.model
            raise PixazoFailed(exc, tuple(f for f in (model.image_field, model.mask_field) if f)) from exc
        except TimeoutError:
            raise PixazoFailed(PixazoTimeout(
                self._settings.job_deadline_seconds,
                detail=f"job deadline of {self._settings.job_deadline_seconds}s reached (queue and retries)",
            )) from None
