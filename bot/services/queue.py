"""The job queue's runner: PIXAZO_MAX_CONCURRENCY jobs at once, taken from the ledger in fair order.

No Discord here. The queue itself is the `jobs` table (state queued); this process claims the next
job whenever one of its slots is free, so several processes sharing one PostgreSQL run one queue.
Everything a job needs to run and be delivered is in its row, so a restart loses nothing: waiting
jobs stay queued, and a call a crash cut short runs once more (the store's recovery).

The `Courier` (the Discord side): the result, the failure, the waiting notices (notices.py), fresh links.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import math
import time
from collections.abc import Callable
from typing import Any, Protocol

from bot.core import logs
from bot.core.errors import UserFacingError
from bot.core.i18n import Text
from bot.core.metrics import Metrics
from bot.core.settings import Settings
from bot.domain import JobState, Member, QuotaSnapshot, Refused, StoreBusy, StoreDown, WriteInDoubt
from bot.domain.delivery import Delivery
from bot.domain.records import JobRecord
from bot.services.audit import generation_entry
from bot.services.generation import GenerationService, Outcome, Unsettled
from bot.services.job_ends import NOT_RECORDED, UNEXPECTED, Discarded, Sweeps, discarded, unsettled
from bot.services.job_rows import member_of_job, prepared_of, with_fresh_inputs
from bot.services.leases import Leases
from bot.services.notices import Courier, Notice, Notices
from bot.services.quotas import Quotas
from bot.services.reserving import enqueue_batch, reservation
from bot.services.validation import Prepared
from bot.services.wakeups import POLL_SECONDS, Wakeups
from bot.storage.roles import Batches, JobQueue, StartNow

log = logging.getLogger(__name__)

REQUEUE_WAIT_SECONDS = 1.5  # after the grace: SHUTDOWN_GRACE_SECONDS (8) + this stays inside Docker's 10 s


class QueueStore(JobQueue, Batches, Protocol):
    """The roles the queue uses: the queue itself, and batches of jobs queued as one."""


class QueueRunner:
    def __init__(self, settings: Settings, store: QueueStore, generation: GenerationService, quotas: Quotas, *,
                 clock: Callable[[], float] = time.monotonic, metrics: Metrics | None = None) -> None:
        self._settings = settings
        self.metrics = metrics or Metrics()
        self._quotas = quotas
        self._store = store
        self._generation = generation
        self._clock = clock
        self.courier: Courier | None = None  # the Discord side sets it before start()
        self._slots = settings.pixazo_max_concurrency
        # Part 9: every claim takes a lease in this process's name, renewed while the job runs; the claim
        # also holds the whole cluster (every process on the database) to PIXAZO_MAX_CONCURRENCY.
        self._owner = store.owner
        self._lease = settings.job_lease_seconds
        self._running: dict[int, asyncio.Task] = {}
        # Claimed jobs whose Pixazo call has not answered yet: the slots. One that answered is being
        # delivered and settled; up to as many again may be, so a slow Discord does not hold Pixazo idle.
        self._calling: set[int] = set()
        self._cancelled: set[int] = set()  # cancelled by a member while running here
        self.leases = Leases(store, self._owner, self._lease, self._running, self._cancelled, self.metrics)
        self._lost = self.leases.lost  # its lease expired and another process took it over
        self._delivered: set[int] = set()  # the member has its result; its success is being recorded
        self.notices = Notices(settings, store, self._courier, slots=self._slots, clock=clock)
        self._short = False  # the last claim took fewer jobs than this process had slots free, with some waiting
        self._unmarked: set[int] = set()  # answered and counted free here; not (yet) marked so in the ledger
        self._notices = self.notices.board  # job id -> its notice, shared with the notices' loop
        self.wakeups = Wakeups(settings)  # when the dispatch looks at the ledger (bot/services/wakeups.py)
        self.sweeps = Sweeps(settings, store, self.metrics, self._notices, self._tell)
        self._closing = False
        self._tasks: list[asyncio.Task] = []
        self._swept = -math.inf
        self._orphans = False  # a claim's answer was lost: it may hold a job it does not run (requeue_orphans)
        self._starting = 0  # reservations out that may start their jobs at once (StartNow)
        self._context = contextvars.copy_context()  # a job's run is about its job, not the command that took it

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        if self._tasks:
            return
        self._tasks = [asyncio.create_task(self._dispatch_loop(), name="queue-dispatch"),
                       asyncio.create_task(self.notices.loop(), name="queue-notices"),
                       asyncio.create_task(self.leases.loop(), name="queue-leases")]

    async def shutdown(self) -> None:
        """Start no more jobs; give running calls SHUTDOWN_GRACE_SECONDS to finish and be delivered,
        then put the rest back at the head of the queue. Waiting jobs stay queued."""
        if self._closing:
            return
        self._closing = True
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        running = [t for t in self._running.values() if not t.done()]
        if running:
            log.info("shutting down: %d job(s) running get up to %.1fs to finish", len(running),
                     self._settings.shutdown_grace_seconds)
            _, late = await asyncio.wait(running, timeout=self._settings.shutdown_grace_seconds)
            delivered = [job_id for job_id, task in self._running.items() if task in late and job_id in self._delivered]
            for task in late:
                task.cancel()
            if delivered:
                # Their settles go on until the store closes; the next start records what did not land (journal).
                log.warning("shutting down: job(s) %s were delivered and their success is not recorded yet",
                            ", ".join(map(str, delivered)))
            if len(late) > len(delivered):
                log.warning("shutting down: %d job(s) did not finish in time; they go back to the head of the "
                            "queue and their Pixazo calls are made again at the next start", len(late) - len(delivered))
                # Putting them back is one write each; a database that will not take it in time must not
                # keep the process from exiting: such a job stays running and the next start re-runs it.
                _, stuck = await asyncio.wait(late, timeout=REQUEUE_WAIT_SECONDS)
                if stuck:
                    log.warning("shutting down: %d job(s) could not be put back in time; the next start "
                                "treats them as interrupted (run once more)", len(stuck))

    def kick(self) -> None:
        """A job was queued here: look at the queue now."""
        self.wakeups.queued()

    async def submit(self, prepared: Prepared, member: Member, *, channel_id: int | None, delivery: Delivery,
                     token: str | None, inputs: dict[str, Any] | None = None) -> int:
        """Reserve the credits and queue the job; raises the member's refusal (nothing spent) if it won't fit.
        `token` is the interaction's: a credential kept only in the job's row, until the job ends; None
        (a moderator's Allow once) delivers the result as a channel post naming the member."""
        settings = self._settings
        start = self._start_now()
        doubt = True  # cancelled as it was sent, say: it may have been added running, and not started here
        try:
            with reservation(self._quotas, prepared.model.key):
                try:
                    job_id, _ = await self._store.enqueue(
                        member, channel_id=channel_id, model=prepared.model.key, params=prepared.payload,
                        cost=self._quotas.cost_of(prepared.model.key), default_allowance=settings.default_allowance(member),
                        max_jobs=settings.quota_max_jobs_per_user, global_cap=settings.quota_global_daily_credits,
                        max_queue=settings.queue_max_length, delivery=delivery, token=token, inputs=inputs, start=start)
                except (Refused, StoreBusy) as exc:  # nothing added, unless the write is in doubt
                    doubt = isinstance(exc, WriteInDoubt)
                    raise
                doubt = False
        finally:
            self._started(start, doubt=doubt)
        logs.bind(job=job_id)
        if job_id not in self._running:  # queued: a claim takes it in its turn
            await self._queued(job_id, prepared.model.key)
        return job_id

    def _start_now(self) -> StartNow | None:
        """Alone on its ledger with a slot free and no job known to wait (it would queue behind them, holding a slot
        meanwhile), a job is taken by its own reservation (StartNow)."""
        if not self._tasks or self._closing or self.wakeups.shared() or self.wakeups.waiting or self._free() <= 0:
            return None
        self._starting += 1
        return StartNow(self._owner, self._lease, self._slots, lambda job: self._start([job]))

    def _started(self, start: StartNow | None, *, doubt: bool) -> None:
        """A StartNow is back; `doubt`: its job may be running, never handed over (the dispatch puts it back)."""
        if start is not None:
            self._starting -= 1
            self._orphans = self._orphans or doubt
            if self._orphans:
                self.kick()

    async def submit_batch(self, prepared: list[Prepared], member: Member, *, channel_id: int | None,
                           deliveries: list[Delivery], token: str) -> list[int]:
        """`submit` for a batch, all or nothing; its first job's notice stands for all: they share one message."""
        ids = await enqueue_batch(self._store, self._settings, self._quotas, prepared, member, channel_id=channel_id,
                                  deliveries=deliveries, token=token)
        await self._queued(ids[0], prepared[0].model.key)
        return ids

    async def _queued(self, job_id: int, model: str) -> None:
        logs.bind(job=job_id)  # the command's lines from here on are about its job (a batch: its first)
        self.notices.queued(job_id, model)
        self.kick()

    # -- Cancel --------------------------------------------------------------------------------

    async def cancel(self, job: JobRecord, actor_id: int) -> tuple[JobState | None, JobState | None]:
        """A member's Cancel: refunded in the ledger (state before, state after), and its call stopped
        here if it runs here."""
        job_id = job["id"]
        before, after = await self._store.cancel(job_id, actor_id)
        if after is JobState.CANCELLED and before is not JobState.CANCELLED:
            self.metrics.job_ended(job["model"], "cancelled", job["cost"])
            self.cancelled(job_id)
        return before, after

    def cancelled(self, job_id: int) -> None:
        """The ledger has the job cancelled (refunded): stop its call here, if it runs here."""
        self._notices.pop(job_id, None)
        task = self._running.get(job_id)
        if task is not None and not task.done():
            self._cancelled.add(job_id)
            task.cancel()

    # -- running jobs ----------------------------------------------------------------------------

    async def _dispatch_loop(self) -> None:
        await self.notices.resume()
        await self.sweeps.tell_interrupted()
        wakeups = self.wakeups
        while True:
            await wakeups.wait()
            wakeups.again = True  # until this round has looked without a failure
            try:
                if self._clock() - self._swept >= wakeups.sweep_seconds:
                    self._swept = self._clock()
                    await self.sweeps.expire()
                if self._orphans and not self._starting:  # a reservation still out may yet hand its job over
                    await self._requeue_orphans()
                wakeups.again = await self._fill_slots()
            except WriteInDoubt:
                self._orphans = True  # the claim may have landed: look before the next one
            except StoreDown:
                pass  # the store has logged the outage once; the next poll tries again
            except StoreBusy as exc:
                log.warning("queue: the database is busy (%s); trying again in %.0fs", exc, POLL_SECONDS)
            except Exception:
                log.exception("queue: could not take the next job; trying again in %.0fs", POLL_SECONDS)

    async def _requeue_orphans(self) -> None:
        back = await self._store.requeue_orphans(list(self._running))
        self._orphans = False
        if back:
            log.warning("queue: job(s) %s were claimed by this process as its connection to the database broke; "
                        "they go back to the head of the queue", ", ".join(map(str, back)))

    async def _fill_slots(self) -> bool:
        """Claim jobs into every free slot at once. Whether to look again soon: only when the cluster-wide
        bound holds jobs back (other processes' ends are not told here); else wake-ups do."""
        free = self._free()
        if self._closing or free <= 0:
            return False
        asked = set(self._unmarked)
        # Alone on its ledger, with every slot the ledger counts taken counted taken here too, this process
        # knows the bound has room for `free`: a claim that takes fewer took every job there was.
        room = not asked and not self.wakeups.shared()
        jobs, waiting = await self.wakeups.claim(self._store.claim_batch(
            self._owner, self._lease, limit=free, max_running=self._slots, claimed=self._start, room=room))
        self._short = waiting and len(jobs) < free  # the ledger's bound held some back
        if self._short and not asked <= self._unmarked:  # a mark asked before this claim landed meanwhile
            self.wakeups.freed()
        return self.wakeups.shared() and self._short

    def _free(self) -> int:
        """Slots free here: for Pixazo calls, and for results being delivered (as many again); a StartNow out holds one."""
        return min(self._slots - len(self._calling), 2 * self._slots - len(self._running)) - self._starting

    def _start(self, jobs: list[JobRecord]) -> None:
        """The claimed jobs' runs, started as soon as the claim landed (before its look for more); none once shutdown
        began (a StartNow's job then is the next start's to run, as whatever a stop cut short)."""
        if self._closing:
            return
        for job in jobs:
            self.metrics.job_claimed(job["model"], self._store.now() - job["created_at"], rerun=job["attempts"] > 1)
            if job["attempts"] > 1:
                log.warning("job %d /%s for user %s runs again (attempt %d): its last run was cut short, by a "
                            "restart or a process whose lease expired", job["id"], job["model"], job["user_id"],
                            job["attempts"])
            task = asyncio.create_task(self._run(job), name=f"job-{job['id']}", context=self._context.copy())
            self._running[job["id"]] = task
            self._calling.add(job["id"])

    async def _run(self, job: JobRecord) -> None:
        job_id = job["id"]
        logs.bind(job=job_id, server=job["guild_id"], member=job["user_id"])  # this job's task's lines
        notice, started = self._notice_of(job)
        courier = self._courier()
        noticed = notice.text is not None
        outcome: str | None = "failed"  # what the ledger has, once it ended here: failed is refunded
        try:
            prepared, member = await self._request_of(job)

            async def deliver(outcome: Outcome) -> tuple[int, int] | None:
                if job_id in self._cancelled or job_id in self._lost:
                    raise Discarded()
                for key in {job_id, job.get("batch_id") or job_id}:  # no progress edit may land after the result
                    self._notices.pop(key, None)
                posted = await courier.deliver(job, outcome, noticed=notice.text is not None)
                self._delivered.add(job_id)
                return posted

            await self._generation.execute(job_id, prepared, member, deliver=deliver,
                                           ready=lambda: self._ready(job_id, member),
                                           record=lambda posted: generation_entry(job, posted), cost=job["cost"],
                                           started=started, requeue=lambda: job_id not in self._cancelled,
                                           inputs=lambda asked: with_fresh_inputs(asked, courier),
                                           settled=lambda state: courier.settled(job, state))
            outcome = "succeeded"
        except Discarded:
            outcome = None
            discarded(job_id, lost=job_id in self._lost)
        except Unsettled as exc:
            outcome = None
            unsettled(job, exc, lost=job_id in self._lost)
        except UserFacingError as exc:  # the ledger has it failed: refunded
            log.log(logging.getLevelName(exc.log_level), "job %d /%s for user %s failed: %s", job_id, job["model"],
                    job["user_id"], exc.detail)
            await self._tell(job, exc.text, noticed=noticed or notice.text is not None)
        except asyncio.CancelledError:
            outcome = None  # cancelled by its member (counted there), or put back in the queue
            if job_id not in self._cancelled and job_id not in self._lost:
                raise
        except StoreBusy as exc:  # the ledger has it failed: refunded (delivery needed a write it would not take)
            log.warning("job %d failed: the database would not take a write its delivery needed (%s); its credits "
                        "are refunded", job_id, exc)
            await self._tell(job, NOT_RECORDED, noticed=noticed or notice.text is not None)
        except Exception:  # the ledger has it failed: refunded
            log.exception("job %d failed unexpectedly; its credits are refunded", job_id)
            await self._tell(job, UNEXPECTED, noticed=noticed or notice.text is not None)
        finally:
            self._ended(job, outcome, started)

    def _notice_of(self, job: JobRecord) -> tuple[Notice, float]:
        """The job's waiting notice, and its run's start: now."""
        notice = self._notices.get(job["id"]) or Notice(job, self._clock())
        if job.get("batch_id") is None:  # a batch's first job's notice stands for all of it (one message)
            self._notices[job["id"]] = notice
        notice.job = job
        notice.started = started = self._clock()
        return notice, started

    async def _tell(self, job: JobRecord, text: Text | str, *, noticed: bool) -> None:
        self._notices.pop(job.get("batch_id") or 0, None)  # a batch's message shows this image's end from now on
        await self._courier().tell(job, text, noticed=noticed)

    def _ended(self, job: JobRecord, outcome: str | None, started: float) -> None:
        """The run here is over: counted (`outcome`: None when not this run's to count), its slot freed."""
        job_id = job["id"]
        self.metrics.job_ran(job["model"], self._clock() - started)
        if outcome is not None:
            self.metrics.job_ended(job["model"], outcome, job["cost"])
        self._running.pop(job_id, None)
        self._calling.discard(job_id)
        self._unmarked.discard(job_id)
        self._cancelled.discard(job_id)
        self._lost.discard(job_id)
        self._delivered.discard(job_id)
        self._notices.pop(job_id, None)
        self.wakeups.freed()

    async def _request_of(self, job: JobRecord) -> tuple[Prepared, Member]:
        try:
            return prepared_of(job), member_of_job(job)
        except Exception as exc:  # a row this version cannot run (say, a model no longer in the catalog)
            if (state := await self._generation.refund(job["id"], exc)) is not JobState.FAILED:
                raise Unsettled(job["id"], state) from exc
            raise

    async def _ready(self, job_id: int, member: Member) -> QuotaSnapshot:
        """One trip to the ledger before posting: the Pixazo call marked answered (the slot freed for the
        next claim), the member's credits for the embed, and the job's row. A Cancel, or a takeover by
        another process (that one delivers), discards the result."""
        if job_id in self._cancelled or job_id in self._lost:
            raise Discarded()
        marking = asyncio.ensure_future(self._store.delivering(
            job_id, member, default_allowance=self._settings.default_allowance(member)))
        if not self.wakeups.shared():
            # One ledger connection takes writes in the order they are asked: a claim asked after this mark
            # counts its slot free, so the next call need not wait for the mark's answer to come back through
            # the loop. A claim asked before it (its task's first step has not run yet) takes one job fewer:
            # the mark's landing then looks again (`_fill_slots`).
            self._unmarked.add(job_id)
            self._answered(job_id)
        row, quota = await marking  # a mark that did not land: the job stays unmarked until it ends
        if row is not None and row.get("answered_at") is not None:
            self._unmarked.discard(job_id)
            self._answered(job_id)  # the ledger counts its slot free: so does this process
            if self._short:
                self._short = False
                self.wakeups.freed()
        if row is not None and row.get("lease_owner") not in (None, self._owner):
            self.leases.lose(job_id)
            raise Discarded()
        if row is not None and row["state"] == JobState.CANCELLED:
            raise Discarded()
        return quota

    def _answered(self, job_id: int) -> None:
        if job_id in self._calling:
            self._calling.discard(job_id)
            self.wakeups.freed()

    def _courier(self) -> Courier:
        assert self.courier is not None, "the bot sets the courier before the queue starts"
        return self.courier

    @property
    def running(self) -> int:  # for tests and the benchmark
        return len(self._running)
