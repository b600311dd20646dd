"""Result images are fetched from wherever Pixazo says; that must never be the bot's own network.

A result URL is outside text: a compromised or confused gateway could point the bot at
http://169.254.169.254/ (cloud metadata), at localhost or at a LAN service. The check sits in the
connection itself: the session used for result images resolves names through `PublicOnlyResolver`,
which drops every address that is not public, so the address that is checked is the address that is
connected to. A lookup done before the request and a second one at connect time could disagree (DNS
rebinding); here there is only one. aiohttp does not call the resolver for IP literals, so the
client checks those itself with `is_public_address` before each hop.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver


class BlockedAddress(OSError):
    """The host exists but only at addresses the bot will not connect to."""


def is_public_address(address: str) -> bool:
    """False for loopback, private, link-local, reserved, multicast, unspecified and shared (CGNAT) space."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is loopback, whatever the v6 tables say
    return ip.is_global and not ip.is_multicast


class PublicOnlyResolver(AbstractResolver):
    def __init__(self) -> None:
        self._inner = DefaultResolver()

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        found = await self._inner.resolve(host, port, family)
        public = [entry for entry in found if is_public_address(entry["host"])]
        if not public:
            raise BlockedAddress(f"{host} resolves only to non-public addresses "
                                 f"({', '.join(sorted({e['host'] for e in found})[:4])})")
        return public

    async def close(self) -> None:
        await self._inner.close()


def result_session(*, allow_private: bool, ssl_context: ssl.SSLContext | None = None) -> aiohttp.ClientSession:
    """The session for result images only; create it inside the running loop.

    `ssl_context` replaces the default certificate store (tests trust their own throwaway CA).
    """
    resolver = None if allow_private else PublicOnlyResolver()
    # No DNS cache: every new connection is resolved (and filtered) again.
    connector = aiohttp.TCPConnector(limit=0, resolver=resolver, use_dns_cache=False,
                                     ssl=ssl_context if ssl_context is not None else True)
    return aiohttp.ClientSession(connector=connector, trust_env=False)
