"""Every gate on the loop's new paths, through the real discord.py against the fakes, on both backends:
/imagine and a batch under a blocked member, a turned-off model, a blocked word, the server's budget,
approval mode (each image of a batch reviewed on its own), and Reroll all checked for whoever presses."""

from __future__ import annotations

import re

import pytest

from bot.domain import JobState
from tests.conftest import GUILD_ID, eventually, is_ephemeral
from tests.e2e.test_approval_e2e import moderated, posts, press
from tests.e2e.test_results_e2e import button_ids
from tests.fakes.discord import DEFAULT_MEMBER_PERMISSIONS
from tests.ledger import read_jobs, until

USER, OTHER = 4001, 4002
ADMIN = DEFAULT_MEMBER_PERMISSIONS | (1 << 5)
MOD = DEFAULT_MEMBER_PERMISSIONS | (1 << 13)
PROMPT = "a lighthouse at dusk"


@pytest.fixture
def ledger_settings(backend) -> dict:
    return backend.settings


@pytest.fixture
def bot_settings() -> dict:
    return {"quota_default_daily_credits": 40}


async def admin(harness, command: str, sub: str, options: dict | None = None) -> dict:
    interaction = await harness.invoke(command, options or {}, subcommand=sub, user_id=9000, permissions=ADMIN)
    callback = await interaction.wait_callback()
    return callback["data"] if callback["type"] == 4 else await interaction.wait_followup()


async def refused(harness, command: str = "imagine", user: int = USER, **options) -> str:
    """Refused privately, before anything is deferred, spent or sent to Pixazo."""
    interaction = await harness.invoke(command, {"prompt": PROMPT, **options}, user_id=user)
    callback = await interaction.wait_callback()
    assert callback["type"] == 4 and is_ephemeral(callback["data"]), callback
    assert harness.pixazo.requests == [] and await read_jobs(harness.settings, GUILD_ID, user) == []
    return callback["data"]["content"]


async def test_the_moderation_gates_refuse_imagine_and_batches_before_anything_is_spent(harness):
    await admin(harness, "config", "words add", {"term": "lighthouse"})
    assert "`lighthouse`" in await refused(harness, count=4)
    assert "`lighthouse`" in await refused(harness, "sdxl", count=3)
    await admin(harness, "config", "words remove", {"term": "lighthouse"})
    await admin(harness, "config", "models disable", {"model": "sdxl"})
    assert "/sdxl is turned off" in await refused(harness, count=2), "/imagine's default model is held to it too"
    assert "/sdxl is turned off" in await refused(harness, "imagine", model="sdxl", count=3)
    await admin(harness, "config", "models enable", {"model": "sdxl"})
    await admin(harness, "config", "members block", {"member": USER, "reason": "spam"})
    assert "blocked from generating here: spam" in await refused(harness, count=2)


async def test_the_server_budget_refuses_a_batch_as_one(harness):
    await admin(harness, "quotas", "budget", {"credits_per_day": 5})
    interaction = await harness.invoke("imagine", {"prompt": PROMPT, "count": 3}, user_id=USER)
    said = await interaction.wait_followup()
    assert is_ephemeral(said)
    assert re.match(r"3 images on /sdxl need 6 credits and this server has 5 left of its daily budget", said["content"])
    assert harness.pixazo.requests == [] and await read_jobs(harness.settings, GUILD_ID, USER) == []


async def test_in_approval_mode_each_image_of_a_batch_waits_for_a_moderator(harness):
    art, review = await moderated(harness.discord)
    interaction = await harness.invoke("imagine", {"prompt": PROMPT, "count": 2}, user_id=USER, channel_id=art)
    callback = await interaction.wait_callback()
    assert callback["type"] == 5 and callback["data"]["flags"] & 64, "thinking… is the member's alone"
    await harness.discord.wait_for(lambda: len(posts(harness.discord, review)) == 2)
    assert posts(harness.discord, art) == [], "nothing is posted before a moderator approves"
    for post in posts(harness.discord, review):
        approve, _ = await press(harness.discord, post, "Approve", user_id=9100, permissions=MOD)
        await approve.wait_followup()
    await harness.discord.wait_for(lambda: len(posts(harness.discord, art)) == 2)
    assert all({"Reroll", "Details"} <= set(button_ids(p)) for p in posts(harness.discord, art))
    rows = await read_jobs(harness.settings, GUILD_ID, USER)
    assert [r["state"] for r in rows] == [JobState.SUCCEEDED] * 2


async def test_reroll_all_is_checked_for_whoever_presses(harness):
    interaction = await harness.invoke("imagine", {"prompt": PROMPT, "count": 2}, user_id=USER)
    await eventually(lambda: len((interaction.original or {}).get("attachments") or []) == 2, timeout=10)
    message = interaction.original
    await admin(harness, "config", "members block", {"member": OTHER, "reason": "spam"})
    blocked = await harness.discord.click(message, button_ids(message)["Reroll all"], user_id=OTHER)
    answer = await blocked.wait_callback()
    assert answer["type"] == 4 and is_ephemeral(answer["data"]) and "blocked" in answer["data"]["content"]
    assert len(harness.pixazo.requests) == 2 and await read_jobs(harness.settings, GUILD_ID, OTHER) == []
    third = await harness.discord.click(message, button_ids(message)["Reroll all"], user_id=4003)
    await third.wait_callback()

    async def made() -> bool:
        rows = await read_jobs(harness.settings, GUILD_ID, 4003)
        return len(rows) == 2 and all(r["state"] is JobState.SUCCEEDED for r in rows)
    await until(made, timeout=10)
    assert len(harness.pixazo.requests) == 4, "the presser's own batch, charged to them"
