"""Discord's objects as the fake sends them: users, roles, channels, members, guilds, the application.

Every field discord.py reads when it builds its models is here; a missing one makes discord.py fail
inside `Client.connect()` with nothing logged.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .state import DiscordState
from .wire import APPLICATION_FLAGS, BOT_PERMISSIONS, DEFAULT_MEMBER_PERMISSIONS

# What a GUILD_CREATE says of every fake guild, besides its id, name, owner, roles, channels and members
# (empty tuples, not lists: every payload shares them; JSON writes them as lists).
_GUILD_FIELDS: dict[str, Any] = {
    "icon": None,
    "splash": None,
    "discovery_splash": None,
    "banner": None,
    "description": None,
    "region": None,
    "afk_channel_id": None,
    "afk_timeout": 300,
    "verification_level": 0,
    "default_message_notifications": 0,
    "explicit_content_filter": 0,
    "mfa_level": 0,
    "nsfw_level": 0,
    "emojis": (),
    "stickers": (),
    "features": (),
    "system_channel_flags": 0,
    "rules_channel_id": None,
    "public_updates_channel_id": None,
    "safety_alerts_channel_id": None,
    "vanity_url_code": None,
    "premium_tier": 0,
    "premium_subscription_count": 0,
    "preferred_locale": "en-US",
    "max_members": 500000,
    "max_video_channel_users": 25,
    "premium_progress_bar_enabled": False,
    "nsfw": False,
    "application_id": None,
    "incidents_data": None,
    "joined_at": "2024-01-01T00:00:00+00:00",
    "large": False,
    "unavailable": False,
    "member_count": 2,
    "lazy": True,
    "threads": (),
    "presences": (),
    "voice_states": (),
    "stage_instances": (),
    "guild_scheduled_events": (),
    "soundboard_sounds": (),
}


class Objects(DiscordState):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # guild id -> role id -> role payload; guild i gets text channel channel_id + i
        self._roles.update({g: self._initial_roles(g) for g in self.guild_ids})
        self._channels.update({
            self.channel_id + i: self._text_channel(self.channel_id + i, g) for i, g in enumerate(self.guild_ids)
        })
        # Where the application may be installed (Discord's developer portal, "Installation Contexts"):
        # 0 servers, 1 users. A synced command's integration_types must be among these.
        self.install_types: set[int] = {0, 1}

    def _bot_user(self) -> dict:
        return {
            **self._user(self.bot_user_id),
            "bot": True,
            "verified": True,
            "mfa_enabled": False,
            "flags": 0,
        }

    def _user(self, user_id: int, username: str | None = None) -> dict:
        if username is not None:
            self._users[user_id] = username
        name = self._users.get(user_id, f"user{user_id}")
        user = {
            "id": str(user_id),
            "username": name,
            "global_name": None,
            "discriminator": "0",
            "avatar": None,
            "public_flags": 0,
        }
        if user_id == self.bot_user_id:
            user.update(bot=True, discriminator="0001")
        return user

    def _role(
        self,
        guild_id: int,
        role_id: int,
        name: str,
        permissions: int,
        *,
        position: int = 1,
        managed: bool = False,
        tags: dict | None = None,
    ) -> dict:
        role = {
            "id": str(role_id),
            "name": name,
            "permissions": str(permissions),
            "position": position,
            "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "managed": managed,
            "mentionable": False,
            "icon": None,
            "unicode_emoji": None,
            "flags": 0,
        }
        if tags is not None:
            role["tags"] = tags
        return role

    def _initial_roles(self, guild_id: int) -> dict[int, dict]:
        # @everyone's id is the guild id; Discord gives every bot a managed role of its own.
        everyone = self._role(guild_id, guild_id, "@everyone", DEFAULT_MEMBER_PERMISSIONS, position=0)
        bot_role = self._role(
            guild_id,
            self._bot_role_id,
            "fakebot",
            BOT_PERMISSIONS,
            managed=True,
            tags={"bot_id": str(self.bot_user_id)},
        )
        return {guild_id: everyone, self._bot_role_id: bot_role}

    @staticmethod
    def _text_channel(channel_id: int, guild_id: int) -> dict:
        return {
            "id": str(channel_id),
            "type": 0,
            "guild_id": str(guild_id),
            "name": "general",
            "position": 0,
            "permission_overwrites": [],
            "nsfw": False,
            "parent_id": None,
            "topic": None,
            "rate_limit_per_user": 0,
            "last_message_id": None,
            "flags": 0,
        }

    def _dm_channel(self, channel_id: int, user_id: int) -> dict:
        return {
            "id": str(channel_id),
            "type": 1,
            "last_message_id": None,
            "flags": 0,
            "recipients": [self._user(user_id)],
        }

    def _member(
        self, user_id: int, roles: Sequence[int], *, permissions: int | None = None, with_user: bool = True
    ) -> dict:
        member: dict[str, Any] = {
            "roles": [str(r) for r in roles],
            "joined_at": "2024-01-01T00:00:00+00:00",
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "nick": None,
            "avatar": None,
            "communication_disabled_until": None,
        }
        if with_user:
            member["user"] = self._bot_user() if user_id == self.bot_user_id else self._user(user_id)
        if permissions is not None:
            member["permissions"] = str(permissions)
        return member

    def _guild_create(self, guild_id: int) -> dict:
        channels = [c for c in self._channels.values() if c["guild_id"] == str(guild_id)]
        return {
            **_GUILD_FIELDS,
            "id": str(guild_id),
            "name": f"Fake Guild {guild_id}",
            "owner_id": str(self.owner_id),
            "roles": list(self._roles[guild_id].values()),
            "system_channel_id": channels[0]["id"] if channels else None,
            "preferred_locale": self._guild_locales.get(guild_id, "en-US"),
            "members": [self._member(self.bot_user_id, [self._bot_role_id])],
            "channels": channels,
        }

    def _application(self) -> dict:
        return {
            "id": str(self.app_id),
            "name": "Fake Bot",
            "icon": None,
            "description": "",
            "summary": "",
            "type": None,
            "bot_public": True,
            "bot_require_code_grant": False,
            "verify_key": "0" * 64,
            "owner": self._user(self.owner_id),
            "team": None,
            "flags": APPLICATION_FLAGS,
            "interactions_endpoint_url": None,  # non-null makes discord.py warn it won't get interactions
            "redirect_uris": [],
            "tags": [],
            "rpc_origins": [],
            "hook": True,
            "approximate_guild_count": len(self.guild_ids),
            "bot": self._bot_user(),
            "integration_types_config": {str(t): {} for t in sorted(self.install_types)},
        }
