"""The store against a database another connection is writing: busy is StoreBusy, settles are idempotent."""

from __future__ import annotations

import asyncio
import sqlite3
from contextlib import contextmanager

import pytest

from bot.domain import JobState
from bot.storage import Member, SqliteStore, Store, StoreBusy

ALICE = Member(10, 1)


@contextmanager
def write_lock(path):
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        other.execute("ROLLBACK")
        other.close()


@pytest.fixture
async def store(tmp_path):
    s = await SqliteStore.open(tmp_path / "ledger.sqlite3", busy_timeout=0.05)
    yield s
    assert await s.audit() == []
    await s.close()


async def reserve(store: Store) -> int:
    job_id, _ = await store.reserve(ALICE, channel_id=5, model="sdxl", params={}, cost=2, default_allowance=20,
                                    max_jobs=5, global_cap=None)
    return job_id


async def test_a_locked_database_refuses_writes_as_busy_and_writes_nothing(store, tmp_path):
    job = await reserve(store)
    with write_lock(tmp_path / "ledger.sqlite3"):
        for write in (lambda: reserve(store), lambda: store.succeed(job, "u"), lambda: store.fail(job, "x"),
                      lambda: store.grant(10, 1, 5, actor_id=9)):
            with pytest.raises(StoreBusy):
                await write()
        assert (await store.snapshot(ALICE, default_allowance=20)).used == 2, "reading still works"
    # Nothing was half-done, and the connection was left usable.
    assert (await store.job(job))["state"] == JobState.RESERVED
    assert await store.succeed(job, "u") is JobState.SUCCEEDED
    assert (await store.snapshot(ALICE, default_allowance=20)).used == 2


async def test_settling_twice_is_a_no_op_and_a_settled_job_stays_settled(backend):
    store = await backend.open(busy_timeout=0.05)
    try:
        await _settling_twice(store)
    finally:
        await store.close()


async def _settling_twice(store: Store) -> None:
    job = await reserve(store)
    assert await store.succeed(job, "u") is JobState.SUCCEEDED
    assert await store.succeed(job, "u") is JobState.SUCCEEDED, "a retry that already landed is fine"
    assert await store.mark_running(job) is JobState.SUCCEEDED, "a late progress mark changes nothing"
    assert await store.fail(job, "late") is JobState.SUCCEEDED, "a delivered job is never refunded afterwards"
    assert (await store.snapshot(ALICE, default_allowance=20)).used == 2


async def test_recovery_succeeds_delivered_jobs_before_it_releases_the_rest(backend):
    store = await backend.open()
    delivered, lost = await reserve(store), await reserve(store)
    await store.mark_running(delivered)
    await store.close()  # then the bot died with both jobs open: nothing settles them

    store = await backend.open(delivered={delivered: "https://x/1.png", 999: None})
    try:
        d, lost_row = await store.job(delivered), await store.job(lost)
        assert (d["state"], d["result_url"]) == ("succeeded", "https://x/1.png")
        assert (lost_row["state"], lost_row["error"]) == ("failed", "interrupted")
        snap = await store.snapshot(ALICE, default_allowance=20)
        assert (snap.used, snap.in_flight) == (2, 0)
        assert await store.audit() == []
    finally:
        await store.close()


async def test_opening_a_database_another_process_is_writing_is_busy(tmp_path):
    path = tmp_path / "ledger.sqlite3"
    await (await SqliteStore.open(path)).close()
    with write_lock(path), pytest.raises(StoreBusy):
        await SqliteStore.open(path, busy_timeout=0.05)


async def test_a_write_cancelled_while_it_waits_for_the_lock_leaves_no_transaction_open(tmp_path):
    """The caller gives up (a command's task cancelled) while its BEGIN IMMEDIATE waits for another
    connection's write lock; the BEGIN still runs on the store's connection once the lock is free. It
    must be rolled back before the next write, or every later write fails and the lock is never freed."""
    path = tmp_path / "ledger.sqlite3"
    store = await SqliteStore.open(path, busy_timeout=5.0)
    try:
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        task = asyncio.create_task(store.grant(10, 1, 5, actor_id=9))
        await asyncio.sleep(0.2)  # its BEGIN IMMEDIATE is waiting for `other`
        task.cancel()
        await asyncio.sleep(0)
        other.execute("ROLLBACK")  # now the BEGIN lands, for a caller that is gone
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.wait_for(store.grant(10, 1, 7, actor_id=9), 2)
        assert (await store.snapshot(ALICE, default_allowance=20)).granted == 7, "the cancelled grant wrote nothing"
        other.execute("BEGIN IMMEDIATE")  # and nobody holds the write lock
        other.execute("ROLLBACK")
        other.close()
        assert [a["action"] for a in await store.admin_actions(10)] == ["grant"]
    finally:
        await store.close()
