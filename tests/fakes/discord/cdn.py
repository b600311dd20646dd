"""The CDN: the bytes of every attachment, served at /attachments/{id}/{filename}.

Files the bot uploads and files a test attaches to a command both land here, so whatever Discord
would let anyone fetch, the fake serves; `cdn_expire_after` makes a link die as Discord's do.
"""

from __future__ import annotations

import mimetypes
import re
import urllib.parse
from typing import Any

from aiohttp import web

from .state import DiscordState
from .wire import image_info


class Cdn(DiscordState):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._cdn: dict[str, tuple[str, str | None, bytes]] = {}  # attachment id -> (filename, type, bytes)
        self._cdn_fetches_left: dict[str, int] = {}  # attachment id -> fetches before it expires

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
        sniffed, width, height = image_info(data)
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
