"""`FakeDiscord`: the aiohttp application on 127.0.0.1 that serves all of it, and its lifecycle.

Each concern is a class of its own module, built on `DiscordState`; `FakeDiscord` stacks them and
adds what only the whole needs: the route table, the middleware that records every request and
checks the bot token, `refuse` (a route failing for a while), start/close and `patch_discord`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import re
from collections.abc import Awaitable, Callable, Iterator, Sequence
from http import HTTPStatus

from aiohttp import web

from .application import Application
from .channels import Channels
from .forms import Forms
from .interactions import Interactions
from .menus import Menus
from .state import RECORD, RecordedRequest
from .wire import API_PREFIX, GATEWAY_PATH, ApiError

log = logging.getLogger("fake_discord")


class FakeDiscord(Forms, Menus, Interactions, Channels, Application):
    def __init__(
        self,
        *,
        token: str = "fake-token",
        app_id: int = 1000,
        bot_user_id: int = 1000,
        guilds: Sequence[int] = (2000,),
        channel_id: int = 3000,
        owner_id: int = 5000,
    ) -> None:
        super().__init__(token=token, app_id=app_id, bot_user_id=bot_user_id, guilds=guilds,
                         channel_id=channel_id, owner_id=owner_id)
        # (method, path pattern, status, until loop time): Discord failing a route for a while (`refuse`).
        self.refusals: list[tuple[str, re.Pattern[str], int, float]] = []
        self.stalls: list[tuple[str, re.Pattern[str], asyncio.Event]] = []
        self.slowdowns: list[tuple[str, re.Pattern[str], float]] = []
        self._runner: web.AppRunner | None = None

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        app = web.Application(middlewares=[self._middleware], client_max_size=64 * 1024 * 1024)
        self._add_routes(app)
        # A short shutdown timeout: nothing should be in flight when a test tears down.
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.5, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, backlog=1024)  # a burst of 200 connects must not overflow
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}"
        self.api_base = self.base_url + API_PREFIX
        self.gateway_url = f"ws://127.0.0.1:{port}{GATEWAY_PATH}"

    async def close(self) -> None:
        await self._close_connections()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @contextlib.contextmanager
    def patch_discord(self) -> Iterator[None]:
        """Point discord.py's REST base and default gateway at this fake, restoring them after."""
        import discord.gateway
        import discord.http
        import yarl

        old_base = discord.http.Route.BASE
        old_gateway = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
        discord.http.Route.BASE = self.api_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(self.gateway_url)
        try:
            yield
        finally:
            discord.http.Route.BASE = old_base
            discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = old_gateway

    def refuse(self, method: str, path: str, status: int, *, seconds: float = math.inf) -> None:
        """Answer `method` requests whose path matches the regex `path` with `status` for `seconds`
        (say, 500 for DELETE .../messages/@original: Discord failing one route for a while)."""
        self.refusals.append((method, re.compile(path), status, asyncio.get_running_loop().time() + seconds))

    def stall(self, method: str, path: str) -> asyncio.Event:
        """Hold `method` requests whose path matches the regex `path` until the returned event is set
        (Discord slow to take a message: a large upload on a slow link, say)."""
        released = asyncio.Event()
        self.stalls.append((method, re.compile(path), released))
        return released

    def slow(self, method: str, path: str, seconds: float) -> None:
        """Answer `method` requests whose path matches the regex `path` `seconds` after they arrive, with
        what was true when they arrived (Discord slow on one route: two clients that each read a message,
        then edit it, overlap)."""
        self.slowdowns.append((method, re.compile(path), seconds))

    # ------------------------------------------------------------------ HTTP plumbing

    def _add_routes(self, app: web.Application) -> None:
        r = app.router
        a = API_PREFIX
        r.add_get(GATEWAY_PATH, self._gateway)
        cdn = "/{kind:(?:ephemeral-)?attachments}/{channel_id:\\d+}/{attachment_id:\\d+}/{filename}"
        r.add_get(cdn, self._cdn_get)
        r.add_get("/media" + cdn, self._cdn_get)
        r.add_post(a + "/attachments/refresh-urls", self._refresh_urls)
        r.add_get(a + "/gateway", self._get_gateway)
        r.add_get(a + "/gateway/bot", self._get_gateway_bot)
        r.add_get(a + "/users/@me", self._get_me)
        r.add_post(a + "/users/@me/channels", self._create_dm)
        r.add_get(a + "/users/{user_id}", self._get_user)
        r.add_get(a + "/oauth2/applications/@me", self._get_application)
        r.add_get(a + "/applications/@me", self._get_application)
        r.add_route("*", a + "/applications/{app_id}/commands", self._commands)
        r.add_route("*", a + "/applications/{app_id}/guilds/{guild_id}/commands", self._commands)
        r.add_post(a + "/interactions/{interaction_id}/{token}/callback", self._callback)
        r.add_post(a + "/webhooks/{app_id}/{token}", self._webhook_execute)
        r.add_route("*", a + "/webhooks/{app_id}/{token}/messages/{message_id}", self._webhook_message)
        r.add_get(a + "/channels/{channel_id}", self._get_channel)
        r.add_route("*", a + "/channels/{channel_id}/messages", self._channel_messages)
        r.add_route("*", a + "/channels/{channel_id}/messages/{message_id}", self._channel_message)
        r.add_post(a + "/channels/{channel_id}/typing", self._typing)
        r.add_put(a + "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me", self._typing)
        r.add_get(a + "/guilds/{guild_id}/members/{user_id}", self._get_member)
        r.add_route("*", "/{tail:.*}", self._unknown)

    @web.middleware
    async def _middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ):
        if request.path == GATEWAY_PATH:
            return await handler(request)
        rec = await self._record(request)
        try:
            if (
                self._needs_bot_token(request.path)
                and request.headers.get("Authorization") != f"Bot {self.token}"
            ):
                raise ApiError(401, 0, "401: Unauthorized")
            now = asyncio.get_running_loop().time()
            for method, pattern, status, until in self.refusals:
                if request.method == method and pattern.search(request.path) and now < until:
                    raise ApiError(status, 0, f"{status}: {HTTPStatus(status).phrase}")
            for method, pattern, released in self.stalls:
                if request.method == method and pattern.search(request.path):
                    await released.wait()
            response = await handler(request)
            for method, pattern, seconds in self.slowdowns:
                if request.method == method and pattern.search(request.path):
                    await asyncio.sleep(seconds)
        except ApiError as exc:
            response = exc.response()
        except web.HTTPException:
            raise
        except Exception as exc:
            # A bug in the fake. Answer 4xx, not 500: discord.py retries 5xx for 9 s before failing.
            log.exception("fake Discord crashed on %s %s", request.method, request.path)
            response = ApiError(400, 0, f"fake Discord internal error: {exc!r}").response()
        rec.status = response.status
        await self._notify_changed()
        return response

    @staticmethod
    def _needs_bot_token(path: str) -> bool:
        # Interaction callbacks and webhook-token routes are authenticated by the token in the
        # URL; discord.py sends them without an Authorization header. The CDN is public.
        if not path.startswith(API_PREFIX):
            return False
        rest = path[len(API_PREFIX) :]
        return not (rest.startswith("/interactions/") or re.match(r"^/webhooks/\d+/[^/]+", rest))

    async def _record(self, request: web.Request) -> RecordedRequest:
        rec = RecordedRequest(request.method, request.path, dict(request.query), dict(request.headers))
        self.requests.append(rec)
        request[RECORD] = rec
        if request.content_type.startswith("multipart/"):
            reader = await request.multipart()
            async for part in reader:
                data = bytes(await part.read())  # type: ignore[union-attr]
                if part.filename is None and part.name == "payload_json":
                    rec.json = json.loads(data)
                elif part.filename is not None:
                    rec.files.append((part.filename, part.headers.get("Content-Type"), data))
                    rec.file_fields.append(part.name or "")
        elif request.can_read_body:
            body = await request.read()
            if body:
                try:
                    rec.json = json.loads(body)
                except ValueError:
                    rec.json = None
        return rec

    async def _unknown(self, request: web.Request) -> web.Response:
        log.warning("fake Discord: unknown route %s %s", request.method, request.path)
        raise ApiError(404, 0, "Unknown")
