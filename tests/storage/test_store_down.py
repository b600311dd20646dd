"""A ledger that can't be written right now, on both backends: a full disk under SQLite (a real tmpfs,
filled), its files made immutable (the kernel refuses the writes: SQLite's "disk I/O error"), a
PostgreSQL server stopped at once (`pg_ctl stop -m immediate`). Writes are refused as
StoreDown with nothing written, the store logs the outage once and its end once, and everything works
again after. And on PostgreSQL, a connection lost with a write in flight: WriteInDoubt, never "nothing
happened", and a settle tried again reads back what landed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.domain import JobState, StoreDown, WriteInDoubt
from bot.storage import SqliteStore, Store
from bot.storage.outage import ledger_written
from bot.storage.postgres.store import PostgresStore
from tests.disk import disk_filled
from tests.postgres import PostgresServer, postgres_or_skip
from tests.storage.test_store_queue import enqueue, member

OUTAGE = "can't be written right now"
BACK = "takes writes again"


@dataclass
class Faulty:
    store: Store
    fail: Callable[[], Awaitable[None]]
    mend: Callable[[], Awaitable[None]]


def _chattr(flag: str, *paths: Path) -> None:
    done = subprocess.run(["chattr", flag, *map(str, paths)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot make files immutable here (needs root and ext4 or alike): {done.stderr.strip()}")


@pytest.fixture(params=["sqlite", "sqlite-immutable", "postgres"])
async def faulty(request, tmp_path) -> AsyncIterator[Faulty]:
    if request.param == "sqlite-immutable":
        # The kernel refuses every write to the ledger's files (chattr +i binds root too): SQLite
        # answers "disk I/O error", as it does for a file system gone read-only under it.
        path = tmp_path / "ledger.sqlite3"
        store = await SqliteStore.open(path, busy_timeout=0.2)
        files = [path, path.with_name(path.name + "-wal")]

        async def freeze() -> None:
            await asyncio.to_thread(_chattr, "+i", *files)

        async def thaw() -> None:
            await asyncio.to_thread(_chattr, "-i", *files)

        try:
            yield Faulty(store, freeze, thaw)
        finally:
            await asyncio.to_thread(subprocess.run, ["chattr", "-i", *map(str, files)], capture_output=True,
                                    check=False)
            await store.close()
        return
    if request.param == "sqlite":
        disk = request.getfixturevalue("small_disk")
        store: Store = await SqliteStore.open(disk / "ledger.sqlite3", busy_timeout=0.2)
        filled = contextlib.ExitStack()

        async def fill() -> None:
            filled.enter_context(disk_filled(disk))

        async def free() -> None:
            filled.close()

        try:
            yield Faulty(store, fill, free)
        finally:
            filled.close()
            await store.close()
        return
    server = await asyncio.to_thread(PostgresServer.start, postgres_or_skip())
    try:
        store = await PostgresStore.open(server.url(await server.create_database()), busy_timeout=1.0)
        try:
            yield Faulty(store, lambda: asyncio.to_thread(server.halt), lambda: asyncio.to_thread(server.resume))
        finally:
            await store.close()
    finally:
        await asyncio.to_thread(server.stop)


async def test_a_ledger_that_cant_be_written_refuses_writes_as_down_and_says_so_once(faulty, caplog):
    store = faulty.store
    running, waiting = await enqueue(store, member(1), cost=3), await enqueue(store, member(2), cost=3)
    await store.claim()
    caplog.set_level(logging.INFO, logger="bot.storage")
    await faulty.fail()
    try:
        for write in (lambda: enqueue(store, member(3)), lambda: store.succeed(running, "https://x/1.png"),
                      lambda: store.fail(waiting, "x"), lambda: store.renew(store.owner, [running], 30),
                      lambda: store.grant(10, 1, 5, actor_id=9)):
            with pytest.raises(StoreDown):
                await write()
    finally:
        await faulty.mend()
    said = [r.getMessage() for r in caplog.records]
    assert sum(OUTAGE in line for line in said) == 1, said
    assert not any(BACK in line for line in said), "nothing was written yet"

    assert await store.succeed(running, "https://x/1.png") is JobState.SUCCEEDED
    assert sum(BACK in r.getMessage() for r in caplog.records) == 1
    assert (await store.job(waiting))["state"] == "queued", "the refused fail wrote nothing"
    assert await store.recent_jobs(10, 3) == [], "the refused reservation wrote nothing"
    assert (await store.snapshot(member(1), default_allowance=100)).used == 3
    assert (await store.snapshot(member(1), default_allowance=100)).granted == 0
    assert await store.audit() == []
    assert not [r for r in caplog.records if r.exc_info], "no tracebacks"


# -- a connection lost with a write in flight (PostgreSQL) -------------------------------------------------

class CuttingProxy:
    """A TCP proxy to PostgreSQL that, once armed with `cut_after(marker)`, forwards the client's message
    holding `marker`, lets the server answer it, and then closes both sides instead of passing the answer
    on: the server has done (and committed) the work, the client never hears so."""

    def __init__(self, port: int) -> None:
        self._target = port
        self._marker: bytes | None = None
        self.cut = asyncio.Event()
        self._server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    def cut_after(self, marker: bytes) -> None:
        self._marker, self.cut = marker, asyncio.Event()

    async def _serve(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        server_r, server_w = await asyncio.open_connection("127.0.0.1", self._target)
        armed = asyncio.Event()

        async def upstream() -> None:
            while data := await client_r.read(65536):
                if self._marker is not None and self._marker in data:
                    self._marker = None
                    armed.set()
                server_w.write(data)
                await server_w.drain()

        async def downstream() -> None:
            while data := await server_r.read(65536):
                if armed.is_set() and b"Z\x00\x00\x00\x05" in data:  # ReadyForQuery: done and committed
                    self.cut.set()
                    return
                client_w.write(data)
                await client_w.drain()

        tasks = [asyncio.ensure_future(upstream()), asyncio.ensure_future(downstream())]
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in tasks:
            task.cancel()
        for writer in (client_w, server_w):
            writer.close()


@pytest.fixture
async def cut_store(postgres_url) -> AsyncIterator[tuple[PostgresStore, PostgresStore, CuttingProxy]]:
    """A store whose connections go through a CuttingProxy, and a direct one that sees what landed."""
    direct = await PostgresStore.open(postgres_url)
    port = int(postgres_url.rsplit(":", 1)[1].split("/")[0])
    proxy = CuttingProxy(port)
    await proxy.start()
    cut = await PostgresStore.open(postgres_url.replace(f":{port}/", f":{proxy.port}/"), busy_timeout=1.0)
    try:
        yield cut, direct, proxy
    finally:
        await cut.close()
        await proxy.close()
        await direct.close()


async def test_a_settle_whose_answer_is_lost_is_in_doubt_and_a_retry_reads_back_that_it_landed(cut_store):
    cut, direct, proxy = cut_store
    job = await enqueue(cut, member(1), cost=3)
    assert (await cut.claim())["id"] == job
    proxy.cut_after(b"WITH moved AS (UPDATE jobs SET state")
    with pytest.raises(WriteInDoubt):
        await cut.succeed(job, "https://x/1.png")
    assert proxy.cut.is_set()
    assert (await direct.job(job))["state"] == "succeeded", "it did land"
    assert await cut.succeed(job, "https://x/1.png") is JobState.SUCCEEDED, "the retry reads it back"
    assert await cut.fail(job, "late") is JobState.SUCCEEDED
    assert (await direct.snapshot(member(1), default_allowance=100)).used == 3
    assert await direct.audit() == []


async def test_a_reservation_whose_commit_answer_is_lost_is_in_doubt_not_refused(cut_store):
    cut, direct, proxy = cut_store
    proxy.cut_after(b"COMMIT")
    with pytest.raises(WriteInDoubt):
        await enqueue(cut, member(1), cost=3)
    (row,) = await direct.recent_jobs(10, 1)
    assert row["state"] == "queued", "it landed: saying 'nothing was spent' would have been false"


async def test_a_transaction_cut_before_its_commit_wrote_nothing_and_says_so(cut_store):
    cut, direct, proxy = cut_store
    proxy.cut_after(b"reserve_job")  # the reservation's statement, inside the transaction
    with pytest.raises(StoreDown) as refused:
        await enqueue(cut, member(1), cost=3)
    assert not isinstance(refused.value, WriteInDoubt)
    assert await direct.recent_jobs(10, 1) == []


async def test_a_task_knows_whether_it_wrote_to_the_ledger_itself(backend):
    """What a failed command may say ("nothing was spent or changed") rests on this: its own writes count,
    a read does not, and neither do the writes of the task that started it (a new task copies its
    parent's context: the start's recovery must not count as every later command's write)."""
    store = await backend.open()
    try:
        await enqueue(store, member(1))
        assert ledger_written(), "this task wrote"

        async def command(write: bool) -> tuple[bool, bool, bool]:
            inherited = ledger_written()
            await store.snapshot(member(2), default_allowance=5)
            after_read = ledger_written()
            if write:
                await enqueue(store, member(2))
            return inherited, after_read, ledger_written()

        assert await asyncio.create_task(command(write=False)) == (False, False, False)
        assert await asyncio.create_task(command(write=True)) == (False, False, True)
    finally:
        await store.close()
