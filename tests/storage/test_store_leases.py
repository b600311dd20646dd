"""Job leases and the cluster's one concurrency bound (part 9), on both backends: several stores on one
database stand for several processes, each with its own lease owner id."""

from __future__ import annotations

import asyncio

import pytest

from bot.domain import JobState
from bot.storage import Member, Store
from bot.storage.base import INTERRUPTED
from bot.storage.lease import new_owner
from tests.backends import Clock
from tests.storage.test_store_queue import TOKEN, enqueue, member

LEASE = 30.0


@pytest.fixture
def clock() -> Clock:
    return Clock(1_000_000.0)


@pytest.fixture
async def stores(backend, clock):
    """Two processes, "a" and "b", on one ledger."""
    opened = [await backend.open(clock=clock, owner=name) for name in ("a", "b")]
    yield opened
    assert await opened[0].audit() == []
    for store in opened:
        await store.close()


async def used(store: Store, who: Member) -> int:
    return (await store.snapshot(who, default_allowance=100)).used


async def test_an_expired_lease_is_taken_over_once_and_the_old_holders_late_settles_are_ignored(stores, clock):
    a, b = stores
    job = await enqueue(a, member(1), cost=3)
    claimed = await a.claim("a", LEASE)
    assert (claimed["id"], claimed["lease_owner"], claimed["lease_until"]) == (job, "a", clock.now + LEASE)
    assert await b.claim("b", LEASE) is None, "a live lease is not taken over"

    clock.now += LEASE + 1  # a stopped renewing: its process died, or stalled
    taken = await b.claim("b", LEASE)
    assert (taken["id"], taken["attempts"], taken["lease_owner"]) == (job, 2, "b"), "an interrupted attempt"

    # a wakes up and tries to settle: none of it may touch b's job.
    assert await a.succeed(job, "https://late/a.png") is JobState.RUNNING
    assert await a.fail(job, "late failure") is JobState.RUNNING
    assert await a.requeue(job) is JobState.RUNNING
    assert await a.mark_running(job) is JobState.RUNNING
    row = await a.job(job)
    assert (row["state"], row["lease_owner"], row["result_url"], row["error"]) == ("running", "b", None, None)
    assert await used(a, member(1)) == 3

    assert await b.succeed(job, "https://b.png") is JobState.SUCCEEDED
    row = await b.job(job)
    assert (row["state"], row["result_url"], row["interaction_token"]) == ("succeeded", "https://b.png", None)
    assert await used(b, member(1)) == 3, "charged once"


async def test_a_job_whose_holder_dies_twice_fails_refunded(stores, clock):
    a, b = stores
    job = await enqueue(a, member(1), cost=3)
    await a.claim("a", LEASE)
    clock.now += LEASE + 1
    assert (await b.claim("b", LEASE))["attempts"] == 2
    clock.now += LEASE + 1  # b died too
    assert await a.claim("a", LEASE) is None, "no attempt left"
    assert await b.fail_worn_out() == [], "never its own: b may still be settling it"
    (worn,) = await a.fail_worn_out()
    assert (worn["id"], worn["interaction_token"]) == (job, TOKEN), "handed back as it was, to tell the member"
    row = await a.job(job)
    assert (row["state"], row["error"], row["interaction_token"]) == ("failed", INTERRUPTED, None)
    assert await used(a, member(1)) == 0
    assert await a.fail_worn_out() == [], "once"


async def test_renewing_keeps_the_lease_and_only_its_holder_can_renew(stores, clock):
    a, b = stores
    job = await enqueue(a, member(1))
    await a.claim("a", 10)
    clock.now += 8
    assert await a.renew("a", [job], 10) == {job}
    assert await b.renew("b", [job], 10) == set(), "b holds nothing"
    clock.now += 7  # past the first lease, inside the renewed one
    assert await b.claim("b", 10) is None
    clock.now += 4  # past the renewed one too
    assert (await b.claim("b", 10))["lease_owner"] == "b"
    assert await a.renew("a", [job], 10) == set(), "a learns it lost the job"
    assert await b.succeed(job, None) is JobState.SUCCEEDED
    assert await a.renew("a", [job], 10) == set()


async def test_recovery_at_start_leaves_another_processs_live_lease_alone(backend, clock, stores):
    a, _ = stores
    held = await enqueue(a, member(1))
    await a.claim("a", LEASE)

    starting = await backend.open(clock=clock, owner="c")  # a third process starts while a runs
    try:
        row = await starting.job(held)
        assert (row["state"], row["lease_owner"], row["attempts"]) == ("running", "a", 1)
        assert await starting.claim("c", LEASE) is None
    finally:
        await starting.close()

    restarted = await backend.open(clock=clock, owner="a")  # what "a" held, "a" itself may take back
    try:
        row = await restarted.job(held)
        assert (row["state"], row["lease_owner"], row["attempts"]) == ("queued", None, 1)
        assert (await restarted.claim("a", LEASE))["attempts"] == 2
        await restarted.succeed(held, None)
        fresh = await enqueue(restarted, member(2))
        await restarted.claim("a", LEASE)
    finally:
        await restarted.close()  # and "a" dies again, holding `fresh`

    clock.now += LEASE + 1
    late = await backend.open(clock=clock, owner="d")  # an expired lease: left to the claim, which takes it
    try:
        assert (await late.job(fresh))["state"] == "running"
        taken = await late.claim("d", LEASE)
        assert (taken["id"], taken["lease_owner"], taken["attempts"]) == (fresh, "d", 2)
        await late.succeed(fresh, None)
    finally:
        await late.close()


async def test_the_cluster_bound_holds_under_concurrent_claims_from_two_processes(backend, stores, clock):
    a, b = stores
    jobs = [await enqueue(a, member(n)) for n in range(12)]

    async def race(*claimers: Store) -> list[dict]:
        # Twenty claims at once, ten from each process, for whatever slots are free.
        tries = [s.claim(s.owner, LEASE, max_running=3) for s in claimers or (a, b) for _ in range(20 // len(claimers or (a, b)))]
        return [job for job in await asyncio.gather(*tries) if job is not None]

    running = await race()
    assert len(running) == 3
    for rounds in range(3):
        for job in running[:2]:
            store = a if job["lease_owner"] == "a" else b
            assert await store.succeed(job["id"], None) is JobState.SUCCEEDED
        running = running[2:] + await race()
        assert len(running) == 3, f"round {rounds}: never more than the bound, and every freed slot refilled"
    clock.now += LEASE + 1  # every holder died: an expired lease frees its slot for the takeover
    c = await backend.open(clock=clock, owner="c")  # by another process (a holder never takes its own back)
    try:
        taken = await race(c)
        assert len(taken) == 3 and all(j["attempts"] == 2 for j in taken)
        assert sorted(j["id"] for j in taken) == sorted(j["id"] for j in running), "the takeovers come first (rank, id)"
        for job in taken:
            await c.succeed(job["id"], None)
        while (job := await c.claim("c", LEASE, max_running=3)) is not None:
            await c.succeed(job["id"], None)
    finally:
        await c.close()
    assert {(await a.job(j))["state"] for j in jobs} == {"succeeded"}


async def test_a_holder_never_takes_back_its_own_expired_lease(stores, clock):
    # Its renewals could not land (the ledger was down) while its job ran or waited for its settle: the
    # job is still its own. Taking it again would run a delivered job a second time.
    a, b = stores
    job = await enqueue(a, member(1))
    await a.claim("a", LEASE)
    clock.now += LEASE + 1
    assert await a.claim("a", LEASE) is None, "its own job, still running here"
    assert await a.renew("a", [job], LEASE) == {job}, "an expired lease nobody took is still renewed"
    assert await a.succeed(job, None) is JobState.SUCCEEDED
    assert await b.claim("b", LEASE) is None
    row = await a.job(job)
    assert (row["state"], row["attempts"], row["lease_owner"]) == ("succeeded", 1, "a")


async def test_a_claim_whose_answer_was_lost_is_put_back(stores):
    a, _ = stores
    running, lost = await enqueue(a, member(1)), await enqueue(a, member(2))
    await a.claim("a", LEASE)
    await a.claim("a", LEASE)  # the connection broke before this answer came back: a does not know it holds it
    assert await a.requeue_orphans([running]) == [lost]
    row = await a.job(lost)
    assert (row["state"], row["attempts"], row["lease_owner"]) == ("queued", 0, None), "the attempt is not counted"
    assert (await a.job(running))["state"] == "running"
    assert await a.requeue_orphans([running]) == []
    assert (await a.claim("a", LEASE))["id"] == lost
    for job in (running, lost):
        await a.succeed(job, None)


async def test_one_process_at_a_time_holds_a_singleton(backend, stores):
    a, b = stores
    async with a.singleton("command-sync") as first:
        assert first is True
        async with b.singleton("command-sync") as second:
            # PostgreSQL: another process syncing means this one does not; SQLite: DATA_DIR's lock
            # already keeps a second process out, so there is never another to defer to.
            assert second is (backend.name == "sqlite")
        async with b.singleton("another-name") as other:
            assert other is True, "names are separate locks"
    async with b.singleton("command-sync") as later:
        assert later is True, "released when the block ends"


async def test_a_restart_of_the_same_instance_takes_its_predecessors_leases_at_once(backend, clock):
    # One process at a time owns a DATA_DIR, whose instance id starts every lease owner id of its
    # processes: a process starting with the same instance id is its predecessor's successor.
    before = await backend.open(clock=clock, owner=new_owner("inst1"))
    neighbour = await backend.open(clock=clock, owner=new_owner("inst2"))
    try:
        cut = await enqueue(before, member(1))
        await before.claim(before.owner, LEASE)
        theirs = await enqueue(neighbour, member(2))
        await neighbour.claim(neighbour.owner, LEASE)
        await before.close()  # killed mid-call: nothing renews, nothing settles

        other = await backend.open(clock=clock, owner=new_owner("inst3"))  # another instance: it must wait
        try:
            assert (await other.job(cut))["state"] == "running"
            assert await other.claim(other.owner, LEASE) is None
        finally:
            await other.close()

        after = await backend.open(clock=clock, owner=new_owner("inst1"))
        try:
            row = await after.job(cut)
            assert (row["state"], row["lease_owner"], row["attempts"]) == ("queued", None, 1), "taken back at once"
            assert (await after.job(theirs))["lease_owner"] == neighbour.owner, "another instance's lease is its own"
            assert after.interrupted == []
            again = await after.claim(after.owner, LEASE)
            assert (again["id"], again["attempts"]) == (cut, 2)
            await after.succeed(cut, None)
        finally:
            await after.close()
        await neighbour.succeed(theirs, None)
    finally:
        await neighbour.close()


async def test_recovery_hands_back_the_jobs_it_failed_with_their_tokens(backend, clock):
    first = await backend.open(clock=clock, owner=new_owner("inst1"))
    job = await enqueue(first, member(1))
    await first.claim(first.owner, LEASE)
    await first.close()  # killed mid-call
    second = await backend.open(clock=clock, owner=new_owner("inst1"))
    assert second.interrupted == []
    assert (await second.claim(second.owner, LEASE))["attempts"] == 2
    await second.close()  # killed again mid-call
    third = await backend.open(clock=clock, owner=new_owner("inst1"))
    try:
        assert [(j["id"], j["interaction_token"], j["attempts"]) for j in third.interrupted] == [(job, TOKEN, 2)]
        row = await third.job(job)
        assert (row["state"], row["error"], row["interaction_token"]) == ("failed", INTERRUPTED, None)
        assert await used(third, member(1)) == 0
    finally:
        await third.close()
