"""The bot on a member's own account: commands in DMs, group DMs and servers that did not add the bot,
paid by personal credits under the bot's own rules, end to end through the real discord.py, on both
ledgers. The commands sync globally here (no DEV_GUILD_ID): only global commands reach DMs."""

from __future__ import annotations

import pytest

from bot.domain import PERSONAL, Member
from bot.services.imagine import NO_PRIVATE_PERSONAL
from bot.services.quotas import PERSONAL_OFF
from bot.ui.delivery import LATE_BY_DM
from bot.ui.guard import GUILD_ONLY
from bot.ui.installs import PRIVATE_HERE, SERVER_INSTALL_ONLY
from bot.ui.items.history import UNDELIVERED_NOTE
from bot.ui.presses import PERSONAL_ONLY
from bot.ui.settings_view import PERSONAL_TITLE
from cogs.help import ADMIN_HEADING
from tests.conftest import GUILD_ID, embed_fields, eventually, is_ephemeral
from tests.e2e.test_inpaint_e2e import pair
from tests.fakes.discord.places import FRIEND_ID
from tests.fakes.pixazo import Behaviour
from tests.image_samples import FACE, photo_bytes, require_image_check
from tests.ledger import columns, jobs, open_view, until

ALICE = 4000
ELSEWHERE = 7000  # a server that never added the bot
PROMPT = "a lighthouse at dusk"
MEMBER_COMMANDS = {"sd3", "sd35-large", "sdxl", "sdxl-lightning", "inpaint", "imagine", "settings", "quota", "history",
                   "forget", "help"}
ADMIN_COMMANDS = {"config", "quotas"}
SERVER_MENUS = {"Inpaint this…", "Zoom out this"}  # message menus: a server's, as the edits under its results


@pytest.fixture
def ledger_settings(backend) -> dict:
    return {**backend.settings, "dev_guild_id": None}


@pytest.fixture
async def ledger(harness):
    async with open_view(harness.settings) as store:
        yield store


def buttons(message: dict) -> list[str]:
    return [c["custom_id"].split(":")[1] for row in message.get("components") or [] for c in row["components"]]


async def personal_jobs(ledger, user: int = ALICE) -> list:
    return await jobs(ledger, PERSONAL, user)


async def settled(ledger, *states: str, guild_id: int = PERSONAL) -> None:
    async def check() -> bool:
        return columns(await jobs(ledger, guild_id, ALICE), "state") == [(s,) for s in states]

    await until(check)


async def test_members_commands_install_on_accounts_and_work_in_dms_admin_commands_do_not(harness):
    synced = {c["name"]: c for c in harness.discord.synced[None]}
    assert set(synced) == MEMBER_COMMANDS | ADMIN_COMMANDS | SERVER_MENUS
    for name in MEMBER_COMMANDS:
        assert (synced[name]["integration_types"], synced[name]["contexts"]) == ([0, 1], [0, 1, 2]), name
    for name in ADMIN_COMMANDS | SERVER_MENUS:
        assert (synced[name]["integration_types"], synced[name]["contexts"]) == ([0], [0]), name
    # Discord offers them only where a server's install reaches; a raw client is answered all the same.
    for where in ({"guild_id": ELSEWHERE, "user_install": True}, {"dm": True}, {"context": 2, "user_install": True}):
        with pytest.raises(AssertionError, match="no such command usable"):
            await harness.invoke("quotas", {"member": ALICE, "extra_credits": 5}, subcommand="grant", **where)
    _, said = await harness.answer("quotas", {"member": ALICE, "extra_credits": 5}, subcommand="grant",
                                   guild_id=ELSEWHERE, user_install=True, validate=False, permissions=1 << 5)
    assert said["content"] == SERVER_INSTALL_ONLY and is_ephemeral(said)
    _, said = await harness.answer("config", subcommand="show", dm=True, validate=False)
    assert said["content"] == GUILD_ONLY


async def test_a_dm_command_is_paid_by_personal_credits(harness, ledger):
    interaction, message = await harness.answer("sdxl", {"prompt": PROMPT}, dm=True)
    assert interaction.payload["context"] == 1 and not is_ephemeral(message)
    assert embed_fields(message)["Cost"] == "2 credits · 3 left today", "PERSONAL_DAILY_CREDITS is 5 by default"
    assert buttons(message) == ["reroll", "edit", "details", "delete"], "no Report: no server's moderators"
    await settled(ledger, "succeeded")
    ((channel, guild),) = columns(await personal_jobs(ledger), "channel_id", "guild_id")
    assert (channel, guild) == (int(interaction.payload["channel_id"]), PERSONAL)
    # Personal credits are their own: the server's allowance is untouched, and /quota says which is which.
    _, quota = await harness.answer("quota", dm=True)
    assert quota["embeds"][0]["title"] == "Your personal image credits"
    assert (embed_fields(quota)["Left today"], embed_fields(quota)["Allowance"]) == ("3", "5 a day (personal)")
    _, quota = await harness.answer("quota")
    assert (quota["embeds"][0]["title"], embed_fields(quota)["Left today"]) == ("Your image credits", "20")
    _, page = await harness.answer("history", dm=True)
    assert page["embeds"][0]["title"] == "Your personal images" and PROMPT in page["embeds"][0]["description"]
    _, page = await harness.answer("history")
    assert page["embeds"][0]["description"] == "No images yet."
    # /forget in the DM clears them too.
    asked, _ = await harness.answer("forget", dm=True)
    done = await harness.discord.click(asked.original, f"forget:confirm:{ALICE}")
    assert "Cleared the details of 1 image" in (await done.wait_callback())["data"]["content"]
    (job,) = await personal_jobs(ledger)
    assert job["forgotten_at"] is not None and PROMPT not in str(job["params"])


async def test_in_a_server_that_did_not_add_the_bot_the_result_is_private(harness, ledger):
    interaction, message = await harness.answer("sdxl", {"prompt": PROMPT}, guild_id=ELSEWHERE, user_install=True)
    assert interaction.payload["authorizing_integration_owners"] == {"1": str(ALICE)}
    assert is_ephemeral(interaction.callbacks[0]["data"]), "even thinking… is the member's alone"
    assert is_ephemeral(message) and message["content"].startswith(PRIVATE_HERE)
    assert buttons(message) == ["reroll", "edit", "details"], "no Delete (Dismiss) and no Report"
    await settled(ledger, "succeeded")
    assert await jobs(ledger, ELSEWHERE, ALICE) == [], "nothing is charged to a server that never added the bot"
    (job,) = await personal_jobs(ledger)
    assert job["delivery"].private and job["delivery"].personal
    _, quota = await harness.answer("quota", guild_id=ELSEWHERE, user_install=True)
    assert embed_fields(quota)["Left today"] == "3"
    # Its buttons work for its member, paid again from personal credits.
    reroll = await harness.discord.click(message, f"result:reroll:{job['id']}", guild_id=ELSEWHERE)
    again = await reroll.wait_followup()
    assert is_ephemeral(again) and embed_fields(again)["Cost"] == "2 credits · 1 left today"
    await settled(ledger, "succeeded", "succeeded")


async def test_a_server_that_added_the_bot_decides_even_for_a_members_own_install(harness, ledger):
    _, message = await harness.answer("sdxl", {"prompt": PROMPT}, user_install=True)
    assert not is_ephemeral(message) and embed_fields(message)["Cost"] == "2 credits · 18 left today"
    assert "report" in buttons(message)
    await settled(ledger, "succeeded", guild_id=GUILD_ID)
    assert await personal_jobs(ledger) == []


@pytest.mark.parametrize("bot_settings", [{"personal_daily_credits": 3}])
async def test_personal_credits_run_out_with_a_clear_refusal(harness, ledger):
    _, first = await harness.answer("sdxl", {"prompt": PROMPT}, dm=True)
    assert embed_fields(first)["Cost"] == "2 credits · 1 left today"
    _, refused = await harness.answer("sd3", {"prompt": PROMPT}, dm=True)
    assert is_ephemeral(refused) and "/sd3 needs 3 credits and you have 1 left today" in refused["content"]
    assert len(harness.pixazo.requests) == 1, "a refused command never reaches Pixazo"
    _, in_server = await harness.answer("sd3", {"prompt": PROMPT})
    assert embed_fields(in_server)["Cost"] == "3 credits · 17 left today", "the server's credits are apart"


@pytest.mark.parametrize("bot_settings", [{"personal_daily_credits": 0}])
async def test_personal_credits_off(harness, ledger):
    for where in ({"dm": True}, {"guild_id": ELSEWHERE, "user_install": True}, {"context": 2, "user_install": True}):
        _, refused = await harness.answer("sdxl", {"prompt": PROMPT}, **where)
        assert refused["content"] == PERSONAL_OFF and is_ephemeral(refused)
        _, quota = await harness.answer("quota", **where)
        assert quota["content"] == PERSONAL_OFF
    assert harness.pixazo.requests == [] and await personal_jobs(ledger) == []
    _, ok = await harness.answer("sdxl", {"prompt": PROMPT})
    assert ok["embeds"], "servers that added the bot are not affected"


@pytest.mark.parametrize("bot_settings", [{"quota_global_daily_credits": 3}])
async def test_the_global_cap_covers_personal_credits(harness, ledger):
    _, first = await harness.answer("sdxl", {"prompt": PROMPT}, dm=True)
    assert first["embeds"]
    _, refused = await harness.answer("sdxl", {"prompt": PROMPT})
    assert "whole daily budget across all servers" in refused["content"]
    _, refused = await harness.answer("sdxl", {"prompt": PROMPT}, guild_id=ELSEWHERE, user_install=True)
    assert "whole daily budget across all servers" in refused["content"]
    assert len(harness.pixazo.requests) == 1


async def test_the_explicit_terms_filter_is_always_on(harness, ledger):
    for where in ({"dm": True}, {"guild_id": ELSEWHERE, "user_install": True}):
        _, refused = await harness.answer("sdxl", {"prompt": "a nude figure study"}, **where)
        assert "`nude`" in refused["content"] and is_ephemeral(refused)
    assert harness.pixazo.requests == [] and await personal_jobs(ledger) == []


async def test_an_expired_token_sends_a_private_result_by_dm(harness, ledger):
    harness.pixazo.latency = 0.3
    interaction = await harness.invoke("sdxl", {"prompt": PROMPT}, guild_id=ELSEWHERE, user_install=True)
    await interaction.wait_callback()
    interaction.expire()  # as if the 15 minutes had run out while Pixazo worked
    await settled(ledger, "succeeded")
    (dm,) = [m for m in harness.discord.dm_messages(ALICE) if not is_ephemeral(m)]
    assert dm["content"] == LATE_BY_DM and dm["embeds"] and dm["attachments"]
    assert buttons(dm) == ["reroll", "edit", "details", "delete"]
    assert interaction.followups == []
    posted = [r for r in harness.discord.requests if r.method == "POST" and r.path.endswith("/messages")]
    assert len(posted) == 1, "nothing was tried in the server's channel"
    _, page = await harness.answer("history", dm=True)
    assert f"(https://discord.com/channels/@me/{dm['channel_id']}/{dm['id']})" in page["embeds"][0]["description"]
    # The member presses Delete in their DM: it goes.
    (job,) = await personal_jobs(ledger)
    press = await harness.discord.click(dm, f"result:delete:{job['id']}")
    assert "Deleted." in (await press.wait_followup())["content"]
    assert [m for m in harness.discord.dm_messages(ALICE) if not is_ephemeral(m)] == []


async def test_an_expired_token_and_closed_dms_refund_with_a_note_in_history(harness, ledger):
    harness.pixazo.latency = 0.3
    harness.discord.refuse_dms.add(ALICE)
    interaction = await harness.invoke("sdxl", {"prompt": PROMPT}, context=2, user_install=True)
    await interaction.wait_callback()
    interaction.expire()
    await settled(ledger, "failed")
    assert (await ledger.snapshot(Member(PERSONAL, ALICE), default_allowance=5)).used == 0, "refunded"
    _, page = await harness.answer("history", dm=True)
    description = page["embeds"][0]["description"]
    assert "2 credits, refunded" in description and UNDELIVERED_NOTE in description
    assert "sending the result to user 4000 by DM instead" in harness.log_text()


async def test_in_a_group_dm_only_the_member_may_press(harness, ledger):
    interaction, message = await harness.answer("sdxl", {"prompt": PROMPT}, context=2, user_install=True)
    assert not is_ephemeral(message), "shown to the conversation the member chose to use it in"
    await settled(ledger, "succeeded")
    (job,) = await personal_jobs(ledger)
    for action in ("reroll", "details", "delete"):
        press = await harness.discord.click(message, f"result:{action}:{job['id']}", user_id=FRIEND_ID,
                                            username="friend")
        said = (await press.wait_callback())["data"]
        assert said["content"] == PERSONAL_ONLY and is_ephemeral(said)
    assert len(harness.pixazo.requests) == 1
    press = await harness.discord.click(message, f"result:details:{job['id']}")
    assert PROMPT in (await press.wait_callback())["data"]["embeds"][0]["description"]
    press = await harness.discord.click(message, f"result:delete:{job['id']}")
    assert "Deleted." in (await press.wait_followup())["content"]
    assert message["id"] not in harness.discord.messages


class TestTheImageCheckWhereNoServerDecides:
    """DMs are never age-restricted: the image check holds what it finds, and no server's review sees it."""

    @pytest.fixture
    def bot_settings(self) -> dict:
        require_image_check()
        return {"image_check": True, "image_check_classes": ("FACE_FEMALE",)}

    async def test_a_held_image_in_a_dm_is_told_privately(self, harness, ledger):
        harness.pixazo.result_override = (photo_bytes(FACE), "png")
        _, said = await harness.answer("sdxl", {"prompt": PROMPT}, dm=True)
        assert is_ephemeral(said) and not said.get("embeds") and not said.get("attachments")
        assert said["content"].startswith("The image check found what looks like face female")
        assert "outside age-restricted channels of servers that added it" in said["content"]
        await settled(ledger, "succeeded")  # the image was made: its credits stay spent, as in a server
        assert [m for m in harness.discord.dm_messages(ALICE) if not is_ephemeral(m)] == []
        assert await ledger.admin_actions(PERSONAL) == [], "no server's audit log is about it"


async def test_inpaint_in_a_dm(harness, ledger):
    _, message = await harness.answer("inpaint", {"prompt": PROMPT}, attachments=pair(), dm=True)
    assert embed_fields(message)["Cost"] == "2 credits · 3 left today"
    await settled(ledger, "succeeded")
    (job,) = await personal_jobs(ledger)
    assert job["model"] == "inpaint" and job["inputs"]


@pytest.mark.parametrize("bot_settings", [{"pixazo_max_concurrency": 1, "progress_interval_seconds": 0.3}])
async def test_a_waiting_private_job_is_cancelled_by_its_member_and_refunded(harness, ledger):
    harness.pixazo.latency = 30  # another member's job holds the only slot
    await harness.invoke("sdxl", {"prompt": "first"}, user_id=4001)
    await eventually(lambda: len(harness.pixazo.requests) == 1)
    waiting = await harness.invoke("sdxl", {"prompt": PROMPT}, guild_id=ELSEWHERE, user_install=True)
    await eventually(lambda: "position 1 of 1" in ((waiting.original or {}).get("content") or ""), timeout=3)
    assert is_ephemeral(waiting.original)
    (job,) = await personal_jobs(ledger)
    press = await harness.discord.click(waiting.original, f"queue:cancel:{job['id']}", guild_id=ELSEWHERE)
    assert (await press.wait_callback())["type"] == 7
    await settled(ledger, "cancelled")
    assert (await ledger.snapshot(Member(PERSONAL, ALICE), default_allowance=5)).used == 0
    await harness.pixazo.close()


async def test_a_failure_after_the_token_expired_is_told_by_dm(harness, ledger):
    harness.pixazo.latency = 0.3
    harness.pixazo.push(Behaviour.BAD_REQUEST)
    interaction = await harness.invoke("sdxl", {"prompt": PROMPT}, guild_id=ELSEWHERE, user_install=True)
    await interaction.wait_callback()
    interaction.expire()
    await settled(ledger, "failed")
    await eventually(lambda: bool(harness.discord.dm_messages(ALICE)))
    (told,) = harness.discord.dm_messages(ALICE)
    assert "no credits were spent" in told["content"].lower() and not told["embeds"]


async def test_help_in_a_dm_lists_what_works_there(harness):
    _, helped = await harness.answer("help", dm=True)
    fields = embed_fields(helped)
    assert ADMIN_HEADING not in fields, "the admin commands are not offered where no server decides"
    assert "/sdxl" in fields["Commands"] and "/quotas" not in fields["Commands"]
    assert fields["Your credits"].startswith("5 personal credits left today of 5")
    assert "Only you can press them" in fields["The buttons on a result"]
    _, helped = await harness.answer("help")
    assert ADMIN_HEADING in embed_fields(helped) and "Report" in embed_fields(helped)["The buttons on a result"]


def labelled(message: dict) -> dict[str, str]:
    return {c["label"]: c["custom_id"] for row in message.get("components") or [] for c in row["components"]}


async def test_a_batch_in_a_dm_is_paid_from_personal_credits_with_personal_defaults(harness, ledger):
    # /settings in a DM keeps the member's personal defaults, apart from any server's.
    _, said = await harness.answer("settings", {"count": 2}, subcommand="set", dm=True)
    assert said["embeds"][0]["title"] == PERSONAL_TITLE and embed_fields(said)["Count"] == "2" and is_ephemeral(said)
    _, said = await harness.answer("settings", subcommand="show")
    assert embed_fields(said)["Count"].startswith("not set"), "a server's defaults are its own"
    _, said = await harness.answer("settings", {"only_me": "on"}, subcommand="set", dm=True)
    assert said["content"] == NO_PRIVATE_PERSONAL and is_ephemeral(said)

    interaction = await harness.invoke("imagine", {"prompt": PROMPT}, dm=True)
    await settled(ledger, "succeeded", "succeeded")
    rows = await personal_jobs(ledger)
    assert len({r["batch_id"] for r in rows}) == 1 and all(r["delivery"].personal for r in rows)
    assert not any(r["delivery"].private for r in rows), "a DM is the member's already: not ephemeral"
    assert (await ledger.snapshot(Member(PERSONAL, ALICE), default_allowance=5)).used == 4, "2 images at 2 credits"
    assert await jobs(ledger, GUILD_ID, ALICE) == []
    await eventually(lambda: len((interaction.original or {}).get("attachments") or []) == 2, timeout=5)
    message = interaction.original
    assert not is_ephemeral(message) and "count" in embed_fields(message)["From your /settings"].lower()
    labels = labelled(message)
    assert {"Use 1", "Use 2", "Reroll all"} <= set(labels)

    # Use: that image alone, free; Reroll all: two more images at 4 personal credits, with 1 left: refused,
    # nothing queued (the server's default allowance of 20 does not pay for a DM).
    press = await harness.discord.click(message, labels["Use 2"])
    alone = await press.wait_followup()
    assert alone["content"].startswith("Image 2 of batch") and "delete" in buttons(alone)
    press = await harness.discord.click(message, labels["Reroll all"])
    callback = await press.wait_callback()  # the ledger refuses after the defer: a followup says why
    said = callback["data"] if callback["type"] == 4 else await press.wait_followup()
    assert is_ephemeral(said) and "4 credits" in said["content"], said["content"]
    assert len(await personal_jobs(ledger)) == 2 and len(harness.pixazo.requests) == 2
    assert (await ledger.snapshot(Member(PERSONAL, ALICE), default_allowance=5)).used == 4


@pytest.mark.parametrize("bot_settings", [{"pixazo_max_concurrency": 1, "personal_daily_credits": 10}])
async def test_a_personal_batch_in_a_group_dm_is_the_members_and_goes_by_dm_once_its_token_expired(harness, ledger):
    harness.pixazo.latency = 0.3
    interaction = await harness.invoke("imagine", {"prompt": PROMPT, "count": 2}, context=2, user_install=True)
    await eventually(lambda: len((interaction.original or {}).get("attachments") or []) == 1, timeout=10)
    message = interaction.original
    assert not is_ephemeral(message), "shown to the conversation the member chose to use it in"
    interaction.expire()  # the second image lands after the 15 minutes
    await settled(ledger, "succeeded", "succeeded")
    (dm,) = [m for m in harness.discord.dm_messages(ALICE) if not is_ephemeral(m)]
    assert dm["content"] == LATE_BY_DM and dm["attachments"] and "delete" in buttons(dm)
    posted = [r for r in harness.discord.requests if r.method == "POST" and r.path.endswith("/messages")]
    assert len(posted) == 1, "nothing was tried in the group DM, which is not the bot's to post in"
    # Only the member may press a personal batch's buttons.
    for label in ("Use 1", "Reroll all"):
        press = await harness.discord.click(message, labelled(message)[label], user_id=FRIEND_ID, username="friend")
        said = (await press.wait_callback())["data"]
        assert said["content"] == PERSONAL_ONLY and is_ephemeral(said)
    assert len(harness.pixazo.requests) == 2
    assert (await ledger.snapshot(Member(PERSONAL, ALICE), default_allowance=10)).used == 4, "charged once each"
