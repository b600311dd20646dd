"""The CDN: the bytes of every attachment, served behind signed, expiring links like Discord's.

Discord serves an attachment at ``/attachments/{channel_id}/{attachment_id}/{filename}`` (files of
ephemeral messages and a member's uploads to a command or a form at ``/ephemeral-attachments/...``)
with three query parameters (developers/reference.mdx, "Signed Attachment CDN URLs"): ``ex`` (hex
timestamp of expiry), ``is`` (hex timestamp of issue) and ``hm`` (a signature valid until ``ex``).
A link past its ``ex``, with a bad signature or with no parameters at all answers 404, as Discord's CDN
does; ``POST /attachments/refresh-urls`` (bot token) signs fresh links for old ones, and every message
the fake hands out (GET, a click's message, a context menu's target) carries links still valid.
``proxy_url`` is the same file through the media proxy (``/media/...`` here), signed the same way.

`signed_urls = False` makes new links bare (no parameters; served as long as the file exists), for
tests written before the fake signed them. `expire_attachments` needs signed links.
"""

from __future__ import annotations

import hashlib
import hmac
import mimetypes
import re
import secrets
import time
import urllib.parse
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from .state import RECORD, DiscordState
from .wire import form_error, image_info, json_response

ATTACHMENTS, EPHEMERAL_ATTACHMENTS = "attachments", "ephemeral-attachments"
URL_TTL = 24 * 3600  # how long a signed link lives; Discord's last about a day
REFRESH_LIMIT = 50  # links per refresh-urls call (Discord answers 400 past it)
GONE = "This content is no longer available."
# /[media/]{kind}/{channel id}/{attachment id}/{filename}, in a URL or a request path
_PATH_RE = re.compile(r"^(?P<media>/media)?/(?P<kind>attachments|ephemeral-attachments)/(?P<channel>\d+)/"
                      r"(?P<id>\d+)/(?P<filename>[^/?#]+)$")


@dataclass
class CdnFile:
    filename: str
    content_type: str | None
    data: bytes
    channel_id: int
    kind: str  # ATTACHMENTS or EPHEMERAL_ATTACHMENTS
    revoked_through: int = -1  # links issued at or before this CDN second are dead (expire_attachments(url))
    fetches_left: int | None = None  # cdn_expire_after: fetches before the file is gone


class Cdn(DiscordState):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.signed_urls = True  # False: new links are bare (see the module docstring)
        self.cdn_fetches: list[tuple[str, int]] = []  # (path with query, status) of every CDN GET
        self._cdn: dict[str, CdnFile] = {}  # attachment id -> the file
        self._cdn_key = secrets.token_bytes(32)
        self._cdn_clock_offset = 0  # seconds added to the CDN's clock (expire_attachments)

    # ------------------------------------------------------------------ the test-facing API

    def cdn_now(self) -> int:
        """The CDN's clock, in whole seconds (real time, plus what `expire_attachments` moved it by)."""
        return int(time.time()) + self._cdn_clock_offset

    def cdn_put(self, filename: str, data: bytes, content_type: str | None, *, channel_id: int | None = None,
                ephemeral: bool = False) -> str:
        """Put a file on the CDN (as if someone uploaded it) and return its link."""
        kind = EPHEMERAL_ATTACHMENTS if ephemeral and self.signed_urls else ATTACHMENTS
        attachment_id = str(self._ids.next())
        self._cdn[attachment_id] = CdnFile(filename, content_type, bytes(data), channel_id or self.channel_id, kind)
        return self._cdn_link(attachment_id)

    def cdn_remove(self, url: str) -> None:
        """Delete the file behind `url` (every link to it then 404s)."""
        parsed = _parse(url)
        if parsed:
            self._cdn.pop(parsed["id"], None)

    def cdn_expire_after(self, url: str, fetches: int) -> None:
        """Let the file behind `url` be fetched `fetches` more times, then 404, as a deleted file does."""
        parsed = _parse(url)
        if parsed and parsed["id"] in self._cdn:
            self._cdn[parsed["id"]].fetches_left = fetches

    def expire_attachments(self, *urls: str) -> None:
        """Make links expire now: every link issued so far, or only those to the files of `urls`.

        Fetching an expired link answers 404; `POST /attachments/refresh-urls` gives working ones."""
        if not self.signed_urls:
            raise AssertionError("links expire only when signed: set fake.signed_urls = True before the files "
                                 "are made (the tests' launcher turns it off for tests written before)")
        if not urls:
            self._cdn_clock_offset += URL_TTL + 1
            return
        for url in urls:
            parsed = _parse(url)
            if parsed is None or parsed["id"] not in self._cdn:
                raise AssertionError(f"{url} is not a link to a file on the fake CDN")
            self._cdn[parsed["id"]].revoked_through = self.cdn_now()

    def cdn_file(self, url: str) -> CdnFile | None:
        """The file a link names (whether or not the link still works)."""
        parsed = _parse(url)
        return self._cdn.get(parsed["id"]) if parsed else None

    # ------------------------------------------------------------------ links

    def _cdn_link(self, attachment_id: str, *, media: bool = False, signed: bool | None = None) -> str:
        file = self._cdn[attachment_id]
        path = f"/{file.kind}/{file.channel_id}/{attachment_id}/{urllib.parse.quote(file.filename, safe='')}"
        url = f"{self.base_url}{'/media' if media else ''}{path}"
        if not (self.signed_urls if signed is None else signed):
            return url
        issued = max(self.cdn_now(), file.revoked_through + 1)
        expires = issued + URL_TTL
        return f"{url}?ex={expires:08x}&is={issued:08x}&hm={self._signature(path, expires, issued)}&"

    def _signature(self, path: str, expires: int, issued: int) -> str:
        message = f"{urllib.parse.unquote(path)}|{expires:x}|{issued:x}".encode()
        return hmac.new(self._cdn_key, message, hashlib.sha256).hexdigest()

    def _link_works(self, path: str, query: dict[str, str], file: CdnFile) -> bool:
        if not {"ex", "is", "hm"} <= set(query):
            return not self.signed_urls  # a bare link: only while the fake hands out bare links
        try:
            expires, issued = int(query["ex"], 16), int(query["is"], 16)
        except ValueError:
            return False
        good = hmac.compare_digest(query["hm"], self._signature(path, expires, issued))
        return good and self.cdn_now() < expires and issued > file.revoked_through

    def _attachment(self, filename: str, data: bytes, content_type: str | None, *, channel_id: int | None = None,
                    ephemeral: bool = False, **extra: Any) -> dict:
        """An attachment object as Discord returns it, with its bytes put on the CDN."""
        sniffed, width, height = image_info(data)
        content_type = content_type or sniffed or mimetypes.guess_type(filename)[0]
        url = self.cdn_put(filename, data, content_type, channel_id=channel_id, ephemeral=ephemeral)
        attachment_id = _parse(url)["id"]  # type: ignore[index]
        att = {"id": attachment_id, "filename": filename, "size": len(data), "url": url,
               "proxy_url": self._cdn_link(attachment_id, media=True)}
        if content_type:
            att["content_type"] = content_type
        if width is not None:
            att["width"], att["height"] = width, height
        if self._cdn[attachment_id].kind == EPHEMERAL_ATTACHMENTS:
            att["ephemeral"] = True
        att.update(extra)
        return att

    def _fresh_links(self, message: dict) -> dict:
        """The message with links that work now: Discord re-signs the attachment links of every message it
        hands out (in place, so the fake's copy and what it returns agree); embeds showing them follow."""
        renamed: dict[str, str] = {}
        for att in message.get("attachments") or []:
            url = att.get("url", "")
            parsed = _parse(url)
            file = self._cdn.get(parsed["id"]) if parsed else None
            if file is None or self._link_works(_path_of(url), _query_of(url), file):
                continue
            att["url"] = renamed[url] = self._cdn_link(parsed["id"], signed=True)  # type: ignore[index]
            att["proxy_url"] = renamed[att.get("proxy_url", "")] = self._cdn_link(
                parsed["id"], media=True, signed=True)  # type: ignore[index]
        for embed in (message.get("embeds") or []) if renamed else []:
            for key in ("image", "thumbnail"):
                shown = embed.get(key) or {}
                for field in ("url", "proxy_url"):
                    if shown.get(field) in renamed:
                        shown[field] = renamed[shown[field]]
        return message

    # ------------------------------------------------------------------ routes

    async def _cdn_get(self, request: web.Request) -> web.Response:
        path = _path_of(request.raw_path)  # as sent (quoted): what the signature covers
        parsed = _parse(request.raw_path)
        file = self._cdn.get(parsed["id"]) if parsed else None
        status = 404
        if (file is not None and parsed is not None and file.kind == parsed["kind"]
                and str(file.channel_id) == parsed["channel"] and file.filename == parsed["filename"]
                and self._link_works(path, dict(request.query), file)):
            status = 200
        self.cdn_fetches.append((request.path_qs, status))
        if status != 200 or file is None or parsed is None:
            return web.Response(status=404, text=GONE)
        if file.fetches_left is not None:
            file.fetches_left -= 1
            if file.fetches_left <= 0:
                self._cdn.pop(parsed["id"], None)
        return web.Response(body=file.data, content_type=file.content_type or "application/octet-stream")

    async def _refresh_urls(self, request: web.Request) -> web.Response:
        """POST /attachments/refresh-urls: {"attachment_urls": [...]} -> {"refreshed_urls": [{original,
        refreshed}]}. A link that names no CDN attachment comes back as it was."""
        body = request[RECORD].json
        urls = body.get("attachment_urls") if isinstance(body, dict) else None
        if not isinstance(urls, list) or not all(isinstance(u, str) for u in urls):
            raise form_error([("attachment_urls", "This field is required", "BASE_TYPE_REQUIRED")])
        if len(urls) > REFRESH_LIMIT:
            raise form_error([("attachment_urls", f"Must be {REFRESH_LIMIT} or fewer in length.",
                               "BASE_TYPE_MAX_LENGTH")])
        return json_response({"refreshed_urls": [{"original": u, "refreshed": self._refreshed(u)} for u in urls]})

    def _refreshed(self, url: str) -> str:
        parsed = _parse(url)
        if parsed is None or parsed["id"] not in self._cdn or not url.startswith(self.base_url):
            return url
        return self._cdn_link(parsed["id"], media=bool(parsed["media"]), signed=True)


def _path_of(url: str) -> str:
    return urllib.parse.urlsplit(url).path.removeprefix("/media")


def _query_of(url: str) -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))


def _parse(url_or_path: str) -> dict[str, str] | None:
    """{media, kind, channel, id, filename} of a CDN link (or a request path), None if it is not one."""
    path = urllib.parse.urlsplit(url_or_path).path
    match = _PATH_RE.match(path)
    if match is None:
        return None
    found = match.groupdict(default="")
    found["filename"] = urllib.parse.unquote(found["filename"])
    return found

