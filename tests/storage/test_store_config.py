"""A server's configuration and daily budget in the ledger (issue 11 part 7), on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime

import asyncpg
import pytest

from bot.domain import Member, Refused
from bot.domain.delivery import Delivery
from bot.domain.rules import RuleKind, RuleLimit
from bot.storage import Store
from bot.storage.postgres import migrations as pg_migrations
from bot.storage.sqlite import migrations as sqlite_migrations

GUILD = 10
OTHER = 11
MOD = 9
NOON = datetime(2026, 11, 23, 12, 0, tzinfo=UTC).timestamp()
DAY = "2026-11-23"


def clock() -> float:
    return NOON


@pytest.fixture
async def store(backend):
    s = await backend.open(clock=clock)
    yield s
    assert await s.audit() == [], "the kept totals must always equal the sums of the job rows"
    await s.close()


async def execute(backend, sql: str) -> None:
    """Plain SQL on the backend's database, for arranging what no store call writes."""
    if backend.name == "sqlite":
        with sqlite3.connect(backend.location) as db:
            db.executescript(sql)
        return
    conn = await asyncpg.connect(backend.location)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def actions(store: Store, guild_id: int = GUILD) -> list[tuple]:
    """The server's admin actions, oldest first, as (action, target_id, detail)."""
    return [(a["action"], a["target_id"], a["detail"]) for a in reversed(await store.admin_actions(guild_id))]


def rules(rows: list) -> list[tuple]:
    return [(r["kind"], r["value"], r["detail"]) for r in rows]


async def reserve(store: Store, member: Member, *, cost: int = 1, allowance: int = 20, max_jobs: int = 100,
                  queued: bool = False) -> int:
    common = dict(channel_id=5, model="sdxl", params={"prompt": "x"}, cost=cost, default_allowance=allowance,
                  max_jobs=max_jobs, global_cap=None)
    if queued:
        job_id, _ = await store.enqueue(member, **common, max_queue=10_000, delivery=Delivery(), token=None)
    else:
        job_id, _ = await store.reserve(member, **common)
    return job_id


# -- rules -----------------------------------------------------------------------------------------


async def test_rules_round_trip_and_each_change_is_recorded_once(store):
    assert await store.guild_rules(GUILD) == []
    assert await store.put_rule(GUILD, RuleKind.CHANNEL, "3000", None, actor_id=MOD) is True
    assert await store.put_rule(GUILD, RuleKind.BLOCKED, "4001", '{"reason": "spam"}', actor_id=MOD) is True
    assert await store.put_rule(GUILD, RuleKind.WORD, "red fox", None, actor_id=MOD) is True
    assert await store.put_rule(OTHER, RuleKind.WORD, "elsewhere", None, actor_id=MOD) is True
    # Already exactly so: nothing written, nothing recorded.
    assert await store.put_rule(GUILD, RuleKind.CHANNEL, "3000", None, actor_id=MOD) is False
    assert await store.put_rule(GUILD, RuleKind.BLOCKED, "4001", '{"reason": "spam"}', actor_id=MOD + 1) is False
    # A new detail replaces the old one.
    assert await store.put_rule(GUILD, RuleKind.BLOCKED, "4001", '{"reason": "flooding"}', actor_id=MOD) is True
    rows = await store.guild_rules(GUILD)
    assert rules(rows) == [("blocked", "4001", {"reason": "flooding"}), ("channel", "3000", None),
                           ("word", "red fox", None)]
    assert {(r["actor_id"], r["at"]) for r in rows} == {(MOD, NOON)}
    assert await store.remove_rule(GUILD, RuleKind.WORD, "red fox", actor_id=MOD) is True
    assert await store.remove_rule(GUILD, RuleKind.WORD, "red fox", actor_id=MOD) is False
    assert await store.remove_rule(GUILD, RuleKind.WORD, "elsewhere", actor_id=MOD) is False, "another server's"
    assert await store.clear_rules(GUILD, RuleKind.ROLE, actor_id=MOD) == 0
    await store.put_rule(GUILD, RuleKind.CHANNEL, "3001", None, actor_id=MOD)
    assert await store.clear_rules(GUILD, RuleKind.CHANNEL, actor_id=MOD) == 2
    assert await store.clear_rules(GUILD, RuleKind.CHANNEL, actor_id=MOD) == 0
    assert rules(await store.guild_rules(GUILD)) == [("blocked", "4001", {"reason": "flooding"})]
    assert rules(await store.guild_rules(OTHER)) == [("word", "elsewhere", None)]
    assert await actions(store) == [
        ("config.channel.add", 3000, {"value": "3000", "detail": None}),
        ("config.blocked.add", 4001, {"value": "4001", "detail": '{"reason": "spam"}'}),
        ("config.word.add", None, {"value": "red fox", "detail": None}),
        ("config.blocked.add", 4001, {"value": "4001", "detail": '{"reason": "flooding"}'}),
        ("config.word.remove", None, {"value": "red fox", "detail": None}),
        ("config.channel.add", 3001, {"value": "3001", "detail": None}),
        ("config.channel.clear", None, {"values": ["3000", "3001"]}),
    ]
    assert [a[0] for a in await actions(store, OTHER)] == ["config.word.add"]


async def test_every_kind_is_accepted_and_a_restart_keeps_every_entry(backend):
    store = await backend.open(clock=clock)
    try:
        for kind in RuleKind:  # the table's CHECK lists exactly RuleKind's values
            assert await store.put_rule(GUILD, kind, f"{kind.value}-1", '{"on": true}', actor_id=MOD)
        await store.set_budget(GUILD, 500, actor_id=MOD)
        before = await store.guild_rules(GUILD)
    finally:
        await store.close()
    store = await backend.open(clock=clock)
    try:
        assert await store.guild_rules(GUILD) == before
        assert {r["kind"] for r in before} == {k.value for k in RuleKind}
        assert (await store.snapshot(Member(GUILD, 1), default_allowance=20)).guild_budget == 500
        assert len(await store.admin_actions(GUILD)) == len(RuleKind) + 1
    finally:
        await store.close()


async def test_a_kind_outside_rulekind_is_refused_by_the_database(backend, store):
    with pytest.raises((sqlite3.IntegrityError, asyncpg.CheckViolationError)):
        await execute(backend, "INSERT INTO guild_rules (guild_id, kind, value, detail, actor_id, at)"
                               " VALUES (10, 'colour', 'x', NULL, 9, 0)")


async def test_the_limit_counts_new_entries_only(store):
    for i in range(3):
        await store.put_rule(GUILD, RuleKind.PATTERN, f"p{i}", None, actor_id=MOD, limit=3)
    with pytest.raises(RuleLimit) as over:
        await store.put_rule(GUILD, RuleKind.PATTERN, "p3", None, actor_id=MOD, limit=3)
    assert (over.value.kind, over.value.limit) == (RuleKind.PATTERN, 3)
    # An entry already there may still be replaced, and other kinds and servers have their own count.
    assert await store.put_rule(GUILD, RuleKind.PATTERN, "p0", '{"note": 1}', actor_id=MOD, limit=3)
    assert await store.put_rule(GUILD, RuleKind.WORD, "w", None, actor_id=MOD, limit=3)
    assert await store.put_rule(OTHER, RuleKind.PATTERN, "p3", None, actor_id=MOD, limit=3)
    assert len([r for r in await store.guild_rules(GUILD) if r["kind"] == "pattern"]) == 3
    assert len(await store.admin_actions(GUILD)) == 5


async def test_the_limit_holds_when_twenty_adds_race_from_two_stores(backend):
    # Two Store instances stand in for two bot processes; on PostgreSQL each has a pool of connections.
    options = {"pool_size": 5} if backend.name == "postgres" else {}
    first = await backend.open(clock=clock, **options)
    second = await backend.open(clock=clock, recover=False, **options)
    try:
        await first.put_rule(GUILD, RuleKind.WORD, "w0", None, actor_id=MOD, limit=5)
        # Four of five are taken; twenty different words race for the last slot...
        for i in range(1, 4):
            await first.put_rule(GUILD, RuleKind.WORD, f"w{i}", None, actor_id=MOD, limit=5)

        async def add(i: int) -> bool:
            try:
                return await (first if i % 2 else second).put_rule(GUILD, RuleKind.WORD, f"new{i}", None,
                                                                    actor_id=MOD, limit=5)
            except RuleLimit:
                return False

        results = await asyncio.gather(*(add(i) for i in range(20)))
        assert sum(results) == 1
        # ... and from empty, twenty at once at limit 5 give exactly five.
        results = await asyncio.gather(*((first if i % 2 else second).put_rule(
            OTHER, RuleKind.PATTERN, f"p{i}", None, actor_id=MOD, limit=5) for i in range(20)),
            return_exceptions=True)
        assert sum(r is True for r in results) == 5
        assert all(isinstance(r, RuleLimit) for r in results if r is not True)
        for store in (first, second):
            assert len(await store.guild_rules(GUILD)) == 5
            assert len(await store.guild_rules(OTHER)) == 5
        assert len(await first.admin_actions(GUILD)) == 5 and len(await first.admin_actions(OTHER)) == 5
        # The same entry put from both at once is written and recorded once.
        same = await asyncio.gather(*((first if i % 2 else second).put_rule(
            GUILD, RuleKind.BLOCKED, "4001", '{"reason": "x"}', actor_id=MOD) for i in range(10)))
        assert sum(same) == 1
        assert len(await first.admin_actions(GUILD)) == 6
    finally:
        await first.close()
        await second.close()


# -- the server's budget ---------------------------------------------------------------------------


async def test_the_budget_is_set_changed_removed_and_recorded_only_when_it_changes(store):
    alice = Member(GUILD, 1)
    assert (await store.snapshot(alice, default_allowance=20)).guild_budget is None
    await store.set_budget(GUILD, 50, actor_id=MOD)
    await store.set_budget(GUILD, 50, actor_id=MOD)
    await store.set_budget(GUILD, 0, actor_id=MOD)
    await store.set_budget(GUILD, None, actor_id=MOD)
    await store.set_budget(GUILD, None, actor_id=MOD)
    assert await actions(store) == [("budget", None, {"daily_credits": 50}), ("budget", None, {"daily_credits": 0}),
                                    ("budget", None, {"daily_credits": None})]
    assert (await store.snapshot(alice, default_allowance=20)).guild_budget is None


async def test_the_budget_refuses_first_and_the_last_credits_fit_exactly(store):
    await store.set_budget(GUILD, 10, actor_id=MOD)
    alice, bob = Member(GUILD, 1), Member(GUILD, 2)
    await reserve(store, alice, cost=4)
    job, snap = await store.reserve(bob, channel_id=5, model="sdxl", params={}, cost=3, default_allowance=20,
                                    max_jobs=100, global_cap=None)
    assert (snap.guild_used, snap.guild_budget, snap.used) == (7, 10, 3)
    with pytest.raises(Refused) as refused:
        await reserve(store, bob, cost=4, queued=True)
    assert refused.value.reason == Refused.BUDGET
    assert (refused.value.snapshot.guild_used, refused.value.snapshot.guild_budget) == (7, 10)
    # The server's ceiling is told before the member's own limits, even when those would refuse too.
    with pytest.raises(Refused) as refused:
        await reserve(store, bob, cost=4, allowance=3, max_jobs=1)
    assert refused.value.reason == Refused.BUDGET
    await reserve(store, bob, cost=3)
    assert (await store.snapshot(alice, default_allowance=20)).guild_used == 10
    # Another server has its own total; without a budget nothing is counted against one.
    await reserve(store, Member(OTHER, 1), cost=15)
    snap = await store.snapshot(Member(OTHER, 1), default_allowance=20)
    assert (snap.guild_used, snap.guild_budget) == (15, None)
    assert (await store.snapshot(bob, default_allowance=20)).guild_used == 10
    assert job


async def test_200_reservations_from_40_members_spend_exactly_the_budget(backend):
    options = {"pool_size": 10} if backend.name == "postgres" else {}
    store = await backend.open(clock=clock, **options)
    try:
        await store.set_budget(GUILD, 50, actor_id=MOD)
        members = [Member(GUILD, 100 + i) for i in range(40)]

        async def attempt(i: int) -> str:
            try:
                await reserve(store, members[i % 40], cost=1, queued=bool(i % 3 == 0))
            except Refused as refused:
                return refused.reason
            return "ok"

        results = await asyncio.gather(*(attempt(i) for i in range(200)))
        assert results.count("ok") == 50
        assert set(results) == {"ok", Refused.BUDGET}, "every refusal is the server's budget"
        snaps = [await store.snapshot(m, default_allowance=20) for m in members]
        jobs = {m.user_id: len(await store.recent_jobs(GUILD, m.user_id, limit=100)) for m in members}
        # A member's own credits moved only by what they were given: refused attempts took nothing.
        assert [s.used for s in snaps] == [jobs[m.user_id] for m in members]
        assert sum(s.used for s in snaps) == 50
        assert {(s.guild_used, s.guild_budget) for s in snaps} == {(50, 50)}
        assert await store.audit() == []
    finally:
        await store.close()


async def test_a_failed_or_cancelled_job_gives_the_budget_back_and_a_reset_does_not(store):
    await store.set_budget(GUILD, 6, actor_id=MOD)
    alice, bob = Member(GUILD, 1), Member(GUILD, 2)
    failed = await reserve(store, alice, cost=2)
    cancelled = await reserve(store, bob, cost=2, queued=True)
    done = await reserve(store, bob, cost=2)
    with pytest.raises(Refused):
        await reserve(store, alice, cost=1)
    await store.fail(failed, "HTTP 500")
    await store.cancel(cancelled, bob.user_id)
    await store.succeed(done, "https://x/y.png")
    assert (await store.snapshot(alice, default_allowance=20)).guild_used == 2
    await reserve(store, alice, cost=4)
    # A reset forgives the member's own use; what the server spent stays spent.
    await store.reset_usage(GUILD, bob.user_id, actor_id=MOD)
    snap = await store.snapshot(bob, default_allowance=20)
    assert (snap.used, snap.guild_used) == (0, 6)
    with pytest.raises(Refused) as refused:
        await reserve(store, bob, cost=1)
    assert refused.value.reason == Refused.BUDGET


async def test_the_audit_checks_the_servers_totals(backend, store):
    await reserve(store, Member(GUILD, 1), cost=3)
    assert await store.audit() == []
    await execute(backend, "UPDATE usage_guild SET credits = credits + 1")
    assert await store.audit() == [f"server {GUILD}/{DAY}: kept 4, ledger 3"]
    await execute(backend, f"UPDATE usage_guild SET credits = 3; INSERT INTO usage_guild VALUES ({OTHER}, '{DAY}', 2)")
    assert await store.audit() == [f"server {OTHER}/{DAY}: kept 2, ledger 0"]
    await execute(backend, f"DELETE FROM usage_guild WHERE guild_id = {OTHER}")


# -- the migration ---------------------------------------------------------------------------------

# (user, guild, cost, state) as an earlier bot left them: only jobs that are not failed or cancelled count.
OLD_JOBS = [(1, GUILD, 4, "succeeded"), (1, GUILD, 3, "failed"), (2, GUILD, 2, "succeeded"), (2, GUILD, 5, "cancelled"),
            (3, OTHER, 1, "succeeded"), (3, GUILD, 2, "queued")]
# Written as the bot writes them: inserted open, then settled, so the old triggers kept the old totals.
INSERTS = ";\n".join(
    f"INSERT INTO jobs (user_id, guild_id, model, params, cost, day, state, created_at)"
    f" VALUES ({user}, {guild}, 'sdxl', '{{}}', {cost}, '{DAY}', 'queued', {NOON - 100 + i});"
    f" UPDATE jobs SET state = '{state}' WHERE created_at = {NOON - 100 + i}"
    for i, (user, guild, cost, state) in enumerate(OLD_JOBS))


async def test_the_migration_counts_existing_jobs_into_the_servers_totals(backend):
    if backend.name == "sqlite":
        db = sqlite3.connect(backend.location, isolation_level=None)
        try:
            assert sqlite_migrations.apply_migrations(db, upto=6) == 6
            db.executescript(f"BEGIN; {INSERTS}; COMMIT;")
        finally:
            db.close()
    else:
        conn = await asyncpg.connect(backend.location)
        try:
            assert await pg_migrations.apply_migrations(conn, upto=6) == 6
            await conn.execute(INSERTS)
        finally:
            await conn.close()
    store = await backend.open(clock=clock)
    try:
        assert await store.audit() == []
        assert (await store.snapshot(Member(GUILD, 1), default_allowance=20)).guild_used == 4 + 2 + 2
        assert (await store.snapshot(Member(OTHER, 3), default_allowance=20)).guild_used == 1
        await store.set_budget(GUILD, 9, actor_id=MOD)
        with pytest.raises(Refused) as refused:
            await reserve(store, Member(GUILD, 4), cost=2)
        assert refused.value.reason == Refused.BUDGET
        await reserve(store, Member(GUILD, 4), cost=1)
    finally:
        await store.close()


async def test_a_row_written_already_failed_or_cancelled_counts_nowhere(backend, store):
    # No store call does this; plain SQL (an import, a repair) may. Both backends' triggers agree.
    await execute(backend, "INSERT INTO jobs (user_id, guild_id, model, params, cost, day, state, created_at) VALUES"
                           f" (1, {GUILD}, 'sdxl', '{{}}', 3, '{DAY}', 'cancelled', {NOON}),"
                           f" (1, {GUILD}, 'sdxl', '{{}}', 4, '{DAY}', 'failed', {NOON})")
    snap = await store.snapshot(Member(GUILD, 1), default_allowance=20)
    assert (snap.used, snap.guild_used, snap.global_used) == (0, 0, 0)


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
async def test_a_budget_set_while_a_reservation_is_under_way_waits_for_it(backend, store):
    # SQLite's write lock already orders the two; on PostgreSQL a reservation that found no budget
    # row had nothing to lock, so set_budget must wait for it or the next one would not see its cost.
    other = await asyncpg.connect(backend.location)
    try:
        tx = other.transaction()
        await tx.start()  # another process, mid-reservation: 4 credits spent, not yet committed
        await other.fetchrow("SELECT * FROM reserve_job($1, $2, '{}', $3, $4, 20, 100, NULL, 4, 5, 'sdxl', '{}',"
                             " 'reserved', $5, NULL)", GUILD, 1, DAY, ["reserved", "queued", "running"], NOON)
        setting = asyncio.create_task(store.set_budget(GUILD, 5, actor_id=MOD))
        await asyncio.sleep(0.3)
        assert not setting.done(), "the budget was set under a reservation that never saw it"
        await tx.commit()
        await setting
    finally:
        await other.close()
    with pytest.raises(Refused) as refused:
        await reserve(store, Member(GUILD, 2), cost=4)
    assert refused.value.reason == Refused.BUDGET
    assert (refused.value.snapshot.guild_used, refused.value.snapshot.guild_budget) == (4, 5)
