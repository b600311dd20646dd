"""When the queue's dispatch looks again: a slot freed while a claim is out waits for that claim's answer."""

from __future__ import annotations

import asyncio

import pytest

from bot.core.settings import Settings
from bot.services.wakeups import Wakeups


@pytest.fixture
def wakeups(tmp_path) -> Wakeups:
    w = Wakeups(Settings(_env_file=None, discord_token="x", pixazo_api_key="y", data_dir=tmp_path))
    w.again = False
    return w


async def woken(w: Wakeups) -> bool:
    """Whether the dispatch would look again at once (the event is set), not after its idle timer."""
    try:
        async with asyncio.timeout(0.05):
            await w._event.wait()
    except TimeoutError:
        return False
    return True


@pytest.mark.parametrize("left", [False, True])
async def test_a_slot_freed_by_a_job_of_a_claim_still_out_wakes_the_dispatch_only_if_jobs_are_left(wakeups, left):
    wakeups.queued()  # a job was queued: the dispatch looks, and claims it
    await wakeups.wait()
    answer: asyncio.Future[tuple[list[int], bool]] = asyncio.get_running_loop().create_future()
    claim = asyncio.ensure_future(wakeups.claim(answer))
    await asyncio.sleep(0)
    wakeups.freed()  # the claimed job's Pixazo call answered before the claim's look for more came back
    assert not await woken(wakeups), "no look while the claim is out"
    answer.set_result(([7], left))
    assert await claim == ([7], left) and wakeups.waiting is left
    assert await woken(wakeups) is left, "a second look only for the jobs left waiting"


async def test_a_claim_that_failed_counts_jobs_as_waiting_and_a_slot_freed_meanwhile_wakes(wakeups):
    wakeups.waiting = False
    answer: asyncio.Future[tuple[list[int], bool]] = asyncio.get_running_loop().create_future()
    claim = asyncio.ensure_future(wakeups.claim(answer))
    await asyncio.sleep(0)
    wakeups.freed()
    answer.set_exception(OSError("the look failed"))
    with pytest.raises(OSError):
        await claim
    assert wakeups.waiting and await woken(wakeups)


async def test_outside_a_claim_a_freed_slot_wakes_only_while_jobs_wait(wakeups):
    wakeups.waiting = False
    wakeups.freed()
    assert not await woken(wakeups)
    wakeups.waiting = True
    wakeups.freed()
    assert await woken(wakeups)
