"""The fake's world: guilds, roles, channels, users, messages, interactions and every request.

`DiscordState` holds what exists (and what the fake was asked); the other modules add what Discord
does with it, each as a class built on this one (see `FakeDiscord` in server.py for how they stack).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .wire import BOT_PERMISSIONS, Snowflakes

if TYPE_CHECKING:
    from .interaction import FakeInteraction


@dataclass
class RecordedRequest:
    method: str
    path: str  # as received, e.g. "/api/v10/users/@me" or "/attachments/1/a.png"
    query: dict[str, str]
    headers: dict[str, str]
    json: Any = None  # parsed JSON body, or the parsed payload_json part of a multipart body
    # (filename, content_type as the client sent it, bytes) of each uploaded file part
    files: list[tuple[str, str | None, bytes]] = field(default_factory=list)
    file_fields: list[str] = field(default_factory=list)  # form field name of each file, e.g. "files[0]"
    status: int | None = None  # what the fake answered


RECORD = web.RequestKey("rec", RecordedRequest)  # where the middleware leaves the parsed request


@dataclass
class Actor:
    """Who triggers an interaction, and where."""

    user_id: int
    username: str
    guild_id: int | None
    channel_id: int
    roles: list[int]
    permissions: int
    locale: str
    attachment_size_limit: int
    context: int = 0  # 0 a server, 1 the bot's DM, 2 a DM or group DM between users
    user_install: bool = False  # the user installed the app to their account
    guild_locale: str | None = None  # the server's preferred locale (servers only)
    bot_member: bool = True  # False in a server the bot is not in (reached through a user install)

    @property
    def installs(self) -> set[int]:
        """The installations that reach this place: the server's (or, in the bot's DM, the app's own)
        where the bot is, and the user's own when they installed the app."""
        found = {0} if self.context == 1 or (self.context == 0 and self.bot_member) else set()
        return found | ({1} if self.user_install else set())


class DiscordState:
    def __init__(
        self,
        *,
        token: str,
        app_id: int,
        bot_user_id: int,
        guilds: Sequence[int],
        channel_id: int,
        owner_id: int,
    ) -> None:
        super().__init__()
        self.token = token
        self.app_id = app_id
        self.bot_user_id = bot_user_id
        self.owner_id = owner_id  # application owner and guild owner (not the default invoking user)
        self.guild_ids = list(guilds)
        self.channel_id = channel_id
        self.base_url = ""
        self.api_base = ""
        self.gateway_url = ""
        self.requests: list[RecordedRequest] = []
        self.synced: dict[int | None, list[dict]] = {}
        self.messages: dict[str, dict] = {}
        self.deleted_messages: dict[str, dict] = {}
        self.interactions: dict[str, FakeInteraction] = {}
        self.app_permissions = BOT_PERMISSIONS
        self._ids = Snowflakes()
        self._bot_role_id = self._ids.next()
        # guild id -> role id -> role payload (filled by Objects: guild i gets text channel channel_id + i)
        self._roles: dict[int, dict[int, dict]] = {}
        self._channels: dict[int, dict] = {}
        self._users: dict[int, str] = {bot_user_id: "fakebot", owner_id: "owner"}
        self._dm_channels: dict[int, int] = {}  # user id -> DM channel id
        # Channels the bot cannot see: in servers it is not in (a member's user install there) and DMs
        # between users; channel id -> channel payload. Its REST calls on them get 403 Missing Access.
        self._unseen_channels: dict[int, dict] = {}
        self._foreign_guilds: set[int] = set()  # servers where only members installed the app
        self._guild_locales: dict[int, str] = {}  # guild id -> preferred locale (default en-US)
        self._by_token: dict[str, FakeInteraction] = {}
        self._changed = asyncio.Condition()

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 5) -> None:
        """Wait until predicate() is true; re-checked after every request the fake answers (and RESUME)."""
        async with self._changed:
            try:
                await asyncio.wait_for(self._changed.wait_for(predicate), timeout)
            except TimeoutError:
                raise AssertionError(f"condition not met within {timeout}s") from None

    async def _wait_event(self, event: asyncio.Event, timeout: float, what: str) -> None:
        try:
            await asyncio.wait_for(event.wait(), timeout)
        except TimeoutError:
            seen = [f"{r.method} {r.path} -> {r.status}" for r in self.requests]
            raise AssertionError(
                f"timed out after {timeout}s waiting for {what}; requests so far: {seen}"
            ) from None

    async def _notify_changed(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    def channel_messages(self, channel_id: int) -> list[dict]:
        """The messages in a channel (ephemeral ones included), oldest first."""
        return sorted((m for m in self.messages.values() if m["channel_id"] == str(channel_id)),
                      key=lambda m: int(m["id"]))

    def dm_messages(self, user_id: int) -> list[dict]:
        """What the bot sent the user by DM, oldest first."""
        channel_id = self._dm_channels.get(user_id)
        return sorted((m for m in self.messages.values() if channel_id is not None
                       and m["channel_id"] == str(channel_id)), key=lambda m: int(m["id"]))
