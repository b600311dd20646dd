"""Personal credits in the ledger (the PERSONAL scope, where no server decides), on SQLite and PostgreSQL:
rows of their own beside a server's, the global cap over both, history and forgetting."""

from __future__ import annotations

import pytest

from bot.domain import PERSONAL, Member, Refused
from bot.storage import Store
from tests.storage.test_store import reserve

GUILD = 10
IN_SERVER = Member(GUILD, 1, (77,))
PERSONALLY = Member(PERSONAL, 1)


@pytest.fixture
async def store(backend):
    s = await backend.open()
    yield s
    assert await s.audit() == [], "the daily totals agree with the jobs, personal ones included"
    await s.close()


async def test_personal_credits_are_counted_apart_from_every_servers(store: Store):
    await reserve(store, PERSONALLY, cost=2, allowance=5)
    await reserve(store, IN_SERVER, cost=3, allowance=20)
    personal = await store.snapshot(PERSONALLY, default_allowance=5)
    server = await store.snapshot(IN_SERVER, default_allowance=20)
    assert (personal.used, personal.left, personal.guild_budget) == (2, 3, None)
    assert (server.used, server.left) == (3, 17)
    assert personal.global_used == server.global_used == 5
    assert personal.in_flight == server.in_flight == 2, "one member's jobs at once, wherever they asked"
    with pytest.raises(Refused) as refused:
        await reserve(store, PERSONALLY, cost=4, allowance=5)
    assert refused.value.reason == Refused.CREDITS


async def test_the_global_cap_covers_personal_credits(store: Store):
    await reserve(store, IN_SERVER, cost=3, cap=5)
    with pytest.raises(Refused) as refused:
        await reserve(store, PERSONALLY, cost=3, allowance=5, cap=5)
    assert refused.value.reason == Refused.GLOBAL
    await reserve(store, PERSONALLY, cost=2, allowance=5, cap=5)


async def test_history_is_per_scope_and_forget_clears_both(store: Store):
    personal = await reserve(store, PERSONALLY, cost=1, allowance=5)
    server = await reserve(store, IN_SERVER, cost=1)
    for job in (personal, server):
        await store.succeed(job, "https://x/y.png")
    assert [j["id"] for j in (await store.history(PERSONAL, 1))[0]] == [personal]
    assert [j["id"] for j in (await store.history(GUILD, 1))[0]] == [server]
    assert await store.guild_usage(GUILD, "2000-01-01") and all(
        row["credits"] == 1 for row in await store.guild_usage(GUILD, "2000-01-01")), "a server sees only its own"
    assert await store.forget_member(1) == 2
