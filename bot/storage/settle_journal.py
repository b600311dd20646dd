"""Jobs the member received whose success the ledger may not have recorded yet.

A delivered image must count as succeeded even when the database stays locked until the bot stops,
or the process dies before `succeed` lands; otherwise the next start would release the job as
interrupted and refund an image the member has. So the fact is appended here, fsynced, right after
delivery, and the next start applies it before it releases anything. A plain file on purpose: it is
the one record that must not depend on the database being writable, whichever backend that is.

One JSON object per line, {"job": id, "url": result URL or null}. Only whole lines count, so a line
torn by a crash is ignored. Once every recorded job has settled, the file is emptied.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from pathlib import Path

from bot.core.offload import Offload, OffloadTimeout

log = logging.getLogger(__name__)


class SettleJournal:
    def __init__(self, path: Path, offload: Offload, *, timeout: float = 10.0) -> None:
        self._path = path
        self._offload = offload  # file writes and fsync, off the event loop
        self._timeout = timeout
        self._pending: set[int] = set()
        self._lock = asyncio.Lock()  # appends and the emptying never interleave

    @property
    def path(self) -> Path:
        return self._path

    def read(self) -> dict[int, str | None]:
        """What the last run recorded (job id -> result URL); called at start, before recovery."""
        try:
            text = self._path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return {}
        found: dict[int, str | None] = {}
        for line in text.split("\n")[:-1]:  # the last piece has no newline: empty, or torn
            try:
                entry = json.loads(line)
                job_id, url = int(entry["job"]), entry.get("url")
            except (ValueError, TypeError, KeyError):
                log.warning("settle journal %s: ignoring an unreadable line", self._path)
                continue
            found[job_id] = url if isinstance(url, str) else None
        return found

    def clear(self) -> None:
        """Forget everything recorded; called at start once recovery has applied it."""
        _truncate(self._path)

    async def delivered(self, job_id: int, result_url: str | None) -> bool:
        """Record that `job_id` reached the member; True once it is on disk."""
        line = json.dumps({"job": job_id, "url": result_url}) + "\n"
        async with self._lock:
            self._pending.add(job_id)
            try:
                await self._offload.run(_append, self._path, line, timeout=self._timeout)
            except (OSError, OffloadTimeout) as exc:
                log.warning("job %d: could not record its delivery in %s (%s); should the ledger not take its "
                            "success before the bot stops, the next start makes it again (or, on its last attempt, "
                            "refunds it)", job_id, self._path, exc)
                return False
        return True

    async def settled(self, job_id: int) -> None:
        """The ledger has recorded `job_id`; empty the file once nothing recorded is still unsettled."""
        async with self._lock:
            self._pending.discard(job_id)
            if self._pending:
                return
            try:
                await self._offload.run(_truncate, self._path, timeout=self._timeout)
            except (OSError, OffloadTimeout) as exc:
                # Harmless: replaying an entry of a job already succeeded changes nothing.
                log.info("could not empty the settle journal %s: %s", self._path, exc)


def _append(path: Path, line: str) -> None:
    created = not path.exists()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as f:
        f.write(line)
        f.flush()
        os.fsync(f.fileno())
    if created:
        # A new file's name lives in its directory: sync that too, or a crash can lose the file.
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _truncate(path: Path) -> None:
    try:
        with path.open("r+b") as f:
            f.truncate(0)
    except FileNotFoundError:
        pass
