"""The moderation a command goes through, and the changes /config makes: each one written to the store
(one transaction, recorded as an admin action) and then dropped from the cache, so the next command of
that server loads it again."""

from __future__ import annotations

import json
from typing import Any

from bot.domain import PERSONAL
from bot.domain.rules import RuleKind
from bot.moderation.cache import ConfigCache
from bot.moderation.config import PERSONAL_CONFIG, GuildConfig, Setting
from bot.moderation.gates import Asker, check
from bot.storage.roles import Config


class Moderation:
    def __init__(self, store: Config) -> None:
        self._store = store
        self.cache = ConfigCache(store.guild_rules)

    async def config(self, guild_id: int) -> GuildConfig:
        """A server's configuration; PERSONAL's is the bot's own rules, never stored."""
        if guild_id == PERSONAL:
            return PERSONAL_CONFIG
        return await self.cache.get(guild_id)

    async def admit(self, guild_id: int, asker: Asker, model_key: str, prompt: str) -> GuildConfig:
        """The server's configuration once every gate before the ledger let the request through;
        raises the first gate's `Refusal`."""
        config = await self.config(guild_id)
        check(config, asker, model_key, prompt)
        return config

    async def put(self, guild_id: int, kind: RuleKind, value: str, detail: Any = None, *, actor_id: int,
                  limit: int | None = None) -> bool:
        encoded = None if detail is None else json.dumps(detail, sort_keys=True)
        try:
            return await self._store.put_rule(guild_id, kind, value, encoded, actor_id=actor_id, limit=limit)
        finally:
            # Even a write that raised may have landed (a lost COMMIT reply): never keep what may be stale.
            self.cache.invalidate(guild_id)

    async def remove(self, guild_id: int, kind: RuleKind, value: str, *, actor_id: int) -> bool:
        try:
            return await self._store.remove_rule(guild_id, kind, value, actor_id=actor_id)
        finally:
            self.cache.invalidate(guild_id)

    async def clear(self, guild_id: int, kind: RuleKind, *, actor_id: int) -> int:
        try:
            return await self._store.clear_rules(guild_id, kind, actor_id=actor_id)
        finally:
            self.cache.invalidate(guild_id)

    async def set(self, guild_id: int, setting: Setting, value: Any, *, actor_id: int) -> bool:
        """Store a setting; its default is stored as no row at all."""
        if value == setting.default:
            return await self.remove(guild_id, RuleKind.SETTING, setting.name, actor_id=actor_id)
        return await self.put(guild_id, RuleKind.SETTING, setting.name, value, actor_id=actor_id)
