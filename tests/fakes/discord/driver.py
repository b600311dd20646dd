"""The test-facing API: what members do (slash commands, autocomplete, clicks).

`invoke`, `autocomplete` and `click` build the interaction Discord would send (held to the command
schema the bot synced, unless `validate=False` plays a hostile client), dispatch it on the right shard
and return the `FakeInteraction` that records what the bot answered. Where it happens (a server, the
bot's DM, a DM between users, a server the bot is not in) and in which language: places.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .interaction import FakeInteraction
from .messages import Messages
from .places import FIRST_GUILD, Places
from .rules import (
    command_installs,
    find_command,
    find_component,
    nest,
    schema_type,
    subcommand_schema,
    validate_options,
)
from .state import Actor
from .wire import DEFAULT_MEMBER_PERMISSIONS, DEFAULT_UPLOAD_LIMIT

SAME_AS_MESSAGE: Any = object()  # sentinel: "the guild the clicked message lives in"
__all__ = ["FIRST_GUILD", "SAME_AS_MESSAGE", "Driver"]


class Driver(Places, Messages):
    async def _inject(self, actor: Actor, kind: int, data: dict, label: str, message: dict | None = None,
                      owners: dict[str, str] | None = None) -> FakeInteraction:
        if self._conn_for(actor.guild_id) is None:
            raise AssertionError(
                "the bot is not connected to the fake gateway (await fake.wait_identified()), or not on "
                f"the shard of guild {actor.guild_id}"
            )
        await self._ensure_roles(actor)
        if owners is None:
            owners = self.owners(actor, actor.installs)
        payload = self._interaction_payload(actor, kind, data, message, owners)
        fi = FakeInteraction(self, id=payload["id"], token=payload["token"], kind=kind, label=label, actor=actor,
                             payload=payload, message_id=message["id"] if message else None)
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
        require_autocomplete: bool = False,
        **where: Any,
    ) -> FakeInteraction:
        """Inject a slash command as if `username` typed /name [subcommand] options….

        `subcommand` may be "sub" or "group sub". Attachment options go in `attachments`
        (option name -> {"filename", "content_type", "data"} or a ready attachment dict with a url).
        With validate=True the invocation must fit the schema the bot synced (and the command must be
        usable there), else AssertionError. A hostile client is not held to it: validate=False sends
        whatever `options` hold (a missing required option, NaN, a string for a number), and `raw_options`
        are leaf option objects appended exactly as given (any `type`, any `value`, no resolved objects);
        `raw_resolved` adds to `data.resolved` (kind -> {id: object}), say a user with no member.
        `focused` names an option: the interaction is then an autocomplete request (type 4) for it (held to
        an option synced with autocomplete: true only with `require_autocomplete`, as `autocomplete` does).
        `locale`: the member's language. `where` (see places.py `_actor`): dm=True (or guild_id=None) for
        the bot's DM, context=2 for a DM between users, user_install=True for the member's own install of
        the app (needed in a DM between users and in a server the bot is not in), guild_locale=.
        """
        actor = self._actor(user_id=user_id, username=username, guild_id=guild_id, channel_id=channel_id, roles=roles,
                            permissions=permissions, locale=locale, attachment_size_limit=attachment_size_limit,
                            **where)
        label = "/" + " ".join([name, *(subcommand.split() if subcommand else [])])
        data, owners = self._command_data(name, subcommand, dict(options or {}), dict(attachments or {}), actor,
                                          label, validate=validate, raw_options=raw_options,
                                          raw_resolved=raw_resolved, focused=focused,
                                          require_autocomplete=require_autocomplete)
        return await self._inject(actor, 2 if focused is None else 4, data, label, owners=owners)

    async def autocomplete(self, name: str, options: dict | None, focused: str, *, timeout: float = 5,
                           **kwargs: Any) -> list[dict]:
        """Type into option `focused` of /name (the other `options` as filled so far) and return the choices
        the bot answered with (callback type 8), held to Discord's rules for them. Takes `invoke`'s keywords."""
        fi = await self.invoke(name, options, focused=focused, require_autocomplete=True, **kwargs)
        callback = await fi.wait_callback(timeout)
        return list((callback.get("data") or {}).get("choices") or [])

    def _command(self, name: str, actor: Actor, label: str, validate: bool, ctype: int = 1
                 ) -> tuple[dict | None, int | None, dict[str, str]]:
        """The synced command of this name and type usable here, its scope, and the installations it is
        reached through (`authorizing_integration_owners`)."""
        command, scope = find_command(self.synced, name, actor.guild_id, ctype=ctype, context=actor.context,
                                      installs=actor.installs, app_installs=self.install_types)
        if command is None and validate:
            known = sorted({c["name"] for g in (actor.guild_id, None) for c in self.synced.get(g, [])
                            if c.get("type", 1) == ctype})
            raise AssertionError(f"{label}: no such command usable in this place (context {actor.context}, "
                                 f"installs {sorted(actor.installs)}; synced: {known})")
        installs = command_installs(command, scope, actor.context, actor.installs, self.install_types)
        return command, scope, self.owners(actor, installs)

    def _command_data(
        self, name: str, subcommand: str | None, options: dict, attachments: dict[str, dict], actor: Actor,
        label: str, *, validate: bool, raw_options: Sequence[dict], raw_resolved: dict[str, dict] | None,
        focused: str | None, require_autocomplete: bool = False,
    ) -> tuple[dict[str, Any], dict[str, str]]:
        """The `data` of the slash command: its id, the options nested under the subcommand path with
        their resolved objects, and the guild it was synced to (held to that schema if `validate`)."""
        clash = set(options) & set(attachments)
        if clash:
            raise AssertionError(f"options given both as values and as attachments: {sorted(clash)}")
        command, scope, owners = self._command(name, actor, label, validate)
        path, schema = subcommand_schema(command, subcommand, label, validate)
        if validate:
            validate_options(schema, options, attachments, label, focused, require_autocomplete)
        leaf, resolved = self._leaf_options(schema, options, attachments, actor, raw_options, raw_resolved, focused)
        data: dict[str, Any] = {"id": self._command_id(name, scope), "name": name, "type": 1,
                                "options": nest(path, leaf)}
        if resolved:
            data["resolved"] = resolved
        if scope is not None or (command is None and actor.guild_id is not None and actor.bot_member):
            data["guild_id"] = str(scope if scope is not None else actor.guild_id)
        return data, owners

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
            att = self._invocation_attachment(spec, actor)
            resolved.setdefault("attachments", {})[att["id"]] = att
            leaf.append({"name": opt_name, "type": 11, "value": att["id"]})
        leaf.extend(dict(raw) for raw in raw_options)
        if focused is not None and focused not in [o["name"] for o in leaf]:
            if schema_type(schema, focused, "") != 3:  # Discord's client sends only a number it can read
                raise AssertionError(f"autocomplete of number option {focused!r}: give the number typed so far")
            leaf.append({"name": focused, "type": 3, "value": ""})  # nothing typed yet
        for option in leaf:
            if focused is not None and option["name"] == focused:
                option["focused"] = True
        for kind, objects in (raw_resolved or {}).items():
            resolved.setdefault(kind, {}).update(objects)
        return leaf, resolved

    def _command_id(self, name: str, scope: int | None, ctype: int = 1) -> str:
        return self._command_ids.get((scope, ctype, name)) or str(self._ids.next())

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

    def _invocation_attachment(self, spec: dict, actor: Actor) -> dict:
        """A member's upload to a command: on the CDN among the ephemeral attachments, as Discord keeps them."""
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
        return self._attachment(spec["filename"], spec["data"], spec.get("content_type"),
                                channel_id=actor.channel_id, ephemeral=True)

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
        actor = self._message_actor(current, guild_id, user_id=user_id, username=username, roles=roles,
                                    permissions=permissions, locale=locale,
                                    attachment_size_limit=attachment_size_limit)
        data: dict[str, Any] = {"custom_id": custom_id, "component_type": (component or {}).get("type", 2)}
        if values is not None or data["component_type"] in (3, 5, 6, 7, 8):
            data["values"] = list(values or [])
        owners = (current.get("interaction_metadata") or {}).get("authorizing_integration_owners")
        return await self._inject(actor, 3, data, f"click {custom_id}", message=self._fresh_links(current),
                                  owners=owners)

    def _message_actor(self, message: dict, guild_id: Any, *, user_install: bool | None = None, **who: Any) -> Actor:
        """Someone acting on `message` where it is: its channel, and that channel's server (or DM). In a
        channel the bot cannot see, only the member's own install reaches (the default there)."""
        channel_id = int(message["channel_id"])
        unseen = self._unseen_channels.get(channel_id)
        if guild_id is SAME_AS_MESSAGE:
            channel = self._channels.get(channel_id) or unseen
            guild_id = int(channel["guild_id"]) if channel and channel.get("guild_id") else None
        context = 2 if unseen is not None and guild_id is None else None
        return self._actor(guild_id=guild_id, channel_id=channel_id, context=context,
                           user_install=unseen is not None if user_install is None else user_install, **who)

    def bot_message(self, channel_id: int, custom_ids: Sequence[str]) -> dict:
        """A message of the bot's in `channel_id` carrying one button per custom_id, to `click`.

        For presses a hostile client makes up: the interaction is JSON from outside, so the custom_id
        (and the message it claims to come from) can be anything, whatever the bot really posted."""
        message = self._message_shell(str(self._ids.next()), channel_id, 0, interaction=None)
        buttons = [{"type": 2, "style": 2, "label": custom_id[:80], "custom_id": custom_id} for custom_id in custom_ids]
        message["components"] = [{"type": 1, "components": buttons[i:i + 5]} for i in range(0, len(buttons), 5)]
        self.messages[message["id"]] = message
        return message
