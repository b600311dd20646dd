"""One bot process per DATA_DIR (part 9): the lock, its one-line refusal on either backend, its release."""

from __future__ import annotations

import os

import pytest

from bot.core.instance_lock import InstanceLock
from bot.core.preflight import StartupError


def test_a_second_holder_is_refused_until_the_first_lets_go(tmp_path):
    first = InstanceLock.take(tmp_path, sqlite=False)
    try:
        with pytest.raises(StartupError) as refused:
            InstanceLock.take(tmp_path, sqlite=False)
        line = str(refused.value)
        assert "\n" not in line
        assert f"another bot process (pid {os.getpid()}) is already using DATA_DIR {tmp_path}" in line
        assert "each process sharing DATABASE_URL needs a DATA_DIR of its own" in line
        with pytest.raises(StartupError, match="the SQLite ledger runs one bot process only"):
            InstanceLock.take(tmp_path, sqlite=True)
    finally:
        first.release()
    again = InstanceLock.take(tmp_path, sqlite=True)  # released: the next start takes it
    again.release()
    again.release()  # twice is harmless (serve's finally after a failed start)
