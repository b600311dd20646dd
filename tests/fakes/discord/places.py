"""Where an interaction happens and who it comes from: servers, the bot's DM, DMs between users.

Discord tells the bot the place in every interaction (developers/interactions/receiving-and-responding.mdx):
`context` (0 a server, 1 the bot's DM, 2 a DM or group DM between users), `authorizing_integration_owners`
(which installations the interaction came through: "0" the server's, its guild id or "0" in the bot's DM;
"1" the installing user's id), `guild_id` + `member` in servers and `user` in DMs, `app_permissions`,
`locale` and, in servers, `guild_locale`.

A member who installed the app to their account (`user_install=True`) reaches it in servers the bot is
not in: the interaction carries that server's `guild_id`, but the server is not in the bot's gateway
state and its channels answer the bot's REST calls with 403 50001 Missing Access.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import Any

from .application import Application
from .gateway import Gateway
from .state import Actor
from .wire import BOT_DM_APP_PERMISSIONS, LOCALES, PRIVATE_APP_PERMISSIONS, now_iso

FIRST_GUILD: Any = object()  # sentinel: "the first guild the fake was built with"
FRIEND_ID = 4999  # the other side of a DM between users (context 2)


class Places(Gateway, Application):
    async def add_role(
        self, guild_id: int, role_id: int, *, name: str | None = None, permissions: int = 0
    ) -> dict:
        """Create a guild role (GUILD_ROLE_CREATE if the bot is connected)."""
        role = self._role(guild_id, role_id, name or f"role-{role_id}", permissions)
        self._roles[guild_id][role_id] = role
        if self._conn_for(guild_id) is not None:
            await self.dispatch("GUILD_ROLE_CREATE", {"guild_id": str(guild_id), "role": role})
        return role

    async def add_channel(
        self, guild_id: int, channel_id: int | None = None, *, name: str = "channel", nsfw: bool = False,
        parent_id: int | None = None,
    ) -> int:
        """Create a text channel, or a public thread when `parent_id` is given (a thread is
        age-restricted when its channel is, as on Discord). Dispatched if the bot is connected."""
        channel_id = channel_id or self._ids.next()
        channel = self._text_channel(channel_id, guild_id)
        channel.update(name=name, nsfw=nsfw)
        if parent_id is not None:
            parent = self._channels[parent_id]
            channel.update(type=11, parent_id=str(parent_id), nsfw=parent["nsfw"], owner_id=str(self.owner_id),
                           thread_metadata={"archived": False, "auto_archive_duration": 1440,
                                            "archive_timestamp": now_iso(), "locked": False},
                           message_count=0, member_count=1)
        self._channels[channel_id] = channel
        if self._conn_for(guild_id) is not None:
            await self.dispatch("THREAD_CREATE" if parent_id is not None else "CHANNEL_CREATE", channel)
        return channel_id

    async def set_guild_locale(self, guild_id: int, locale: str) -> None:
        """A server's preferred locale (its interactions' `guild_locale`), told to the bot as GUILD_UPDATE."""
        if locale not in LOCALES:
            raise AssertionError(f"{locale!r} is not one of Discord's locales")
        self._guild_locales[guild_id] = locale
        if guild_id in self._roles and self._conn_for(guild_id) is not None:
            await self.dispatch("GUILD_UPDATE", self._guild_create(guild_id))

    def add_guild_without_bot(self, guild_id: int) -> int:
        """A server the bot is not in (members reach the app there through their own install); returns
        its text channel's id. `invoke(..., guild_id=..., user_install=True)` makes one on first use."""
        if guild_id in self._roles:
            raise AssertionError(f"the bot is in guild {guild_id}")
        if guild_id not in self._foreign_guilds:
            self._foreign_guilds.add(guild_id)
            channel_id = self._ids.next()
            self._unseen_channels[channel_id] = self._text_channel(channel_id, guild_id)
        return next(int(c["id"]) for c in self._unseen_channels.values() if c.get("guild_id") == str(guild_id))

    def _actor(self, *, user_id: int, username: str, guild_id: Any, channel_id: int | None, roles: Sequence[int],
               permissions: int, locale: str, attachment_size_limit: int, dm: bool = False,
               context: int | None = None, user_install: bool = False, guild_locale: str | None = None) -> Actor:
        """Who acts and where: a server the bot is in (the default), the bot's DM (`dm` or guild_id=None),
        a DM between users (context=2, through the member's own install), or a server the bot is not in
        (a guild id the fake does not hold, with user_install)."""
        if locale not in LOCALES:
            raise AssertionError(f"locale {locale!r} is not one of Discord's locales")
        context = (1 if dm or guild_id is None else 0) if context is None else context
        if context == 2 and not user_install:
            raise AssertionError("only a user's own install reaches a DM between users: pass user_install=True")
        guild_id = None if context != 0 else (self.guild_ids[0] if guild_id is FIRST_GUILD else guild_id)
        bot_member = guild_id is None or guild_id in self._roles
        if guild_id is not None and not bot_member and not user_install:
            raise AssertionError(f"guild {guild_id} is not one of the fake's guilds {self.guild_ids} (a member "
                                 "reaches a server the bot is not in only with user_install=True)")
        if channel_id is None:
            channel_id = self._channel_for(context, guild_id, user_id, bot_member)
        self._users[user_id] = username
        return Actor(user_id, username, guild_id, channel_id, list(roles), permissions, locale, attachment_size_limit,
                     context=context, user_install=user_install, bot_member=bot_member,
                     guild_locale=(guild_locale or self._guild_locales.get(guild_id, "en-US")) if guild_id else None)

    def _channel_for(self, context: int, guild_id: int | None, user_id: int, bot_member: bool) -> int:
        if context == 1:
            return self._dm_channels.setdefault(user_id, self._ids.next())
        if context == 2:
            channel_id = self._ids.next()
            self._unseen_channels[channel_id] = self._private_channel(channel_id)
            return channel_id
        if not bot_member:
            return self.add_guild_without_bot(guild_id)  # type: ignore[arg-type]
        return next(int(c["id"]) for c in self._channels.values() if c["guild_id"] == str(guild_id))

    def _private_channel(self, channel_id: int) -> dict:
        """A DM between the member and someone else: the bot is in neither side of it."""
        return {"id": str(channel_id), "type": 1, "last_message_id": None, "flags": 0,
                "recipients": [self._user(FRIEND_ID, "friend")]}

    async def _ensure_roles(self, actor: Actor) -> None:
        # A member's roles only show up in discord.py's Member.roles if the guild knows them.
        for role_id in actor.roles:
            if actor.guild_id is not None and actor.bot_member and role_id not in self._roles[actor.guild_id]:
                await self.add_role(actor.guild_id, role_id)

    def owners(self, actor: Actor, installs: set[int] | frozenset[int]) -> dict[str, str]:
        """`authorizing_integration_owners` for these installations."""
        found = {}
        if 0 in installs:
            found["0"] = str(actor.guild_id) if actor.guild_id is not None else "0"
        if 1 in installs:
            found["1"] = str(actor.user_id)
        return found

    def _app_permissions(self, actor: Actor) -> int:
        if actor.context == 0 and actor.bot_member:
            return self.app_permissions
        return BOT_DM_APP_PERMISSIONS if actor.context == 1 else PRIVATE_APP_PERMISSIONS

    def _interaction_payload(self, actor: Actor, kind: int, data: dict, message: dict | None,
                             owners: dict[str, str]) -> dict:
        payload: dict[str, Any] = {
            "id": str(self._ids.next()), "application_id": str(self.app_id), "type": kind, "data": data,
            "token": self._new_token(), "version": 1, "locale": actor.locale,
            "app_permissions": str(self._app_permissions(actor)), "entitlements": [], "entitlement_sku_ids": [],
            "attachment_size_limit": actor.attachment_size_limit, "channel_id": str(actor.channel_id),
            "context": actor.context, "authorizing_integration_owners": owners,
        }
        if actor.guild_id is not None:
            channel = (self._channels.get(actor.channel_id) or self._unseen_channels.get(actor.channel_id)
                       or self._text_channel(actor.channel_id, actor.guild_id))
            payload.update(
                guild_id=str(actor.guild_id), guild_locale=actor.guild_locale, channel=channel,
                guild={"id": str(actor.guild_id), "locale": actor.guild_locale, "features": []},
                member=self._member(actor.user_id, actor.roles, permissions=actor.permissions),
            )
        else:
            channel = self._unseen_channels.get(actor.channel_id) or self._dm_channel(actor.channel_id, actor.user_id)
            payload.update(user=self._user(actor.user_id), channel=channel)
        if message is not None:
            payload["message"] = message
        return payload

    @staticmethod
    def _new_token() -> str:
        return secrets.token_urlsafe(48)
