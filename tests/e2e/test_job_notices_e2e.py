"""A failed job always reaches its member: through Discord's 5xx, past the lease keeper, after the bot was
killed twice in the middle of it. Through the real discord.py (in-process, and as `python -m bot`)
against the fakes."""

from __future__ import annotations

import asyncio
import signal

import pytest

from bot.domain import Member
from tests.conftest import GUILD_ID, eventually, is_ephemeral
from tests.e2e.test_cluster_e2e import Bot, cluster_env
from tests.fakes.discord import FakeDiscord
from tests.fakes.pixazo import Behaviour, FakePixazo
from tests.ledger import open_view

PROMPT = "a lighthouse in fog"
INTERRUPTED_TWICE = ("Your image could not be made: the bot was interrupted twice while making it. No credits were "
                     "spent; please try again.")


def said_privately(interaction) -> list[str]:
    return [m.get("content") or "" for m in interaction.followups if is_ephemeral(m)]


@pytest.mark.parametrize("bot_settings", [{"job_lease_seconds": 3, "pixazo_retry_base_delay_seconds": 0.01,
                                           "pixazo_max_concurrency": 1}])
async def test_a_failure_notice_outlives_discords_500s_and_the_lease_keeper(harness):
    # The job is settled (failed, refunded) at once; telling its member then takes as long as Discord
    # answers 500 to removing the notice: discord.py tries five times over some 25 s, eight leases.
    # The lease keeper must leave that work alone, and the member must hear it all the same.
    harness.pixazo.latency = 1.0
    harness.pixazo.push(Behaviour.OK, Behaviour.BAD_REQUEST)
    first = await harness.invoke("sdxl", {"prompt": "first"}, user_id=4001)
    await eventually(lambda: len(harness.pixazo.requests) == 1)
    interaction = await harness.invoke("sdxl", {"prompt": PROMPT})  # waits for the one slot: a notice
    await eventually(lambda: "Waiting to start" in ((interaction.original or {}).get("content") or ""))
    harness.discord.refuse("DELETE", r"/messages/@original$", 500)
    await eventually(lambda: bool(interaction.followups), timeout=40)
    (told,) = interaction.followups
    assert is_ephemeral(told), told
    assert "refused this request" in told["content"] and "No credits were spent" in told["content"], told
    # The notice could not be removed; it does not stay "Generating…": it says the same.
    await eventually(lambda: (interaction.original or {}).get("content") == told["content"], timeout=5)
    assert first.original is not None and first.original["embeds"], "the first job was delivered"
    async with open_view(harness.settings) as store:
        assert (await store.job(2))["state"] == "failed"
        assert (await store.snapshot(Member(GUILD_ID, 4000), default_allowance=20)).used == 0
    assert "another process took it over" not in harness.log_text()


async def restarted(bot: Bot, fake: FakeDiscord) -> None:
    fake.identify_payload = None
    await bot.start()
    await eventually(lambda: fake.identify_payload is not None, timeout=15)


async def test_a_job_interrupted_twice_tells_its_member_and_replaces_the_notice(tmp_path, fake_discord: FakeDiscord,
                                                                                 fake_pixazo: FakePixazo):
    fake_pixazo.latency = 60.0  # every call is cut short by a kill -9
    bot = Bot(tmp_path, "data", cluster_env(fake_discord, fake_pixazo, None))
    await restarted(bot, fake_discord)
    await fake_discord.wait_synced(timeout=15)
    interaction = await fake_discord.invoke("sdxl", {"prompt": PROMPT})
    await eventually(lambda: len(fake_pixazo.requests) == 1, timeout=15)
    await bot.stop(signal.SIGKILL)

    await restarted(bot, fake_discord)  # the cut call runs once more, and its notice says so
    await eventually(lambda: len(fake_pixazo.requests) == 2, timeout=15)
    await eventually(lambda: "Generating" in ((interaction.original or {}).get("content") or ""), timeout=15)
    await bot.stop(signal.SIGKILL)

    await restarted(bot, fake_discord)  # cut short twice: failed, refunded, and the member is told
    try:
        await eventually(lambda: bool(said_privately(interaction)), timeout=15)
        assert said_privately(interaction) == [INTERRUPTED_TWICE]
        assert interaction.original is None, "the \"Generating…\" notice is gone"
        await asyncio.sleep(0.5)
        assert len(fake_pixazo.requests) == 2, "not run a third time"
    finally:
        assert await bot.stop() == 0
    log = bot.log()
    assert "Traceback" not in log, log[-3000:]
    data = bot.data
    from bot.storage import SqliteStore

    store = await SqliteStore.open(data / "bot.sqlite3", recover=False)
    try:
        row = await store.job(1)
        assert (row["state"], row["error"], row["interaction_token"]) == ("failed", "interrupted", None)
        assert (await store.snapshot(Member(GUILD_ID, 4000), default_allowance=20)).used == 0
    finally:
        await store.close()
