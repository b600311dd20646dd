"""The ledger on its own: arithmetic, precedence, renewal, recovery, concurrency, migrations."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime

import aiosqlite
import pytest

from bot.catalog import MODELS
from bot.storage import Member, Refused, Store
from bot.storage.migrations import LATEST, apply_migrations, schema_version

GUILD = 10
ALICE = Member(GUILD, 1, (100,))


class Clock:
    def __init__(self, when: datetime) -> None:
        self.now = when.timestamp()

    def __call__(self) -> float:
        return self.now

    def set(self, when: datetime) -> None:
        self.now = when.timestamp()


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 11, 23, 12, 0, tzinfo=UTC))


@pytest.fixture
async def store(tmp_path, clock):
    s = await Store.open(tmp_path / "ledger.sqlite3", clock=clock)
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


async def test_migrations_keep_totals_for_an_existing_ledger(tmp_path, clock):
    path = tmp_path / "old.sqlite3"
    async with aiosqlite.connect(path, isolation_level=None) as db:
        await apply_migrations(db, upto=3)
        day = "2026-11-23"
        for cost, state in ((4, "succeeded"), (3, "failed"), (2, "running")):
            await db.execute("INSERT INTO jobs (user_id, guild_id, model, params, cost, day, state, created_at)"
                             " VALUES (1, 10, 'sdxl', '{}', ?, ?, ?, 0)", (cost, day, state))
    store = await Store.open(path, clock=clock)
    try:
        assert await store.audit() == []
        assert (await store.snapshot(ALICE, default_allowance=20)).used == 4, "the running job was interrupted"
    finally:
        await store.close()


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


async def test_interrupted_jobs_are_released_on_restart(tmp_path, clock):
    path = tmp_path / "ledger.sqlite3"
    store = await Store.open(path, clock=clock)
    reserved = await reserve(store, cost=4)
    running = await reserve(store, cost=3)
    await store.mark_running(running)
    done = await reserve(store, cost=2)
    await store.succeed(done, "u")
    assert await left(store) == 11
    await store.close()  # the bot dies here, mid-job

    store = await Store.open(path, clock=clock)
    try:
        assert await left(store) == 18
        for job in (reserved, running):
            row = await store.job(job)
            assert (row["state"], row["error"]) == ("failed", "interrupted")
        assert (await store.job(done))["state"] == "succeeded"
    finally:
        await store.close()


async def test_500_concurrent_reservations_against_100_credits(tmp_path, clock):
    path = tmp_path / "race.sqlite3"
    store = await Store.open(path, clock=clock)
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
    finally:
        await store.close()
    async with aiosqlite.connect(path) as db, db.execute("SELECT COUNT(*), SUM(cost) FROM jobs") as cur:
        assert await cur.fetchone() == (100, 100)


async def test_migrations_from_empty_and_from_every_earlier_version(tmp_path):
    for start in range(0, LATEST + 1):
        path = tmp_path / f"v{start}.sqlite3"
        async with aiosqlite.connect(path, isolation_level=None) as db:
            assert await apply_migrations(db, upto=start) == start
            if start >= 1:
                await db.execute(
                    "INSERT INTO jobs (user_id, guild_id, model, params, cost, day, state, created_at)"
                    " VALUES (1, 10, 'sdxl', '{}', 2, '2026-11-23', 'succeeded', 0)"
                )
        store = await Store.open(path)
        try:
            async with aiosqlite.connect(path) as db:
                assert await schema_version(db) == LATEST
            rows = await store.recent_jobs(10, 1)
            assert len(rows) == (1 if start >= 1 else 0), f"data lost migrating from version {start}"
        finally:
            await store.close()


async def test_a_newer_database_is_refused(tmp_path):
    path = tmp_path / "future.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version = {LATEST + 1}")
    with pytest.raises(RuntimeError, match="newer"):
        await Store.open(path)
