"""The heartbeat the running bot keeps in DATA_DIR, and the check `python -m bot --health` makes of it.

A container's HEALTHCHECK (or a monitor) runs in a process of its own, which cannot ask the bot's
event loop anything. So the bot rewrites a small file every HEARTBEAT_INTERVAL_SECONDS saying when it
looked and whether its gateway connection to Discord was up. A beat that stops coming means the
process is gone or its loop is stuck; a beat saying "not connected" means Discord is unreachable.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

log = logging.getLogger(__name__)

CONNECTED = "connected"
STOPPED = "stopped"
# Three missed beats: one slow write (a busy disk) must not make a container unhealthy.
STALE_AFTER_BEATS = 3
STATE_POLL_SECONDS = 5.0  # a HEALTHCHECK looks every 30 s or so; a poll each second cost a lone job a wake-up


def write_beat(path: Path, state: str) -> None:
    # Written aside and renamed, so the checker never reads half a file.
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps({"at": time.time(), "state": state, "pid": os.getpid()}))
    os.replace(tmp, path)


@contextlib.asynccontextmanager
async def heartbeat(path: Path, interval: float, state: Callable[[], str]) -> AsyncIterator[None]:
    """Beat every `interval` seconds while the body runs; a last beat says the bot stopped."""
    task = asyncio.create_task(_beat(path, interval, state), name="heartbeat")
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        # --health then reports the stop at once instead of after the file goes stale.
        with contextlib.suppress(OSError):
            await asyncio.to_thread(write_beat, path, STOPPED)


async def _beat(path: Path, interval: float, state: Callable[[], str]) -> None:
    loop = asyncio.get_running_loop()
    failing = False
    written, due = "", 0.0
    while True:
        # The state is looked at every few seconds (no I/O), so a connect or a disconnect reaches the file
        # well before a check reads it rather than up to an interval later; the file is rewritten once per interval.
        now, current = loop.time(), state()
        if current != written or now >= due:
            try:
                await asyncio.to_thread(write_beat, path, current)
            except OSError as exc:
                if not failing:  # once per outage, not every beat
                    log.warning("could not write the heartbeat %s (%s); --health reports the bot unhealthy "
                                "until it can", path, exc.strerror or exc)
                failing = True
            else:
                if failing:
                    log.info("the heartbeat %s is written again", path)
                failing = False
                written, due = current, now + interval
        await asyncio.sleep(min(interval, STATE_POLL_SECONDS))


def check(path: Path, interval: float, *, now: float | None = None) -> tuple[bool, str]:
    """(healthy, one line saying why) from the heartbeat file alone."""
    now = time.time() if now is None else now
    path = path.absolute()
    try:
        beat = json.loads(path.read_text())
        at, state = float(beat["at"]), str(beat["state"])
    except FileNotFoundError:
        return False, f"no heartbeat at {path}: the bot is not running there, or has not started yet"
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return False, f"the heartbeat {path} could not be read: {getattr(exc, 'strerror', None) or exc}"
    age = max(0.0, now - at)
    if state == STOPPED:
        return False, f"the bot stopped {age:.0f} s ago"
    if age > STALE_AFTER_BEATS * interval:
        return False, (f"the last heartbeat is {age:.0f} s old (one is written every {interval:g} s): "
                       "the bot is not running or is stuck")
    if state != CONNECTED:
        return False, f"the bot is not connected to Discord ({state}) as of {age:.0f} s ago"
    return True, f"connected to Discord as of {age:.0f} s ago"
