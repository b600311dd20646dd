"""What the fake and discord.py agree on over the wire: paths, flags, permissions, ids, errors.

Small and shared by every other module: the answer shapes (JSON exactly as discord.py parses it,
Discord's error bodies), snowflakes discord.py can read times from, and the bit sets the fake
gives members and the bot.
"""

from __future__ import annotations

import io
import json
import time
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

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
SETTABLE_FLAGS = SUPPRESS_EMBEDS | EPHEMERAL | SUPPRESS_NOTIFICATIONS | IS_COMPONENTS_V2


def bits(*positions: int) -> int:
    return sum(1 << p for p in positions)


# What an ordinary member has in a text channel: create invite, add reactions, view channel,
# send messages, embed links, attach files, read history, external emojis, connect, speak,
# change nickname, use application commands, send in threads. No Manage Guild (5), no Admin (3).
DEFAULT_MEMBER_PERMISSIONS = bits(0, 6, 10, 11, 14, 15, 16, 18, 20, 21, 26, 31, 38)
# The bot's own role: the member set plus manage messages (13) and mention everyone (17)
# is typical for an installed bot; used for app_permissions and the bot's managed role.
BOT_PERMISSIONS = DEFAULT_MEMBER_PERMISSIONS | bits(13, 17)
# Privileged intents usable by an unverified bot (presence, members, message content "limited").
APPLICATION_FLAGS = bits(13, 15, 19)
# app_permissions where the bot is not in the channel's server: Discord documents that it "includes"
# ATTACH_FILES, EMBED_LINKS and MENTION_EVERYONE in DMs between users (and USE_EXTERNAL_EMOJIS in the
# bot's own DM). The bot's DM also lets it view, send and read history there (it can post in it).
PRIVATE_APP_PERMISSIONS = bits(14, 15, 17)
BOT_DM_APP_PERMISSIONS = PRIVATE_APP_PERMISSIONS | bits(10, 11, 16, 18)

# Interaction contexts and installation (integration) types, as Discord numbers them.
GUILD_CONTEXT, BOT_DM, PRIVATE_CHANNEL = 0, 1, 2
GUILD_INSTALL, USER_INSTALL = 0, 1

# Discord's locales (developers/reference.mdx "Locales"): the keys of every *_localizations field,
# and what `locale` / `guild_locale` on an interaction can be.
LOCALES = frozenset({
    "id", "da", "de", "en-GB", "en-US", "es-ES", "es-419", "fr", "hr", "it", "lt", "hu", "nl", "no", "pl",
    "pt-BR", "ro", "fi", "sv-SE", "vi", "tr", "cs", "el", "bg", "ru", "uk", "hi", "th", "zh-CN", "ja",
    "zh-TW", "ko",
})


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


def json_response(obj: Any, status: int = 200) -> web.Response:
    # Exactly "application/json": discord.py only parses JSON when the header matches exactly,
    # and aiohttp's json_response would append "; charset=utf-8".
    return web.Response(
        status=status, body=json.dumps(obj).encode(), headers={"Content-Type": "application/json"}
    )


def no_content() -> web.Response:
    return web.Response(status=204)


class ApiError(Exception):
    """An error answered the way Discord answers it: status plus {code, message[, errors]}."""

    def __init__(self, status: int, code: int, message: str, errors: dict | None = None):
        super().__init__(f"{status} {code} {message}")
        self.status, self.code, self.message, self.errors = status, code, message, errors

    def response(self) -> web.Response:
        body: dict[str, Any] = {"message": self.message, "code": self.code}
        if self.errors:
            body["errors"] = self.errors
        return json_response(body, self.status)


Problem = tuple[str, str] | tuple[str, str, str]  # (path, message[, Discord's error code])


def form_error(problems: list[Problem]) -> ApiError:
    """400 Invalid Form Body, with errors nested the way discord.py's HTTPException flattens them.

    Each problem is (dotted path, message) or (dotted path, message, code); the code defaults to
    BASE_TYPE_INVALID. A path of "_" puts the error on the body itself (Discord's "request error")."""
    errors: dict[str, Any] = {}
    for path, message, *code in problems:
        node = errors
        for key in path.split("."):
            if key != "_":
                node = node.setdefault(key, {})
        node.setdefault("_errors", []).append({"code": code[0] if code else "BASE_TYPE_INVALID", "message": message})
    return ApiError(400, 50035, "Invalid Form Body", errors)


class Snowflakes:
    """Real-looking snowflakes: discord.py derives created_at (and Interaction.is_expired) from them."""

    def __init__(self) -> None:
        self._last = 0

    def next(self) -> int:
        value = (int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22
        self._last = max(value, self._last + 1)
        return self._last


def image_info(data: bytes) -> tuple[str | None, int | None, int | None]:
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
