"""Message context menus (Apps ▸ …) and the members' own messages they are used on.

A MESSAGE command (type 3, developers/interactions/application-commands.mdx "Message Commands") takes
no options: its APPLICATION_COMMAND interaction carries `data.type` 3, `data.target_id` (the message)
and the message itself in `data.resolved.messages[target_id]`, attachments with working links.
`member_message` posts a member's message (with uploaded files on the CDN, as a member's upload is) to
use one on; it reaches the bot as MESSAGE_CREATE only if the bot asked for that intent.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .driver import SAME_AS_MESSAGE, Driver
from .forms import Upload
from .interaction import FakeInteraction
from .wire import DEFAULT_MEMBER_PERMISSIONS, DEFAULT_UPLOAD_LIMIT

GUILD_MESSAGES, DIRECT_MESSAGES, MESSAGE_CONTENT = 1 << 9, 1 << 12, 1 << 15


class Menus(Driver):
    async def member_message(self, channel_id: int | None = None, *, content: str = "", files: Sequence[Upload] = (),
                             user_id: int = 4000, username: str = "alice") -> dict:
        """A member's message in `channel_id` (default: the first server's channel; a DM channel, or a channel
        the bot cannot see, also works), its `files` uploaded. Returns the message as Discord keeps it."""
        channel_id = channel_id or self.channel_id
        known = (channel_id in self._channels or channel_id in self._unseen_channels
                 or channel_id in self._dm_channels.values())
        if not known:
            raise AssertionError(f"channel {channel_id} is not a channel the fake holds")
        self._users[user_id] = username
        message = self._message_shell(str(self._ids.next()), channel_id, 0, interaction=None)
        message.update(author=self._user(user_id), content=content, attachments=[
            self._attachment(name, data, rest[0] if rest else None, channel_id=channel_id) for name, data, *rest in files
        ])
        self.messages[message["id"]] = message
        await self._tell_bot_of(message)
        return message

    async def _tell_bot_of(self, message: dict) -> None:
        """MESSAGE_CREATE, where the bot is and only if it identified with the intent for it (content only
        with the message content intent, as Discord sends it)."""
        channel = self._channels.get(int(message["channel_id"]))
        guild_id = int(channel["guild_id"]) if channel else None
        in_dm = int(message["channel_id"]) in self._dm_channels.values()
        intents = int((self.identify_payload or {}).get("intents") or 0)
        wanted = GUILD_MESSAGES if guild_id is not None else DIRECT_MESSAGES
        if (guild_id is None and not in_dm) or not intents & wanted or self._conn_for(guild_id) is None:
            return
        event: dict[str, Any] = {**message, "content": message["content"] if intents & MESSAGE_CONTENT else ""}
        if guild_id is not None:
            event.update(guild_id=str(guild_id), member=self._member(int(message["author"]["id"]), [], with_user=False))
        await self.dispatch("MESSAGE_CREATE", event)

    async def invoke_message_command(
        self,
        name: str,
        message: dict,
        *,
        user_id: int = 4000,
        username: str = "alice",
        roles: Sequence[int] = (),
        permissions: int = DEFAULT_MEMBER_PERMISSIONS,
        locale: str = "en-US",
        attachment_size_limit: int = DEFAULT_UPLOAD_LIMIT,
        user_install: bool | None = None,
        guild_locale: str | None = None,
        validate: bool = True,
    ) -> FakeInteraction:
        """Use the message command `name` (Apps ▸ name) on `message`, a message the fake holds (the bot's or
        a `member_message`), where that message is. The command must be synced as type 3 and usable there
        (validate=False: anything goes, any message dict). `user_install`: through the member's own install
        (by default only where the bot cannot be otherwise)."""
        current = self.messages.get(str(message.get("id")))
        if current is None:
            if validate:
                raise AssertionError(f"message {message.get('id')} is not a message the fake holds")
            current = message
        actor = self._message_actor(current, SAME_AS_MESSAGE, user_id=user_id, username=username, roles=roles,
                                    permissions=permissions, locale=locale, user_install=user_install,
                                    attachment_size_limit=attachment_size_limit, guild_locale=guild_locale)
        label = f"message command {name!r}"
        _, scope, owners = self._command(name, actor, label, validate, ctype=3)
        target = self._fresh_links(current)
        data: dict[str, Any] = {"id": self._command_id(name, scope, 3), "name": name, "type": 3,
                                "target_id": str(target["id"]), "resolved": {"messages": {str(target["id"]): target}}}
        if scope is not None:
            data["guild_id"] = str(scope)
        return await self._inject(actor, 2, data, label, owners=owners)
