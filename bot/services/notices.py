"""The members' waiting notices while their jobs wait or run: "Waiting to start: position 3 of 7, about
40 s", then "Generating… (12 s)". Rate-limited per job (PROGRESS_INTERVAL_SECONDS) and bot-wide
(PROGRESS_MAX_EDITS_PER_SECOND, jobs nearest the front first). No Discord here: the `Courier` edits."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from bot.core.i18n import Text, _
from bot.core.settings import Settings
from bot.domain import JobState, StoreBusy
from bot.domain.records import JobRecord
from bot.storage.roles import JobQueue

if TYPE_CHECKING:
    from bot.services.generation import Outcome

log = logging.getLogger(__name__)

TICK_SECONDS = 0.2  # how often the notices are looked at (each job is still edited at most every interval)
NOTICE_AFTER_SECONDS = 0.3  # a job claimed this soon after it was queued never shows a waiting notice
MEDIAN_CACHE_SECONDS = 30.0
EDIT_TIMEOUT_SECONDS = 5.0  # a notice edit Discord is slow to take is given up; the next tick tries again


class Courier(Protocol):
    async def notice(self, job: JobRecord, text: Text | str, *, cancellable: bool) -> None: ...

    async def deliver(self, job: JobRecord, outcome: Outcome, *, noticed: bool) -> tuple[int, int] | None:
        """Post the result; where it was posted (channel id, message id), or None when it is held for review."""
        ...

    async def tell(self, job: JobRecord, text: Text | str, *, noticed: bool) -> None: ...

    async def settled(self, job: JobRecord, state: JobState | None) -> None:
        """After a delivered job's settle: what the ledger has it as (None: not recorded yet), for what is
        said about its credits (a result held back by the image check is told of only then)."""
        ...

    async def fresh_links(self, urls: list[str]) -> list[str]: ...


@dataclass
class Notice:
    job: JobRecord | None  # None until needed: read when its notice is first edited
    seen: float  # monotonic: when this process learnt of the job
    model: str = ""  # its catalog model (for the wait's estimate), known before its row is read
    text: Text | str | None = None  # what the member's message shows now (None: still "thinking…")
    edited: float = -math.inf
    started: float | None = None  # monotonic: when its Pixazo call started here


class Board(dict[int, Notice]):
    """The notices being shown (job id -> notice); `filled` is set whenever one is added or replaced, so the
    notices' loop sleeps on it, not on a clock, while none can need an edit."""

    def __init__(self) -> None:
        super().__init__()
        self.filled = asyncio.Event()

    def __setitem__(self, job_id: int, notice: Notice) -> None:
        super().__setitem__(job_id, notice)
        self.filled.set()

    def setdefault(self, job_id: int, notice: Notice) -> Notice:
        self.filled.set()
        return super().setdefault(job_id, notice)


class EditBudget:
    """At most `rate` edits in any one-second window, bot-wide (a sliding window, not a bucket,
    which would let a full bucket and a second's refill land in the same second)."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._limit = max(1, int(rate))
        self._clock = clock
        self._recent: deque[float] = deque()

    def take(self) -> bool:
        now = self._clock()
        while self._recent and now - self._recent[0] >= 1.0:
            self._recent.popleft()
        if len(self._recent) >= self._limit:
            return False
        self._recent.append(now)
        return True


def waiting_text(position: int, length: int, eta: float | None) -> Text:
    if eta is not None:
        return _("Waiting to start: position {position} of {length}, about {eta}.", position=position, length=length,
                 eta=_duration(eta))
    return _("Waiting to start: position {position} of {length}.", position=position, length=length)


def _duration(seconds: float) -> Text:
    if seconds < 90:
        return _("{seconds} s", seconds=max(1, round(seconds)))
    return _("{minutes} min", minutes=round(seconds / 60))


class Notices:
    def __init__(self, settings: Settings, store: JobQueue, courier: Callable[[], Courier], *, slots: int,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._settings = settings
        self._store = store
        self._courier = courier
        self._slots = slots
        self._clock = clock
        self.board = Board()
        self._notices = self.board
        self._budget = EditBudget(settings.progress_max_edits_per_second, clock)
        self._medians: dict[str, tuple[float, float | None]] = {}
        self._ticked = -math.inf  # when the loop last looked

    def queued(self, job_id: int, model: str) -> None:
        """A job was just queued: its notice. Its row is read only if it waits long enough to show one (the
        notices' loop); most are claimed before that."""
        self._notices[job_id] = Notice(None, self._clock(), model=model)

    async def resume(self) -> None:
        """After a restart, the jobs still waiting get their notices back (from the ledger's rows)."""
        try:
            positions = await self._store.queue_positions()
            for job_id in positions:
                row = await self._store.job(job_id)
                if row is not None and row.get("interaction_token") and job_id not in self._notices and (
                        row.get("batch_id") in (None, job_id)):  # a batch's first job's notice stands for it
                    # Shown as already noticed: the last run may have edited the message.
                    self._notices[job_id] = Notice(row, self._clock() - NOTICE_AFTER_SECONDS, text="")
        except StoreBusy as exc:
            log.warning("queue: could not resume the waiting notices, the database is busy: %s", exc)

    async def loop(self) -> None:
        while True:
            due = self._next_due()
            self.board.filled.clear()
            if due is None:  # nothing will need an edit: sleep until the board changes
                await self.board.filled.wait()
                continue
            if (wait := due - self._clock()) > 0:  # or until the soonest due, unless the board changes first
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(wait):
                        await self.board.filled.wait()
                continue
            self._ticked = self._clock()
            try:
                await self._notice_tick()
            except StoreBusy:
                pass
            except Exception:
                log.exception("queue: updating the waiting notices failed; trying again")

    def _next_due(self) -> float | None:
        """When the loop should next look (monotonic), or None: no notice on the board can need an edit.
        A job started at once shows "thinking…" until its result, so it needs no look at all: waking every
        TICK_SECONDS while it ran was the largest CPU cost of a lone job after its own work."""
        soonest = None
        for notice in self._notices.values():
            if notice.started is not None and notice.text is None and (
                    notice.job is None or notice.job.get("batch_id") is None):
                continue
            due = max(notice.seen + NOTICE_AFTER_SECONDS, self._ticked + TICK_SECONDS)
            soonest = due if soonest is None else min(soonest, due)
        return soonest

    async def _notice_tick(self) -> None:
        if not self._notices:
            return
        # The queue's order only matters to a job waiting here long enough to show it (a running one
        # shows its time; one claimed within NOTICE_AFTER_SECONDS shows nothing).
        now = self._clock()
        waiting = any(n.started is None and now - n.seen >= NOTICE_AFTER_SECONDS for n in self._notices.values())
        positions = await self._store.queue_positions() if waiting else {}
        length = len(positions)
        interval = self._settings.progress_interval_seconds
        due: list[tuple[int, int, Notice, Text | str, bool]] = []
        for job_id, notice in list(self._notices.items()):
            if notice.started is not None:
                batch = notice.job is not None and notice.job.get("batch_id") is not None
                if notice.text is None and (not batch or now - notice.seen < NOTICE_AFTER_SECONDS):
                    continue  # started at once: "thinking…" until the result (a batch: Cancel for the rest)
                text = _("Generating… ({elapsed})", elapsed=_duration(now - notice.started))
                order = 0
            elif job_id in positions:
                if now - notice.seen < NOTICE_AFTER_SECONDS:
                    continue
                position = positions[job_id]
                model = notice.job["model"] if notice.job is not None else notice.model
                text = waiting_text(position, length, await self._eta(model, position))
                order = position
            else:
                continue  # claimed by another process, or ended: its own runner shows it
            if text != notice.text and now - notice.edited >= interval:
                due.append((order, job_id, notice, text, True))
        due.sort(key=lambda d: d[0])  # nearest the front first
        # One edit at a time: requests sent together could reach Discord bunched into one second.
        for _order, job_id, notice, said, cancellable in due:
            if notice.job is None:  # its row, read once, when its notice is first edited (a few a second)
                notice.job = await self._store.job(job_id)
            if not self._budget.take():
                break
            notice.text, notice.edited = said, self._clock()
            await self._edit(notice.job, said, cancellable)

    async def _edit(self, job: JobRecord | None, text: Text | str, cancellable: bool) -> None:
        if job is None or job["id"] not in self._notices:
            return
        try:
            async with asyncio.timeout(EDIT_TIMEOUT_SECONDS):
                await self._courier().notice(job, text, cancellable=cancellable)
        except Exception as exc:  # a notice is only a courtesy; the job goes on
            log.info("job %d: could not update its notice: %s: %s", job["id"], type(exc).__name__, exc)

    async def _eta(self, model: str, position: int) -> float | None:
        now = self._clock()
        cached = self._medians.get(model)
        if cached is None or now - cached[0] > MEDIAN_CACHE_SECONDS:
            cached = (now, await self._store.median_seconds(model))
            self._medians[model] = cached
        median = cached[1]
        if median is None:
            return None
        # Each of the `slots` lanes finishes a job every `median` seconds on average.
        return math.ceil(position / self._slots) * median
