"""Quotas where a member sees them: /quota, refusals, refunds, the in-flight cap, admin commands."""

from __future__ import annotations

import re

import pytest

from bot.storage import Member, open_store
from tests.conftest import GUILD_ID, embed_fields, eventually, is_ephemeral, make_settings, started_bot
from tests.fakes.discord import DEFAULT_MEMBER_PERMISSIONS
from tests.fakes.pixazo import Behaviour
from tests.ledger import columns, jobs, open_view, read_jobs, until

MANAGE_GUILD = 1 << 5
ADMIN = DEFAULT_MEMBER_PERMISSIONS | MANAGE_GUILD
BOB = 4001
PROMPT = "a lighthouse at dusk"


@pytest.fixture
def ledger_settings(backend) -> dict:
    """Every scenario here runs on both ledgers: SQLite and a real PostgreSQL."""
    return backend.settings


@pytest.fixture
async def ledger(harness):
    async with open_view(harness.settings) as store:
        yield store


async def admin(harness, sub: str, options: dict | None = None, **kwargs) -> dict:
    interaction = await harness.invoke("quotas", options or {}, subcommand=sub, permissions=ADMIN, user_id=9000,
                                       username="mod", **kwargs)
    return await interaction.wait_followup()


async def quota_fields(harness, **kwargs) -> dict[str, str]:
    _, message = await harness.answer("quota", **kwargs)
    assert is_ephemeral(message)
    return embed_fields(message)


async def test_quota_shows_left_used_renewal_costs_and_running_jobs(harness, ledger):
    await harness.answer("sd35-large", {"prompt": PROMPT})

    async def settled() -> bool:  # the job is settled just after the followup is posted
        return columns(await jobs(ledger, GUILD_ID, 4000), "state") == [("succeeded",)]

    await until(settled)
    fields = await quota_fields(harness)
    assert (fields["Left today"], fields["Used today"]) == ("16", "4")
    assert re.fullmatch(r"<t:\d+:R>", fields["Renews"])
    assert fields["Running now"] == "0 of 2 at a time"
    costs = fields["Cost per image"]
    for line in ("/sd35-large: 4 credits", "/sd3: 3 credits", "/sdxl: 2 credits", "/sdxl-lightning: 1 credit",
                 "/inpaint: 2 credits"):
        assert line in costs


@pytest.mark.parametrize("bot_settings", [{"quota_default_daily_credits": 5}])
async def test_out_of_credits_is_refused_before_pixazo_is_called(harness):
    _, first = await harness.answer("sd35-large", {"prompt": PROMPT})
    assert embed_fields(first)["Cost"] == "4 credits · 1 left today"
    _, refused = await harness.answer("sd3", {"prompt": PROMPT})
    assert is_ephemeral(refused)
    assert "/sd3 needs 3 credits and you have 1 left today" in refused["content"]
    assert re.search(r"renew <t:\d+:R>", refused["content"])
    assert len(harness.pixazo.requests) == 1, "a refused command never reaches Pixazo"
    _, ok = await harness.answer("sdxl-lightning", {"prompt": PROMPT})
    assert embed_fields(ok)["Cost"] == "1 credit · 0 left today"


@pytest.mark.parametrize("bot_settings", [{"quota_model_costs": {"sdxl": 7}, "quota_default_daily_credits": 10}])
async def test_settings_override_a_model_cost(harness):
    _, message = await harness.answer("sdxl", {"prompt": PROMPT})
    assert embed_fields(message)["Cost"] == "7 credits · 3 left today"


@pytest.mark.parametrize("bot_settings", [{"quota_global_daily_credits": 3}])
async def test_global_cap_protects_the_operator_across_members(harness):
    await harness.answer("sdxl", {"prompt": PROMPT}, user_id=4000)
    _, refused = await harness.answer("sdxl", {"prompt": PROMPT}, user_id=BOB)
    assert is_ephemeral(refused) and "whole daily budget" in refused["content"]
    assert len(harness.pixazo.requests) == 1


async def test_third_job_in_flight_is_refused(harness):
    harness.pixazo.latency = 0.5
    first = await harness.invoke("sdxl-lightning", {"prompt": PROMPT})
    second = await harness.invoke("sdxl-lightning", {"prompt": PROMPT})
    await eventually(lambda: len(harness.pixazo.requests) == 2)
    _, third = await harness.answer("sdxl-lightning", {"prompt": PROMPT})
    assert is_ephemeral(third) and "limit is 2 at a time" in third["content"]
    for interaction in (first, second):
        assert (await interaction.wait_followup())["embeds"]
    assert len(harness.pixazo.requests) == 2
    # Another member is not held up by Alice's jobs.
    _, other = await harness.answer("sdxl-lightning", {"prompt": PROMPT}, user_id=BOB)
    assert other["embeds"]


@pytest.mark.parametrize("bot_settings", [{"pixazo_retry_base_delay_seconds": 0.01, "pixazo_timeout_seconds": 0.3}])
@pytest.mark.parametrize("behaviour", [Behaviour.SERVER_ERROR, Behaviour.HANG, Behaviour.EMPTY_URL,
                                       Behaviour.RATE_LIMITED, Behaviour.IMAGE_404, Behaviour.UNAUTHORIZED])
async def test_failed_generation_gives_the_credits_back(harness, behaviour):
    harness.pixazo.default = behaviour
    await harness.answer("sd35-large", {"prompt": PROMPT})
    fields = await quota_fields(harness)
    assert (fields["Left today"], fields["Used today"], fields["Running now"]) == ("20", "0", "0 of 2 at a time")


async def test_a_restart_mid_job_puts_it_back_and_the_next_start_delivers_it(tmp_path, fake_discord, fake_pixazo,
                                                                              ledger_settings):
    # Changed with the durable queue (issue 9 part 5): a stop no longer refunds a running job; once its
    # grace is over it goes back to the queue, and the next start makes its Pixazo call again.
    settings = make_settings(tmp_path, fake_discord, fake_pixazo, **ledger_settings)
    fake_pixazo.default = Behaviour.HANG
    async with started_bot(settings, fake_discord):
        interaction = await fake_discord.invoke("sd35-large", {"prompt": PROMPT})
        await eventually(lambda: len(fake_pixazo.requests) == 1)
        assert columns(await read_jobs(settings, GUILD_ID, 4000), "state") == [("running",)]
    assert columns(await read_jobs(settings, GUILD_ID, 4000), "state") == [("queued",)]
    fake_pixazo.default = Behaviour.OK
    async with started_bot(settings, fake_discord):
        await eventually(lambda: bool(interaction.original and interaction.original["embeds"]))


        async def settled() -> bool:
            return columns(await read_jobs(settings, GUILD_ID, 4000), "state") == [("succeeded",)]

        await until(settled)
    assert len(fake_pixazo.requests) == 2, "its Pixazo call was made once more, at the next start"


async def test_jobs_left_open_by_a_crash_are_released_at_start(tmp_path, fake_discord, fake_pixazo, ledger_settings):
    settings = make_settings(tmp_path, fake_discord, fake_pixazo, **ledger_settings)
    store = await open_store(settings)
    for _ in range(2):
        await store.reserve(Member(GUILD_ID, 4000), channel_id=1, model="sd35-large", params={}, cost=4,
                            default_allowance=20, max_jobs=5, global_cap=None)
    await store.close()  # then the process dies: nothing settles them, the rows stay 'reserved'
    async with started_bot(settings, fake_discord):
        interaction = await fake_discord.invoke("quota")
        fields = embed_fields(await interaction.wait_followup())
    assert (fields["Left today"], fields["Running now"]) == ("20", "0 of 2 at a time")
    assert set(columns(await read_jobs(settings, GUILD_ID, 4000), "state", "error")) == {("failed", "interrupted")}


# -- admin commands ----------------------------------------------------------------------------------

async def test_admin_commands_are_hidden_and_refused_without_manage_server(harness, ledger):
    (group,) = [c for c in harness.discord.synced[GUILD_ID] if c["name"] == "quotas"]
    assert int(group["default_member_permissions"]) == MANAGE_GUILD
    interaction = await harness.invoke("quotas", {"member": 4000, "extra_credits": 50}, subcommand="grant")
    callback = await interaction.wait_callback()
    assert callback["data"]["flags"] & 64
    assert "Manage Server" in callback["data"]["content"]
    assert (await ledger.snapshot(Member(GUILD_ID, 4000), default_allowance=20)).granted == 0
    assert await ledger.admin_actions(GUILD_ID) == []


async def test_allowance_precedence_through_discord(harness):
    await admin(harness, "default", {"credits_per_day": 6})
    assert (await quota_fields(harness))["Left today"] == "6"
    await admin(harness, "role", {"role": 777, "credits_per_day": 3})
    await admin(harness, "role", {"role": 778, "credits_per_day": 9})
    assert (await quota_fields(harness, roles=[777]))["Left today"] == "3"
    assert (await quota_fields(harness, roles=[777, 778]))["Left today"] == "9"
    await admin(harness, "member", {"member": 4000, "credits_per_day": 1})
    assert (await quota_fields(harness, roles=[777, 778]))["Left today"] == "1"
    await admin(harness, "grant", {"member": 4000, "extra_credits": 4})
    fields = await quota_fields(harness, roles=[777, 778])
    assert fields["Left today"] == "5" and "+ 4 granted today" in fields["Allowance"]


async def test_server_default_can_be_removed(harness):
    await admin(harness, "default", {"credits_per_day": 6})
    assert (await quota_fields(harness))["Left today"] == "6"
    done = await admin(harness, "default")
    assert "bot's 20 credits a day" in done["content"]
    assert (await quota_fields(harness))["Left today"] == "20"


async def test_reset_and_usage_and_the_audit_trail(harness, ledger):
    await harness.answer("sd35-large", {"prompt": PROMPT})
    await harness.answer("sd35-large", {"prompt": PROMPT})
    assert (await quota_fields(harness))["Left today"] == "12"
    done = await admin(harness, "reset", {"member": 4000})
    assert is_ephemeral(done) and done["_payload"]["allowed_mentions"] == {"parse": []}
    assert (await quota_fields(harness))["Left today"] == "20"
    usage = await admin(harness, "usage", {"member": 4000})
    fields = embed_fields(usage)
    assert fields["Left today"] == "20"
    assert fields["Recent jobs"].count("/sd35-large · 4 credits · succeeded") == 2
    actions = columns(list(reversed(await ledger.admin_actions(GUILD_ID))), "actor_id", "action", "target_id")
    # Part 8's audit log also has a row for each image delivered; these are the admin's.
    actions = [a for a in actions if a[1] != "generation"]
    assert actions == [(9000, "reset", 4000), (9000, "view", 4000)]


@pytest.mark.parametrize("bot_settings", [{"pixazo_max_concurrency": 1}])
async def test_a_job_waiting_for_a_pixazo_slot_is_queued_then_running(harness, ledger):
    harness.pixazo.latency = 0.5
    first = await harness.invoke("sdxl", {"prompt": PROMPT}, user_id=4000)
    await eventually(lambda: len(harness.pixazo.requests) == 1)
    second = await harness.invoke("sdxl", {"prompt": PROMPT}, user_id=BOB)
    async def both_recorded() -> bool:
        return len(await jobs(ledger, GUILD_ID, 4000, BOB)) == 2

    await until(both_recorded)
    assert columns(await jobs(ledger, GUILD_ID, 4000, BOB), "user_id", "state") == [(4000, "running"),
                                                                                     (BOB, "queued")]
    for interaction in (first, second):  # the waiting one shows a notice first, then its result
        await eventually(lambda i=interaction: bool(i.original and i.original["embeds"]))
    assert len(harness.pixazo.requests) == 2


@pytest.mark.parametrize("status", [401, 404])
async def test_an_expired_interaction_token_posts_the_result_in_the_channel(harness, ledger, status):
    # Changed with the durable queue (issue 9 part 5): a dead token no longer refunds the job; the
    # result goes to the channel as a normal message that names the member without pinging them.
    harness.pixazo.latency = 0.3
    interaction = await harness.invoke("sdxl", {"prompt": PROMPT})
    await interaction.wait_callback()
    interaction.expire(status)  # as if the 15 minutes had run out while Pixazo worked
    async def succeeded() -> bool:
        return columns(await jobs(ledger, GUILD_ID, 4000), "state") == [("succeeded",)]

    await until(succeeded)
    posted = [r for r in harness.discord.requests if r.method == "POST" and r.path.endswith("/messages")
              and "/channels/" in r.path]
    assert len(posted) == 1
    body = posted[0].json
    assert body["content"] == "<@4000>" and body["embeds"] and posted[0].files
    assert body["allowed_mentions"]["parse"] == [], "no ping"
    assert interaction.followups == []


async def test_an_expired_token_and_a_refusing_channel_refund_the_job(harness, ledger):
    harness.pixazo.latency = 0.3
    harness.discord.refuse_channel_posts.add(harness.settings.dev_guild_id and 3000)
    interaction = await harness.invoke("sdxl", {"prompt": PROMPT})
    await interaction.wait_callback()
    interaction.expire()
    async def failed() -> bool:
        return columns(await jobs(ledger, GUILD_ID, 4000), "state") == [("failed",)]

    await until(failed)
    ((error,),) = columns(await jobs(ledger, GUILD_ID, 4000), "error")
    assert "channel 3000 refused the result: HTTP 403" in error
    assert (await ledger.snapshot(Member(GUILD_ID, 4000), default_allowance=20)).used == 0
    assert "posting the result in channel 3000 instead" in harness.log_text()
