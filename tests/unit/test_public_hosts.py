"""Which addresses a result image may come from."""

from __future__ import annotations

import pytest

from bot.pixazo.public_hosts import is_public_address


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2606:4700::1111", "::ffff:8.8.8.8"])
def test_public_addresses_pass(address):
    assert is_public_address(address)


@pytest.mark.parametrize("address", [
    "127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0",
    "224.0.0.1", "240.0.0.1", "255.255.255.255", "192.0.2.1", "::1", "::", "fe80::1%eth0", "fc00::1",
    "ff02::1", "::ffff:127.0.0.1", "::ffff:169.254.169.254", "2001:db8::1", "not-an-address",
])
def test_loopback_private_link_local_reserved_multicast_and_unspecified_are_refused(address):
    assert not is_public_address(address)
