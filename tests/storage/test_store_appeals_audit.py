"""Appeals and the audit feed in the ledger, on SQLite and on a real PostgreSQL: an appeal moves only
forward and of two deciders exactly one wins; audit rows are claimed by one poster at a time, posted
once, taken again when a poster died; /config audit's filters and paging."""

from __future__ import annotations

import asyncio

import pytest

from bot.domain.appeals import AppealStatus
from bot.domain.audit import AuditAction
from tests.backends import Clock

GUILD, OTHER = 10, 11
ALICE, BOB, MOD, MOD2 = 1, 2, 50, 51


@pytest.fixture
def clock() -> Clock:
    return Clock(1_800_000_000.0)


@pytest.fixture
async def store(backend, clock):
    s = await backend.open(clock=clock)
    yield s
    await s.close()


async def new_appeal(store, clock, *, user: int = ALICE, window: float = 900) -> int:
    return await store.create_appeal(GUILD, 300, user, model="sdxl", request={"prompt": "a red castle"},
                                     rule={"rule": "word", "term": "castle", "matched": "castle"},
                                     expires_at=clock.now + window)


async def test_an_appeal_goes_offered_pending_decided_and_records_each_step(store, clock):
    appeal_id = await new_appeal(store, clock)
    row = await store.appeal(appeal_id)
    assert row["status"] == AppealStatus.OFFERED and row["request"] == {"prompt": "a red castle"}
    assert not await store.ask_appeal(appeal_id, 999), "only the refused member may ask"
    assert await store.ask_appeal(appeal_id, ALICE)
    assert not await store.ask_appeal(appeal_id, ALICE), "asked once"
    await store.appeal_posted(appeal_id, 400, 401, actor_id=ALICE)
    assert await store.decide_appeal(appeal_id, False, actor_id=MOD, reason="no castles")
    assert not await store.decide_appeal(appeal_id, True, actor_id=MOD2, reason=None), "decided once"
    row = await store.appeal(appeal_id)
    assert (row["status"], row["decided_by"], row["reason"], row["review_message_id"]) == (
        AppealStatus.DENIED, MOD, "no castles", 401)
    rows, total = await store.audit_log(GUILD)
    assert total == 2
    assert [(r["action"], r["actor_id"], r["target_id"]) for r in rows] == [
        (AuditAction.DENY, MOD, ALICE), (AuditAction.APPEAL, ALICE, ALICE)]
    assert rows[0]["detail"] == {"appeal": appeal_id, "reason": "no castles"}


async def test_an_expired_appeal_cannot_be_asked_and_a_refused_post_reopens_it(store, clock):
    late = await new_appeal(store, clock, window=60)
    clock.now += 61
    assert not await store.ask_appeal(late, ALICE)
    appeal_id = await new_appeal(store, clock)
    assert await store.ask_appeal(appeal_id, ALICE)
    assert not await store.decide_appeal(late, True, actor_id=MOD, reason=None), "never pending: nothing to decide"
    await store.reopen_appeal(appeal_id)
    assert (await store.appeal(appeal_id))["status"] == AppealStatus.OFFERED
    assert await store.ask_appeal(appeal_id, ALICE), "pressed again after the review channel refused it"
    assert (await store.audit_log(GUILD))[1] == 0, "nothing reached moderators: nothing recorded"


async def test_two_moderators_deciding_at_once_exactly_one_wins(backend, clock):
    stores = [await backend.open(clock=clock, recover=False) for _ in range(2)]
    try:
        for _ in range(10):
            appeal_id = await new_appeal(stores[0], clock)
            assert await stores[0].ask_appeal(appeal_id, ALICE)
            results = await asyncio.gather(
                *(s.decide_appeal(appeal_id, allowed, actor_id=mod, reason=None)
                  for s, allowed, mod in ((stores[0], True, MOD), (stores[1], False, MOD2),
                                          (stores[0], False, MOD2), (stores[1], True, MOD))))
            assert sorted(results) == [False, False, False, True]
        rows, total = await stores[0].audit_log(GUILD)
        assert total == 10, "one decision recorded per appeal"
    finally:
        for s in stores:
            await s.close()


async def record(store, n: int, guild: int = GUILD, action: str = "grant", actor: int = MOD) -> None:
    for i in range(n):
        await store.record_action(guild, actor, action, ALICE, {"credits": i})


async def test_audit_rows_are_claimed_once_posted_once_and_taken_again_after_a_dead_posters_lease(backend, clock):
    first, second = [await backend.open(clock=clock, recover=False) for _ in range(2)]
    try:
        await record(first, 25)
        await record(first, 2, guild=OTHER)
        assert sorted(await first.unposted_guilds()) == [GUILD, OTHER]
        a, b = await asyncio.gather(first.claim_audit(GUILD, limit=10, lease_seconds=30),
                                    second.claim_audit(GUILD, limit=10, lease_seconds=30))
        assert len(a) == len(b) == 10 and not {r["id"] for r in a} & {r["id"] for r in b}, "never the same row"
        assert [r["id"] for r in a] == sorted(r["id"] for r in a), "oldest first"
        await first.mark_audit_posted([r["id"] for r in a])
        # `second` dies holding its rows: nobody takes them until the lease has passed.
        rest = await first.claim_audit(GUILD, limit=10, lease_seconds=30)
        assert len(rest) == 5 and await first.claim_audit(GUILD, limit=10, lease_seconds=30) == []
        await first.mark_audit_posted([r["id"] for r in rest])
        clock.now += 31
        again = await first.claim_audit(GUILD, limit=10, lease_seconds=30)
        assert {r["id"] for r in again} == {r["id"] for r in b}
        await first.release_audit([r["id"] for r in again])
        again = await second.claim_audit(GUILD, limit=10, lease_seconds=30)
        assert len(again) == 10, "released rows are taken again at once"
        await second.mark_audit_posted([r["id"] for r in again])
        assert await first.claim_audit(GUILD, limit=10, lease_seconds=30) == []
        assert await first.unposted_guilds() == [OTHER]
        assert await first.skip_audit(OTHER) == 2
        assert await first.unposted_guilds() == []
    finally:
        await first.close()
        await second.close()


async def test_unposted_rows_stay_unposted_across_a_reopen(backend, clock):
    # Rows written now are unposted, and stay so across a reopen (a restart).
    store = await backend.open(clock=clock)
    await record(store, 3)
    await store.close()
    store = await backend.open(clock=clock)
    try:
        assert len(await store.claim_audit(GUILD, limit=10, lease_seconds=30)) == 3
    finally:
        await store.close()


async def test_audit_log_filters_by_member_action_and_since_combined_newest_first_and_pages(store, clock):
    await store.record_action(GUILD, MOD, "config.word.add", None, {"value": "castle"})
    clock.now += 3600
    await store.record_action(GUILD, ALICE, AuditAction.GENERATION.value, None, {"model": "sdxl"})
    await store.record_action(GUILD, MOD, "grant", ALICE, {"credits": 5})
    await store.record_action(GUILD, MOD, "configure", None, {})  # a family name is not a prefix of words
    await store.record_action(OTHER, ALICE, AuditAction.GENERATION.value, None, {})
    rows, total = await store.audit_log(GUILD)
    assert total == 4 and [r["action"] for r in rows] == ["configure", "grant", "generation", "config.word.add"]
    rows, total = await store.audit_log(GUILD, member=ALICE)
    assert [r["action"] for r in rows] == ["grant", "generation"], "the actor or the target"
    rows, _ = await store.audit_log(GUILD, action="config")
    assert [r["action"] for r in rows] == ["config.word.add"]
    rows, _ = await store.audit_log(GUILD, member=ALICE, action="generation")
    assert [r["action"] for r in rows] == ["generation"]
    rows, _ = await store.audit_log(GUILD, since=clock.now - 60)
    assert [r["action"] for r in rows] == ["configure", "grant", "generation"]
    rows, _ = await store.audit_log(GUILD, member=MOD, since=clock.now - 60)
    assert [r["action"] for r in rows] == ["configure", "grant"]
    page, total = await store.audit_log(GUILD, offset=1, limit=2)
    assert total == 4 and [r["action"] for r in page] == ["grant", "generation"]
    assert set(page[0]) == {"id", "guild_id", "actor_id", "action", "target_id", "detail", "at"}


async def test_many_posters_claiming_at_once_never_take_the_same_row(backend, clock):
    posters = [await backend.open(clock=clock, recover=False) for _ in range(6)]
    try:
        await record(posters[0], 120)
        taken: list[int] = []
        for _ in range(4):
            claims = await asyncio.gather(*(p.claim_audit(GUILD, limit=5, lease_seconds=30) for p in posters
                                            for _ in range(2)))
            taken += [r["id"] for rows in claims for r in rows]
        assert len(taken) == len(set(taken)) == 120, "every row claimed by exactly one poster"
    finally:
        for p in posters:
            await p.close()


@pytest.mark.parametrize("name", ["sqlite", "postgres"])
def test_the_appeal_status_check_lists_exactly_the_enums_statuses(name):
    import re
    from pathlib import Path

    sql = (Path(__file__).resolve().parents[2] / "bot" / "storage" / name / "migrations"
           / "0010_appeals_audit.sql").read_text()
    (listed,) = re.findall(r"CHECK \(status IN \(([^)]*)\)\)", sql)
    assert set(re.findall(r"'([^']*)'", listed)) == {s.value for s in AppealStatus}


async def test_forgetting_a_member_clears_what_they_asked_for_from_audit_rows_and_finished_appeals(store, clock):
    await store.record_action(GUILD, ALICE, AuditAction.GENERATION.value, None,
                              {"job": 1, "model": "sdxl", "cost": 2, "prompt": "a red castle", "link": "https://x"})
    await store.record_action(GUILD, BOB, AuditAction.GENERATION.value, None, {"job": 2, "prompt": "a blue fox"})
    decided = await new_appeal(store, clock)
    await store.ask_appeal(decided, ALICE)
    await store.appeal_posted(decided, 400, 401, actor_id=ALICE)
    await store.decide_appeal(decided, False, actor_id=MOD, reason="no")
    waiting = await new_appeal(store, clock)
    await store.ask_appeal(waiting, ALICE)
    await store.forget_member(ALICE)
    rows = {(r["actor_id"], r["action"]): r["detail"] for r in (await store.audit_log(GUILD))[0]}
    assert rows[(ALICE, "generation")] == {"job": 1, "model": "sdxl", "cost": 2, "link": "https://x"}
    assert rows[(BOB, "generation")]["prompt"] == "a blue fox", "only the member's own"
    assert rows[(ALICE, "appeal")]["rule"] == {"rule": "word", "term": "castle"}, "the server's word stays"
    assert (await store.appeal(decided))["request"] == {}
    assert (await store.appeal(waiting))["request"] == {"prompt": "a red castle"}, "still waiting"
    clock.now += 10 * 86_400
    await store.forget_older_than(clock.now)
    assert (await store.appeal(waiting))["request"] == {"prompt": "a red castle"}, "a moderator may still run it"
    assert "prompt" not in (await store.audit_log(GUILD, member=BOB))[0][0]["detail"], "retention too"


async def test_rows_recorded_before_migration_0010_are_history_not_news(tmp_path):
    import sqlite3

    from bot.storage import SqliteStore
    from bot.storage.sqlite.migrations import apply_migrations

    path = tmp_path / "old.sqlite3"
    db = sqlite3.connect(path, isolation_level=None)
    apply_migrations(db, upto=9)
    db.execute("INSERT INTO admin_actions (guild_id, actor_id, action, target_id, detail, at)"
               " VALUES (?, ?, 'grant', ?, '{}', 1)", (GUILD, MOD, ALICE))
    db.close()
    store = await SqliteStore.open(path)
    try:
        assert await store.unposted_guilds() == [], "an audit channel set later gets no backlog"
        assert (await store.audit_log(GUILD))[1] == 1, "kept for /config audit"
    finally:
        await store.close()
