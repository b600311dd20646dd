"""A busy database while jobs start and finish: another process holds SQLite's write lock.

The lock is taken by a real second process (`BEGIN IMMEDIATE` on the bot's own bot.sqlite3) and held
for several busy timeouts, then released; everything is observed the way a member sees it.
"""

from __future__ import annotations

import asyncio
import sqlite3
import sys
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from unittest.mock import ANY

import pytest

from bot.storage import Member, SqliteStore
from bot.storage.settle_journal import read_journal
from tests.conftest import GUILD_ID, embed_fields, eventually, is_ephemeral, make_settings, started_bot
from tests.e2e.test_quota_e2e import ADMIN
from tests.e2e.test_results_e2e import button_ids
from tests.e2e.test_startup import BASE_ENV, TOKEN, run_bot
from tests.fakes.pixazo import Behaviour
from tests.ledger import jobs, until

PROMPT = "a lighthouse in fog"
BUSY_TIMEOUT = 0.2
HELD = 1.0  # five busy timeouts
FAST_BUSY = {"database_busy_timeout_seconds": BUSY_TIMEOUT}
SDXL_COST = 2

_HOLDER = """
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)
db.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
sys.stdin.readline()
db.execute("ROLLBACK")
"""


@asynccontextmanager
async def write_lock_held(path: Path):
    """Another process holding the ledger's write lock until the block ends."""
    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", _HOLDER, str(path),
                                                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
    try:
        assert (await asyncio.wait_for(proc.stdout.readline(), 10)).strip() == b"locked"
        yield
    finally:
        proc.stdin.write(b"\n")
        await proc.stdin.drain()
        await asyncio.wait_for(proc.wait(), 10)


async def states(path: Path) -> list[str]:
    # Through the store, as a second reader (recover=False): readers are not blocked by a held write lock (WAL).
    store = await SqliteStore.open(path, recover=False)
    try:
        return [j["state"] for j in await jobs(store, GUILD_ID, 4000)]
    finally:
        await store.close()


def states_become(path: Path, expected: list[str]):
    async def check() -> bool:
        return await states(path) == expected
    return check


async def audit(path: Path) -> list[str]:
    # recover=False: recovery beside the live bot would release its open jobs.
    store = await SqliteStore.open(path, recover=False)
    try:
        return await store.audit()
    finally:
        await store.close()


async def snapshot(path: Path):
    store = await SqliteStore.open(path, recover=False)
    try:
        return await store.snapshot(Member(GUILD_ID, 4000), default_allowance=20)
    finally:
        await store.close()


def everything_said(interaction) -> str:
    parts = [m.get("content") or "" for m in interaction.followups]
    parts += [e.get("content") or "" for e in interaction.edits]
    return "\n".join(parts)


async def quota(harness) -> dict[str, str]:
    interaction = await harness.invoke("quota")
    return embed_fields(await interaction.wait_followup())


@pytest.mark.parametrize("bot_settings", [FAST_BUSY])
async def test_a_delivered_image_survives_a_locked_database(harness):
    db = harness.settings.database_path
    harness.pixazo.latency = 0.5
    interaction = await harness.invoke("sdxl", {"prompt": PROMPT})
    await until(states_become(db, ["running"]))
    async with write_lock_held(db):
        message = await interaction.wait_followup()
        assert message["embeds"] and not is_ephemeral(message)
        await asyncio.sleep(HELD)
        assert await states(db) == ["running"], "nothing can be written while another process holds the lock"
        assert message["id"] not in harness.discord.deleted_messages, "the delivered image was deleted"
        assert len(interaction.followups) == 1, f"the member was told more: {everything_said(interaction)!r}"
    await until(states_become(db, ["succeeded"]), timeout=3)
    assert message["id"] not in harness.discord.deleted_messages, "the delivered image was deleted"
    assert interaction.original is not None and interaction.original["embeds"], "the image is still there"
    assert len(interaction.followups) == 1, "nothing else was said to the member"
    assert "credits" not in everything_said(interaction)
    assert await audit(db) == []
    fields = await quota(harness)
    assert (fields["Used today"], fields["Running now"]) == (str(SDXL_COST), "0 of 2 at a time"), \
        "spent once, and the member's slot is free again"
    assert "retrying 'succeed' until it lands" in harness.log_text()


@pytest.mark.parametrize("bot_settings", [FAST_BUSY])
async def test_deleting_an_image_whose_success_is_not_recorded_yet_says_nothing_of_credits(harness):
    """The ledger holds the job's credits but has not spent them yet: Delete says only that it deleted."""
    db = harness.settings.database_path
    harness.pixazo.latency = 0.5
    interaction = await harness.invoke("sdxl", {"prompt": PROMPT})
    await until(states_become(db, ["running"]))
    async with write_lock_held(db):
        message = await interaction.wait_followup()
        clicked = await harness.discord.click(harness.discord.messages[message["id"]],
                                              button_ids(message)["Delete"], user_id=4000)
        answer = await clicked.wait_callback()
        assert is_ephemeral(answer["data"]) and answer["data"]["content"] == "Deleted.", answer["data"]
        assert message["id"] in harness.discord.deleted_messages
        assert await states(db) == ["running"]
    await until(states_become(db, ["succeeded"]), timeout=3)
    # Once the ledger has it spent, the same press says so.
    done = await harness.answer("sdxl", {"prompt": PROMPT})
    # Its success lands just after Discord answers the post: the press waits for it, as a member's would.
    await until(states_become(db, ["succeeded", "succeeded"]), timeout=3)
    clicked = await harness.discord.click(harness.discord.messages[done[1]["id"]], button_ids(done[1])["Delete"],
                                          user_id=4000)
    answer = await clicked.wait_callback()
    assert answer["data"]["content"] == "Deleted. The credits stay spent: the image was made."


async def test_a_shutdown_while_locked_keeps_a_delivered_job_succeeded(tmp_path, fake_discord, fake_pixazo):
    settings = make_settings(tmp_path, fake_discord, fake_pixazo, **FAST_BUSY)
    db = settings.database_path
    fake_pixazo.latency = 0.5
    async with AsyncExitStack() as lock:
        async with started_bot(settings, fake_discord):
            interaction = await fake_discord.invoke("sdxl", {"prompt": PROMPT})
            await until(states_become(db, ["running"]))
            await lock.enter_async_context(write_lock_held(db))
            message = await interaction.wait_followup()
            assert message["embeds"]
            await asyncio.sleep(2 * BUSY_TIMEOUT)
        # The bot has stopped (as on SIGTERM) and the lock is still held: nothing could be written.
        assert await states(db) == ["running"]
        assert read_journal(settings.settle_journal_path) == {1: ANY}, "the delivery must be on disk"
    fake_discord.identify_payload = None
    async with started_bot(settings, fake_discord):
        # Identifying comes after the store is open, so recovery has run by then.
        await eventually(lambda: fake_discord.identify_payload is not None, timeout=10)
    assert await states(db) == ["succeeded"], "a delivered job is never refunded"
    snap = await snapshot(db)
    assert (snap.used, snap.in_flight) == (SDXL_COST, 0)
    assert await audit(db) == []
    assert read_journal(settings.settle_journal_path) == {}, "applied, then emptied"
    assert message["id"] not in fake_discord.deleted_messages and len(interaction.followups) == 1
    assert "credits" not in everything_said(interaction)


@pytest.mark.parametrize("bot_settings", [FAST_BUSY])
async def test_a_reservation_under_a_held_lock_is_refused_as_busy_and_costs_nothing(harness):
    db = harness.settings.database_path
    async with write_lock_held(db):
        interaction, message = await harness.answer("sdxl", {"prompt": PROMPT})
    assert is_ephemeral(message)
    assert message["content"] == "The bot is busy right now; nothing was spent. Please try again in a moment."
    assert interaction.original is None, "the public thinking message is gone"
    assert harness.pixazo.requests == []
    assert await states(db) == []
    assert (await quota(harness))["Left today"] == "20"
    # Once the lock is gone, the same command works.
    _, ok = await harness.answer("sdxl", {"prompt": PROMPT})
    assert ok["embeds"]


@pytest.mark.parametrize("bot_settings", [FAST_BUSY | {"pixazo_retry_base_delay_seconds": 0.01}])
async def test_a_failure_while_locked_is_refunded_once_the_lock_goes_and_frees_the_slot(harness):
    db = harness.settings.database_path
    harness.pixazo.latency = 0.5
    harness.pixazo.default = Behaviour.BAD_REQUEST
    interaction = await harness.invoke("sdxl", {"prompt": PROMPT})
    await until(states_become(db, ["running"]))
    async with write_lock_held(db):
        await eventually(lambda: len(harness.pixazo.requests) == 1 and harness.pixazo.requests[0].status == 400)
        await asyncio.sleep(HELD)
        assert await states(db) == ["running"]
        assert interaction.followups == [], "no word about credits before the refund is in the ledger"
    message = await interaction.wait_followup(timeout=3)
    assert is_ephemeral(message) and "refused this request" in message["content"], message["content"]
    assert await states(db) == ["failed"]
    fields = await quota(harness)
    assert (fields["Left today"], fields["Running now"]) == ("20", "0 of 2 at a time")
    assert await audit(db) == []


@pytest.mark.parametrize("bot_settings", [FAST_BUSY])
async def test_admin_writes_under_a_held_lock_say_busy_and_quota_still_reads(harness):
    db = harness.settings.database_path
    async with write_lock_held(db):
        interaction = await harness.invoke("quotas", {"member": 4000, "extra_credits": 5}, subcommand="grant",
                                           permissions=ADMIN, user_id=9000, username="mod")
        message = await interaction.wait_followup()
        assert is_ephemeral(message)
        assert message["content"] == "The bot is busy right now; nothing was changed. Please try again in a moment."
        fields = await quota(harness)  # reading is not blocked by another writer
        assert fields["Left today"] == "20"
    store = await SqliteStore.open(db, recover=False)
    try:
        assert (await store.snapshot(Member(GUILD_ID, 4000), default_allowance=20)).granted == 0
        assert await store.admin_actions(GUILD_ID) == []
    finally:
        await store.close()
    assert "unexpected" not in harness.log_text()


def test_a_database_locked_at_start_stops_the_bot_with_one_clear_line(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    holder = sqlite3.connect(data / "bot.sqlite3", isolation_level=None)
    holder.execute("CREATE TABLE other_program (x)")
    holder.execute("BEGIN IMMEDIATE")
    try:
        result = run_bot({**BASE_ENV, "DATA_DIR": str(data), "DATABASE_BUSY_TIMEOUT_SECONDS": "0.2",
                          "DISCORD_API_BASE_URL": "http://127.0.0.1:9/api/v10"}, cwd=tmp_path)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert result.returncode == 1
    assert "is locked by another process" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and TOKEN not in result.stderr
