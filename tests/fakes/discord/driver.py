"""The test-facing API: what members do (slash commands, clicks) and what changes in a server.

`invoke` and `click` build the interaction Discord would send (held to the command schema the bot
synced, unless `validate=False` plays a hostile client), dispatch it on the right shard and return
the `FakeInteraction` that records what the bot answered. `add_role` / `add_channel` change a guild
and tell the bot, as Discord does.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import Any

from .application import Application
from .gateway import Gateway
from .interaction import FakeInteraction
from .messages import Messages
from .rules import find_command, find_component, nest, schema_type, subcommand_schema, validate_options
from .state import Actor
from .wire import DEFAULT_MEMBER_PERMISSIONS, DEFAULT_UPLOAD_LIMIT, now_iso

FIRST_GUILD: Any = object()  # sentinel: "the first guild the fake was built with"
SAME_AS_MESSAGE: Any = object()  # sentinel: "the guild the clicked message lives in"


class Driver(Gateway, Messages, Application):
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

    # ------------------------------------------------------------------ injecting interactions

    def _actor(
        self,
        *,
        user_id: int,
        username: str,
        guild_id: Any,
        channel_id: int | None,
        roles: Sequence[int],
        permissions: int,
        locale: str,
        attachment_size_limit: int,
    ) -> Actor:
        if guild_id is FIRST_GUILD:
            guild_id = self.guild_ids[0]
        if guild_id is not None and guild_id not in self._roles:
            raise AssertionError(f"guild {guild_id} is not one of the fake's guilds {self.guild_ids}")
        if channel_id is None:
            if guild_id is None:
                channel_id = self._dm_channels.setdefault(user_id, self._ids.next())
            else:
                channel_id = next(
                    int(c["id"]) for c in self._channels.values() if c["guild_id"] == str(guild_id)
                )
        self._users[user_id] = username
        return Actor(
            user_id, username, guild_id, channel_id, list(roles), permissions, locale, attachment_size_limit
        )

    async def _ensure_roles(self, guild_id: int | None, role_ids: Sequence[int]) -> None:
        # A member's roles only show up in discord.py's Member.roles if the guild knows them.
        for role_id in role_ids:
            if guild_id is not None and role_id not in self._roles[guild_id]:
                await self.add_role(guild_id, role_id)

    def _interaction_payload(self, actor: Actor, kind: int, data: dict, message: dict | None) -> dict:
        payload: dict[str, Any] = {
            "id": str(self._ids.next()),
            "application_id": str(self.app_id),
            "type": kind,
            "data": data,
            "token": secrets.token_urlsafe(48),
            "version": 1,
            "locale": actor.locale,
            "app_permissions": str(self.app_permissions),
            "entitlements": [],
            "entitlement_sku_ids": [],
            "attachment_size_limit": actor.attachment_size_limit,
            "channel_id": str(actor.channel_id),
        }
        if actor.guild_id is not None:
            payload.update(
                guild_id=str(actor.guild_id),
                guild_locale="en-US",
                context=0,
                guild={"id": str(actor.guild_id), "locale": "en-US", "features": []},
                channel=self._channels.get(actor.channel_id)
                or self._text_channel(actor.channel_id, actor.guild_id),
                member=self._member(actor.user_id, actor.roles, permissions=actor.permissions),
                authorizing_integration_owners={"0": str(actor.guild_id)},
            )
        else:
            payload.update(
                context=1,
                user=self._user(actor.user_id),
                channel=self._dm_channel(actor.channel_id, actor.user_id),
                authorizing_integration_owners={"0": "0"},
            )
        if message is not None:
            payload["message"] = message
        return payload

    async def _inject(
        self, actor: Actor, kind: int, data: dict, label: str, message: dict | None = None
    ) -> FakeInteraction:
        if self._conn_for(actor.guild_id) is None:
            raise AssertionError(
                "the bot is not connected to the fake gateway (await fake.wait_identified()), or not on "
                f"the shard of guild {actor.guild_id}"
            )
        await self._ensure_roles(actor.guild_id, actor.roles)
        payload = self._interaction_payload(actor, kind, data, message)
        fi = FakeInteraction(
            self,
            id=payload["id"],
            token=payload["token"],
            kind=kind,
            label=label,
            actor=actor,
            payload=payload,
            message_id=message["id"] if message else None,
        )
        self.interactions[fi.id] = fi
        self._by_token[fi.token] = fi
        await self.dispatch("INTERACTION_CREATE", payload)
        return fi

    async def invoke(
        self,
        name: str,
        options: dict | None = None,
        *,
        user_id: int = 4000,
        username: str = "alice",
        guild_id: int | None = FIRST_GUILD,
        roles: Sequence[int] = (),
        permissions: int = DEFAULT_MEMBER_PERMISSIONS,
        attachments: dict[str, dict] | None = None,
        subcommand: str | None = None,
        attachment_size_limit: int = DEFAULT_UPLOAD_LIMIT,
        validate: bool = True,
        channel_id: int | None = None,
        locale: str = "en-US",
        raw_options: Sequence[dict] = (),
        raw_resolved: dict[str, dict] | None = None,
        focused: str | None = None,
    ) -> FakeInteraction:
        """Inject a slash command as if `username` typed /name [subcommand] options….

        `subcommand` may be "sub" or "group sub". Attachment options go in `attachments`
        (option name -> {"filename", "content_type", "data"} or a ready attachment dict with a url).
        With validate=True the invocation must fit the schema the bot synced, else AssertionError.
        A hostile client is not held to it: validate=False sends whatever `options` hold (a missing
        required option, NaN, a string for a number), guild_id=None sends a DM-context interaction
        (`user`, `context: 1`, a DM channel, no `guild_id`/`member`), and `raw_options` are leaf
        option objects appended exactly as given (any `type`, any `value`, no resolved objects);
        `raw_resolved` adds to `data.resolved` (kind -> {id: object}), say a user with no member.
        `focused` names an option: the interaction is then an autocomplete request (type 4) for it.
        """
        actor = self._actor(user_id=user_id, username=username, guild_id=guild_id, channel_id=channel_id, roles=roles,
                            permissions=permissions, locale=locale, attachment_size_limit=attachment_size_limit)
        label = "/" + " ".join([name, *(subcommand.split() if subcommand else [])])
        data = self._command_data(name, subcommand, dict(options or {}), dict(attachments or {}), actor, label,
                                  validate=validate, raw_options=raw_options, raw_resolved=raw_resolved,
                                  focused=focused)
        return await self._inject(actor, 2 if focused is None else 4, data, label)

    def _command_data(
        self, name: str, subcommand: str | None, options: dict, attachments: dict[str, dict], actor: Actor,
        label: str, *, validate: bool, raw_options: Sequence[dict], raw_resolved: dict[str, dict] | None,
        focused: str | None,
    ) -> dict[str, Any]:
        """The `data` of the slash command: its id, the options nested under the subcommand path with
        their resolved objects, and the guild it was synced to (held to that schema if `validate`)."""
        clash = set(options) & set(attachments)
        if clash:
            raise AssertionError(f"options given both as values and as attachments: {sorted(clash)}")
        command, scope = find_command(self.synced, name, actor.guild_id)
        if command is None and validate:
            known = sorted({c["name"] for g in (actor.guild_id, None) for c in self.synced.get(g, [])})
            raise AssertionError(f"{label}: no such command synced for this place (synced: {known})")
        path, schema = subcommand_schema(command, subcommand, label, validate)
        if validate:
            validate_options(schema, options, attachments, label)
        leaf, resolved = self._leaf_options(schema, options, attachments, actor, raw_options, raw_resolved, focused)
        data: dict[str, Any] = {
            "id": self._command_id(name, scope),
            "name": name,
            "type": 1,
            "options": nest(path, leaf),
        }
        if resolved:
            data["resolved"] = resolved
        if scope is not None or (command is None and actor.guild_id is not None):
            data["guild_id"] = str(scope if scope is not None else actor.guild_id)
        return data

    def _leaf_options(
        self, schema: list[dict], options: dict, attachments: dict[str, dict], actor: Actor,
        raw_options: Sequence[dict], raw_resolved: dict[str, dict] | None, focused: str | None,
    ) -> tuple[list[dict], dict[str, dict]]:
        """The invoked (sub)command's option objects and `data.resolved` (attachments put on the CDN)."""
        resolved: dict[str, dict] = {}
        leaf = [
            self._option(name_, value, schema_type(schema, name_, value), actor, resolved)
            for name_, value in options.items()
        ]
        for opt_name, spec in attachments.items():
            att = self._invocation_attachment(spec)
            resolved.setdefault("attachments", {})[att["id"]] = att
            leaf.append({"name": opt_name, "type": 11, "value": att["id"]})
        leaf.extend(dict(raw) for raw in raw_options)
        for option in leaf:
            if focused is not None and option["name"] == focused:
                option["focused"] = True
        for kind, objects in (raw_resolved or {}).items():
            resolved.setdefault(kind, {}).update(objects)
        return leaf, resolved

    def _command_id(self, name: str, scope: int | None) -> str:
        return self._command_ids.get((scope, 1, name)) or str(self._ids.next())

    def _option(self, name: str, value: Any, otype: int, actor: Actor, resolved: dict) -> dict:
        """One leaf option; snowflake-typed values also get their resolved objects."""
        if otype in (6, 7, 8, 9):
            value = str(value)
            if otype == 6 or (otype == 9 and int(value) not in self._roles.get(actor.guild_id or 0, {})):
                resolved.setdefault("users", {})[value] = self._user(int(value))
                if actor.guild_id is not None:
                    resolved.setdefault("members", {})[value] = self._member(
                        int(value), [], permissions=DEFAULT_MEMBER_PERMISSIONS, with_user=False
                    )
            elif otype == 8 or otype == 9:
                role = self._roles.get(actor.guild_id or 0, {}).get(int(value)) or self._role(
                    actor.guild_id or 0, int(value), f"role-{value}", 0
                )
                resolved.setdefault("roles", {})[value] = role
            elif otype == 7:
                channel = self._channels.get(int(value)) or self._text_channel(
                    int(value), actor.guild_id or 0
                )
                resolved.setdefault("channels", {})[value] = {
                    **channel,
                    "permissions": str(actor.permissions),
                }
        return {"name": name, "type": otype, "value": value}

    def _invocation_attachment(self, spec: dict) -> dict:
        if "url" in spec:  # already prepared by the test (e.g. pointing at a removed CDN object)
            defaults = {
                "id": self._ids.next(),
                "proxy_url": spec["url"],
                "size": 0,
                "filename": spec["url"].rsplit("/", 1)[-1].split("?", 1)[0],
            }
            att = {**defaults, **spec}
            att["id"] = str(att["id"])
            return att
        return self._attachment(spec["filename"], spec["data"], spec.get("content_type"))

    async def click(
        self,
        message: dict,
        custom_id: str,
        *,
        user_id: int = 4000,
        username: str = "alice",
        guild_id: int | None = SAME_AS_MESSAGE,
        roles: Sequence[int] = (),
        permissions: int = DEFAULT_MEMBER_PERMISSIONS,
        values: Sequence[str] | None = None,
        attachment_size_limit: int = DEFAULT_UPLOAD_LIMIT,
        validate: bool = True,
        locale: str = "en-US",
    ) -> FakeInteraction:
        """Click a button (or pick `values` in a select) on a message the fake produced earlier."""
        current = self.messages.get(str(message.get("id")))
        if current is None:
            raise AssertionError(
                f"message {message.get('id')} is not a message the fake holds "
                "(discord.py finds views by the id Discord gave the message)"
            )
        component = find_component(current.get("components") or [], custom_id)
        if validate:
            if component is None:
                raise AssertionError(
                    f"message {current['id']} has no component with custom_id {custom_id!r} "
                    "(it may have been edited away)"
                )
            if component.get("disabled"):
                raise AssertionError(f"component {custom_id!r} is disabled; a user cannot click it")
        channel_id = int(current["channel_id"])
        if guild_id is SAME_AS_MESSAGE:
            channel = self._channels.get(channel_id)
            guild_id = int(channel["guild_id"]) if channel else None
        actor = self._actor(
            user_id=user_id,
            username=username,
            guild_id=guild_id,
            channel_id=channel_id,
            roles=roles,
            permissions=permissions,
            locale=locale,
            attachment_size_limit=attachment_size_limit,
        )
        data: dict[str, Any] = {"custom_id": custom_id, "component_type": (component or {}).get("type", 2)}
        if values is not None or data["component_type"] in (3, 5, 6, 7, 8):
            data["values"] = list(values or [])
        return await self._inject(actor, 3, data, f"click {custom_id}", message=current)

    def bot_message(self, channel_id: int, custom_ids: Sequence[str]) -> dict:
        """A message of the bot's in `channel_id` carrying one button per custom_id, to `click`.

        For presses a hostile client makes up: the interaction is JSON from outside, so the custom_id
        (and the message it claims to come from) can be anything, whatever the bot really posted."""
        message = self._message_shell(str(self._ids.next()), channel_id, 0, interaction=None)
        buttons = [{"type": 2, "style": 2, "label": custom_id[:80], "custom_id": custom_id} for custom_id in custom_ids]
        message["components"] = [{"type": 1, "components": buttons[i:i + 5]} for i in range(0, len(buttons), 5)]
        self.messages[message["id"]] = message
        return message
