"""The allocator setting python -m bot makes at start, so big image buffers go back to the system."""

from __future__ import annotations

import platform

import pytest

from bot.core import memory


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc only")
def test_glibc_takes_the_fixed_mmap_threshold():
    assert memory.return_big_allocations() is True
