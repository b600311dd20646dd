"""The bounded pool for heavy work: a free worker is taken at once; a call past its deadline fails its caller
but keeps its worker until its thread really ends, so threads (and their memory) stay bounded."""

import asyncio
import threading

import pytest

from bot.core.offload import Offload, OffloadTimeout


async def test_a_call_past_its_deadline_keeps_its_worker_until_the_thread_ends():
    offload, release = Offload(1), threading.Event()
    try:
        assert await offload.run(sum, (1, 2), timeout=1) == 3 and offload.busy == 0
        with pytest.raises(OffloadTimeout, match="not done within 0.1s"):
            await offload.run(release.wait, timeout=0.1)
        assert offload.busy == 1, "the thread still runs: its worker is not free"
        with pytest.raises(OffloadTimeout, match="no worker free within 0.1s"):
            await offload.run(sum, (1,), timeout=0.1)
        assert offload.waiting == 0
        waiting = asyncio.ensure_future(offload.run(sum, (4, 5), timeout=5))
        await asyncio.sleep(0.05)
        assert offload.waiting == 1 and not waiting.done()
        release.set()  # the thread ends: its worker goes to the one waiting
        assert await waiting == 9 and (offload.busy, offload.waiting) == (0, 0)
    finally:
        release.set()
        offload.close()
