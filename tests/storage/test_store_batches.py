"""Batches and members' defaults in the ledger, on both backends: a batch is queued whole or not at all,
its images keep their fair places behind other members' first jobs, and each is refunded alone."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from bot.domain import JobState
from bot.domain.delivery import Delivery
from bot.services.batch_holds import BatchHolds
from bot.storage import Member, Refused, Store
from tests.backends import Clock

GUILD = 10
TOKEN = "interaction-token-secret"


def member(user_id: int) -> Member:
    return Member(GUILD, user_id)


@pytest.fixture
async def store(backend):
    s = await backend.open()
    yield s
    assert await s.audit() == [], "the kept totals must always equal the sums of the job rows"
    await s.close()


async def batch(store: Store, who: Member, count: int, *, allowance: int = 100, max_jobs: int = 2,
                max_queue: int = 500) -> list[int]:
    return await store.enqueue_batch(
        who, channel_id=5, model="sdxl", params=[{"prompt": f"{who.user_id}", "seed": n} for n in range(count)],
        cost=2, default_allowance=allowance, max_jobs=max_jobs, global_cap=None, max_queue=max_queue,
        deliveries=[Delivery(application_id=1, batch_index=n, batch_size=count) for n in range(count)], token=TOKEN)


async def one(store: Store, who: Member) -> int:
    job, _ = await store.enqueue(who, channel_id=5, model="sdxl", params={"prompt": "x"}, cost=1,
                                 default_allowance=100, max_jobs=5, global_cap=None, max_queue=500,
                                 delivery=Delivery(application_id=1), token=TOKEN)
    return job


async def test_a_batch_is_queued_whole_and_counts_as_one_request(store):
    ids = await batch(store, member(1), 4, max_jobs=1)
    rows = await store.batch(ids[0])
    assert [r["id"] for r in rows] == ids
    assert {r["batch_id"] for r in rows} == {ids[0]}
    assert [r["delivery"].batch_index for r in rows] == [0, 1, 2, 3]
    assert all(r["state"] == JobState.QUEUED and r["cost"] == 2 for r in rows)
    assert (await store.snapshot(member(1), default_allowance=100)).used == 8, "the whole cost reserved at once"
    assert await store.batch(ids[0] + 1000) == []


@pytest.mark.parametrize(("allowance", "reason"), [(7, Refused.CREDITS), (100, Refused.JOBS)])
async def test_a_batch_that_does_not_fit_is_refused_as_one_and_nothing_is_spent(store, allowance, reason):
    if reason == Refused.JOBS:
        await one(store, member(1))
    with pytest.raises(Refused) as refused:
        await batch(store, member(1), 4, allowance=allowance, max_jobs=1)
    assert refused.value.reason == reason
    assert refused.value.snapshot.used == (1 if reason == Refused.JOBS else 0), "the snapshot before the batch"
    snap = await store.snapshot(member(1), default_allowance=allowance)
    assert snap.used == (1 if reason == Refused.JOBS else 0), "all or nothing"
    assert len(await store.queue_positions()) == (1 if reason == Refused.JOBS else 0)


async def test_a_batch_too_long_for_the_queue_is_refused(store):
    with pytest.raises(Refused) as refused:
        await batch(store, member(1), 4, max_queue=3)
    assert refused.value.reason == Refused.QUEUE
    assert await store.queue_positions() == {}


async def test_a_batch_does_not_jump_ahead_of_other_members_first_jobs(store):
    ids = await batch(store, member(1), 4)
    other = await one(store, member(2))  # queued after the whole batch
    order = []
    while (job := await store.claim()) is not None:
        order.append(job["id"])
        await store.succeed(job["id"], "u")
    assert order == [ids[0], other, *ids[1:]], "the other member's first job runs right after the batch's first"


async def test_each_image_of_a_batch_is_refunded_alone(store):
    ids = await batch(store, member(1), 4)
    for expected in ids:
        job = await store.claim()
        assert job is not None and job["id"] == expected
        if expected == ids[2]:
            await store.fail(expected, "Pixazo said no")
        else:
            await store.succeed(expected, "u")
    assert (await store.snapshot(member(1), default_allowance=100)).used == 6, "3 charged, 1 refunded"


async def test_member_defaults_are_kept_per_server_and_reset(store):
    assert await store.member_defaults(GUILD, 1) == {}
    await store.set_member_default(GUILD, 1, "model", "sd3")
    await store.set_member_default(GUILD, 1, "count", 4)
    await store.set_member_default(GUILD, 1, "private", True)
    await store.set_member_default(GUILD + 1, 1, "model", "sdxl")
    await store.set_member_default(GUILD, 1, "count", 2)
    assert await store.member_defaults(GUILD, 1) == {"model": "sd3", "count": 2, "private": True}
    await store.set_member_default(GUILD, 1, "model", None)
    assert await store.member_defaults(GUILD, 1) == {"count": 2, "private": True}
    assert await store.reset_member_defaults(GUILD, 1) == 2
    assert await store.member_defaults(GUILD, 1) == {}
    assert await store.member_defaults(GUILD + 1, 1) == {"model": "sdxl"}, "another server's are its own"


async def test_who_has_defaults_in_a_server_is_every_member_with_at_least_one_there(store):
    assert await store.members_with_defaults(GUILD) == set()
    await store.set_member_default(GUILD, 1, "model", "sd3")
    await store.set_member_default(GUILD, 1, "count", 2)
    await store.set_member_default(GUILD, 2, "style", "noir")
    await store.set_member_default(GUILD + 1, 3, "model", "sdxl")
    assert await store.members_with_defaults(GUILD) == {1, 2}
    await store.reset_member_defaults(GUILD, 2)
    assert await store.members_with_defaults(GUILD) == {1}
    assert await store.members_with_defaults(GUILD + 1) == {3}


async def test_forget_removes_the_members_defaults_in_every_server_and_retention_keeps_them(store):
    await store.set_member_default(GUILD, 1, "negative_prompt", "zebraquasar, blurry")
    await store.set_member_default(GUILD, 1, "style", "noir")
    await store.set_member_default(GUILD + 1, 1, "model", "sd3")
    await store.set_member_default(GUILD, 2, "negative_prompt", "bob's own")
    assert await store.forget_older_than(store.now() + 10) == 0
    assert await store.member_defaults(GUILD, 1) != {}, "retention clears history, not the settings in use"
    await store.forget_member(1)
    assert await store.member_defaults(GUILD, 1) == {}
    assert await store.member_defaults(GUILD + 1, 1) == {}, "in every server"
    assert await store.member_defaults(GUILD, 2) == {"negative_prompt": "bob's own"}, "another member's stay"


async def test_a_batch_message_is_held_by_one_writer_at_a_time_until_released_or_passed(backend):
    clock = Clock(datetime(2026, 11, 23, 12, 0, tzinfo=UTC))
    store = await backend.open(clock=clock)
    try:
        assert await store.hold_batch(7, "a:1", 30)
        assert not await store.hold_batch(7, "b:1", 30), "held by a"
        assert await store.hold_batch(8, "b:1", 30), "another batch is its own"
        assert await store.hold_batch(7, "a:1", 30), "the holder renews its own hold"
        await store.release_batch(7, "b:1")  # not b's to let go of
        assert not await store.hold_batch(7, "b:2", 30)
        await store.release_batch(7, "a:1")
        assert await store.hold_batch(7, "b:2", 30), "free once released"
        clock.now += 31
        assert await store.hold_batch(7, "a:2", 30), "a hold whose writer died passes"
        assert not await store.hold_batch(7, "b:2", 30)
    finally:
        await store.close()


async def test_two_processes_edit_a_batch_message_one_after_the_other_even_past_the_hold_length(store):
    """Two BatchHolds on one ledger are two processes: only the ledger's hold keeps them apart. The first
    edits for longer than a hold lasts, so it must renew it; the second enters only once the first is out."""
    first, second = BatchHolds(store, seconds=0.3), BatchHolds(store, seconds=0.3)
    seen: list[str] = []

    async def edit(holds: BatchHolds, name: str, seconds: float) -> None:
        async with holds.editing(7):
            seen.append(f"{name} in")
            await asyncio.sleep(seconds)
            seen.append(f"{name} out")

    one = asyncio.create_task(edit(first, "a", 0.7))
    await asyncio.sleep(0.05)
    await asyncio.gather(one, edit(second, "b", 0.0), edit(first, "c", 0.0))
    assert seen[:2] == ["a in", "a out"] and sorted(seen[2:]) == ["b in", "b out", "c in", "c out"], seen
    assert seen[2][0] == seen[3][0], "one at a time"
    assert await store.hold_batch(7, "someone", 30), "every hold let go of"
