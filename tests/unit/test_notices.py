"""The notices' loop looks at the board only when a notice there can need an edit: a job started at once
shows "thinking…" until its result, and waking for it every tick cost a lone job more CPU than anything else."""

from __future__ import annotations

import asyncio

import pytest

from bot.core.settings import Settings
from bot.services import notices as notices_module
from bot.services.notices import NOTICE_AFTER_SECONDS, Notice, Notices
from bot.storage.sqlite.store import SqliteStore


class Looks(Notices):
    """Counts how often the loop looks at the board."""

    looks = 0

    async def _notice_tick(self) -> None:
        self.looks += 1
        await super()._notice_tick()


class Courier:
    said: list[str] = []

    async def notice(self, job, text, *, cancellable):
        self.said.append(str(text))


@pytest.fixture
async def board(tmp_path, monkeypatch):
    monkeypatch.setattr(notices_module, "TICK_SECONDS", 0.05)
    store = await SqliteStore.open(tmp_path / "ledger.sqlite3")
    settings = Settings(_env_file=None, discord_token="x", pixazo_api_key="y", data_dir=tmp_path)
    Courier.said = []
    notices = Looks(settings, store, Courier, slots=2)
    loop = asyncio.create_task(notices.loop())
    try:
        yield notices
    finally:
        loop.cancel()
        await store.close()


def started_at_once(notices: Notices, job_id: int, batch_id: int | None = None) -> Notice:
    notices.queued(job_id, "flux")
    notice = notices.board[job_id]
    notice.job = {"id": job_id, "batch_id": batch_id}
    notices.board[job_id] = notice  # as the queue's runner puts it back when the job starts
    notice.started = notice.seen
    return notice


async def test_a_job_started_at_once_is_never_looked_at_while_it_runs(board):
    started_at_once(board, 1)
    await asyncio.sleep(NOTICE_AFTER_SECONDS + 0.3)
    assert board.looks == 0
    assert Courier.said == []


async def test_a_waiting_job_is_looked_at_after_the_notice_delay_and_then_every_tick(board, monkeypatch):
    monkeypatch.setattr(board._store, "queue_positions", _no_positions)
    board.queued(1, "flux")
    await asyncio.sleep(NOTICE_AFTER_SECONDS - 0.1)
    assert board.looks == 0
    await asyncio.sleep(0.35)
    assert 4 <= board.looks <= 9  # every 0.05 s from NOTICE_AFTER_SECONDS on


async def test_a_batch_started_at_once_shows_its_progress_once_its_notice_is_due(board):
    started_at_once(board, 1, batch_id=1)  # its message carries Cancel for the images not started yet
    await asyncio.sleep(NOTICE_AFTER_SECONDS - 0.1)
    assert Courier.said == []
    await asyncio.sleep(0.3)
    assert Courier.said == ["Generating… (1 s)"]


async def _no_positions() -> dict[int, int]:
    return {}
