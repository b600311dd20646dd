"""The memory settings python -m bot makes at start: big image buffers go back to the system, and what
start-up made is left out of the garbage collector's full scans."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

from bot.core import memory


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc only")
def test_glibc_takes_the_fixed_mmap_threshold():
    assert memory.return_big_allocations() is True


def test_start_up_is_frozen_once_and_garbage_made_later_is_still_collected():
    # In a fresh interpreter: this test process may have frozen its own start-up already.
    script = """
import gc
from bot.core import memory
assert gc.get_freeze_count() == 0
memory.freeze_start_up()
frozen = gc.get_freeze_count()
assert frozen > 1000, frozen
class Cycle:
    pass
a, b = Cycle(), Cycle()
a.other, b.other = b, a
del a, b
memory.freeze_start_up()  # a second connection: nothing more is frozen, the cycle stays collectable
assert gc.get_freeze_count() == frozen, (gc.get_freeze_count(), frozen)
assert gc.collect() >= 2
print("ok", frozen)
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ok ")
