"""The settle journal on its own: what survives on disk, what a torn line does, when it empties, and
the space it reserves so that a disk filled after start cannot keep a delivery from being recorded
(a real full disk: tests/disk.py)."""

from __future__ import annotations

import logging
import os

import pytest

from bot.core.offload import Offload
from bot.storage.settle_journal import RESERVE_BYTES, SettleJournal, read_journal
from tests.disk import disk_filled


@pytest.fixture
async def offload():
    pool = Offload(1, name="test-journal")
    yield pool
    pool.close()


@pytest.fixture
async def journal(tmp_path, offload):
    j = SettleJournal(tmp_path / "data" / "settle-journal.jsonl", offload)
    await j.reserve()
    yield j
    j.close()


def size(path) -> int:
    return os.stat(path).st_size


async def opened(path, offload, **kwargs) -> SettleJournal:
    j = SettleJournal(path, offload, **kwargs)
    await j.reserve()
    return j


async def test_a_recorded_delivery_is_read_back_by_the_next_run(journal):
    assert journal.read() == {}, "reserved, nothing recorded"
    assert await journal.delivered(7, "https://x/7.png")
    assert await journal.delivered(8, None)
    assert journal.read() == {7: "https://x/7.png", 8: None}
    assert read_journal(journal.path.with_name("missing.jsonl")) == {}, "no file: nothing recorded"


async def test_a_line_torn_by_a_crash_is_ignored(journal):
    await journal.delivered(7, "https://x/7.png")
    data = journal.path.read_bytes()
    end = data.index(b"\0")
    with journal.path.open("r+b") as f:
        f.seek(end)
        f.write(b'{"job": 12')  # the process died mid-write: no newline, zeros after it
    assert journal.read() == {7: "https://x/7.png"}


async def test_it_empties_only_once_every_recorded_job_has_settled(journal):
    await journal.delivered(1, "u1")
    await journal.delivered(2, "u2")
    await journal.settled(1)
    assert set(journal.read()) == {1, 2}, "job 2 is still unsettled: keep everything"
    await journal.settled(2)
    assert journal.read() == {}
    assert journal.path.read_bytes() == bytes(RESERVE_BYTES), "zeros again, the space still reserved"
    await journal.delivered(3, "u3")
    assert journal.read() == {3: "u3"}
    await journal.clear()
    assert journal.read() == {}


async def test_the_space_is_reserved_at_start_and_entries_are_written_in_place(journal, offload):
    assert size(journal.path) == RESERVE_BYTES
    for job_id in range(1, 51):
        assert await journal.delivered(job_id, f"https://cdn.example/{job_id}.png")
    assert size(journal.path) == RESERVE_BYTES, "no new block for an entry"
    assert len(journal.read()) == 50
    journal.close()
    # The next run: what was recorded is read back, and the reservation is kept (not made again).
    again = await opened(journal.path, offload)
    assert len(again.read()) == 50 and size(journal.path) == RESERVE_BYTES
    await again.clear()
    assert again.read() == {} and size(journal.path) == RESERVE_BYTES
    again.close()


async def test_a_journal_of_the_older_append_only_kind_is_read_and_then_reserved(tmp_path, offload):
    path = tmp_path / "settle-journal.jsonl"
    path.write_text('{"job": 4, "url": "u4"}\n{"job": 5, "url": null}\n')
    j = await opened(path, offload)
    assert j.read() == {4: "u4", 5: None}
    await j.clear()
    assert j.read() == {} and size(path) == RESERVE_BYTES
    j.close()


async def test_a_disk_filled_after_start_still_takes_a_delivery(small_disk, offload):
    j = await opened(small_disk / "settle-journal.jsonl", offload)
    try:
        with disk_filled(small_disk):
            with pytest.raises(OSError):
                (small_disk / "probe").write_bytes(b"x" * 4096)  # truly full
            assert await j.delivered(9, "https://cdn.example/9.png")
            assert j.read() == {9: "https://cdn.example/9.png"}
            await j.settled(9)
            assert j.read() == {}
    finally:
        j.close()


async def test_a_reservation_used_up_on_a_full_disk_says_so_and_records_the_job_once_there_is_room(
        small_disk, offload, caplog):
    j = await opened(small_disk / "settle-journal.jsonl", offload, reserve=4096)  # one page of the tmpfs
    url = "https://cdn.example/" + "x" * 1000
    try:
        with disk_filled(small_disk):
            for job_id in (1, 2, 3):
                assert await j.delivered(job_id, url)
            assert "could not reserve more space" in caplog.text, "less than a quarter left, said once"
            assert await j.delivered(4, url), "the URL is dropped before the fact is"
            assert j.read()[4] is None
            last = 5
            with caplog.at_level(logging.ERROR):
                while await j.delivered(last, None):
                    last += 1
                    assert last < 500, "a full reservation must be refused, not written past"
            (record,) = [r for r in caplog.records if r.levelno == logging.ERROR]
            assert f"job(s) {last} were delivered" in record.getMessage(), record.getMessage()
            assert "runs them again" in record.getMessage() and not record.exc_info
            assert set(j.read()) == set(range(1, last))
        await j.flush()  # at shutdown, with room again
        assert set(j.read()) == set(range(1, last + 1))
    finally:
        j.close()


async def test_the_reservation_grows_before_it_is_used_up(tmp_path, offload):
    j = await opened(tmp_path / "settle-journal.jsonl", offload, reserve=256)
    try:
        for job_id in range(1, 11):  # about 26 bytes each: past three quarters of 256 after 8
            assert await j.delivered(job_id, None)
        assert size(j.path) == 512
        assert len(j.read()) == 10
    finally:
        j.close()
