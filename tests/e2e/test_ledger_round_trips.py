"""The ledger's cost of a job: at most MAX_ROUND_TRIPS calls to the store for one delivered job, and no
write to the settle journal when the success lands at once.

The store the composition root builds is wrapped in a counting proxy (every call goes through to the
real store, SQLite or PostgreSQL) and one /sdxl-lightning job runs end to end through the real
discord.py against the fakes: the command, the queue, Pixazo, the result, the settle, the audit row.
Every call the bot makes to its ledger while that job is under way counts, whoever makes it (a
poll, a periodic loop, the job's own path), so a change that adds a call, or a loop that polls
while a job runs, fails here.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from typing import Any

import pytest

import bot.__main__ as composition_root
from bot.domain import JobState
from bot.domain.audit import AuditAction
from tests.conftest import GUILD_ID, make_settings, started_bot
from tests.ledger import jobs, open_view, until

MAX_ROUND_TRIPS = 4
USER_ID = 4000
NEWCOMER = 4001  # a member without /settings defaults, on their first command
QUIET_SECONDS = 0.5  # no call for this long: the job's after-work (settle, audit row) is done


@pytest.fixture
def ledger_settings(backend) -> dict:
    return backend.settings


class CountingStore:
    """The real store, every attribute passed through; each call of one of its coroutine methods is
    noted (by name) before it runs. Attributes set on it are set on the real store."""

    def __init__(self, store: Any) -> None:
        object.__setattr__(self, "_store", store)
        object.__setattr__(self, "calls", [])
        object.__setattr__(self, "last_call", 0.0)

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._store, name)
        if not inspect.iscoroutinefunction(value):
            return value

        async def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(name)
            object.__setattr__(self, "last_call", asyncio.get_running_loop().time())
            return await value(*args, **kwargs)

        return counted

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._store, name, value)


async def quiet(store: CountingStore, seconds: float = QUIET_SECONDS, timeout: float = 10.0) -> None:
    """Until the bot has made no ledger call for `seconds`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() - max(store.last_call, 0.0) < seconds:
        if loop.time() > deadline:
            raise AssertionError(f"the bot never went {seconds}s without a ledger call: {store.calls[-20:]}")
        await asyncio.sleep(0.05)


def counting(monkeypatch: pytest.MonkeyPatch) -> Callable[[], CountingStore]:
    """Wrap whatever store the composition root opens; returns a getter for the wrapper."""
    made: list[CountingStore] = []
    real_open = composition_root.open_ledger

    async def open_counted(*args: Any, **kwargs: Any) -> Any:
        wrapped = CountingStore(await real_open(*args, **kwargs))
        made.append(wrapped)
        return wrapped

    monkeypatch.setattr(composition_root, "open_ledger", open_counted)
    return lambda: made[0]


async def delivered_and_recorded(settings: Any, user_id: int, count: int) -> None:
    """The user's `count` jobs are succeeded, each with its generation's audit row."""
    async with open_view(settings) as view:
        async def done() -> bool:
            rows = await jobs(view, GUILD_ID, user_id)
            if len(rows) < count or any(r["state"] != JobState.SUCCEEDED for r in rows):
                return False
            _, recorded = await view.audit_log(GUILD_ID, member=user_id, action=AuditAction.GENERATION.value)
            return recorded >= count

        await until(done, timeout=10)


async def test_one_delivered_job_costs_at_most_four_ledger_round_trips(tmp_path, fake_discord, fake_pixazo,
                                                                       ledger_settings, monkeypatch):
    """Measured on a member's first command: what is kept per server (its configuration, who has /settings
    defaults there) is warm, as in any running bot, but nothing of this member is."""
    store = counting(monkeypatch)
    settings = make_settings(tmp_path, fake_discord, fake_pixazo, **ledger_settings)
    async with started_bot(settings, fake_discord):
        # A first job fills what is cached per server (its configuration), as any running bot has.
        warm = await fake_discord.invoke("sdxl-lightning", {"prompt": "a warm-up"}, user_id=USER_ID)
        await warm.wait_followup()
        await delivered_and_recorded(settings, USER_ID, 1)
        await quiet(store())
        store().calls.clear()

        interaction = await fake_discord.invoke("sdxl-lightning", {"prompt": "a red fox in snow"},
                                                user_id=NEWCOMER)
        answer = await interaction.wait_followup()
        assert answer["embeds"], "the member got the result"
        await delivered_and_recorded(settings, NEWCOMER, 1)
        await quiet(store())
        calls = list(store().calls)
    assert len(calls) <= MAX_ROUND_TRIPS, f"{len(calls)} ledger round trips for one delivered job: {calls}"
    assert calls, "the job made no ledger call at all: the proxy did not wrap the bot's store"


async def test_a_delivered_job_whose_success_lands_at_once_writes_nothing_to_the_settle_journal(
        tmp_path, fake_discord, fake_pixazo, ledger_settings):
    """The journal is the fallback for a settle the ledger cannot take (tests/e2e/test_settle_e2e.py): on the
    happy path the settle's own transaction is the record, and the journal file is not touched."""
    settings = make_settings(tmp_path, fake_discord, fake_pixazo, **ledger_settings)
    async with started_bot(settings, fake_discord):
        journal = settings.settle_journal_path
        before = journal.stat().st_mtime_ns
        interaction = await fake_discord.invoke("sdxl-lightning", {"prompt": "a red fox in snow"}, user_id=USER_ID)
        assert (await interaction.wait_followup())["embeds"]
        await delivered_and_recorded(settings, USER_ID, 1)
        await asyncio.sleep(0.3)  # a journal write beside the settle would have landed by now
        assert journal.stat().st_mtime_ns == before, "the settle journal was written for a job whose success landed"
