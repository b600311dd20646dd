"""Channels: reading them, posting and editing messages in them, and DM channels.

Discord refusing a post (403 Missing Permissions in a channel, 50007 for a member who takes no DMs)
is switched on per channel / per user; an `enforce_nonce` post is made once. Channels the bot cannot
see (in a server it is not in, a DM between users: see places.py) answer 403 50001 Missing Access.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from .messages import Messages
from .state import RECORD, RecordedRequest
from .wire import DEFAULT_UPLOAD_LIMIT, EPHEMERAL, ApiError, json_response, no_content


class Channels(Messages):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # Channel ids whose POST /channels/{id}/messages gets 403 Missing Permissions.
        self.refuse_channel_posts: set[int] = set()
        # User ids who take no DMs from the bot: a post in their DM channel gets 403 50007.
        self.refuse_dms: set[int] = set()
        # (channel id, nonce) -> message id: a post with `enforce_nonce` and a nonce seen before in that
        # channel gets the message already made, as Discord answers within its few minutes.
        self._nonces: dict[tuple[int, str], str] = {}

    async def _create_dm(self, request: web.Request) -> web.Response:
        user_id = int(request[RECORD].json["recipient_id"])
        channel_id = self._dm_channels.setdefault(user_id, self._ids.next())
        return json_response(self._dm_channel(channel_id, user_id))

    def _channel_or_404(self, request: web.Request) -> int:
        channel_id = int(request.match_info["channel_id"])
        if channel_id in self._unseen_channels:  # a server the bot is not in, or a DM between users
            raise ApiError(403, 50001, "Missing Access")
        if channel_id not in self._channels and channel_id not in self._dm_channels.values():
            raise ApiError(404, 10003, "Unknown Channel")
        return channel_id

    async def _get_channel(self, request: web.Request) -> web.Response:
        channel_id = self._channel_or_404(request)
        if channel_id in self._channels:
            return json_response(self._channels[channel_id])
        user_id = next(u for u, c in self._dm_channels.items() if c == channel_id)
        return json_response(self._dm_channel(channel_id, user_id))

    async def _typing(self, request: web.Request) -> web.Response:
        self._channel_or_404(request)
        return no_content()

    async def _channel_messages(self, request: web.Request) -> web.Response:
        channel_id = self._channel_or_404(request)
        if request.method == "GET":  # history, newest first, without ephemeral messages
            visible = [
                m
                for m in self.messages.values()
                if m["channel_id"] == str(channel_id) and not m["flags"] & EPHEMERAL
            ]
            limit = int(request.query.get("limit", 50))
            newest = sorted(visible, key=lambda m: int(m["id"]), reverse=True)[:limit]
            return json_response([self._fresh_links(m) for m in newest])
        if request.method != "POST":
            raise ApiError(405, 0, "405: Method Not Allowed")
        if channel_id in self.refuse_channel_posts:
            raise ApiError(403, 50013, "Missing Permissions")
        if any(self._dm_channels.get(user) == channel_id for user in self.refuse_dms):
            raise ApiError(403, 50007, "Cannot send messages to this user")
        rec: RecordedRequest = request[RECORD]
        payload = rec.json or {}
        nonce = payload.get("nonce")
        if nonce is not None and payload.get("enforce_nonce"):
            seen = self._nonces.get((channel_id, str(nonce)))
            if seen is not None and seen in self.messages:
                return json_response(self.messages[seen])
        message = self._new_message(payload, rec, channel_id, DEFAULT_UPLOAD_LIMIT)
        if nonce is not None and payload.get("enforce_nonce"):
            self._nonces[(channel_id, str(nonce))] = message["id"]
        return json_response(message)

    async def _channel_message(self, request: web.Request) -> web.Response:
        channel_id = self._channel_or_404(request)
        message_id = request.match_info["message_id"]
        message = self.messages.get(message_id)
        if message is None or message["channel_id"] != str(channel_id) or message["flags"] & EPHEMERAL:
            raise ApiError(404, 10008, "Unknown Message")  # ephemeral messages are invisible to the API
        if request.method == "GET":
            return json_response(self._fresh_links(message))
        if request.method == "DELETE":
            self._delete_message(message_id)
            return no_content()
        if request.method != "PATCH":
            raise ApiError(405, 0, "405: Method Not Allowed")
        if message["author"]["id"] != str(self.bot_user_id):
            raise ApiError(403, 50005, "Cannot edit a message authored by another user")
        rec: RecordedRequest = request[RECORD]
        return json_response(self._edit_message(message_id, rec.json or {}, rec, DEFAULT_UPLOAD_LIMIT))
