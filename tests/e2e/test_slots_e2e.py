"""PIXAZO_MAX_CONCURRENCY bounds the calls in flight at Pixazo, not the downloads and deliveries after them: a job
whose call answered frees its slot as its image is fetched, on both ledgers, through the real discord.py."""

from __future__ import annotations

import asyncio

import pytest

from tests.conftest import GUILD_ID, eventually
from tests.e2e.test_queue_e2e import has_result, prompts_seen
from tests.ledger import columns, jobs, open_view


@pytest.fixture
def ledger_settings(backend) -> dict:
    return backend.settings


@pytest.fixture
async def ledger(harness):
    async with open_view(harness.settings) as store:
        yield store


async def delivered_and_charged_once(ledger, *asked) -> None:
    """Each (interaction, its member) got its result, and the ledger has each job succeeded, charged once."""
    for interaction, _ in asked:
        await eventually(lambda i=interaction: has_result(i), timeout=10)
    for _, user in asked:
        assert columns(await jobs(ledger, GUILD_ID, user), "state") == [("succeeded",)]
    assert await ledger.audit() == []


@pytest.mark.parametrize("bot_settings", [{"pixazo_max_concurrency": 1}])
async def test_a_result_discord_is_slow_to_take_does_not_hold_the_next_call_to_pixazo(harness, ledger):
    """PIXAZO_MAX_CONCURRENCY bounds the calls to Pixazo, not the deliveries: while the first result is still
    being posted, the next member's job is already at Pixazo. Both are delivered and charged once."""
    released = harness.discord.stall("POST", r"/webhooks/\d+/[^/]+$")  # followups: the results
    first = await harness.invoke("sdxl", {"prompt": "first"}, user_id=4000)
    await eventually(lambda: len(harness.pixazo.requests) >= 1)
    second = await harness.invoke("sdxl", {"prompt": "second"}, user_id=4001)
    await eventually(lambda: prompts_seen(harness.pixazo) == ["first", "second"], timeout=5)
    assert not has_result(first), "the first result is still on its way to Discord"
    released.set()
    await delivered_and_charged_once(ledger, (first, 4000), (second, 4001))


@pytest.mark.parametrize("bot_settings", [{"pixazo_max_concurrency": 1}])
async def test_the_next_call_to_pixazo_does_not_wait_for_the_last_image_to_download(harness, ledger):
    """Pixazo answered with the first image's link: its slot is free while the image downloads (and is checked),
    so the next member's job is already at Pixazo. Both are delivered and charged once."""
    released = harness.pixazo.stall_images()
    first = await harness.invoke("sdxl", {"prompt": "first"}, user_id=4000)
    await eventually(lambda: len(harness.pixazo.image_fetches) == 1)
    second = await harness.invoke("sdxl", {"prompt": "second"}, user_id=4001)
    await eventually(lambda: prompts_seen(harness.pixazo) == ["first", "second"], timeout=5)
    assert not has_result(first), "the first image is still downloading"
    released.set()
    await delivered_and_charged_once(ledger, (first, 4000), (second, 4001))


@pytest.mark.parametrize("bot_settings", [{"pixazo_max_concurrency": 2}])
async def test_calls_stay_within_the_bound_and_deliveries_waiting_on_discord_within_as_many_again(harness, ledger):
    """Two slots: never more than two calls at Pixazo at once; with Discord taking no result, two jobs being
    delivered and two more at Pixazo, and the rest waiting in the queue until results get through."""
    harness.pixazo.latency = 0.2
    released = harness.discord.stall("POST", r"/webhooks/\d+/[^/]+$")
    asked = [await harness.invoke("sdxl", {"prompt": f"p{n}"}, user_id=4000 + n) for n in range(6)]
    await eventually(lambda: len(prompts_seen(harness.pixazo)) == 4, timeout=5)
    await eventually(lambda: harness.pixazo.in_flight == 0, timeout=5)
    await asyncio.sleep(0.5)  # no fifth call comes while the four results wait
    assert len(prompts_seen(harness.pixazo)) == 4, "four results wait on Discord; the last two jobs wait their turn"
    released.set()
    for interaction in asked:
        await eventually(lambda i=interaction: has_result(i), timeout=10)
    assert harness.pixazo.max_in_flight == 2
    for n in range(6):
        assert columns(await jobs(ledger, GUILD_ID, 4000 + n), "state") == [("succeeded",)]
    assert await ledger.audit() == []
