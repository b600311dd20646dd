"""Each server's configuration, loaded with one query the first time it is needed, then kept.

Every change made through `Moderation` invalidates its server's entry; a load that was already under
way when a change landed is not kept, so a change is seen by the very next command.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from bot.domain.records import GuildRule
from bot.moderation.config import GuildConfig

Load = Callable[[int], Awaitable[list[GuildRule]]]


class ConfigCache:
    def __init__(self, load: Load) -> None:
        self._load = load
        self._configs: dict[int, GuildConfig] = {}
        self._loading: dict[int, asyncio.Future[GuildConfig]] = {}
        self._generation: dict[int, int] = {}
        self.loads = 0  # queries made, for tests and the benchmark

    async def get(self, guild_id: int) -> GuildConfig:
        config = self._configs.get(guild_id)
        if config is not None:
            return config
        pending = self._loading.get(guild_id)
        if pending is not None:  # commands arriving together share one query
            return await asyncio.shield(pending)
        future: asyncio.Future[GuildConfig] = asyncio.get_running_loop().create_future()
        self._loading[guild_id] = future
        generation = self._generation.get(guild_id, 0)
        try:
            self.loads += 1
            rows = await self._load(guild_id)
            config = GuildConfig.from_rows(guild_id, rows)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: waiters re-raise it, nobody else needs to
            raise
        finally:
            if self._loading.get(guild_id) is future:
                del self._loading[guild_id]
        if self._generation.get(guild_id, 0) == generation:
            self._configs[guild_id] = config
        future.set_result(config)
        return config

    def invalidate(self, guild_id: int) -> None:
        self._configs.pop(guild_id, None)
        self._loading.pop(guild_id, None)
        self._generation[guild_id] = self._generation.get(guild_id, 0) + 1

    def invalidate_all(self) -> None:
        """Part 9: another process's changes may have been missed (its notifications lost): reload all."""
        for guild_id in {*self._configs, *self._loading}:
            self.invalidate(guild_id)
