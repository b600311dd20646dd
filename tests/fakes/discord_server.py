"""A fake Discord that the real, unmodified discord.py connects to.

One aiohttp application on 127.0.0.1 (random port) serves:

* the REST API under ``/api/v10`` (login, application info, command sync, interaction
  callbacks, followup webhooks, channel messages),
* the gateway websocket at ``/gateway`` (HELLO, IDENTIFY/READY/GUILD_CREATE, heartbeats,
  RESUME, INTERACTION_CREATE),
* a CDN route ``/attachments/{id}/{filename}`` for attachment bytes.

It runs in the test's event loop. Point discord.py at it with :meth:`FakeDiscord.patch_discord`
(or the two assignments it makes). Tests inject slash commands and button clicks with
:meth:`FakeDiscord.invoke` / :meth:`FakeDiscord.click` and read what the bot answered from the
returned :class:`FakeInteraction`.

Where Discord enforces a rule the bot must live by (3 s to acknowledge, message and embed
limits, upload size, the synced command schema) the fake enforces it too and answers the way
Discord does (same status and error code), so the bot's own mistakes surface in tests.

Close the bot before the fake: if the fake goes away first, discord.py tries to reconnect and
logs an error.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import math
import mimetypes
import re
import secrets
import time
import urllib.parse
import zlib
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

from aiohttp import WSMsgType, web

log = logging.getLogger("fake_discord")

API_PREFIX = "/api/v10"
GATEWAY_PATH = "/gateway"
HEARTBEAT_INTERVAL_MS = 41250
DISCORD_EPOCH_MS = 1420070400000
DEFAULT_UPLOAD_LIMIT = 10 * 1024 * 1024

# Message flags
SUPPRESS_EMBEDS = 1 << 2
EPHEMERAL = 1 << 6
LOADING = 1 << 7
SUPPRESS_NOTIFICATIONS = 1 << 12
IS_COMPONENTS_V2 = 1 << 15
_SETTABLE_FLAGS = SUPPRESS_EMBEDS | EPHEMERAL | SUPPRESS_NOTIFICATIONS | IS_COMPONENTS_V2


def _bits(*positions: int) -> int:
    return sum(1 << p for p in positions)


# What an ordinary member has in a text channel: create invite, add reactions, view channel,
# send messages, embed links, attach files, read history, external emojis, connect, speak,
# change nickname, use application commands, send in threads. No Manage Guild (5), no Admin (3).
DEFAULT_MEMBER_PERMISSIONS = _bits(0, 6, 10, 11, 14, 15, 16, 18, 20, 21, 26, 31, 38)
# The bot's own role: the member set plus manage messages (13) and mention everyone (17)
# is typical for an installed bot; used for app_permissions and the bot's managed role.
BOT_PERMISSIONS = DEFAULT_MEMBER_PERMISSIONS | _bits(13, 17)
# Privileged intents usable by an unverified bot (presence, members, message content "limited").
APPLICATION_FLAGS = _bits(13, 15, 19)

_OPTION_TYPE_NAMES = {
    1: "subcommand",
    2: "subcommand group",
    3: "string",
    4: "integer",
    5: "boolean",
    6: "user",
    7: "channel",
    8: "role",
    9: "mentionable",
    10: "number",
    11: "attachment",
}
# Application command names: lowercase letters/digits of any script, '-', '_', "'".
_COMMAND_NAME_RE = re.compile(r"^[-_'\w]{1,32}$")
_FILE_FIELD_RE = re.compile(r"^files\[(\d+)\]$")
_MAX_SAFE_INTEGER = 2**53

_FIRST_GUILD: Any = object()  # sentinel: "the first guild the fake was built with"
_SAME_AS_MESSAGE: Any = object()  # sentinel: "the guild the clicked message lives in"


def _now_iso() -> str:
    return datetime.now(UTC).isoformat()


def _json(obj: Any, status: int = 200) -> web.Response:
    # Exactly "application/json": discord.py only parses JSON when the header matches exactly,
    # and aiohttp's json_response would append "; charset=utf-8".
    return web.Response(
        status=status, body=json.dumps(obj).encode(), headers={"Content-Type": "application/json"}
    )


def _no_content() -> web.Response:
    return web.Response(status=204)


class _ApiError(Exception):
    """An error answered the way Discord answers it: status plus {code, message[, errors]}."""

    def __init__(self, status: int, code: int, message: str, errors: dict | None = None):
        super().__init__(f"{status} {code} {message}")
        self.status, self.code, self.message, self.errors = status, code, message, errors

    def response(self) -> web.Response:
        body: dict[str, Any] = {"message": self.message, "code": self.code}
        if self.errors:
            body["errors"] = self.errors
        return _json(body, self.status)


def _form_error(problems: list[tuple[str, str]]) -> _ApiError:
    """400 Invalid Form Body, with errors nested the way discord.py's HTTPException flattens them."""
    errors: dict[str, Any] = {}
    for path, message in problems:
        node = errors
        for key in path.split("."):
            node = node.setdefault(key, {})
        node.setdefault("_errors", []).append({"code": "BASE_TYPE_INVALID", "message": message})
    return _ApiError(400, 50035, "Invalid Form Body", errors)


class _Snowflakes:
    """Real-looking snowflakes: discord.py derives created_at (and Interaction.is_expired) from them."""

    def __init__(self) -> None:
        self._last = 0

    def next(self) -> int:
        value = (int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22
        self._last = max(value, self._last + 1)
        return self._last


def _image_info(data: bytes) -> tuple[str | None, int | None, int | None]:
    """(mime type, width, height) when Pillow can read the header, else Nones."""
    try:
        from PIL import Image
    except ImportError:  # Pillow is optional for the fake; attachments just lack dimensions
        return None, None, None
    try:
        with Image.open(io.BytesIO(data)) as img:
            return Image.MIME.get(img.format or ""), img.width, img.height
    except Exception:
        return None, None, None


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


_REC = web.RequestKey("rec", RecordedRequest)  # where the middleware leaves the parsed request


@dataclass
class _Actor:
    """Who triggers an interaction, and where."""

    user_id: int
    username: str
    guild_id: int | None
    channel_id: int
    roles: list[int]
    permissions: int
    locale: str
    attachment_size_limit: int


class FakeInteraction:
    """One injected interaction and everything the bot answered to it."""

    def __init__(
        self,
        fake: FakeDiscord,
        *,
        id: str,
        token: str,
        kind: int,
        label: str,
        actor: _Actor,
        payload: dict,
        message_id: str | None = None,
    ):
        loop = asyncio.get_running_loop()
        self._fake = fake
        self.id = id
        self.token = token
        self.kind = kind  # 2 application command, 3 component
        self.label = label  # "/echo" or "click echo:again" — for error messages
        self.actor = actor
        self.payload = payload  # the INTERACTION_CREATE data sent to the bot
        self.message_id = message_id  # component interactions: the clicked message
        self.callbacks: list[dict] = []
        self.followups: list[dict] = []
        self.edits: list[dict] = []
        self.created_at: float = loop.time()
        self.callback_at: float | None = None
        self.expired = False
        self.original_id: str | None = None  # what /messages/@original refers to
        self._placeholder_pending = False  # a "thinking…" message the next followup will replace
        self._own_messages: set[str] = set()
        self._answer: dict | None = None
        self._callback_event = asyncio.Event()
        self._answer_event = asyncio.Event()

    @staticmethod
    def ephemeral(msg: dict) -> bool:
        return bool((msg.get("flags") or 0) & EPHEMERAL)

    @property
    def original(self) -> dict | None:
        """The message @original currently is (None before a message-creating callback)."""
        return self._fake.messages.get(self.original_id) if self.original_id else None

    def expire(self, status: int = 401) -> None:
        """Simulate the 15-minute token expiry: later webhook calls get 401 Invalid Webhook Token
        (or, with status=404, 404 Unknown Webhook, which Discord also answers for a dead token)."""
        self.expired = True
        self.expired_status = status

    async def wait_callback(self, timeout: float = 5) -> dict:
        await self._wait(self._callback_event, timeout, "interaction callback")
        return self.callbacks[0]

    async def wait_followup(self, timeout: float = 10) -> dict:
        """The answer the user sees after the thinking state.

        The first followup, or the first edit of @original carrying content, embeds or files —
        whichever comes first — as the resulting message dict plus "_files" (what was uploaded
        with it) and "_payload" (the raw JSON the bot sent).
        """
        await self._wait(self._answer_event, timeout, "followup or edit of @original")
        assert self._answer is not None
        return self._answer

    async def _wait(self, event: asyncio.Event, timeout: float, what: str) -> None:
        try:
            await asyncio.wait_for(event.wait(), timeout)
        except TimeoutError:
            mine = [f"{r.method} {r.path} -> {r.status}" for r in self._fake.requests if self.token in r.path]
            raise AssertionError(
                f"{self.label}: no {what} within {timeout}s. Requests for this interaction: {mine or 'none'}"
                + (" (a 404 on the callback means it came after fake.callback_deadline)" if mine else "")
            ) from None

    def _set_answer(self, message: dict, files: list, payload: Any) -> None:
        if self._answer is None:
            self._answer = {**message, "_files": files, "_payload": payload}
            self._answer_event.set()


class _GatewayConnection:
    """One websocket from the bot, with the compression it asked for."""

    def __init__(self, ws: web.WebSocketResponse, compression: str | None):
        self.ws = ws
        self._lock = asyncio.Lock()  # frames of a compressed stream must go out in compression order
        self._compress = self._compressor(compression)

    @staticmethod
    def _compressor(kind: str | None) -> Callable[[bytes], bytes] | None:
        if kind == "zlib-stream":
            # One deflate stream per connection; each message ends on a sync flush (00 00 ff ff),
            # which is how discord.py knows a message is complete.
            z = zlib.compressobj()
            return lambda raw: z.compress(raw) + z.flush(zlib.Z_SYNC_FLUSH)
        if kind == "zstd-stream":
            # One zstd frame per connection, each message flushed as a block. discord.py only asks
            # for this when `zstandard` (or 3.14's compression.zstd) is importable, so it is here too.
            try:
                import zstandard

                zc = zstandard.ZstdCompressor().compressobj()
                return lambda raw: zc.compress(raw) + zc.flush(zstandard.COMPRESSOBJ_FLUSH_BLOCK)
            except ImportError:
                from compression.zstd import ZstdCompressor  # type: ignore[import-not-found]

                zs = ZstdCompressor()
                return lambda raw: zs.compress(raw, mode=ZstdCompressor.FLUSH_BLOCK)
        return None

    async def send(self, payload: dict) -> None:
        raw = json.dumps(payload).encode()
        async with self._lock:
            if self.ws.closed:
                return
            if self._compress is None:
                await self.ws.send_str(raw.decode())
            else:
                await self.ws.send_bytes(self._compress(raw))


class FakeDiscord:
    def __init__(
        self,
        *,
        token: str = "fake-token",
        app_id: int = 1000,
        bot_user_id: int = 1000,
        guilds: Sequence[int] = (2000,),
        channel_id: int = 3000,
        owner_id: int = 5000,
    ):
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
        self.identify_payload: dict | None = None
        # the query string of each gateway connection: v, encoding, compress
        self.gateway_queries: list[dict[str, str]] = []
        self.resume_count = 0
        self.callback_deadline: float | None = 3.0  # Discord's limit for the first response; None = off
        # Faults for the next interaction callbacks, in order (see fail_callbacks).
        self.callback_faults: list[tuple[int, int, str, bool]] = []
        self.app_permissions = BOT_PERMISSIONS
        # A status (say 503) to answer GET /users/@me with, the call discord.py logs in with: an outage.
        self.login_status: int | None = None
        # (method, path pattern, status, until loop time): Discord failing a route for a while (`refuse`).
        self.refusals: list[tuple[str, re.Pattern[str], int, float]] = []
        # Channel ids whose POST /channels/{id}/messages gets 403 Missing Permissions.
        self.refuse_channel_posts: set[int] = set()
        # User ids who take no DMs from the bot: a post in their DM channel gets 403 50007.
        self.refuse_dms: set[int] = set()
        # (loop time, message id) of every edit of an interaction's message, for rate checks.
        self.edit_times: list[tuple[float, str]] = []
        # (channel id, nonce) -> message id: a post with `enforce_nonce` and a nonce seen before in that
        # channel gets the message already made, as Discord answers within its few minutes.
        self._nonces: dict[tuple[int, str], str] = {}

        self._ids = _Snowflakes()
        self._bot_role_id = self._ids.next()
        # guild id -> role id -> role payload; guild i gets text channel channel_id + i
        self._roles: dict[int, dict[int, dict]] = {g: self._initial_roles(g) for g in self.guild_ids}
        self._channels: dict[int, dict] = {
            channel_id + i: self._text_channel(channel_id + i, g) for i, g in enumerate(self.guild_ids)
        }
        self._users: dict[int, str] = {bot_user_id: "fakebot", owner_id: "owner"}
        self._dm_channels: dict[int, int] = {}  # user id -> DM channel id
        self._registered: dict[int | None, list[dict]] = {}  # the echoed (id-bearing) commands
        self._command_ids: dict[tuple, str] = {}
        self._cdn: dict[str, tuple[str, str | None, bytes]] = {}  # attachment id -> (filename, type, bytes)
        self._cdn_fetches_left: dict[str, int] = {}  # attachment id -> fetches before it expires
        self._by_token: dict[str, FakeInteraction] = {}
        self._conn: _GatewayConnection | None = None  # the latest session's: the one, unsharded
        # Sharding (part 9), as Discord does it: each IDENTIFY names [shard_id, shard_count] and its
        # session gets only the guilds with (guild_id >> 22) % shard_count == shard_id; a guild's
        # events and interactions go out on its shard's connection, wherever that process runs.
        self.recommended_shards = 1  # what GET /gateway/bot answers: discord.py's automatic sharding
        self.shard_count: int | None = None  # from the IDENTIFYs
        self.shard_conns: dict[int, _GatewayConnection] = {}  # shard id -> its live connection
        self.identifies: list[dict] = []  # every IDENTIFY, in order
        # Every connection that identified for a shard, oldest first. Discord lets a second session
        # identify for a shard while the first still runs (a handover); the latest gets the events.
        self.shard_sessions: dict[int, list[_GatewayConnection]] = {}
        self._sessions: dict[str, int] = {}  # session id -> shard id
        self._connections: set[web.WebSocketResponse] = set()
        self._session_id: str | None = None
        self._seq = 0
        self._identified = asyncio.Event()
        self._synced_event = asyncio.Event()
        self._changed = asyncio.Condition()
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
        for ws in list(self._connections):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(code=1001, message=b"fake discord shutting down"), 1)
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

    async def wait_identified(self, timeout: float = 5) -> None:
        await self._wait_event(self._identified, timeout, "the bot to IDENTIFY on the gateway")

    @staticmethod
    def shard_of(guild_id: int, shard_count: int) -> int:
        return (guild_id >> 22) % shard_count

    def guilds_of_shard(self, shard_id: int, shard_count: int) -> list[int]:
        return [g for g in self.guild_ids if self.shard_of(g, shard_count) == shard_id]

    async def wait_shards(self, *shard_ids: int, timeout: float = 15) -> None:
        """Until each of these shards has identified and its connection is open."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not all(i in self.shard_conns and not self.shard_conns[i].ws.closed for i in shard_ids):
            if loop.time() > deadline:
                raise AssertionError(f"shards {shard_ids} did not all connect; connected: {sorted(self.shard_conns)}")
            await asyncio.sleep(0.02)

    def route_shard(self, shard_id: int, session: int) -> None:
        """Send the shard's events to its `session`-th connection (0: the first that identified)."""
        conn = self.shard_sessions[shard_id][session]
        if conn.ws.closed:
            raise AssertionError(f"session {session} of shard {shard_id} is closed")
        self.shard_conns[shard_id] = conn

    def _conn_for(self, guild_id: object) -> _GatewayConnection | None:
        """The connection a guild's events go out on: its shard's (None: that shard is not connected)."""
        if guild_id is not None and self.shard_conns:
            return self.shard_conns.get(self.shard_of(int(str(guild_id)), self.shard_count or 1))
        return self._conn

    async def wait_synced(self, timeout: float = 5) -> None:
        await self._wait_event(self._synced_event, timeout, "a command sync (PUT .../commands)")

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

    # ------------------------------------------------------------------ CDN

    def cdn_put(self, filename: str, data: bytes, content_type: str | None) -> str:
        return self._cdn_store(str(self._ids.next()), filename, data, content_type)

    def cdn_remove(self, url: str) -> None:
        match = re.search(r"/attachments/(\d+)/", url)
        if match:
            self._cdn.pop(match.group(1), None)

    def cdn_expire_after(self, url: str, fetches: int) -> None:
        """Let `url` be fetched `fetches` more times, then 404, as an expired attachment link does."""
        match = re.search(r"/attachments/(\d+)/", url)
        if match:
            self._cdn_fetches_left[match.group(1)] = fetches

    def _cdn_store(self, attachment_id: str, filename: str, data: bytes, content_type: str | None) -> str:
        self._cdn[attachment_id] = (filename, content_type, bytes(data))
        return f"{self.base_url}/attachments/{attachment_id}/{urllib.parse.quote(filename)}"

    def _attachment(self, filename: str, data: bytes, content_type: str | None, **extra: Any) -> dict:
        """An attachment object as Discord returns it, with its bytes put on the CDN."""
        sniffed, width, height = _image_info(data)
        content_type = content_type or sniffed or mimetypes.guess_type(filename)[0]
        attachment_id = str(self._ids.next())
        url = self._cdn_store(attachment_id, filename, data, content_type)
        att = {"id": attachment_id, "filename": filename, "size": len(data), "url": url, "proxy_url": url}
        if content_type:
            att["content_type"] = content_type
        if width is not None:
            att["width"], att["height"] = width, height
        att.update(extra)
        return att

    async def _cdn_get(self, request: web.Request) -> web.Response:
        attachment_id = request.match_info["attachment_id"]
        stored = self._cdn.get(attachment_id)
        if stored is None or stored[0] != request.match_info["filename"]:
            return web.Response(status=404, text="Not Found")
        if attachment_id in self._cdn_fetches_left:
            self._cdn_fetches_left[attachment_id] -= 1
            if self._cdn_fetches_left[attachment_id] <= 0:
                self._cdn.pop(attachment_id, None)
        _, content_type, data = stored
        return web.Response(body=data, content_type=content_type or "application/octet-stream")

    # ------------------------------------------------------------------ HTTP plumbing

    def _add_routes(self, app: web.Application) -> None:
        r = app.router
        a = API_PREFIX
        r.add_get(GATEWAY_PATH, self._gateway)
        r.add_get("/attachments/{attachment_id}/{filename}", self._cdn_get)
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
                raise _ApiError(401, 0, "401: Unauthorized")
            now = asyncio.get_running_loop().time()
            for method, pattern, status, until in self.refusals:
                if request.method == method and pattern.search(request.path) and now < until:
                    raise _ApiError(status, 0, f"{status}: {HTTPStatus(status).phrase}")
            response = await handler(request)
        except _ApiError as exc:
            response = exc.response()
        except web.HTTPException:
            raise
        except Exception as exc:
            # A bug in the fake. Answer 4xx, not 500: discord.py retries 5xx for 9 s before failing.
            log.exception("fake Discord crashed on %s %s", request.method, request.path)
            response = _ApiError(400, 0, f"fake Discord internal error: {exc!r}").response()
        rec.status = response.status
        await self._notify_changed()
        return response

    async def _notify_changed(self) -> None:
        async with self._changed:
            self._changed.notify_all()

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
        request[_REC] = rec
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
        raise _ApiError(404, 0, "Unknown")

    # ------------------------------------------------------------------ payload builders

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
            "id": str(guild_id),
            "name": f"Fake Guild {guild_id}",
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": str(self.owner_id),
            "region": None,
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "roles": list(self._roles[guild_id].values()),
            "emojis": [],
            "stickers": [],
            "features": [],
            "system_channel_id": channels[0]["id"] if channels else None,
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
            "members": [self._member(self.bot_user_id, [self._bot_role_id])],
            "channels": channels,
            "threads": [],
            "presences": [],
            "voice_states": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
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
            "integration_types_config": {"0": {}},
        }

    # ------------------------------------------------------------------ REST: identity & gateway

    async def _get_gateway(self, request: web.Request) -> web.Response:
        return _json({"url": self.gateway_url})

    async def _get_gateway_bot(self, request: web.Request) -> web.Response:
        limit = {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1}
        return _json({"url": self.gateway_url, "shards": self.recommended_shards, "session_start_limit": limit})

    async def _get_me(self, request: web.Request) -> web.Response:
        if self.login_status is not None:
            raise _ApiError(self.login_status, 0, f"{self.login_status}: {HTTPStatus(self.login_status).phrase}")
        return _json(self._bot_user())

    async def _get_user(self, request: web.Request) -> web.Response:
        return _json(self._user(int(request.match_info["user_id"])))

    async def _get_application(self, request: web.Request) -> web.Response:
        return _json(self._application())

    async def _get_member(self, request: web.Request) -> web.Response:
        guild_id = int(request.match_info["guild_id"])
        if guild_id not in self._roles:
            raise _ApiError(404, 10004, "Unknown Guild")
        user_id = int(request.match_info["user_id"])
        roles = [self._bot_role_id] if user_id == self.bot_user_id else []
        return _json(self._member(user_id, roles))

    async def _create_dm(self, request: web.Request) -> web.Response:
        user_id = int(request[_REC].json["recipient_id"])
        channel_id = self._dm_channels.setdefault(user_id, self._ids.next())
        return _json(self._dm_channel(channel_id, user_id))

    def dm_messages(self, user_id: int) -> list[dict]:
        """What the bot sent the user by DM, oldest first."""
        channel_id = self._dm_channels.get(user_id)
        return sorted((m for m in self.messages.values() if channel_id is not None
                       and m["channel_id"] == str(channel_id)), key=lambda m: int(m["id"]))

    def _dm_channel(self, channel_id: int, user_id: int) -> dict:
        return {
            "id": str(channel_id),
            "type": 1,
            "last_message_id": None,
            "flags": 0,
            "recipients": [self._user(user_id)],
        }

    # ------------------------------------------------------------------ REST: command sync

    async def _commands(self, request: web.Request) -> web.Response:
        if int(request.match_info["app_id"]) != self.app_id:
            raise _ApiError(403, 50001, "Missing Access")
        guild_id = int(request.match_info["guild_id"]) if "guild_id" in request.match_info else None
        if guild_id is not None and guild_id not in self._roles:
            raise _ApiError(403, 50001, "Missing Access")  # the bot is not in that guild
        if request.method == "GET":
            return _json(self._registered.get(guild_id, []))
        if request.method != "PUT":
            raise _ApiError(405, 0, "405: Method Not Allowed")
        commands = request[_REC].json
        if not isinstance(commands, list):
            raise _form_error([("_", "Expected a list of commands")])
        problems = _command_schema_problems(commands)
        if problems:
            raise _form_error(problems)
        self.synced[guild_id] = commands
        self._registered[guild_id] = [self._register(c, guild_id) for c in commands]
        self._synced_event.set()
        return _json(self._registered[guild_id])

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

    # ------------------------------------------------------------------ REST: interactions

    def _interaction_for(self, request: web.Request) -> FakeInteraction:
        if int(request.match_info["app_id"]) != self.app_id:
            raise _ApiError(404, 10015, "Unknown Webhook")
        fi = self._by_token.get(request.match_info["token"])
        if fi is None:
            raise _ApiError(404, 10015, "Unknown Webhook")
        if fi.expired:
            if getattr(fi, "expired_status", 401) == 404:
                raise _ApiError(404, 10015, "Unknown Webhook")
            raise _ApiError(401, 50027, "Invalid Webhook Token")
        return fi

    def fail_callbacks(self, status: int, *, times: int = 1, code: int = 0, message: str = "Service Unavailable",
                       applied: bool = False) -> None:
        """Answer the next `times` interaction callbacks (any interaction's) with `status`: Discord having
        trouble (5xx) or refusing (10062 Unknown interaction with status 404). `applied=True`: the callback
        still takes effect, as when Discord acted on it and then failed to answer (a retry of it then
        gets 400 40060 "already acknowledged")."""
        self.callback_faults.extend([(status, code, message, applied)] * times)

    async def _callback(self, request: web.Request) -> web.Response:
        fi = self.interactions.get(request.match_info["interaction_id"])
        fault = self.callback_faults.pop(0) if self.callback_faults else None
        if fault is not None and not fault[3]:
            raise _ApiError(fault[0], fault[1], fault[2])
        if fi is None or fi.token != request.match_info["token"] or fi.expired:
            raise _ApiError(404, 10062, "Unknown interaction")
        if fi.callbacks:
            raise _ApiError(400, 40060, "Interaction has already been acknowledged.")
        loop = asyncio.get_running_loop()
        late = loop.time() - fi.created_at
        if self.callback_deadline is not None and late > self.callback_deadline:
            log.warning(
                "fake Discord: %s answered after %.2fs; Discord would have dropped it", fi.label, late
            )
            raise _ApiError(404, 10062, "Unknown interaction")

        rec: RecordedRequest = request[_REC]
        body = rec.json or {}
        ctype = body.get("type")
        data = body.get("data") or {}
        if ctype in (6, 7) and fi.kind != 3:
            raise _form_error(
                [("type", "Interaction response type 6/7 is only valid for component interactions")]
            )
        if (ctype == 8) != (fi.kind == 4):
            raise _form_error([("type", "An autocomplete interaction takes response type 8, and only it does")])
        message = self._apply_callback(fi, ctype, data, rec)
        fi.callbacks.append(body)
        fi.callback_at = loop.time()
        fi._callback_event.set()
        if fault is not None:  # acted on, then answered with an error
            raise _ApiError(fault[0], fault[1], fault[2])
        return _json(self._callback_response(fi, ctype, message))

    def _apply_callback(
        self, fi: FakeInteraction, ctype: int, data: dict, rec: RecordedRequest
    ) -> dict | None:
        """Create or update the message a callback implies; returns it (None if there is none)."""
        if ctype == 4:  # CHANNEL_MESSAGE_WITH_SOURCE
            message = self._new_message(
                data,
                rec,
                fi.actor.channel_id,
                fi.actor.attachment_size_limit,
                interaction=fi,
                msg_type=20 if fi.kind == 2 else 0,
            )
            fi.original_id = message["id"]
            return message
        if ctype == 5:  # DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE: the "is thinking…" message
            flags = LOADING | ((data.get("flags") or 0) & EPHEMERAL)
            message = self._message_shell(
                str(self._ids.next()),
                fi.actor.channel_id,
                flags,
                interaction=fi,
                msg_type=20 if fi.kind == 2 else 0,
            )
            self.messages[message["id"]] = message
            fi._own_messages.add(message["id"])
            fi.original_id = message["id"]
            fi._placeholder_pending = True
            return None
        if ctype == 6:  # DEFERRED_UPDATE_MESSAGE: @original becomes the clicked message
            fi.original_id = fi.message_id
            return None
        if ctype == 7:  # UPDATE_MESSAGE
            assert fi.message_id is not None
            message = self._edit_message(fi.message_id, data, rec, fi.actor.attachment_size_limit)
            fi.original_id = fi.message_id
            return message
        return None  # 1 pong, 8 autocomplete, 9 modal, ...: recorded only

    def _callback_response(self, fi: FakeInteraction, ctype: int, message: dict | None) -> dict:
        # discord.py reads interaction.{id, response_message_id, response_message_loading,
        # response_message_ephemeral} and resource.{type, message}; a 204 makes it KeyError.
        original = fi.original
        interaction: dict[str, Any] = {
            "id": fi.id,
            "type": fi.kind,
            "activity_instance_id": None,
            "response_message_loading": ctype == 5,
            "response_message_ephemeral": bool(original and original["flags"] & EPHEMERAL),
        }
        if original is not None:
            interaction["response_message_id"] = original["id"]
        resource: dict[str, Any] = {"type": ctype}
        if message is not None:
            resource["message"] = message
        return {"interaction": interaction, "resource": resource}

    async def _webhook_execute(self, request: web.Request) -> web.Response:
        fi = self._interaction_for(request)
        if not fi.callbacks:
            raise _ApiError(
                404, 10015, "Unknown Webhook"
            )  # no followups before the interaction is acknowledged
        rec: RecordedRequest = request[_REC]
        payload = rec.json or {}
        limit = fi.actor.attachment_size_limit
        if fi._placeholder_pending and fi.original_id in self.messages:
            # The first followup after a deferred response replaces the "thinking…" message: same id,
            # and the defer's ephemeral choice wins over the followup's.
            placeholder = self.messages[fi.original_id]  # type: ignore[index]
            payload_flags = (payload.get("flags") or 0) & ~EPHEMERAL
            message = self._new_message(
                {**payload, "flags": payload_flags | (placeholder["flags"] & EPHEMERAL)},
                rec,
                fi.actor.channel_id,
                limit,
                interaction=fi,
                message_id=placeholder["id"],
                msg_type=placeholder["type"],
            )
            fi._placeholder_pending = False
        else:
            message = self._new_message(payload, rec, fi.actor.channel_id, limit, interaction=fi)
        fi.followups.append({**message, "_files": rec.files, "_payload": payload})
        fi._set_answer(message, rec.files, payload)
        if request.query.get("wait") in ("0", "false", "False"):
            return _no_content()
        return _json(message)

    async def _webhook_message(self, request: web.Request) -> web.Response:
        fi = self._interaction_for(request)
        target = request.match_info["message_id"]
        message_id = fi.original_id if target == "@original" else target
        if (
            message_id is None
            or message_id not in self.messages
            or (target != "@original" and message_id not in fi._own_messages and message_id != fi.original_id)
        ):
            raise _ApiError(404, 10008, "Unknown Message")
        if request.method == "GET":
            return _json(self.messages[message_id])
        if request.method == "DELETE":
            self._delete_message(message_id)
            if message_id == fi.original_id:
                fi._placeholder_pending = False  # a followup after this is a new message
            return _no_content()
        if request.method != "PATCH":
            raise _ApiError(405, 0, "405: Method Not Allowed")
        rec: RecordedRequest = request[_REC]
        payload = rec.json or {}
        if message_id == fi.original_id:
            fi._placeholder_pending = False
        message = self._edit_message(message_id, payload, rec, fi.actor.attachment_size_limit)
        if target == "@original" or message_id == fi.original_id:
            at = asyncio.get_running_loop().time()
            self.edit_times.append((at, message_id))
            fi.edits.append({**payload, "_files": rec.files, "_message": message, "_at": at})
            if payload.get("content") or payload.get("embeds") or rec.files:
                fi._set_answer(message, rec.files, payload)
        return _json(message)

    # ------------------------------------------------------------------ REST: channels

    def _channel_or_404(self, request: web.Request) -> int:
        channel_id = int(request.match_info["channel_id"])
        if channel_id not in self._channels and channel_id not in self._dm_channels.values():
            raise _ApiError(404, 10003, "Unknown Channel")
        return channel_id

    async def _get_channel(self, request: web.Request) -> web.Response:
        channel_id = self._channel_or_404(request)
        if channel_id in self._channels:
            return _json(self._channels[channel_id])
        user_id = next(u for u, c in self._dm_channels.items() if c == channel_id)
        return _json(self._dm_channel(channel_id, user_id))

    async def _typing(self, request: web.Request) -> web.Response:
        self._channel_or_404(request)
        return _no_content()

    async def _channel_messages(self, request: web.Request) -> web.Response:
        channel_id = self._channel_or_404(request)
        if request.method == "GET":  # history, newest first, without ephemeral messages
            visible = [
                m
                for m in self.messages.values()
                if m["channel_id"] == str(channel_id) and not m["flags"] & EPHEMERAL
            ]
            limit = int(request.query.get("limit", 50))
            return _json(sorted(visible, key=lambda m: int(m["id"]), reverse=True)[:limit])
        if request.method != "POST":
            raise _ApiError(405, 0, "405: Method Not Allowed")
        if channel_id in self.refuse_channel_posts:
            raise _ApiError(403, 50013, "Missing Permissions")
        if any(self._dm_channels.get(user) == channel_id for user in self.refuse_dms):
            raise _ApiError(403, 50007, "Cannot send messages to this user")
        rec: RecordedRequest = request[_REC]
        payload = rec.json or {}
        nonce = payload.get("nonce")
        if nonce is not None and payload.get("enforce_nonce"):
            seen = self._nonces.get((channel_id, str(nonce)))
            if seen is not None and seen in self.messages:
                return _json(self.messages[seen])
        message = self._new_message(payload, rec, channel_id, DEFAULT_UPLOAD_LIMIT)
        if nonce is not None and payload.get("enforce_nonce"):
            self._nonces[(channel_id, str(nonce))] = message["id"]
        return _json(message)

    def channel_messages(self, channel_id: int) -> list[dict]:
        """The messages in a channel (ephemeral ones included), oldest first."""
        return sorted((m for m in self.messages.values() if m["channel_id"] == str(channel_id)),
                      key=lambda m: int(m["id"]))

    async def _channel_message(self, request: web.Request) -> web.Response:
        channel_id = self._channel_or_404(request)
        message_id = request.match_info["message_id"]
        message = self.messages.get(message_id)
        if message is None or message["channel_id"] != str(channel_id) or message["flags"] & EPHEMERAL:
            raise _ApiError(404, 10008, "Unknown Message")  # ephemeral messages are invisible to the API
        if request.method == "GET":
            return _json(message)
        if request.method == "DELETE":
            self._delete_message(message_id)
            return _no_content()
        if request.method != "PATCH":
            raise _ApiError(405, 0, "405: Method Not Allowed")
        if message["author"]["id"] != str(self.bot_user_id):
            raise _ApiError(403, 50005, "Cannot edit a message authored by another user")
        rec: RecordedRequest = request[_REC]
        return _json(self._edit_message(message_id, rec.json or {}, rec, DEFAULT_UPLOAD_LIMIT))

    def _delete_message(self, message_id: str) -> None:
        self.deleted_messages[message_id] = self.messages.pop(message_id)

    # ------------------------------------------------------------------ messages

    def _message_shell(
        self,
        message_id: str,
        channel_id: int,
        flags: int,
        *,
        interaction: FakeInteraction | None,
        msg_type: int = 0,
    ) -> dict:
        message: dict[str, Any] = {
            "id": message_id,
            "channel_id": str(channel_id),
            "author": self._bot_user(),
            "content": "",
            "timestamp": _now_iso(),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [],
            "embeds": [],
            "components": [],
            "pinned": False,
            "type": msg_type,
            "flags": flags,
        }
        if interaction is not None:
            message["webhook_id"] = str(self.app_id)
            message["application_id"] = str(self.app_id)
            message["interaction_metadata"] = {
                "id": interaction.id,
                "type": interaction.kind,
                "user": self._user(interaction.actor.user_id),
                "authorizing_integration_owners": {"0": str(interaction.actor.guild_id)}
                if interaction.actor.guild_id
                else {"1": str(interaction.actor.user_id)},
            }
        return message

    def _new_message(
        self,
        payload: dict,
        rec: RecordedRequest,
        channel_id: int,
        size_limit: int,
        *,
        interaction: FakeInteraction | None = None,
        message_id: str | None = None,
        msg_type: int = 0,
    ) -> dict:
        message_id = message_id or str(self._ids.next())
        shell = self._message_shell(message_id, channel_id, 0, interaction=interaction, msg_type=msg_type)
        message = self._render(shell, payload, rec, size_limit, creating=True)
        self.messages[message_id] = message
        if interaction is not None:
            interaction._own_messages.add(message_id)
        return message

    def _edit_message(self, message_id: str, payload: dict, rec: RecordedRequest, size_limit: int) -> dict:
        base = self.messages[message_id]
        was_loading = bool(base["flags"] & LOADING)
        message = self._render(base, payload, rec, size_limit, creating=False)
        if not was_loading:  # replacing the "thinking…" message does not show as an edit
            message["edited_timestamp"] = _now_iso()
        self.messages[message_id] = message
        return message

    def _render(
        self, base: dict, payload: dict, rec: RecordedRequest, size_limit: int, *, creating: bool
    ) -> dict:
        """Apply a create/edit payload (plus uploaded files) to a message, enforcing Discord's limits."""
        problems = _message_problems(payload)
        if problems:
            raise _form_error(problems)
        message = dict(base)
        message["attachments"] = self._render_attachments(base, payload, rec, size_limit)
        for key in ("content", "components", "embeds"):
            if key in payload:
                message[key] = payload[key] if payload[key] is not None else ([] if key != "content" else "")
        message["embeds"] = [self._render_embed(e, message["attachments"]) for e in message["embeds"]]
        flags = base["flags"] & ~LOADING
        if "flags" in payload and payload["flags"] is not None:
            settable = _SETTABLE_FLAGS if creating else SUPPRESS_EMBEDS
            flags = (flags & ~settable) | (payload["flags"] & settable)
        message["flags"] = flags
        if not (
            message["content"]
            or message["embeds"]
            or message["attachments"]
            or message["components"]
            or payload.get("poll")
            or payload.get("sticker_ids")
        ):
            raise _ApiError(400, 50006, "Cannot send an empty message")
        return message

    def _render_attachments(
        self, base: dict, payload: dict, rec: RecordedRequest, size_limit: int
    ) -> list[dict]:
        uploads: dict[int, tuple[str, str | None, bytes]] = {}
        for index, (name, upload) in enumerate(zip(rec.file_fields, rec.files, strict=True)):
            match = _FILE_FIELD_RE.match(name)
            uploads[int(match.group(1)) if match else index] = upload
        for filename, _, data in uploads.values():
            if len(data) > size_limit:
                raise _ApiError(
                    413, 40005, f"Request entity too large ({filename}: {len(data)} > {size_limit})"
                )

        existing = {a["id"]: a for a in base["attachments"]}
        if "attachments" not in payload:
            # No attachment list: keep what the message had and add whatever was uploaded.
            wanted: list[dict] = [{"id": a} for a in existing] + [{"id": i} for i in uploads]
        else:
            wanted = list(payload["attachments"] or [])
        result, used = [], set()
        for position, entry in enumerate(wanted):
            ref = str(entry.get("id"))
            if ref in existing:
                result.append(existing[ref])
            elif ref.isdigit() and int(ref) in uploads:
                filename, content_type, data = uploads[int(ref)]
                extra = {"description": entry["description"]} if entry.get("description") else {}
                # The uploaded part's type is whatever the client said (discord.py: octet-stream);
                # Discord sniffs the real type, so the fake does too.
                sniffed = None if content_type in (None, "application/octet-stream") else content_type
                result.append(self._attachment(entry.get("filename") or filename, data, sniffed, **extra))
                used.add(int(ref))
            else:
                raise _form_error([(f"attachments.{position}.id", f"Unknown attachment {ref}")])
        for index, (filename, _, data) in uploads.items():
            if index not in used and "attachments" in payload:
                result.append(
                    self._attachment(filename, data, None)
                )  # uploaded but not listed: Discord keeps it
        if len(result) > 10:
            raise _form_error([("attachments", "Must be 10 or fewer in length.")])
        return result

    @staticmethod
    def _render_embed(embed: dict, attachments: list[dict]) -> dict:
        """Discord stores embeds with type "rich" and resolves attachment://name to the CDN."""
        by_name = {a["filename"]: a for a in attachments}
        out = {"type": "rich", **embed}
        for key in ("image", "thumbnail"):
            url = (out.get(key) or {}).get("url", "")
            if url.startswith("attachment://") and url[len("attachment://") :] in by_name:
                att = by_name[url[len("attachment://") :]]
                out[key] = {
                    "url": att["url"],
                    "proxy_url": att["proxy_url"],
                    "width": att.get("width", 0),
                    "height": att.get("height", 0),
                    "flags": 0,
                }
        return out

    # ------------------------------------------------------------------ gateway

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(timeout=1.0, max_msg_size=0)
        await ws.prepare(request)
        self.gateway_queries.append(dict(request.query))
        if request.query.get("encoding", "json") != "json":
            await ws.close(code=4002, message=b"only json encoding is faked")
            return ws
        conn = _GatewayConnection(ws, request.query.get("compress"))
        self._connections.add(ws)
        try:
            await conn.send(
                {
                    "op": 10,
                    "d": {"heartbeat_interval": HEARTBEAT_INTERVAL_MS, "_trace": ["fake-discord"]},
                    "s": None,
                    "t": None,
                }
            )
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    await self._on_gateway_message(conn, json.loads(msg.data))
                elif msg.type is WSMsgType.ERROR:
                    break
        finally:
            self._connections.discard(ws)
            if self._conn is conn:
                self._conn = None
            for shard_id, shard_conn in list(self.shard_conns.items()):
                if shard_conn is conn:
                    del self.shard_conns[shard_id]
        return ws

    async def _on_gateway_message(self, conn: _GatewayConnection, msg: dict) -> None:
        op, d = msg.get("op"), msg.get("d")
        if op == 1:  # heartbeat
            await conn.send({"op": 11, "d": None, "s": None, "t": None})
        elif op == 2:
            await self._on_identify(conn, d)
        elif op == 6:
            await self._on_resume(conn, d)
        elif op == 8:  # request guild members: only the bot itself is known to be a member
            members = [self._member(self.bot_user_id, [self._bot_role_id])]
            await self._send_dispatch(
                conn,
                "GUILD_MEMBERS_CHUNK",
                {
                    "guild_id": str(d["guild_id"]),
                    "members": members,
                    "chunk_index": 0,
                    "chunk_count": 1,
                    "not_found": [],
                    "nonce": d.get("nonce"),
                },
            )
        # 3 presence, 4 voice state: accepted and ignored

    async def _on_identify(self, conn: _GatewayConnection, d: dict) -> None:
        if d.get("token") != self.token:
            await conn.ws.close(code=4004, message=b"Authentication failed.")
            return
        self.identify_payload = d
        self.identifies.append(d)
        shard_id, shard_count = d.get("shard") or (0, 1)
        if self.shard_count is not None and shard_count != self.shard_count and self.shard_conns:
            await conn.ws.close(code=4010, message=b"Invalid shard.")  # one count for every session
            return
        self.shard_count = shard_count
        guilds = self.guilds_of_shard(shard_id, shard_count)
        self._session_id = secrets.token_hex(16)
        self._sessions[self._session_id] = shard_id
        self._seq = 0
        self._conn = conn
        self.shard_conns[shard_id] = conn
        self.shard_sessions.setdefault(shard_id, []).append(conn)
        ready: dict[str, Any] = {
            "v": 10,
            "user": self._bot_user(),
            "session_id": self._session_id,
            "resume_gateway_url": self.gateway_url,
            "session_type": "normal",
            "guilds": [{"id": str(g), "unavailable": True} for g in guilds],
            "application": {"id": str(self.app_id), "flags": APPLICATION_FLAGS},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": [],
            "user_settings": {},
            "_trace": ["fake-discord"],
        }
        if d.get("shard") is not None:
            ready["shard"] = d["shard"]
        await self._send_dispatch(conn, "READY", ready)
        for guild_id in guilds:
            await self._send_dispatch(conn, "GUILD_CREATE", self._guild_create(guild_id))
        self._identified.set()

    async def _on_resume(self, conn: _GatewayConnection, d: dict) -> None:
        if d.get("token") != self.token or d.get("session_id") not in self._sessions:
            await conn.send({"op": 9, "d": False, "s": None, "t": None})  # invalid session, not resumable
            return
        self._conn = conn
        self.shard_conns[self._sessions[d["session_id"]]] = conn
        self.resume_count += 1
        await self._send_dispatch(conn, "RESUMED", {"_trace": ["fake-discord"]})
        await self._notify_changed()

    async def _send_dispatch(self, conn: _GatewayConnection, event: str, data: dict) -> None:
        self._seq += 1
        await conn.send({"op": 0, "t": event, "s": self._seq, "d": data})

    async def dispatch(self, event: str, data: dict) -> None:
        """Send any gateway event to the connected bot: a guild's on its shard's connection."""
        conn = self._conn_for(data.get("guild_id"))
        if conn is None or conn.ws.closed:
            raise AssertionError("the bot is not connected to the fake gateway (did it identify?), or not "
                                 f"on the shard of guild {data.get('guild_id')}")
        await self._send_dispatch(conn, event, data)

    async def request_reconnect(self) -> None:
        """Send op 7 RECONNECT: discord.py drops the socket and RESUMEs at resume_gateway_url."""
        if self._conn is None:
            raise AssertionError("the bot is not connected to the fake gateway")
        await self._conn.send({"op": 7, "d": None, "s": None, "t": None})

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
                                            "archive_timestamp": _now_iso(), "locked": False},
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
    ) -> _Actor:
        if guild_id is _FIRST_GUILD:
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
        return _Actor(
            user_id, username, guild_id, channel_id, list(roles), permissions, locale, attachment_size_limit
        )

    async def _ensure_roles(self, guild_id: int | None, role_ids: Sequence[int]) -> None:
        # A member's roles only show up in discord.py's Member.roles if the guild knows them.
        for role_id in role_ids:
            if guild_id is not None and role_id not in self._roles[guild_id]:
                await self.add_role(guild_id, role_id)

    def _interaction_payload(self, actor: _Actor, kind: int, data: dict, message: dict | None) -> dict:
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
        self, actor: _Actor, kind: int, data: dict, label: str, message: dict | None = None
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
        guild_id: int | None = _FIRST_GUILD,
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
        options = dict(options or {})
        attachments = dict(attachments or {})
        clash = set(options) & set(attachments)
        if clash:
            raise AssertionError(f"options given both as values and as attachments: {sorted(clash)}")
        label = "/" + " ".join([name, *(subcommand.split() if subcommand else [])])

        command, scope = _find_command(self.synced, name, actor.guild_id)
        if command is None and validate:
            known = sorted({c["name"] for g in (actor.guild_id, None) for c in self.synced.get(g, [])})
            raise AssertionError(f"{label}: no such command synced for this place (synced: {known})")
        path, schema = _subcommand_schema(command, subcommand, label, validate)
        if validate:
            _validate_options(schema, options, attachments, label)

        resolved: dict[str, dict] = {}
        leaf = [
            self._option(name_, value, _schema_type(schema, name_, value), actor, resolved)
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
        data: dict[str, Any] = {
            "id": self._command_id(name, scope),
            "name": name,
            "type": 1,
            "options": _nest(path, leaf),
        }
        if resolved:
            data["resolved"] = resolved
        if scope is not None or (command is None and actor.guild_id is not None):
            data["guild_id"] = str(scope if scope is not None else actor.guild_id)
        return await self._inject(actor, 2 if focused is None else 4, data, label)

    def _command_id(self, name: str, scope: int | None) -> str:
        return self._command_ids.get((scope, 1, name)) or str(self._ids.next())

    def _option(self, name: str, value: Any, otype: int, actor: _Actor, resolved: dict) -> dict:
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
        guild_id: int | None = _SAME_AS_MESSAGE,
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
        component = _find_component(current.get("components") or [], custom_id)
        if validate:
            if component is None:
                raise AssertionError(
                    f"message {current['id']} has no component with custom_id {custom_id!r} "
                    "(it may have been edited away)"
                )
            if component.get("disabled"):
                raise AssertionError(f"component {custom_id!r} is disabled; a user cannot click it")
        channel_id = int(current["channel_id"])
        if guild_id is _SAME_AS_MESSAGE:
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

    async def submit_form(
        self,
        custom_id: str,
        values: dict[str, str],
        *,
        user_id: int = 4000,
        username: str = "alice",
        guild_id: int | None = _FIRST_GUILD,
        channel_id: int | None = None,
        permissions: int = DEFAULT_MEMBER_PERMISSIONS,
    ) -> FakeInteraction:
        """Submit a form (modal) the bot never opened for this member: any custom_id, and `values`
        (text input custom_id -> text), as a hostile client can."""
        actor = self._actor(
            user_id=user_id,
            username=username,
            guild_id=guild_id,
            channel_id=channel_id,
            roles=(),
            permissions=permissions,
            locale="en-US",
            attachment_size_limit=DEFAULT_UPLOAD_LIMIT,
        )
        rows = [{"type": 1, "components": [{"type": 4, "custom_id": key, "value": value}]}
                for key, value in values.items()]
        return await self._inject(actor, 5, {"custom_id": custom_id, "components": rows}, f"modal {custom_id}")

    async def submit_modal(
        self,
        opened_by: FakeInteraction,
        values: dict[str, str],
        *,
        user_id: int | None = None,
        permissions: int = DEFAULT_MEMBER_PERMISSIONS,
    ) -> FakeInteraction:
        """Submit the modal `opened_by` was answered with (callback type 9), its text inputs filled in
        by label: `values` maps a label to the text; inputs not named keep their prefilled value."""
        (callback,) = [c for c in opened_by.callbacks if c.get("type") == 9]
        modal = callback["data"]
        rows = []
        for row in modal.get("components") or []:
            inner = [row["component"]] if row.get("type") == 18 else row.get("components") or []
            filled = []
            for item in inner:
                label = row.get("label") or item.get("label")
                value = values.get(label, item.get("value") or "")
                filled.append({"type": 4, "custom_id": item["custom_id"], "value": value})
            if row.get("type") == 18:
                rows.append({"type": 18, "id": row.get("id"), "component": filled[0]})
            else:
                rows.append({"type": 1, "components": filled})
        actor = opened_by.actor
        if user_id is not None or permissions != actor.permissions:
            actor = self._actor(
                user_id=actor.user_id if user_id is None else user_id,
                username=actor.username,
                guild_id=actor.guild_id,
                channel_id=actor.channel_id,
                roles=actor.roles,
                permissions=permissions,
                locale=actor.locale,
                attachment_size_limit=actor.attachment_size_limit,
            )
        data = {"custom_id": modal["custom_id"], "components": rows}
        return await self._inject(actor, 5, data, f"modal {modal['custom_id']}")

    def modal_values(self, opened_by: FakeInteraction) -> dict[str, str]:
        """Label -> prefilled value of the modal `opened_by` was answered with."""
        (callback,) = [c for c in opened_by.callbacks if c.get("type") == 9]
        found = {}
        for row in callback["data"].get("components") or []:
            inner = [row["component"]] if row.get("type") == 18 else row.get("components") or []
            for item in inner:
                found[row.get("label") or item.get("label")] = item.get("value") or ""
        return found


# ---------------------------------------------------------------------- command schema


def _find_command(
    synced: dict[int | None, list[dict]], name: str, guild_id: int | None
) -> tuple[dict | None, int | None]:
    """The chat-input command a user in this place would see: guild commands, then global ones."""
    if guild_id is not None:
        for command in synced.get(guild_id, []):
            if command["name"] == name and command.get("type", 1) == 1:
                return command, guild_id
    for command in synced.get(None, []):
        if command["name"] == name and command.get("type", 1) == 1:
            contexts = command.get("contexts")
            wanted_context = 0 if guild_id is not None else 1
            if contexts is not None and wanted_context not in contexts:
                continue
            if guild_id is None and command.get("dm_permission") is False:
                continue
            return command, None
    return None, None


def _subcommand_schema(
    command: dict | None, subcommand: str | None, label: str, validate: bool
) -> tuple[list[tuple[str, int]], list[dict]]:
    """([(name, option type) of the subcommand path], option schema of the invoked leaf)."""
    schema = (command or {}).get("options") or []
    subs = [o for o in schema if o.get("type") in (1, 2)]
    if not subcommand:
        if subs and validate:
            raise AssertionError(f"{label} has subcommands {[o['name'] for o in subs]}; pass subcommand=")
        return [], schema
    parts = subcommand.split()
    path: list[tuple[str, int]] = []
    for depth, part in enumerate(parts):
        is_last = depth == len(parts) - 1
        match = next((o for o in schema if o["name"] == part and o.get("type") in (1, 2)), None)
        if match is None:
            if validate:
                raise AssertionError(
                    f"{label}: no subcommand {part!r} (has {[o['name'] for o in schema if o.get('type') in (1, 2)]})"
                )
            path.append((part, 1 if is_last else 2))
            schema = []
            continue
        if is_last and match["type"] == 2 and validate:
            raise AssertionError(f"{label}: {part!r} is a group; name a subcommand inside it")
        path.append((part, match["type"]))
        schema = match.get("options") or []
    return path, schema


def _nest(path: list[tuple[str, int]], leaf: list[dict]) -> list[dict]:
    options = leaf
    for name, otype in reversed(path):
        options = [{"name": name, "type": otype, "options": options}]
    return options


def _schema_type(schema: list[dict], name: str, value: Any) -> int:
    for option in schema:
        if option["name"] == name:
            return option["type"]
    # Not in the schema (validate=False): guess from the Python value.
    if isinstance(value, bool):
        return 5
    if isinstance(value, int):
        return 4
    if isinstance(value, float):
        return 10
    return 3


def _validate_options(schema: list[dict], options: dict, attachments: dict, label: str) -> None:
    by_name = {o["name"]: o for o in schema}
    for name in [*options, *attachments]:
        if name not in by_name:
            raise AssertionError(f"{label}: unknown option {name!r} (options: {sorted(by_name)})")
    for option in schema:
        name = option["name"]
        if option.get("required") and name not in options and name not in attachments:
            raise AssertionError(f"{label}: required option {name!r} is missing")
        if name in attachments and option["type"] != 11:
            raise AssertionError(
                f"{label}: option {name!r} is a {_OPTION_TYPE_NAMES.get(option['type'])}, not an attachment"
            )
        if name in options:
            _check_value(option, options[name], f"{label} {name}")


def _check_value(option: dict, value: Any, where: str) -> None:
    otype = option["type"]
    type_name = _OPTION_TYPE_NAMES.get(otype, str(otype))
    ok = {
        3: isinstance(value, str),
        4: isinstance(value, int) and not isinstance(value, bool) and abs(value) <= _MAX_SAFE_INTEGER,
        10: isinstance(value, (int, float)) and not isinstance(value, bool),
        5: isinstance(value, bool),
        11: False,  # attachments come through the `attachments` argument
    }.get(otype, _is_snowflake(value))
    if not ok:
        raise AssertionError(f"{where}: {value!r} is not a valid {type_name}")
    choices = option.get("choices")
    if choices and value not in [c["value"] for c in choices]:
        raise AssertionError(f"{where}: {value!r} is not one of the choices {[c['value'] for c in choices]}")
    if otype in (4, 10):
        if option.get("min_value") is not None and value < option["min_value"]:
            raise AssertionError(f"{where}: {value} is below min_value {option['min_value']}")
        if option.get("max_value") is not None and value > option["max_value"]:
            raise AssertionError(f"{where}: {value} is above max_value {option['max_value']}")
    if otype == 3:
        if option.get("min_length") is not None and len(value) < option["min_length"]:
            raise AssertionError(f"{where}: length {len(value)} is below min_length {option['min_length']}")
        if option.get("max_length") is not None and len(value) > option["max_length"]:
            raise AssertionError(f"{where}: length {len(value)} is above max_length {option['max_length']}")


def _is_snowflake(value: Any) -> bool:
    return (isinstance(value, int) and not isinstance(value, bool)) or (
        isinstance(value, str) and value.isdigit()
    )


def _find_component(components: list[dict], custom_id: str) -> dict | None:
    for component in components:
        if component.get("custom_id") == custom_id:
            return component
        for key in ("components", "accessory"):
            children = component.get(key)
            if isinstance(children, dict):
                children = [children]
            found = _find_component(children or [], custom_id)
            if found is not None:
                return found
    return None


def _command_schema_problems(commands: list[dict]) -> list[tuple[str, str]]:
    """The checks Discord makes on a bulk command overwrite (the ones a bot can get wrong)."""
    problems: list[tuple[str, str]] = []
    seen: set[tuple[int, str]] = set()
    for i, command in enumerate(commands):
        ctype, name = command.get("type", 1), command.get("name", "")
        if (ctype, name) in seen:
            problems.append((f"{i}.name", f"Application command names must be unique ({name!r})"))
        seen.add((ctype, name))
        if ctype == 1:
            problems += _name_problems(f"{i}", command)
            problems += _options_problems(f"{i}.options", command.get("options") or [])
        elif not 1 <= len(name) <= 32:
            problems.append((f"{i}.name", "Must be between 1 and 32 in length."))
    return problems


def _name_problems(where: str, item: dict) -> list[tuple[str, str]]:
    problems = []
    name, description = item.get("name", ""), item.get("description", "")
    if not _COMMAND_NAME_RE.match(name) or name != name.lower():
        problems.append((f"{where}.name", f"Invalid name {name!r}: 1-32 lowercase letters, digits, -_'"))
    if not 1 <= len(description) <= 100:
        problems.append((f"{where}.description", "Must be between 1 and 100 in length."))
    return problems


def _options_problems(where: str, options: list[dict]) -> list[tuple[str, str]]:
    problems = []
    if len(options) > 25:
        problems.append((where, "Must be 25 or fewer in length."))
    seen_optional = False
    for j, option in enumerate(options):
        at = f"{where}.{j}"
        problems += _name_problems(at, option)
        if option.get("type") in (1, 2):
            problems += _options_problems(f"{at}.options", option.get("options") or [])
            continue
        if option.get("required"):
            if seen_optional:
                problems.append(
                    (f"{at}.required", "Required options must be placed before non-required options")
                )
        else:
            seen_optional = True
        choices = option.get("choices") or []
        if len(choices) > 25:
            problems.append((f"{at}.choices", "Must be 25 or fewer in length."))
        for k, choice in enumerate(choices):
            if not 1 <= len(str(choice.get("name", ""))) <= 100:
                problems.append((f"{at}.choices.{k}.name", "Must be between 1 and 100 in length."))
            if isinstance(choice.get("value"), str) and len(choice["value"]) > 100:
                problems.append((f"{at}.choices.{k}.value", "Must be 100 or fewer in length."))
        for key, low in (("min_length", 0), ("max_length", 1)):
            if option.get(key) is not None and not low <= option[key] <= 6000:
                problems.append((f"{at}.{key}", f"Must be between {low} and 6000."))
    return problems


# ---------------------------------------------------------------------- message limits

_EMBED_TEXT_LIMITS = {"title": 256, "description": 4096}


def _message_problems(payload: dict) -> list[tuple[str, str]]:
    """Discord's 400s for message content and embeds (see docs/discord-platform.md)."""
    problems: list[tuple[str, str]] = []
    content = payload.get("content")
    if isinstance(content, str) and len(content) > 2000:
        problems.append(("content", "Must be 2000 or fewer in length."))
    embeds = payload.get("embeds") or []
    if len(embeds) > 10:
        problems.append(("embeds", "Must be 10 or fewer in length."))
    total = 0
    for i, embed in enumerate(embeds):
        for key, limit in _EMBED_TEXT_LIMITS.items():
            text = embed.get(key) or ""
            total += len(text)
            if len(text) > limit:
                problems.append((f"embeds.{i}.{key}", f"Must be {limit} or fewer in length."))
        fields = embed.get("fields") or []
        if len(fields) > 25:
            problems.append((f"embeds.{i}.fields", "Must be 25 or fewer in length."))
        for j, fld in enumerate(fields):
            for key, limit in (("name", 256), ("value", 1024)):
                text = str(fld.get(key) or "")
                total += len(text)
                if not text:
                    problems.append((f"embeds.{i}.fields.{j}.{key}", "This field is required"))
                elif len(text) > limit:
                    problems.append((f"embeds.{i}.fields.{j}.{key}", f"Must be {limit} or fewer in length."))
        for key, sub, limit in (("footer", "text", 2048), ("author", "name", 256)):
            text = (embed.get(key) or {}).get(sub) or ""
            total += len(text)
            if len(text) > limit:
                problems.append((f"embeds.{i}.{key}.{sub}", f"Must be {limit} or fewer in length."))
    if total > 6000:
        problems.append(("embeds", "Embed size exceeds maximum size of 6000"))
    if len(payload.get("components") or []) > 40:
        problems.append(("components", "Must be 40 or fewer in length."))
    return problems


__all__ = [
    "FakeDiscord",
    "FakeInteraction",
    "RecordedRequest",
    "DEFAULT_MEMBER_PERMISSIONS",
    "BOT_PERMISSIONS",
    "EPHEMERAL",
    "LOADING",
]
