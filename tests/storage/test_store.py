"""The ledger on its own: arithmetic, precedence, renewal, recovery, concurrency, migrations."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from datetime import UTC, datetime

import asyncpg
import pytest

from bot.catalog import MODELS
from bot.domain import JobState, StoreBusy
from bot.domain.audit import AuditAction, AuditEntry, Delivered
from bot.domain.delivery import Delivery
from bot.domain.jobs import REFUNDED_STATES, TRANSITIONS
from bot.domain.reviews import ReviewKind, ReviewState
from bot.domain.rules import AUDIT_CHANNEL_SETTING, RuleKind
from bot.storage import Member, Refused, Store
from tests.backends import Clock

GUILD = 10
ALICE = Member(GUILD, 1, (100,))


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 11, 23, 12, 0, tzinfo=UTC))


@pytest.fixture
async def store(backend, clock):
    s = await backend.open(clock=clock)
    yield s
    assert await s.audit() == [], "the kept totals must always equal the sums of the job rows"
    await s.close()


async def reserve(store: Store, member: Member = ALICE, *, cost: int = 1, allowance: int = 20, max_jobs: int = 100,
                  cap: int | None = None, model: str = "sdxl") -> int:
    job_id, _ = await store.reserve(member, channel_id=5, model=model, params={"prompt": "x"}, cost=cost,
                                    default_allowance=allowance, max_jobs=max_jobs, global_cap=cap)
    return job_id


async def left(store: Store, member: Member = ALICE, allowance: int = 20) -> int:
    return (await store.snapshot(member, default_allowance=allowance)).left


async def test_costs_add_up_exactly_across_models(store):
    costs = {key: model.cost for key, model in MODELS.items()}
    spent = 0
    for key, cost in costs.items():
        job = await reserve(store, cost=cost, model=key)
        await store.succeed(job, "https://x/y.png")
        spent += cost
    assert spent == 4 + 3 + 2 + 1 + 2
    assert await left(store) == 20 - spent


async def test_refused_when_the_cost_does_not_fit_and_nothing_is_written(store):
    await reserve(store, cost=19)
    with pytest.raises(Refused) as refused:
        await reserve(store, cost=2)
    assert refused.value.reason == Refused.CREDITS
    assert refused.value.snapshot.left == 1
    assert await reserve(store, cost=1)  # exactly the last credit still fits
    assert await left(store) == 0


async def test_failure_releases_credits_and_success_keeps_them(store):
    ok, bad = await reserve(store, cost=4), await reserve(store, cost=3)
    await store.mark_running(ok)
    await store.mark_running(bad)
    await store.succeed(ok, "https://x/1.png")
    await store.fail(bad, "HTTP 500")
    assert await left(store) == 16
    # Settling twice changes nothing: a failed job stays failed, a kept credit stays kept.
    await store.succeed(bad, "late")
    await store.fail(ok, "late")
    assert (await store.job(bad))["state"] == "failed"
    assert (await store.job(ok))["state"] == "succeeded"
    assert await left(store) == 16


async def test_member_beats_role_beats_server_default_beats_bot_default(store):
    member = Member(GUILD, 2, (100, 200))
    assert (await store.snapshot(member, default_allowance=20)).allowance == 20
    await store.set_allowance(GUILD, "default", 0, 8, actor_id=9)
    assert (await store.snapshot(member, default_allowance=20)).allowance == 8
    await store.set_allowance(GUILD, "role", 100, 5, actor_id=9)
    await store.set_allowance(GUILD, "role", 200, 30, actor_id=9)
    await store.set_allowance(GUILD, "role", 300, 99, actor_id=9)  # a role the member does not have
    snap = await store.snapshot(member, default_allowance=20)
    assert (snap.allowance, snap.source) == (30, "role")
    await store.set_allowance(GUILD, "member", 2, 3, actor_id=9)
    snap = await store.snapshot(member, default_allowance=20)
    assert (snap.allowance, snap.source) == (3, "member")
    await store.set_allowance(GUILD, "member", 2, None, actor_id=9)
    assert (await store.snapshot(member, default_allowance=20)).allowance == 30
    # Another server's settings never leak in.
    assert (await store.snapshot(Member(GUILD + 1, 2, (100, 200)), default_allowance=20)).allowance == 20


async def test_grants_add_to_today_only(store, clock):
    await store.set_allowance(GUILD, "member", ALICE.user_id, 2, actor_id=9)
    await store.grant(GUILD, ALICE.user_id, 5, actor_id=9)
    assert await left(store) == 7
    await reserve(store, cost=7)
    assert await left(store) == 0
    clock.set(datetime(2026, 11, 24, 0, 0, tzinfo=UTC))
    assert await left(store) == 2


async def test_allowance_renews_at_midnight_utc(store, clock):
    clock.set(datetime(2026, 11, 23, 23, 59, 59, tzinfo=UTC))
    await reserve(store, cost=20)
    snap = await store.snapshot(ALICE, default_allowance=20)
    assert snap.left == 0
    assert snap.renews_at == datetime(2026, 11, 24, tzinfo=UTC)
    clock.set(datetime(2026, 11, 24, 0, 0, 0, tzinfo=UTC))
    snap = await store.snapshot(ALICE, default_allowance=20)
    assert (snap.left, snap.used) == (20, 0)
    assert snap.renews_at == datetime(2026, 11, 25, tzinfo=UTC)


async def test_a_job_from_before_a_reset_that_fails_later_does_not_count_twice(store):
    early = await reserve(store, cost=5)
    await store.reset_usage(GUILD, ALICE.user_id, actor_id=9)
    late = await reserve(store, cost=3)
    assert await left(store) == 17
    await store.fail(early, "HTTP 500")  # already forgiven: releasing it must not give 5 more
    assert await left(store) == 17
    await store.fail(late, "HTTP 500")
    assert await left(store) == 20


async def test_reset_forgives_today_but_keeps_the_ledger(store):
    job = await reserve(store, cost=15)
    await store.succeed(job, "u")
    await store.reset_usage(GUILD, ALICE.user_id, actor_id=9)
    assert await left(store) == 20
    assert (await store.job(job))["state"] == "succeeded"
    actions = [a["action"] for a in await store.admin_actions(GUILD)]
    assert actions == ["reset"]


async def test_in_flight_cap_counts_open_jobs_only(store):
    first, second = await reserve(store, max_jobs=2), await reserve(store, max_jobs=2)
    with pytest.raises(Refused) as refused:
        await reserve(store, max_jobs=2)
    assert refused.value.reason == Refused.JOBS
    await store.succeed(first, "u")
    third = await reserve(store, max_jobs=2)
    await store.fail(second, "x")
    await store.mark_running(third)
    assert (await store.snapshot(ALICE, default_allowance=20)).in_flight == 1


async def test_global_cap_spans_servers(store):
    await reserve(store, Member(1, 1), cost=3, cap=5)
    await reserve(store, Member(2, 2), cost=2, cap=5)
    with pytest.raises(Refused) as refused:
        await reserve(store, Member(3, 3), cost=1, cap=5)
    assert refused.value.reason == Refused.GLOBAL


async def test_interrupted_jobs_are_released_on_restart(backend, clock):
    store = await backend.open(clock=clock)
    reserved = await reserve(store, cost=4)
    running = await reserve(store, cost=3)
    await store.mark_running(running)
    done = await reserve(store, cost=2)
    await store.succeed(done, "u")
    assert await left(store) == 11
    await store.close()  # the bot dies here, mid-job

    store = await backend.open(clock=clock)
    try:
        assert await left(store) == 18
        for job in (reserved, running):
            row = await store.job(job)
            assert (row["state"], row["error"]) == ("failed", "interrupted")
        assert (await store.job(done))["state"] == "succeeded"
    finally:
        await store.close()


async def test_500_concurrent_reservations_against_100_credits(backend, clock):
    store = await backend.open(clock=clock)
    try:
        async def attempt() -> bool:
            try:
                await reserve(store, cost=1, allowance=100, max_jobs=10_000)
            except Refused:
                return False
            return True

        results = await asyncio.gather(*(attempt() for _ in range(500)))
        assert sum(results) == 100
        snap = await store.snapshot(ALICE, default_allowance=100)
        assert (snap.used, snap.left, snap.in_flight) == (100, 0, 100)
        assert await store.audit() == []
        jobs = await store.recent_jobs(GUILD, ALICE.user_id, limit=1000)
        assert (len(jobs), sum(j["cost"] for j in jobs)) == (100, 100)
    finally:
        await store.close()


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
async def test_500_reservations_from_two_stores_over_many_connections_spend_exactly_100(backend, clock):
    # Two Store instances stand in for two bot processes sharing one PostgreSQL, each with a pool.
    first = await backend.open(clock=clock, pool_size=5)
    second = await backend.open(clock=clock, pool_size=5, recover=False)
    try:
        async def attempt(store: Store) -> bool:
            try:
                await reserve(store, cost=1, allowance=100, max_jobs=10_000)
            except Refused:
                return False
            return True

        results = await asyncio.gather(*(attempt(first if i % 2 else second) for i in range(500)))
        assert sum(results) == 100
        for store in (first, second):
            snap = await store.snapshot(ALICE, default_allowance=100)
            assert (snap.used, snap.left, snap.in_flight) == (100, 0, 100)
            assert await store.audit() == []
        jobs = await first.recent_jobs(GUILD, ALICE.user_id, limit=1000)
        assert (len(jobs), sum(j["cost"] for j in jobs)) == (100, 100)
    finally:
        await first.close()
        await second.close()


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
async def test_a_reservation_that_cannot_get_the_members_lock_in_time_is_busy_and_spends_nothing(backend, clock):
    import asyncpg

    store = await backend.open(clock=clock, busy_timeout=0.2)
    holder = await asyncpg.connect(backend.location)
    try:
        async with holder.transaction():  # another process, mid-reservation for the same member
            await holder.execute("SELECT pg_advisory_xact_lock($1)", ALICE.user_id)
            with pytest.raises(StoreBusy):
                await reserve(store)
        assert await left(store) == 20
        assert await reserve(store)  # the lock is free again
    finally:
        await holder.close()
        await store.close()


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
async def test_no_free_connection_in_time_is_busy(backend, clock):
    store = await backend.open(clock=clock, pool_size=1, busy_timeout=0.1)
    try:
        async with store._conn():  # the only connection is taken
            with pytest.raises(StoreBusy):
                await store.snapshot(ALICE, default_allowance=20)
    finally:
        await store.close()


async def _job_in(store: Store, state: JobState) -> int:
    if state in (JobState.QUEUED, JobState.CANCELLED):
        job, _ = await store.enqueue(ALICE, channel_id=5, model="sdxl", params={}, cost=2, default_allowance=20,
                                     max_jobs=100, global_cap=None, max_queue=10, delivery=Delivery(), token=None)
        if state is JobState.CANCELLED:
            await store.cancel(job, 1)
        assert (await store.job(job))["state"] == state
        return job
    job = await reserve(store, cost=2)
    if state is JobState.RUNNING:
        await store.mark_running(job)
    elif state is JobState.SUCCEEDED:
        await store.succeed(job, "u")
    elif state is JobState.FAILED:
        await store.fail(job, "x")
    assert (await store.job(job))["state"] == state
    return job


@pytest.mark.parametrize("source", list(JobState))
@pytest.mark.parametrize("target", [JobState.RUNNING, JobState.SUCCEEDED, JobState.FAILED])
async def test_settling_moves_a_job_only_along_the_state_machine(store, source, target):
    job = await _job_in(store, source)
    settle = {JobState.RUNNING: lambda: store.mark_running(job), JobState.SUCCEEDED: lambda: store.succeed(job, "v"),
              JobState.FAILED: lambda: store.fail(job, "y")}[target]
    await settle()
    expected = target if target in TRANSITIONS[source] else source
    assert (await store.job(job))["state"] == expected
    assert await left(store) == (20 if expected in REFUNDED_STATES else 18)


async def test_a_delivered_success_writes_its_audit_row_with_it_and_only_when_it_moved_the_job(store, clock):
    entry = AuditEntry(ALICE.user_id, AuditAction.GENERATION.value, None, {"model": "sdxl"})
    job = await reserve(store)
    assert await store.settle_delivered(job, Delivered("https://x/1.png", (55, 66), entry)) is JobState.SUCCEEDED
    row = await store.job(job)
    assert (row["state"], row["result_url"], row["result_message_id"]) == ("succeeded", "https://x/1.png", 66)
    assert [(a["action"], a["detail"]) for a in await store.admin_actions(GUILD)] == [("generation", {"model": "sdxl"})]

    clock.now += 1  # a settle tried again (its first answer lost): the job stays as it is, no second row
    assert await store.settle_delivered(job, Delivered("https://x/2.png", (55, 67), entry)) is JobState.SUCCEEDED
    assert (await store.job(job))["result_url"] == "https://x/1.png"
    assert len(await store.admin_actions(GUILD)) == 1

    cancelled = await _job_in(store, JobState.CANCELLED)  # Cancel came first: no success, no row, the state says so
    rows = len(await store.admin_actions(GUILD))
    assert await store.settle_delivered(cancelled, Delivered("https://x/3.png", None, entry)) is JobState.CANCELLED
    assert [a["action"] for a in await store.admin_actions(GUILD)][rows:] == []
    assert await left(store) == 19


async def test_a_delivered_success_leaves_its_audit_row_to_post_only_where_the_server_has_an_audit_channel(
        backend, store, clock):
    told: list[int] = []
    await store.watch_audit(told.append)
    entry = AuditEntry(ALICE.user_id, AuditAction.GENERATION.value, 7, {"model": "sdxl", "prompt": "a fox"})
    first = await reserve(store)
    assert await store.settle_delivered(first, Delivered("https://x/1.png", (55, 66), entry)) is JobState.SUCCEEDED
    assert await store.unposted_guilds() == [] and told == [], "no audit channel: kept for /config audit only"

    await store.put_rule(GUILD, RuleKind.SETTING, AUDIT_CHANNEL_SETTING, "77", actor_id=9)
    await store.mark_audit_posted([r["id"] for r in await store.claim_audit(GUILD, limit=10, lease_seconds=30)])
    told.clear()
    clock.now += 5
    second = await reserve(store)
    assert await store.settle_delivered(second, Delivered("https://x/2.png", (55, 67), entry)) is JobState.SUCCEEDED
    assert await store.unposted_guilds() == [GUILD]
    assert told == ([GUILD] if backend.name == "sqlite" else []), "the poster hears of it (PostgreSQL: by LISTEN)"
    (row,) = await store.claim_audit(GUILD, limit=10, lease_seconds=30)
    assert (row["actor_id"], row["action"], row["target_id"], row["detail"], row["at"]) == (
        ALICE.user_id, "generation", 7, {"model": "sdxl", "prompt": "a fox"}, clock.now)
    assert [a["detail"] for a in await store.admin_actions(GUILD) if a["action"] == "generation"] == [
        {"model": "sdxl", "prompt": "a fox"}] * 2
    assert "audit_entry" not in await store.job(second)


# -- buttons, /history, /forget (issue 10 part 6) ------------------------------------------------


async def test_the_result_message_is_kept_with_the_job(store):
    job = await reserve(store)
    await store.succeed(job, "https://x/y.png")
    await store.set_result_message(job, 55, 66)
    row = await store.job(job)
    assert (row["result_channel_id"], row["result_message_id"]) == (55, 66)


async def test_history_pages_newest_first_and_filters_by_model(store):
    jobs = [await reserve(store, model="sdxl" if i % 3 else "sd3") for i in range(12)]
    await reserve(store, Member(GUILD + 1, 1, ()))  # another server: not in this one's history
    page, total = await store.history(GUILD, 1, offset=0, limit=5)
    assert total == 12 and [r["id"] for r in page] == jobs[::-1][:5]
    page, _ = await store.history(GUILD, 1, offset=10, limit=5)
    assert [r["id"] for r in page] == jobs[::-1][10:]
    page, total = await store.history(GUILD, 1, model="sd3", limit=5)
    assert total == 4 and {r["model"] for r in page} == {"sd3"}


async def test_forget_clears_what_was_asked_for_and_keeps_the_credit_arithmetic(store):
    before = await left(store)
    done = await reserve(store, cost=2)
    await store.succeed(done, "https://x/y.png")
    other_server = await reserve(store, Member(GUILD + 1, 1, ()), cost=1)
    await store.fail(other_server, "boom")
    still_open = await reserve(store, cost=1)
    bob = await reserve(store, Member(GUILD, 2, ()))
    await store.succeed(bob, "https://x/b.png")
    assert await store.forget_member(1) == 2, "finished jobs in every server; the open one still runs"
    row = await store.job(done)
    assert row["params"] == {} and row["result_url"] is None and row["inputs"] is None
    assert row["delivery"] is None and row["forgotten_at"] is not None
    assert (row["cost"], row["state"]) == (2, "succeeded")
    assert (await store.job(still_open))["params"] != {}
    assert (await store.job(bob))["result_url"] == "https://x/b.png", "another member's jobs stay"
    assert await left(store) == before - 3
    assert await store.forget_member(1) == 0, "a second /forget finds nothing new"


async def test_forget_leaves_the_prompt_in_no_row_and_on_sqlite_in_no_byte_of_the_files(store, backend):
    secret = "zebraquasar"
    embed = {"title": "SDXL", "description": f"```{secret}```", "author": {"name": "Requested by alice"},
             "fields": [{"name": "Seed", "value": "5"}], "image": {"url": "attachment://sdxl-1.png"},
             "footer": {"text": "/sdxl · job #1"}}
    jobs = []
    for n in range(40):  # enough rows that what an update frees is spread over several pages
        job, _ = await store.reserve(ALICE, channel_id=5, model="sdxl", params={"prompt": f"{secret} {n} " * 20},
                                     cost=0, default_allowance=20, max_jobs=100, global_cap=None)
        await store.succeed(job, f"https://x/{secret}-{n}.png")
        jobs.append(job)
    decided, _ = await store.open_review(GUILD, jobs[0], ReviewKind.APPROVAL, 1, channel_id=5,
                                         detail=json.dumps({"embed": embed, "note": None}))
    await store.decide_review(decided, ReviewState.APPROVED, decided_by=9)
    pending, _ = await store.open_review(GUILD, jobs[1], ReviewKind.REPORT, 2, channel_id=5, reason="too dark")
    await store.set_review_detail(pending, json.dumps({"hidden": True, "embed": embed, "content": None}))
    await store.create_appeal(GUILD, 5, 1, model="sdxl", request={"prompt": f"{secret} castle"},
                              rule={"rule": "word", "term": "castle", "matched": "castle"}, expires_at=store.now() + 900)
    await store.record_action(GUILD, 1, "generation", None, {"job": jobs[0], "prompt": secret})

    assert await store.forget_member(1) == 40
    assert [row for row in await _every_row(backend) if secret in row] == []
    kept = (await store.review(pending))["detail"]["embed"]
    assert kept == {"title": "SDXL", "image": {"url": "attachment://sdxl-1.png"}, "footer": {"text": "/sdxl · job #1"}}, \
        "a pending report keeps what shows the image again"
    assert (await store.review(decided))["detail"] is None
    if backend.name == "sqlite":  # not in the free space of a page, nor in an older frame of the log
        files = (backend.location, backend.location.with_name(backend.location.name + "-wal"))
        assert [f.name for f in files if f.exists() and secret.encode() in f.read_bytes()] == []


async def _every_row(backend) -> list[str]:
    """Every row of every table, as text."""
    if backend.name == "sqlite":
        db = sqlite3.connect(f"file:{backend.location}?mode=ro", uri=True)
        try:
            tables = [t for (t,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
            return [f"{t}: {row}" for t in tables for row in db.execute(f'SELECT * FROM "{t}"')]
        finally:
            db.close()
    conn = await asyncpg.connect(backend.location)
    try:
        tables = [r[0] for r in await conn.fetch("SELECT table_name FROM information_schema.tables"
                                                 " WHERE table_schema = 'public'")]
        return [f"{t}: {r[0]}" for t in tables for r in await conn.fetch(f'SELECT x::text FROM "{t}" AS x')]
    finally:
        await conn.close()


async def test_retention_forgets_only_jobs_older_than_the_cutoff(store, clock):
    old = await reserve(store)
    await store.succeed(old, "https://x/old.png")
    clock.set(datetime(2026, 11, 30, 12, 0, tzinfo=UTC))
    new = await reserve(store)
    await store.succeed(new, "https://x/new.png")
    assert await store.forget_older_than(datetime(2026, 11, 29, tzinfo=UTC).timestamp()) == 1
    assert (await store.job(old))["forgotten_at"] is not None
    assert (await store.job(new))["result_url"] == "https://x/new.png"
