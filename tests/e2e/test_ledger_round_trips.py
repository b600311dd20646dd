"""The ledger's cost of a job: at most MAX_ROUND_TRIPS calls to the store for one delivered job, and no
write to the settle journal when the success lands at once. Alone on its SQLite ledger, the bot starts a job
that nothing waits before from its reservation, so the claim is not one of them; processes sharing a
PostgreSQL ledger claim every job.

The store the composition root builds is wrapped in a counting proxy (every call goes through to the
real store, SQLite or PostgreSQL) and one /sdxl-lightning job runs end to end through the real
discord.py against the fakes: the command, the queue, Pixazo, the result, the settle, the audit row.
Every call the bot makes to its ledger while that job is under way counts, whoever makes it (a
poll, a periodic loop, the job's own path), so a change that adds a call, or a loop that polls
while a job runs, fails here. On SQLite each of those calls is one statement on the writer's thread
(SQLite's own trace of the writer connection counts them): one trip to that thread a call.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

import bot.__main__ as composition_root
from bot.domain import JobState
from bot.domain.audit import AuditAction
from tests.conftest import GUILD_ID, make_settings, started_bot
from tests.ledger import CountingStore, jobs, open_view, quiet, until

MAX_ROUND_TRIPS = {"sqlite": 3, "postgres": 4}  # enqueue (and start), [claim_batch,] delivering, settle_delivered
USER_ID = 4000
NEWCOMER = 4001  # a member without /settings defaults, on their first command


@pytest.fixture
def ledger_settings(backend) -> dict:
    return backend.settings


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


async def test_one_delivered_job_costs_three_ledger_round_trips_on_sqlite_and_four_on_postgresql(tmp_path, fake_discord, fake_pixazo, backend,
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
        statements = await writer_statements(store(), backend.name)

        interaction = await fake_discord.invoke("sdxl-lightning", {"prompt": "a red fox in snow"},
                                                user_id=NEWCOMER)
        answer = await interaction.wait_followup()
        assert answer["embeds"], "the member got the result"
        await delivered_and_recorded(settings, NEWCOMER, 1)
        await quiet(store())
        calls = list(store().calls)
    most = MAX_ROUND_TRIPS[backend.name]
    assert len(calls) <= most, f"{len(calls)} ledger round trips for one delivered job (at most {most}): {calls}"
    assert calls, "the job made no ledger call at all: the proxy did not wrap the bot's store"
    if backend.name == "sqlite":  # one statement on the writer a call: the settle's own writes the audit row
        assert len(statements) == len(calls), "\n".join(statements)


async def writer_statements(store: CountingStore, backend: str) -> list[str]:
    """The statements SQLite's writer connection runs from now on, with their values. A trigger's steps run
    inside the statement that fired them, in its trip to the writer's thread: SQLite's trace names each by the
    statement again, so a repeat is not counted."""
    said: list[str] = []  # each statement's start only: its values include the interaction token
    last = [""]

    def traced(sql: str) -> None:
        if not sql.startswith("--") and sql != last[0]:
            last[0] = sql
            said.append(" ".join(sql.split())[:60])

    if backend == "sqlite":
        await store._store._writer.set_trace_callback(traced)
    return said


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
