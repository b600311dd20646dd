"""/quotas budget through the real discord.py: a whole server's daily ceiling, on both ledgers."""

from __future__ import annotations

import re

import pytest

from bot.domain import Member
from tests.conftest import GUILD_ID, embed_fields, is_ephemeral
from tests.fakes.discord import DEFAULT_MEMBER_PERMISSIONS
from tests.fakes.images import make_mask, make_png
from tests.ledger import columns, jobs, open_view

ADMIN = DEFAULT_MEMBER_PERMISSIONS | (1 << 5)  # Manage Server
MOD = 9000
PROMPT = "a lighthouse at dusk"
ALICE, BOB, CAROL, DAN = 4000, 4001, 4002, 4003


@pytest.fixture
def ledger_settings(backend) -> dict:
    return backend.settings


@pytest.fixture
async def ledger(harness):
    async with open_view(harness.settings) as store:
        yield store


async def budget(harness, options: dict) -> str:
    _, message = await harness.answer("quotas", options, subcommand="budget", permissions=ADMIN, user_id=MOD,
                                      username="mod")
    assert is_ephemeral(message) and message["_payload"]["allowed_mentions"] == {"parse": []}
    return message["content"]


async def generate(harness, user_id: int, model: str = "sdxl") -> dict:
    _, message = await harness.answer(model, {"prompt": PROMPT}, user_id=user_id)
    return message


async def own_credits(ledger, user_id: int) -> tuple[int, int]:
    snap = await ledger.snapshot(Member(GUILD_ID, user_id), default_allowance=20)
    return snap.left, snap.used


async def test_members_with_credits_left_are_refused_once_the_servers_budget_is_spent(harness, ledger):
    assert re.fullmatch(r"This server's members may now spend 5 credits a day in all; 0 used today, "
                        r"it renews <t:\d+:R>\.", await budget(harness, {"credits_per_day": 5}))
    assert (await generate(harness, ALICE))["embeds"]
    assert (await generate(harness, BOB))["embeds"]
    refused = await generate(harness, CAROL)
    assert is_ephemeral(refused) and not refused.get("embeds")
    assert re.fullmatch(r"/sdxl needs 2 credits and this server has 1 left of its daily budget of 5 credits; "
                        r"it renews <t:\d+:R>\. No credits were taken from you\.", refused["content"])
    assert refused["_payload"]["allowed_mentions"] == {"parse": []}
    assert len(harness.pixazo.requests) == 2, "a refused command never reaches Pixazo"
    assert await own_credits(ledger, CAROL) == (20, 0), "Carol still has all her own credits"
    assert (await generate(harness, CAROL, "sdxl-lightning"))["embeds"], "the last credit fits exactly"
    refused = await generate(harness, DAN, "sdxl-lightning")
    assert re.fullmatch(r"This server has used its daily budget of 5 credits; it renews <t:\d+:R>\. "
                        r"No credits were taken from you\.", refused["content"])
    assert len(harness.pixazo.requests) == 3
    assert await own_credits(ledger, DAN) == (20, 0)
    assert columns(await jobs(ledger, GUILD_ID, ALICE, BOB, CAROL, DAN), "user_id", "cost") == [
        (ALICE, 2), (BOB, 2), (CAROL, 1)], "a refusal writes no job"
    assert "refused budget" in harness.log_text(), "the operator's log says why"
    # The admin sees the ceiling in /quotas usage; removing it lets members spend their own credits again.
    _, usage = await harness.answer("quotas", {"member": CAROL}, subcommand="usage", permissions=ADMIN,
                                    user_id=MOD, username="mod")
    assert embed_fields(usage)["Server budget"] == "5 of 5 used today"
    assert await budget(harness, {}) == ("This server has no daily budget now; only each member's own allowance "
                                         "limits them.")
    assert (await generate(harness, DAN))["embeds"]
    # Part 8's audit log also has a row for each image delivered; these are the admin's.
    assert [a["action"] for a in reversed(await ledger.admin_actions(GUILD_ID))
            if a["action"] != "generation"] == ["budget", "view", "budget"]
    assert await ledger.audit() == []


async def test_inpaint_is_refused_by_the_budget_before_its_files_are_downloaded(harness):
    await budget(harness, {"credits_per_day": 1})
    files = {"image": {"filename": "dog.png", "content_type": "image/png", "data": make_png(512, 384)},
             "mask": {"filename": "dog-mask.png", "content_type": "image/png", "data": make_mask(512, 384, "half")}}
    _, message = await harness.answer("inpaint", {"prompt": PROMPT}, attachments=files)
    assert message["content"].startswith("/inpaint needs 2 credits and this server has 1 left of its daily budget")
    assert not [r for r in harness.discord.requests if r.path.startswith("/attachments/")]
    assert harness.pixazo.requests == []


async def test_a_member_without_manage_server_cannot_set_the_budget(harness, ledger):
    await budget(harness, {"credits_per_day": 50})
    # Discord hides the command from them; a client that sends it anyway is refused and nothing changes.
    interaction = await harness.invoke("quotas", {"credits_per_day": 0}, subcommand="budget", user_id=ALICE,
                                       validate=False)
    callback = await interaction.wait_callback()
    assert callback["data"]["flags"] & 64 and "Manage Server" in callback["data"]["content"]
    assert (await ledger.snapshot(Member(GUILD_ID, ALICE), default_allowance=20)).guild_budget == 50
    assert [a["actor_id"] for a in await ledger.admin_actions(GUILD_ID)] == [MOD]
    assert (await generate(harness, ALICE))["embeds"]


@pytest.mark.parametrize(("value", "expected"), [
    (10_000_001, "`credits_per_day` must be between 0 and 10000000 (you gave 10000001)."),
    (-1, "`credits_per_day` must be between 0 and 10000000 (you gave -1)."),
    (2.5, "`credits_per_day` must be a whole number (you gave 2.5)."),
])
async def test_an_out_of_range_budget_from_a_raw_client_is_refused_and_nothing_is_stored(harness, ledger, value,
                                                                                        expected):
    _, message = await harness.answer("quotas", {"credits_per_day": value}, subcommand="budget", permissions=ADMIN,
                                      user_id=MOD, validate=False)
    assert is_ephemeral(message) and message["content"] == expected
    assert await ledger.admin_actions(GUILD_ID) == []
    assert (await ledger.snapshot(Member(GUILD_ID, ALICE), default_allowance=20)).guild_budget is None
