"""The moderation cache over a real store: one query per server, then none until a change."""

from __future__ import annotations

import asyncio

from bot.domain.rules import RuleKind
from bot.moderation.cache import ConfigCache
from bot.moderation.config import NSFW_FILTER
from bot.services.moderation import Moderation

GUILD = 2000


async def test_a_servers_configuration_is_one_query_then_cached_until_a_change(backend):
    store = await backend.open()
    try:
        moderation = Moderation(store)
        cache = moderation.cache
        configs = await asyncio.gather(*(moderation.config(GUILD) for _ in range(20)))
        assert cache.loads == 1, "commands arriving together share one query"
        assert all(c is configs[0] for c in configs)
        await moderation.config(GUILD)
        assert cache.loads == 1
        await moderation.put(GUILD, RuleKind.WORD, "castle", actor_id=9)
        config = await moderation.config(GUILD)
        assert config.words == ("castle",) and cache.loads == 2, "a change is seen by the next lookup"
        await moderation.set(GUILD, NSFW_FILTER, False, actor_id=9)
        assert (await moderation.config(GUILD)).get(NSFW_FILTER) is False
        await moderation.set(GUILD, NSFW_FILTER, True, actor_id=9)  # the default is stored as no row
        assert not [r for r in await store.guild_rules(GUILD) if r["kind"] == RuleKind.SETTING]
        assert (await moderation.config(GUILD + 1)).words == (), "servers are apart"
    finally:
        await store.close()


async def test_a_load_under_way_when_a_change_lands_is_not_kept(backend):
    store = await backend.open()
    try:
        started, release = asyncio.Event(), asyncio.Event()
        slow = True

        async def load(guild_id: int):  # the store's own load, handed back late the first time
            rows = await store.guild_rules(guild_id)
            if slow:
                started.set()
                await release.wait()
            return rows

        cache = ConfigCache(load)
        stale = asyncio.create_task(cache.get(GUILD))
        await started.wait()
        await store.put_rule(GUILD, RuleKind.WORD, "castle", None, actor_id=9)  # what Moderation.put does
        cache.invalidate(GUILD)
        slow = False
        release.set()
        assert (await stale).words == (), "the command that asked before the change sees the old rules"
        assert (await cache.get(GUILD)).words == ("castle",), "but nobody after it"
    finally:
        await store.close()
