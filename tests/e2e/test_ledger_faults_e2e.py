"""The ledger's truth under faults it does not control: a full disk under DATA_DIR, a PostgreSQL server
stopped mid-job. The bot never runs a delivered job again, never says "no credits were spent" unless
the ledger has the job refunded, tells new commands one specific sentence, and logs one line per outage.

The full disk is real: DATA_DIR on a small tmpfs of the test's own, filled to the last byte (mounting
needs root and CAP_SYS_ADMIN; without them that test is skipped, saying so). The stopped database is
real too: a PostgreSQL server of the test's own, stopped with `pg_ctl stop -m immediate` and started
again on the same port.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from bot.domain import Member
from bot.storage.settle_journal import read_journal
from tests.conftest import GUILD_ID, eventually, is_ephemeral, make_settings, started_bot
from tests.disk import disk_filled
from tests.ledger import columns, jobs, open_view, read_jobs, until
from tests.postgres import PostgresServer, postgres_or_skip

PROMPT = "a lighthouse in fog"
SDXL_COST = 2
DOWN = "The bot can't record anything right now; nothing was spent. Please try again in a few minutes."
LEASE = 3.0  # JOB_LEASE_SECONDS: a job whose lease the bot did not keep would be taken again within seconds


def everything_said(interaction) -> list[str]:
    return [m.get("content") or "" for m in interaction.followups] + [e.get("content") or "" for e in interaction.edits]


def results(interaction) -> list[dict]:
    shown = [m for m in interaction.followups if m.get("embeds")] + [e for e in interaction.edits if e.get("embeds")]
    if not shown and interaction.original and interaction.original.get("embeds"):
        shown = [interaction.original]
    return shown


# -- a full disk ---------------------------------------------------------------------------------------

@pytest.fixture
def bot_settings(request) -> dict:
    if "small_disk" not in request.fixturenames:
        return {}
    return {"data_dir": request.getfixturevalue("small_disk"), "job_lease_seconds": LEASE,
            "database_busy_timeout_seconds": 0.2}


async def test_a_full_disk_never_runs_a_delivered_job_again_and_refuses_new_ones_in_one_sentence(small_disk,
                                                                                                  harness):
    harness.pixazo.latency = 1.0
    interaction = await harness.invoke("sdxl", {"prompt": PROMPT})
    await eventually(lambda: len(harness.pixazo.requests) == 1)
    with disk_filled(small_disk):
        message = await interaction.wait_followup(timeout=10)
        assert message["embeds"] and not is_ephemeral(message), "Pixazo's image is delivered all the same"

        # A new command while nothing can be written: one specific sentence, nothing spent, no Pixazo call.
        refused = await harness.invoke("sdxl", {"prompt": "another"}, user_id=4001)
        answer = await refused.wait_followup()
        assert is_ephemeral(answer) and answer["content"] == DOWN, answer

        await asyncio.sleep(3 * LEASE)  # the lease of the delivered job could not be renewed all this time
        assert len(harness.pixazo.requests) == 1, "the delivered job was never run again"
        (row,) = await read_jobs(harness.settings, GUILD_ID, 4000)
        assert (row["state"], row["attempts"]) == ("running", 1), "its success waits for the disk"

    async def succeeded() -> bool:
        rows = await read_jobs(harness.settings, GUILD_ID, 4000)
        return [r["state"] for r in rows] == ["succeeded"]

    await until(succeeded, timeout=10)
    await asyncio.sleep(1.5)  # a claim that took the job again would have called Pixazo by now
    assert len(harness.pixazo.requests) == 1, "one Pixazo call"
    assert len(results(interaction)) == 1, "one post"
    assert not [text for text in everything_said(interaction) if "credits" in text], everything_said(interaction)
    async with open_view(harness.settings) as store:
        (row,) = await jobs(store, GUILD_ID, 4000)
        assert row["attempts"] == 1
        assert (await store.snapshot(Member(GUILD_ID, 4000), default_allowance=20)).used == SDXL_COST
        assert await jobs(store, GUILD_ID, 4001) == [], "the refused command left nothing behind"
        assert await store.audit() == []
    text = harness.log_text()
    assert text.count("can't be written right now") == 1, text
    assert text.count("takes writes again") == 1, text
    assert "runs again" not in text and "could not be recorded" not in text, text


async def test_a_restart_while_the_disk_is_still_full_never_runs_a_delivered_job_again(small_disk, tmp_path,
                                                                                      fake_discord, fake_pixazo,
                                                                                      caplog):
    """The ledger can't take the success and the disk has no byte left: the settle journal writes into the
    space it reserved at start, so the next start records the job as succeeded instead of running it again."""
    settings = make_settings(tmp_path, fake_discord, fake_pixazo, data_dir=small_disk, job_lease_seconds=LEASE,
                             database_busy_timeout_seconds=0.2)
    fake_pixazo.latency = 1.0
    with contextlib.ExitStack() as full:
        async with started_bot(settings, fake_discord):
            interaction = await fake_discord.invoke("sdxl", {"prompt": PROMPT})
            await eventually(lambda: len(fake_pixazo.requests) == 1)
            full.enter_context(disk_filled(small_disk))
            message = await interaction.wait_followup(timeout=10)
            assert message["embeds"] and not is_ephemeral(message), "delivered all the same"
            await asyncio.sleep(1.0)  # the success is retried meanwhile; the bot is then stopped, as on SIGTERM
        # Stopped with the disk still full: the ledger has the job running, the journal has its delivery.
        (row,) = await read_jobs(settings, GUILD_ID, 4000)
        assert row["state"] == "running"
        assert set(read_journal(settings.settle_journal_path)) == {row["id"]}, \
            "the delivery is on disk although the disk is full"
        assert "job(s) 1 were delivered and their success is not recorded yet" in caplog.text
        assert "Pixazo calls are made again" not in caplog.text and "settle journal" not in caplog.text, caplog.text
    fake_discord.identify_payload = None
    async with started_bot(settings, fake_discord):
        await eventually(lambda: fake_discord.identify_payload is not None, timeout=10)  # recovery has run
        await asyncio.sleep(1.5)  # a job released by recovery would have been claimed and sent to Pixazo by now
    assert len(fake_pixazo.requests) == 1, "the delivered job never ran again"
    assert "recorded 1 job(s) delivered before the last shutdown as succeeded" in caplog.text
    assert len(results(interaction)) == 1, "one post"
    async with open_view(settings) as store:
        (row,) = await jobs(store, GUILD_ID, 4000)
        assert (row["state"], row["attempts"]) == ("succeeded", 1)
        assert (await store.snapshot(Member(GUILD_ID, 4000), default_allowance=20)).used == SDXL_COST
        assert await store.audit() == []


# -- a database server stopped mid-job -------------------------------------------------------------------

@pytest.fixture
async def own_postgres() -> AsyncIterator[PostgresServer]:
    """A PostgreSQL server this test may stop (the session's is shared with every other test)."""
    server = await asyncio.to_thread(PostgresServer.start, postgres_or_skip())
    try:
        yield server
    finally:
        await asyncio.to_thread(server.stop)


@pytest.fixture
async def ledger_settings(request) -> dict:
    if "own_postgres" not in request.fixturenames:
        return {}
    server: PostgresServer = request.getfixturevalue("own_postgres")
    return {"database_url": server.url(await server.create_database()), "job_lease_seconds": LEASE,
            "database_busy_timeout_seconds": 1.0}


async def test_postgres_stopped_mid_job_charges_once_delivers_once_and_never_says_nothing_was_spent(own_postgres,
                                                                                                   harness):
    harness.pixazo.latency = 1.5
    members = (4001, 4002, 4003)
    asked = [await harness.invoke("sdxl", {"prompt": f"{PROMPT} {n}"}, user_id=user) for n, user in enumerate(members)]
    await eventually(lambda: len(harness.pixazo.requests) == 3, timeout=10)

    await asyncio.to_thread(own_postgres.halt)  # all three are at Pixazo
    try:
        await eventually(lambda: all(call.status is not None for call in harness.pixazo.requests), timeout=10)
        await asyncio.sleep(0.5)  # Pixazo has answered: each job now needs the ledger
        refused = await harness.invoke("sdxl", {"prompt": "another"}, user_id=4009)
        # Refused before its defer (reading the member's defaults needs the ledger) or after it.
        callback = await refused.wait_callback()
        answer = callback["data"] if callback["type"] == 4 else await refused.wait_followup()
        assert is_ephemeral(answer) and answer["content"].startswith(DOWN.split(" Please")[0].rstrip(".")), answer
        assert not any(results(i) for i in asked), "nothing is posted that the ledger could not check first"
        await asyncio.sleep(2 * LEASE)
    finally:
        await asyncio.to_thread(own_postgres.resume)

    for interaction in asked:
        await eventually(lambda i=interaction: bool(results(i)), timeout=15)
    await asyncio.sleep(LEASE)  # a job taken again would have reached Pixazo by now
    assert len(harness.pixazo.requests) == 3, "no job ran twice"
    for interaction in asked:
        said = everything_said(interaction)
        assert len(results(interaction)) == 1, said
        assert not [text for text in said if "credits" in text or "unexpected" in text], said
    async with open_view(harness.settings) as store:
        rows = await jobs(store, GUILD_ID, *members)
        assert columns(rows, "state", "attempts") == [("succeeded", 1)] * 3
        for user in members:
            assert (await store.snapshot(Member(GUILD_ID, user), default_allowance=20)).used == SDXL_COST
        assert await jobs(store, GUILD_ID, 4009) == []
        assert await store.audit() == []
    text = harness.log_text()
    assert text.count("can't be written right now") == 1, text
    assert text.count("takes writes again") == 1, text
