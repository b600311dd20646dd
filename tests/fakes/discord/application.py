"""Who the bot is (login, the application, users and members) and the commands it registered.

Command sync (bulk overwrite, global or per guild) is checked against Discord's rules (rules.py)
and echoed back with ids that stay the same across re-syncs, as Discord keeps them.
"""

from __future__ import annotations

import asyncio
from http import HTTPStatus
from typing import Any

from aiohttp import web

from .objects import Objects
from .schema import command_schema_problems
from .state import RECORD
from .wire import ApiError, form_error, json_response


class Application(Objects):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # A status (say 503) to answer GET /users/@me with, the call discord.py logs in with: an outage.
        self.login_status: int | None = None
        self._registered: dict[int | None, list[dict]] = {}  # the echoed (id-bearing) commands
        self._command_ids: dict[tuple, str] = {}
        self._synced_event = asyncio.Event()

    async def wait_synced(self, timeout: float = 5) -> None:
        await self._wait_event(self._synced_event, timeout, "a command sync (PUT .../commands)")

    # ------------------------------------------------------------------ REST: identity

    async def _get_me(self, request: web.Request) -> web.Response:
        if self.login_status is not None:
            raise ApiError(self.login_status, 0, f"{self.login_status}: {HTTPStatus(self.login_status).phrase}")
        return json_response(self._bot_user())

    async def _get_user(self, request: web.Request) -> web.Response:
        return json_response(self._user(int(request.match_info["user_id"])))

    async def _get_application(self, request: web.Request) -> web.Response:
        return json_response(self._application())

    async def _get_member(self, request: web.Request) -> web.Response:
        guild_id = int(request.match_info["guild_id"])
        if guild_id not in self._roles:
            raise ApiError(404, 10004, "Unknown Guild")
        user_id = int(request.match_info["user_id"])
        roles = [self._bot_role_id] if user_id == self.bot_user_id else []
        return json_response(self._member(user_id, roles))

    # ------------------------------------------------------------------ REST: command sync

    async def _commands(self, request: web.Request) -> web.Response:
        if int(request.match_info["app_id"]) != self.app_id:
            raise ApiError(403, 50001, "Missing Access")
        guild_id = int(request.match_info["guild_id"]) if "guild_id" in request.match_info else None
        if guild_id is not None and guild_id not in self._roles:
            raise ApiError(403, 50001, "Missing Access")  # the bot is not in that guild
        if request.method == "GET":
            return json_response(self._registered.get(guild_id, []))
        if request.method != "PUT":
            raise ApiError(405, 0, "405: Method Not Allowed")
        commands = request[RECORD].json
        if not isinstance(commands, list):
            raise form_error([("_", "Expected a list of commands")])
        problems = command_schema_problems(commands, install_types=self.install_types)
        if problems:
            raise form_error(problems)
        self.synced[guild_id] = commands
        self._registered[guild_id] = [self._register(c, guild_id) for c in commands]
        self._synced_event.set()
        return json_response(self._registered[guild_id])

    def _register(self, command: dict, guild_id: int | None) -> dict:
        # Discord keeps a command's id across re-syncs as long as name and type stay the same.
        key = (guild_id, command.get("type", 1), command["name"])
        command_id = self._command_ids.setdefault(key, str(self._ids.next()))
        out = {
            "type": 1,
            "description": "",
            "default_member_permissions": None,
            "nsfw": False,
            **command,
            "id": command_id,
            "application_id": str(self.app_id),
            "version": str(self._ids.next()),
        }
        if guild_id is not None:
            out["guild_id"] = str(guild_id)
        return out
