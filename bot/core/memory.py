"""Give big freed buffers back to the system at once.

Decoding a large image allocates tens of megabytes that are freed a moment later. glibc's default
lets each worker thread's arena keep such memory (and raises the mmap threshold as it sees big frees),
so a bot that checked a few large images keeps their peak as its size for good. With a fixed 1 MiB
threshold, big buffers are mmap'ed and unmapped on free: measured with bench/inpaint_stall's
"result" scenario, the peak went from about 400 MB to about 240 MB.
"""

from __future__ import annotations

import ctypes
import ctypes.util
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
