"""How the process holds its memory: big freed buffers go back to the system at once, and what start-up
made is left out of the garbage collector's full scans.

Decoding a large image allocates tens of megabytes that are freed a moment later. glibc's default
lets each worker thread's arena keep such memory (and raises the mmap threshold as it sees big frees),
so a bot that checked a few large images keeps their peak as its size for good. With a fixed 1 MiB
threshold, big buffers are mmap'ed and unmapped on free: measured with bench/inpaint_stall's
"result" scenario, the peak went from about 400 MB to about 240 MB.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging

log = logging.getLogger(__name__)

_M_MMAP_THRESHOLD = -3  # glibc's malloc.h
THRESHOLD = 1 << 20


def return_big_allocations() -> bool:
    """True if the C library took the setting; other C libraries (musl, macOS) are left as they are."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        mallopt = getattr(libc, "mallopt", None)
    except OSError:
        mallopt = None
    if mallopt is None:
        return False
    ok = bool(mallopt(_M_MMAP_THRESHOLD, THRESHOLD))
    if not ok:
        log.debug("mallopt(M_MMAP_THRESHOLD) was refused; big buffers follow the C library's default")
    return ok


def freeze_start_up() -> None:
    """What start-up made lives as long as the process (modules, the catalog, the moderation tables, the
    servers): the collector's full scans stop visiting it again and again. Measured with bench/loop_steps.py
    in a burst of a hundred jobs, that scan was one pause of about 37 ms with every job waiting. Once per
    process, at the first connection: freezing again later could keep some jobs' garbage alive for good."""
    if gc.get_freeze_count() == 0:
        gc.freeze()
