"""The gateway: the websocket discord.py connects to, its sessions and shards, and dispatching events.

HELLO -> IDENTIFY -> READY + GUILD_CREATE per guild, heartbeats, RESUME, op 7 RECONNECT; zlib-stream
or zstd-stream as the client asks. Sharded as Discord does it: each IDENTIFY names [shard_id,
shard_count] and gets only its shard's guilds; a guild's events go out on its shard's connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import zlib
from collections.abc import Callable
from typing import Any

from aiohttp import WSMsgType, web

from .objects import Objects
from .wire import APPLICATION_FLAGS, HEARTBEAT_INTERVAL_MS, json_response


class GatewayConnection:
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


class Gateway(Objects):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.identify_payload: dict | None = None
        # the query string of each gateway connection: v, encoding, compress
        self.gateway_queries: list[dict[str, str]] = []
        self.resume_count = 0
        self._conn: GatewayConnection | None = None  # the latest session's: the one, unsharded
        # Sharding (part 9), as Discord does it: each IDENTIFY names [shard_id, shard_count] and its
        # session gets only the guilds with (guild_id >> 22) % shard_count == shard_id; a guild's
        # events and interactions go out on its shard's connection, wherever that process runs.
        self.recommended_shards = 1  # what GET /gateway/bot answers: discord.py's automatic sharding
        self.shard_count: int | None = None  # from the IDENTIFYs
        self.shard_conns: dict[int, GatewayConnection] = {}  # shard id -> its live connection
        self.identifies: list[dict] = []  # every IDENTIFY, in order
        # Every connection that identified for a shard, oldest first. Discord lets a second session
        # identify for a shard while the first still runs (a handover); the latest gets the events.
        self.shard_sessions: dict[int, list[GatewayConnection]] = {}
        self._sessions: dict[str, int] = {}  # session id -> shard id
        self._connections: set[web.WebSocketResponse] = set()
        self._session_id: str | None = None
        self._seq = 0
        self._identified = asyncio.Event()

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

    def _conn_for(self, guild_id: object) -> GatewayConnection | None:
        """The connection a guild's events go out on: its shard's (None: that shard is not connected)."""
        if guild_id is not None and self.shard_conns:
            return self.shard_conns.get(self.shard_of(int(str(guild_id)), self.shard_count or 1))
        return self._conn

    async def _close_connections(self) -> None:
        for ws in list(self._connections):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(code=1001, message=b"fake discord shutting down"), 1)

    # ------------------------------------------------------------------ REST: where to connect

    async def _get_gateway(self, request: web.Request) -> web.Response:
        return json_response({"url": self.gateway_url})

    async def _get_gateway_bot(self, request: web.Request) -> web.Response:
        limit = {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1}
        return json_response({"url": self.gateway_url, "shards": self.recommended_shards, "session_start_limit": limit})

    # ------------------------------------------------------------------ the websocket

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(timeout=1.0, max_msg_size=0)
        await ws.prepare(request)
        self.gateway_queries.append(dict(request.query))
        if request.query.get("encoding", "json") != "json":
            await ws.close(code=4002, message=b"only json encoding is faked")
            return ws
        conn = GatewayConnection(ws, request.query.get("compress"))
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

    async def _on_gateway_message(self, conn: GatewayConnection, msg: dict) -> None:
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

    async def _on_identify(self, conn: GatewayConnection, d: dict) -> None:
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

    async def _on_resume(self, conn: GatewayConnection, d: dict) -> None:
        if d.get("token") != self.token or d.get("session_id") not in self._sessions:
            await conn.send({"op": 9, "d": False, "s": None, "t": None})  # invalid session, not resumable
            return
        self._conn = conn
        self.shard_conns[self._sessions[d["session_id"]]] = conn
        self.resume_count += 1
        await self._send_dispatch(conn, "RESUMED", {"_trace": ["fake-discord"]})
        await self._notify_changed()

    async def _send_dispatch(self, conn: GatewayConnection, event: str, data: dict) -> None:
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
