"""The durable queue in the ledger, on both backends: fair claim, positions, cancel, restart, expiry."""

from __future__ import annotations

import asyncio

import pytest

from bot.domain import JobState
from bot.domain.delivery import Delivery
from bot.domain.records import JobRecord
from bot.domain.reviews import NoLongerRunning, OutForReview, ReviewKind, ReviewState
from bot.storage import Member, Refused, Store
from bot.storage.base import EXPIRED, INTERRUPTED
from bot.storage.roles import StartNow

GUILD = 10
TOKEN = "interaction-token-secret"


def member(user_id: int) -> Member:
    return Member(GUILD, user_id)


async def enqueue(store: Store, who: Member, *, max_queue: int = 500, max_jobs: int = 5, cost: int = 1,
                  token: str | None = TOKEN) -> int:
    job, _ = await store.enqueue(who, channel_id=5, model="sdxl", params={"prompt": f"{who.user_id}"}, cost=cost,
                                 default_allowance=100, max_jobs=max_jobs, global_cap=None, max_queue=max_queue,
                                 delivery=Delivery(application_id=1), token=token)
    return job


@pytest.fixture
async def store(backend):
    s = await backend.open()
    yield s
    assert await s.audit() == [], "the kept totals must always equal the sums of the job rows"
    await s.close()


async def drain(store: Store) -> list[int]:
    """Claim and finish one job at a time (concurrency 1): the order Pixazo would see."""
    order = []
    while (job := await store.claim()) is not None:
        order.append(job["user_id"])
        await store.succeed(job["id"], "u")
    return order


async def test_the_claim_is_fair_between_members(store):
    z = await enqueue(store, member(26))
    assert (await store.claim())["id"] == z  # Z's job holds the one slot
    for who in (1, 2, 3):  # A, B, C submit three each, in that order
        for _ in range(3):
            await enqueue(store, member(who))
    positions = await store.queue_positions()
    assert sorted(positions.values()) == list(range(1, 10))
    await store.succeed(z, "u")
    assert await drain(store) == [1, 2, 3, 1, 2, 3, 1, 2, 3]


async def test_positions_follow_the_claim_order(store):
    jobs = {(who, n): await enqueue(store, member(who)) for who in (1, 2) for n in range(2)}
    positions = await store.queue_positions()
    assert [positions[jobs[k]] for k in [(1, 0), (2, 0), (1, 1), (2, 1)]] == [1, 2, 3, 4]
    claimed = await store.claim()
    assert claimed["id"] == jobs[(1, 0)] and claimed["state"] == JobState.RUNNING and claimed["attempts"] == 1
    assert claimed["interaction_token"] == TOKEN, "the runner needs it to deliver"
    positions = await store.queue_positions()
    assert [positions[jobs[k]] for k in [(2, 0), (1, 1), (2, 1)]] == [1, 2, 3]
    while (job := await store.claim()) is not None:
        await store.succeed(job["id"], None)
    await store.succeed(jobs[(1, 0)], None)


async def test_a_full_queue_refuses_without_charging(store):
    for who in range(3):
        await enqueue(store, member(who), max_queue=3)
    with pytest.raises(Refused) as refused:
        await enqueue(store, member(9), max_queue=3)
    assert refused.value.reason == Refused.QUEUE
    assert (await store.snapshot(member(9), default_allowance=100)).used == 0
    # A running job is not waiting: claiming one makes room.
    await store.claim()
    await enqueue(store, member(9), max_queue=3)
    while (job := await store.claim()) is not None:
        await store.fail(job["id"], "x")
    await store.fail(1, "x")


async def test_the_member_cap_counts_queued_and_running_jobs(store):
    await enqueue(store, member(1), max_jobs=2)
    await store.claim()
    await enqueue(store, member(1), max_jobs=2)
    with pytest.raises(Refused) as refused:
        await enqueue(store, member(1), max_jobs=2)
    assert refused.value.reason == Refused.JOBS


async def test_cancel_refunds_and_clears_the_token(store):
    waiting = await enqueue(store, member(1), cost=3)
    running = await enqueue(store, member(2), cost=3)
    assert (await store.claim())["id"] == waiting
    assert await store.cancel(running, 77) == (JobState.QUEUED, JobState.CANCELLED)
    assert await store.cancel(waiting, 78) == (JobState.RUNNING, JobState.CANCELLED)
    assert await store.cancel(waiting, 78) == (JobState.CANCELLED, JobState.CANCELLED), "a second click"
    for job, who in ((waiting, 78), (running, 77)):
        row = await store.job(job)
        assert (row["state"], row["cancelled_by"], row["interaction_token"]) == ("cancelled", who, None)
    assert await store.succeed(waiting, "late") is JobState.CANCELLED, "a cancelled result is never charged"
    assert (await store.snapshot(member(1), default_allowance=100)).used == 0
    assert await store.queue_positions() == {}
    done = await enqueue(store, member(3))
    await store.claim()
    await store.succeed(done, "u")
    assert await store.cancel(done, 1) == (JobState.SUCCEEDED, JobState.SUCCEEDED)
    assert (await store.job(done))["interaction_token"] is None, "cleared when the job ended"


async def test_a_restart_keeps_the_queue_and_reruns_a_cut_call_once(backend):
    # The same lease owner each time: what it held, its recovery may take back at once (part 9; another
    # owner's jobs wait for their leases to expire, tests/storage/test_store_leases.py).
    store = await backend.open(owner="bot-1")
    first, second, third = [await enqueue(store, member(n)) for n in (1, 2, 3)]
    assert (await store.claim())["id"] == first
    await store.close()  # kill -9 with first's call in flight

    store = await backend.open(owner="bot-1")
    assert (await store.job(first))["state"] == JobState.QUEUED, "runs again"
    assert list((await store.queue_positions()).items()) == [(first, 1), (second, 2), (third, 3)]
    again = await store.claim()
    assert (again["id"], again["attempts"]) == (first, 2)
    await store.close()  # killed a second time mid-call

    store = await backend.open(owner="bot-1")
    try:
        row = await store.job(first)
        assert (row["state"], row["error"], row["interaction_token"]) == ("failed", INTERRUPTED, None)
        assert (await store.snapshot(member(1), default_allowance=100)).used == 0
        assert list(await store.queue_positions()) == [second, third]
        assert await store.audit() == []
    finally:
        await store.close()


async def test_a_requeued_job_keeps_its_place_and_its_attempt(store):
    first, second = await enqueue(store, member(1)), await enqueue(store, member(2))
    await store.claim()
    assert await store.requeue(first) is JobState.QUEUED
    again = await store.claim()
    assert (again["id"], again["attempts"]) == (first, 1), "a shutdown's put-back is not an interrupted attempt"
    await store.succeed(first, None)
    await store.fail(second, "x")


async def test_two_claimers_never_take_the_same_job(backend):
    stores = [await backend.open() for _ in range(2)]
    try:
        jobs = {await enqueue(stores[0], member(n)) for n in range(40)}
        claimed: list[int] = []

        async def claimer(store: Store) -> None:
            while (job := await store.claim()) is not None:
                claimed.append(job["id"])

        await asyncio.gather(*(claimer(s) for s in stores for _ in range(3)))
        assert sorted(claimed) == sorted(jobs)
    finally:
        for s in stores:
            await s.close()


async def test_waiting_too_long_fails_and_refunds(store):
    old = await enqueue(store, member(1), cost=4)
    expired = await store.expire_waiting(store.now() + 1)
    assert [(j["id"], j["interaction_token"]) for j in expired] == [(old, TOKEN)], "handed back to tell the member"
    row = await store.job(old)
    assert (row["state"], row["error"], row["interaction_token"]) == ("failed", EXPIRED, None)
    assert (await store.snapshot(member(1), default_allowance=100)).used == 0


async def test_median_duration_of_recent_jobs(backend):
    now = [1000.0]
    store = await backend.open(clock=lambda: now[0])
    try:
        assert await store.median_seconds("sdxl") is None
        for seconds in (10, 40, 20):
            job = await enqueue(store, member(1))
            await store.claim()
            now[0] += seconds
            await store.succeed(job, None)
        assert await store.median_seconds("sdxl") == 20
    finally:
        await store.close()


async def test_a_batch_claim_takes_what_one_at_a_time_claims_would_in_the_same_order(store):
    for who in (1, 2, 3):  # A, B, C submit three each, in that order
        for _ in range(3):
            await enqueue(store, member(who))
    first, more = await store.claim_batch(limit=4)
    assert [j["user_id"] for j in first] == [1, 2, 3, 1] and more, "fair order, up to the limit; jobs are left"
    assert all(j["state"] == JobState.RUNNING and j["attempts"] == 1 for j in first)
    rest, more = await store.claim_batch(limit=10)
    assert [j["user_id"] for j in rest] == [2, 3, 1, 2, 3] and not more, "the rest, and none left"
    assert await store.claim_batch(limit=3) == ([], False)
    for job in first + rest:
        await store.succeed(job["id"], "u")


async def test_a_batch_claim_hands_its_jobs_over_as_soon_as_they_are_claimed(store):
    for who in (1, 2):
        await enqueue(store, member(who))
    handed: list[list[int]] = []
    taken, more = await store.claim_batch(limit=1, claimed=lambda jobs: handed.append([j["id"] for j in jobs]))
    assert handed == [[taken[0]["id"]]] and more, "the claimed job, once; the other one is still waiting"
    rest, more = await store.claim_batch(limit=5, claimed=lambda jobs: handed.append([j["id"] for j in jobs]))
    assert handed[1:] == [[rest[0]["id"]]] and not more
    assert await store.claim_batch(limit=5, claimed=handed.append) == ([], False) and handed[2:] == [[]]
    for job in taken + rest:
        await store.succeed(job["id"], "u")


async def finish(a: Store, b: Store, claimed: list) -> None:
    """Each claimed job succeeded by its holder, then the rest claimed and succeeded: the totals still add up."""
    for job in claimed:
        await (a if job["lease_owner"] == "a" else b).succeed(job["id"], "u")
    for job in (await a.claim_batch("a", 30, limit=5))[0]:
        await a.succeed(job["id"], "u")
    assert await a.audit() == []


async def test_a_claim_whose_room_is_vouched_for_answers_none_left_without_looking_when_it_took_fewer(store):
    """`room=True` is the caller's word that the bound has room for `limit`: a claim that took fewer than its
    limit then took every job there was, and says so without its look for more. Taking its whole limit, it
    still looks."""
    for who in (1, 2, 3):
        await enqueue(store, member(who))
    taken, more = await store.claim_batch(limit=2, room=True)
    assert [j["user_id"] for j in taken] == [1, 2] and more, "its whole limit: it looked, and one job is left"
    rest, more = await store.claim_batch(limit=5, room=True)
    assert [j["user_id"] for j in rest] == [3] and not more
    for who in (4, 5):
        await enqueue(store, member(who))
    # The word is taken as given: here it is wrong (the bound of 4 held one job back), and no look corrects it.
    held, more = await store.claim_batch(limit=2, max_running=4, room=True)
    assert [j["user_id"] for j in held] == [4] and not more, "no look: its caller vouched for the room"
    assert await store.claim_batch(limit=2, max_running=4) == ([], True), "without the word, it looks"
    for job in taken + rest + held:
        await store.succeed(job["id"], "u")
    last, _ = await store.claim_batch(limit=1)
    await store.succeed(last[0]["id"], "u")


async def test_a_job_asked_to_start_now_runs_from_its_reservation_while_nothing_waits_and_the_bound_has_room(store):
    """StartNow: the reservation takes the job as a claim of one would, or leaves it queued; never out of the
    fair order (a job already waiting goes first) nor past the bound of jobs waiting for Pixazo."""
    started: list[JobRecord] = []
    now = StartNow(store.owner, 30, 2, started.append)

    async def asked(who: int) -> int:
        job, _ = await store.enqueue(member(who), channel_id=5, model="sdxl", params={"prompt": f"{who}"}, cost=1,
                                     default_allowance=100, max_jobs=5, global_cap=None, max_queue=500,
                                     delivery=Delivery(application_id=1), token=TOKEN, start=now)
        return job

    first, second = await asked(1), await asked(2)
    assert [j["id"] for j in started] == [first, second], "nothing waited and the bound had room: both run"
    assert all(j["state"] == JobState.RUNNING and j["attempts"] == 1 and j["lease_owner"] == store.owner
               and j["lease_until"] is not None and j["interaction_token"] == TOKEN for j in started)
    third = await asked(3)
    assert len(started) == 2 and (await store.job(third))["state"] == JobState.QUEUED, "the bound of 2 is reached"
    await store.delivering(first, member(1), default_allowance=100)  # its call answered: a slot is free
    fourth = await asked(4)
    assert len(started) == 2 and (await store.job(fourth))["state"] == JobState.QUEUED, "the third waits first"
    claimed, more = await store.claim_batch(limit=2, max_running=2)
    assert [j["id"] for j in claimed] == [third] and more, "the waiting one, in its turn; the fourth still waits"
    for job_id in (first, second, third):
        await store.succeed(job_id, "u")
    rest, _ = await store.claim_batch(limit=1)
    assert [j["id"] for j in rest] == [fourth]
    await store.succeed(fourth, "u")


async def test_a_job_whose_pixazo_call_answered_frees_its_slot_in_the_bound(backend):
    """A job being delivered (its call answered: `delivering`) no longer counts against max_running,
    in any process; one taken over after its process died counts again, and only its holder can mark it."""
    a, b = await backend.open(owner="a"), await backend.open(owner="b")
    try:
        for n in range(4):
            await enqueue(a, member(n))
        held, _ = await a.claim_batch("a", 30, limit=2, max_running=2)
        assert len(held) == 2 and await b.claim_batch("b", 30, limit=2, max_running=2) == ([], True)
        row, _ = await b.delivering(held[0]["id"], member(0), default_allowance=10)
        assert row is not None and row["answered_at"] is None, "another process's mark does nothing"
        row, _ = await a.delivering(held[0]["id"], member(0), default_allowance=10)
        assert row is not None and row["answered_at"] is not None and row["lease_owner"] == "a"
        taken, more = await b.claim_batch("b", 30, limit=2, max_running=2)
        assert [j["user_id"] for j in taken] == [2] and more, "one slot freed by the answered call, one job waits"
        assert taken[0]["answered_at"] is None
        await finish(a, b, [*held, *taken])
    finally:
        await a.close()
        await b.close()


async def test_a_batch_claim_stays_within_the_bound_of_live_leases(backend):
    """max_running counts every live lease in the ledger (every process's): a batch takes only the slots
    left, and says jobs wait when the bound held them back."""
    a, b = await backend.open(owner="a"), await backend.open(owner="b")
    try:
        for n in range(6):
            await enqueue(a, member(n))
        held, _ = await a.claim_batch("a", 30, limit=2, max_running=3)
        assert len(held) == 2
        taken, more = await b.claim_batch("b", 30, limit=5, max_running=3)
        assert [j["user_id"] for j in taken] == [2] and more, "one slot left in the cluster; three jobs still wait"
        assert await b.claim_batch("b", 30, limit=5, max_running=3) == ([], True)
        await a.succeed(held[0]["id"], "u")
        again, more = await b.claim_batch("b", 30, limit=5, max_running=3)
        assert [j["user_id"] for j in again] == [3] and more
        await finish(a, b, [held[1], *taken, *again])
    finally:
        await a.close()
        await b.close()


async def running_answered(store: Store, who: Member) -> int:
    """A job of `who`'s claimed by `store`'s owner whose Pixazo call answered: about to be delivered."""
    job_id = await enqueue(store, who)
    claimed, _ = await store.claim_batch(store.owner, 30, limit=1)
    assert [j["id"] for j in claimed] == [job_id]
    await store.delivering(job_id, who, default_allowance=100)
    return job_id


async def test_a_held_results_review_and_a_members_cancel_exclude_each_other(backend):
    """A held result's review (opened just before its post is sent to the review channel) and the member's
    Cancel: whichever lands first wins, the other is refused and changes nothing, also when two processes
    make them at once. A review an earlier run left unposted holds no Cancel back while the call runs again."""
    a, b = await backend.open(owner="a"), await backend.open(owner="b")
    try:
        first = await running_answered(a, member(1))
        assert await b.cancel(first, 1) == (JobState.RUNNING, JobState.CANCELLED)
        with pytest.raises(NoLongerRunning):
            await a.open_review(GUILD, first, ReviewKind.APPROVAL, 1, channel_id=5, while_running=True)
        assert await a.open_reviews(first, ReviewKind.APPROVAL) == []

        second = await running_answered(a, member(2))
        review_id, _ = await a.open_review(GUILD, second, ReviewKind.APPROVAL, 2, channel_id=5, while_running=True)
        with pytest.raises(OutForReview):
            await b.cancel(second, 2)
        await a.set_review_message(review_id, 600, 601)
        await b.decide_review(review_id, ReviewState.APPROVED, decided_by=7)  # before its success is recorded
        with pytest.raises(OutForReview):
            await b.cancel(second, 2)
        assert (await a.job(second) or {}).get("state") == JobState.RUNNING
        await a.succeed(second, "u")

        for n in range(3, 9):
            job_id = await running_answered(a, member(n))
            review, cancel = await asyncio.gather(
                a.open_review(GUILD, job_id, ReviewKind.APPROVAL, n, channel_id=5, while_running=True),
                b.cancel(job_id, n), return_exceptions=True)
            state = (await a.job(job_id) or {}).get("state")
            if isinstance(review, NoLongerRunning):
                assert cancel == (JobState.RUNNING, JobState.CANCELLED) and state == JobState.CANCELLED
                assert await a.open_reviews(job_id, ReviewKind.APPROVAL) == []
            else:
                assert isinstance(cancel, OutForReview) and state == JobState.RUNNING, (review, cancel)
                await a.succeed(job_id, "u")

        left = await running_answered(a, member(9))
        await a.open_review(GUILD, left, ReviewKind.APPROVAL, 9, channel_id=5, while_running=True)
        assert await a.requeue(left) == JobState.QUEUED  # its post withdrawn at shutdown, the review not dropped
        assert [j["id"] for j in (await b.claim_batch("b", 30, limit=1))[0]] == [left]
        assert await a.cancel(left, 9) == (JobState.RUNNING, JobState.CANCELLED), "Pixazo works on it again"
        assert await a.audit() == []
    finally:
        await a.close()
        await b.close()


async def test_on_sqlite_a_statement_asked_as_the_writer_is_released_queues_behind_those_that_waited(tmp_path):
    """SQLite only (one writer connection behind one lock; PostgreSQL's pool makes no such promise). A member's
    reservation asked while a transaction holds the writer waits for it; one asked the moment that transaction
    ends, before the waiter has run, must not overtake it: the member's jobs are ranked in the order asked."""
    from bot.storage import SqliteStore

    store = await SqliteStore.open(tmp_path / "ledger.sqlite3")
    try:
        async with store._transaction():  # what a sweep or a batch holds the writer with
            first = asyncio.ensure_future(enqueue(store, member(1)))
            await asyncio.sleep(0.05)
            assert not first.done(), "the first reservation waits for the transaction"
        second = await enqueue(store, member(1))  # asked after the first, as the lock passes to it
        earlier, later = await store.job(await first), await store.job(second)
        assert earlier is not None and later is not None
        assert earlier["id"] < later["id"] and earlier["rank"] < later["rank"], "the one asked first landed first"
    finally:
        await store.close()
