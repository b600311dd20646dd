"""Jobs the member received whose success the ledger may not have recorded yet.

A delivered image must count as succeeded even when the database stays locked or can't be written
until the bot stops, or the process dies before `succeed` lands; otherwise the next start would run
the job again (a second Pixazo call, a second post) or refund an image the member has. The success
itself, in the ledger, is that record when it lands at once (its settle carries the delivered fact);
when the ledger does not take it at the first try, the fact is written here, fsynced, before the
settle is tried again, and the next start applies it before it releases anything. A plain file on purpose: it is the one record that must not depend on the database being
writable, whichever backend that is.

The disk that fills up and stops SQLite must not stop this file too: its space is reserved at start
(RESERVE_BYTES of zeros, written and synced while the disk has room) and entries are written in place
inside it, so a full disk later costs no new block. The reservation grows by another RESERVE_BYTES
when less than a quarter of it is left, while the disk has room; only when it is used up and the disk
is full can a delivery go unrecorded, and that is logged as an ERROR naming the job. (A copy-on-write
file system, btrfs or ZFS, allocates even for writes in place; there the reservation helps less.)

One JSON object per line, {"job": id, "url": result URL or null}, from the start of the file up to
the first zero byte; what follows is reserved space. Only whole lines count, so a line torn by a
crash is ignored. Once every recorded job has settled, the lines are overwritten with zeros.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from pathlib import Path

from bot.core.offload import Offload, OffloadTimeout

log = logging.getLogger(__name__)

RESERVE_BYTES = 64 * 1024  # a few hundred deliveries the ledger has not taken yet; grows when nearly used
_ZEROS = bytes(RESERVE_BYTES)


class JournalFull(OSError):
    """The reserved space is used up and the disk would not give more."""


def read_journal(path: Path) -> dict[int, str | None]:
    """What a run recorded (job id -> result URL); a missing file records nothing."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return {}
    text = data.split(b"\0", 1)[0].decode("utf-8", errors="replace")
    found: dict[int, str | None] = {}
    for line in text.split("\n")[:-1]:  # the last piece has no newline: empty, or torn
        try:
            entry = json.loads(line)
            job_id, url = int(entry["job"]), entry.get("url")
        except (ValueError, TypeError, KeyError):
            log.warning("settle journal %s: ignoring an unreadable line", path)
            continue
        found[job_id] = url if isinstance(url, str) else None
    return found


def _line(job_id: int, url: str | None) -> str:
    return json.dumps({"job": job_id, "url": url}) + "\n"


class SettleJournal:
    def __init__(self, path: Path, offload: Offload, *, timeout: float = 10.0, reserve: int = RESERVE_BYTES) -> None:
        self._path = path
        self._offload = offload  # file writes and fsync, off the event loop (one thread: calls never overlap)
        self._timeout = timeout
        self._reserve = reserve
        self._pending: set[int] = set()  # recorded (or tried), not yet settled in the ledger
        self._unwritten: dict[int, str | None] = {}  # deliveries the disk would not take: tried again later
        self._lock = asyncio.Lock()  # writes and the emptying never interleave
        # The file, kept open from start so a full disk cannot keep it from being opened. Touched only
        # on the offload's thread, one call at a time, like the three offsets below.
        self._fd: int | None = None
        self._size = 0  # bytes reserved: the file's length
        self._used = 0  # where the next entry goes
        self._dirty = 0  # bytes from the start that may not be zero (entries, a write that failed part way)
        self._short = False  # the reservation could not grow: said once, until it can

    @property
    def path(self) -> Path:
        return self._path

    def read(self) -> dict[int, str | None]:
        """What the last run recorded (job id -> result URL); called at start, before recovery."""
        return read_journal(self._path)

    async def reserve(self) -> None:
        """Open the file and reserve its space; at start, before the ledger is opened. Raises OSError
        (ENOSPC, EROFS, ...) when the disk will not give it: the bot must not start without it."""
        await self._offload.run(self._reserve_now, timeout=self._timeout)

    async def clear(self) -> None:
        """Forget everything recorded (zeros over the whole file, its reservation kept); called at start
        once recovery has applied it."""
        try:
            await self._offload.run(self._zero, True, timeout=self._timeout)
        except (OSError, OffloadTimeout) as exc:
            # Harmless: the next start applies these entries again, and they change nothing then.
            log.warning("could not empty the settle journal %s: %s", self._path, exc)

    def close(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)

    async def delivered(self, job_id: int, result_url: str | None) -> bool:
        """Record that `job_id` reached the member; True once it is on disk. A delivery the disk would
        not take is tried again with the next one and at shutdown (`flush`)."""
        async with self._lock:
            self._pending.add(job_id)
            self._unwritten[job_id] = result_url
            return await self._write_unwritten()

    async def flush(self) -> None:
        """At shutdown: one more try for deliveries the disk would not take before."""
        async with self._lock:
            if self._unwritten:
                await self._write_unwritten()

    async def settled(self, job_id: int) -> None:
        """The ledger has recorded `job_id`; empty the file once nothing recorded is still unsettled."""
        async with self._lock:
            self._pending.discard(job_id)
            self._unwritten.pop(job_id, None)
            if self._pending:
                return
            try:
                await self._offload.run(self._zero, False, timeout=self._timeout)
            except (OSError, OffloadTimeout) as exc:
                # Harmless: replaying an entry of a job already succeeded changes nothing.
                log.info("could not empty the settle journal %s: %s", self._path, exc)

    async def _write_unwritten(self) -> bool:
        entries = dict(self._unwritten)
        try:
            await self._offload.run(self._append, entries, timeout=self._timeout)
        except JournalFull as exc:
            log.error("job(s) %s were delivered, but the settle journal %s has used up its reserved space and the "
                      "disk has no room for more (%s): should the bot stop before the ledger records them, the next "
                      "start runs them again. Free space under DATA_DIR", _ids(entries), self._path, exc.strerror)
            return False
        except (OSError, OffloadTimeout) as exc:
            log.error("job(s) %s were delivered, but the settle journal %s could not record it (%s): should the bot "
                      "stop before the ledger records them, the next start runs them again", _ids(entries),
                      self._path, exc)
            return False
        for job_id in entries:
            self._unwritten.pop(job_id, None)
        return True

    # -- on the offload's thread ------------------------------------------------------------------

    def _reserve_now(self) -> None:
        if self._fd is None:
            created = not self._path.exists()
            self._path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                if created:
                    _sync_dir(self._path.parent)  # a new file's name lives in its directory
                self._size = os.fstat(fd).st_size
            except BaseException:
                os.close(fd)
                raise
            self._fd = fd
            self._dirty = self._size  # what an earlier run left: zeroed by clear()
        if self._size < self._reserve:
            self._grow(self._reserve - self._size)

    def _grow(self, by: int) -> None:
        """Zeros written past the end and synced: blocks the file owns from now on."""
        fd = self._file()
        end = self._size
        try:
            _write_zeros(fd, end, by)
            os.fsync(fd)  # the new length too
        except OSError:
            os.ftruncate(fd, end)  # give back what was half taken; the reservation stays as it was
            raise
        self._size = end + by

    def _append(self, entries: dict[int, str | None]) -> None:
        data = "".join(_line(job_id, url) for job_id, url in entries.items()).encode()
        if self._used + len(data) > self._size:
            try:
                self._grow(max(self._reserve, self._used + len(data) - self._size))
            except OSError as exc:
                # Used up and the disk is full: the URLs are what is worth losing, not the fact.
                data = "".join(_line(job_id, None) for job_id in entries).encode()
                if self._used + len(data) > self._size:
                    raise JournalFull(exc.errno, exc.strerror) from None
        fd = self._file()
        self._dirty = max(self._dirty, self._used + len(data))
        _write_all(fd, data, self._used)
        os.fdatasync(fd)  # in place: no new block, so a full disk does not refuse it
        self._used += len(data)
        if self._size - self._used < self._reserve // 4:
            try:
                self._grow(self._reserve)
                if self._short:
                    self._short = False
                    log.info("the settle journal %s has reserved space again", self._path)
            except OSError as exc:
                if not self._short:
                    self._short = True
                    log.warning("the settle journal %s could not reserve more space (%s); %d bytes are left for "
                                "deliveries the ledger can't take", self._path, exc.strerror, self._size - self._used)

    def _zero(self, whole: bool) -> None:
        """Zeros over what may hold entries (`whole`: over the whole file), synced; nothing recorded after."""
        fd = self._file()
        _write_zeros(fd, 0, self._size if whole else min(self._dirty, self._size))
        os.fdatasync(fd)
        self._used = self._dirty = 0

    def _file(self) -> int:
        if self._fd is None:
            raise OSError(f"the settle journal {self._path} was not opened")
        return self._fd


def _write_all(fd: int, data: bytes, offset: int) -> None:
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        view, offset = view[written:], offset + written


def _write_zeros(fd: int, offset: int, length: int) -> None:
    end = offset + length
    while offset < end:
        offset += os.pwrite(fd, _ZEROS[: min(len(_ZEROS), end - offset)], offset)


def _sync_dir(path: Path) -> None:
    dir_fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _ids(entries: dict[int, str | None]) -> str:
    return ", ".join(map(str, entries))
