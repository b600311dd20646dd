"""The settle journal on its own: what survives on disk, what a torn line does, when it empties."""

from __future__ import annotations

import pytest

from bot.core.offload import Offload
from bot.storage.settle_journal import SettleJournal


@pytest.fixture
async def journal(tmp_path):
    offload = Offload(1, name="test-journal")
    yield SettleJournal(tmp_path / "data" / "settle-journal.jsonl", offload)
    offload.close()


async def test_a_recorded_delivery_is_read_back_by_the_next_run(journal):
    assert journal.read() == {}, "no file yet: nothing recorded"
    assert await journal.delivered(7, "https://x/7.png")
    assert await journal.delivered(8, None)
    assert journal.read() == {7: "https://x/7.png", 8: None}


async def test_a_line_torn_by_a_crash_is_ignored(journal):
    await journal.delivered(7, "https://x/7.png")
    with journal.path.open("a") as f:
        f.write('{"job": 12')  # the process died mid-write: no newline
    assert journal.read() == {7: "https://x/7.png"}


async def test_it_empties_only_once_every_recorded_job_has_settled(journal):
    await journal.delivered(1, "u1")
    await journal.delivered(2, "u2")
    await journal.settled(1)
    assert set(journal.read()) == {1, 2}, "job 2 is still unsettled: keep everything"
    await journal.settled(2)
    assert journal.read() == {}
    await journal.delivered(3, "u3")
    assert journal.read() == {3: "u3"}
    journal.clear()
    assert journal.read() == {}
