"""Discord's CDN links: signed and expiring (``?ex=<hex expiry>&is=<hex issue>&hm=<signature>``, about a
day), and made to work again through ``POST /attachments/refresh-urls``.

An inpainting job hands Pixazo the links of files in Discord (a member's upload, the canvas and mask of
an edit), and Pixazo fetches them when the job runs, which may be long after they were made. So before
the call each link is looked at: one that expires within LINK_MARGIN_SECONDS, or that the CDN no longer
serves (a HEAD, which costs Discord nothing but a header), is exchanged for a fresh one. discord.py has
no public helper for that endpoint: this module is the one place that calls it, through discord.py's own
HTTP client (its rate limits and token), with the public `Route`.
"""

from __future__ import annotations

import logging
import time
import urllib.parse
from typing import TYPE_CHECKING

import aiohttp
import discord

if TYPE_CHECKING:
    from bot.ui.app import PixazoBot

log = logging.getLogger(__name__)

LINK_MARGIN_SECONDS = 120  # a link this close to its expiry is refreshed: Pixazo fetches it within the call
PROBE_TIMEOUT_SECONDS = 5.0
REFRESH_MAX = 50  # links per call, Discord's limit


def signed(url: str) -> dict[str, str] | None:
    """The signature's query parameters of a Discord CDN link, None when it has none (not Discord's)."""
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
    return query if {"ex", "is", "hm"} <= set(query) else None


def expires_soon(url: str, now: float) -> bool:
    params = signed(url)
    try:
        return params is not None and int(params["ex"], 16) - now < LINK_MARGIN_SECONDS
    except ValueError:
        return True  # a signature we cannot read: ask Discord for a good one


async def _served(session: aiohttp.ClientSession, url: str) -> bool:
    try:
        async with session.head(url, timeout=aiohttp.ClientTimeout(total=PROBE_TIMEOUT_SECONDS)) as resp:
            return resp.status == 200
    except (aiohttp.ClientError, TimeoutError):
        return False


async def fresh_links(bot: PixazoBot, urls: list[str]) -> list[str]:
    """`urls` with every stale Discord link exchanged for a working one (the rest as they are). Raises
    discord.HTTPException when Discord refuses the exchange; the caller goes on with the old links."""
    now = time.time()
    stale = [u for u in urls if signed(u) is not None
             and (expires_soon(u, now) or not await _served(bot.http_session, u))]
    if not stale:
        return urls
    route = discord.http.Route("POST", "/attachments/refresh-urls")
    answer = await bot.http.request(route, json={"attachment_urls": stale[:REFRESH_MAX]})
    refreshed = {r.get("original"): r.get("refreshed") for r in answer.get("refreshed_urls") or []}
    log.info("refreshed %d expired CDN link(s) before the Pixazo call", len(refreshed))
    return [refreshed.get(u) or u for u in urls]
