"""Approval mode where members and moderators meet it, through the real discord.py against the fakes:
the private wait, the review post, Approve with a restart in between, an expired token, two moderators
racing, a non-moderator, Reject with a reason, and no pings anywhere. Both ledgers."""

from __future__ import annotations

import asyncio
import logging

import pytest

from tests.conftest import (
    GUILD_ID,
    _Collect,
    assert_clean_logs,
    embed_fields,
    eventually,
    is_ephemeral,
    make_settings,
    started_bot,
)
from tests.e2e.test_results_e2e import button_ids
from tests.fakes.discord import DEFAULT_MEMBER_PERMISSIONS
from tests.ledger import open_view, read_jobs, until

MANAGE_GUILD = 1 << 5
MANAGE_MESSAGES = 1 << 13
ADMIN = DEFAULT_MEMBER_PERMISSIONS | MANAGE_GUILD
MOD = DEFAULT_MEMBER_PERMISSIONS | MANAGE_MESSAGES
ALICE = 4000
PROMPT = "a lighthouse at dusk"
WAITING = "waiting for a moderator's approval"


@pytest.fixture
def ledger_settings(backend) -> dict:
    return backend.settings


async def config(fake, sub: str, options: dict | None = None) -> dict:
    interaction = await fake.invoke("config", options or {}, subcommand=sub, user_id=9000, username="admin",
                                    permissions=ADMIN)
    callback = await interaction.wait_callback()
    return callback["data"] if callback["type"] == 4 else await interaction.wait_followup()


async def moderated(fake) -> tuple[int, int]:
    """An #art channel with approval on, and a #review channel."""
    art = await fake.add_channel(GUILD_ID, name="art")
    review = await fake.add_channel(GUILD_ID, name="review")
    said = await config(fake, "review-channel", {"channel": review})
    assert f"Moderators now review in <#{review}>." in said["content"]
    said = await config(fake, "approval", {"channel": art, "state": "on"})
    assert f"Approval is now on in <#{art}>." in said["content"] and f"Approval: <#{art}>" in said["content"]
    return art, review


def posts(fake, channel_id: int) -> list[dict]:
    """What everyone sees in a channel, oldest first."""
    return sorted((m for m in fake.messages.values() if m["channel_id"] == str(channel_id) and not is_ephemeral(m)),
                  key=lambda m: int(m["id"]))


async def one_post(fake, channel_id: int) -> dict:
    await fake.wait_for(lambda: len(posts(fake, channel_id)) >= 1)
    (post,) = posts(fake, channel_id)
    return post


async def request(fake, art: int, user_id: int = ALICE):
    """A member's /sdxl in the approval channel: private "thinking…", then the waiting note."""
    interaction = await fake.invoke("sdxl", {"prompt": PROMPT, "seed": 5}, user_id=user_id, channel_id=art)
    callback = await interaction.wait_callback()
    assert callback["type"] == 5 and callback["data"]["flags"] & 64, "thinking… is the member's alone"
    waiting = await interaction.wait_followup()
    assert is_ephemeral(waiting) and WAITING in waiting["content"], waiting
    return interaction


async def press(fake, message: dict, label: str, **kwargs):
    interaction = await fake.click(message, button_ids(message)[label], **kwargs)
    return interaction, await interaction.wait_callback()


async def answered(interaction) -> dict:
    callback = await interaction.wait_callback()
    return callback["data"] if callback["type"] == 4 else await interaction.wait_followup()


def no_pings_anywhere(fake) -> None:
    checked = 0
    for rec in fake.requests:
        body = rec.json if isinstance(rec.json, dict) else {}
        data = body.get("data") if isinstance(body.get("data"), dict) else body
        if data and ("content" in data or "embeds" in data):
            assert data.get("allowed_mentions", {}).get("parse") == [], rec.path
            checked += 1
    assert checked >= 5, "the bot's messages were seen"


async def actions(settings, action: str) -> list[dict]:
    async with open_view(settings) as store:
        return [a for a in await store.admin_actions(GUILD_ID, limit=500) if a["action"] == action]


async def has_action(settings, action: str) -> bool:
    return bool(await actions(settings, action))


async def test_approval_round_trip_survives_a_restart_between_request_and_decision(tmp_path, fake_discord,
                                                                                   fake_pixazo, ledger_settings):
    records: list[logging.LogRecord] = []
    handler = _Collect(records)
    logging.getLogger().addHandler(handler)
    settings = make_settings(tmp_path, fake_discord, fake_pixazo, **ledger_settings)
    try:
        async with started_bot(settings, fake_discord):
            art, review = await moderated(fake_discord)
            await request(fake_discord, art)
            post = await one_post(fake_discord, review)
            assert f"<@{ALICE}>" in post["content"] and f"<#{art}>" in post["content"]
            fields = embed_fields(post)
            assert fields["Requested by"] == f"<@{ALICE}>" and fields["For channel"] == f"<#{art}>"
            assert PROMPT in post["embeds"][0]["description"]
            assert post["attachments"] and post["embeds"][0]["image"]["url"] == post["attachments"][0]["url"]
            assert set(button_ids(post)) == {"Approve", "Reject"}
            assert posts(fake_discord, art) == [], "nothing is posted before a moderator approves"
            (job,) = await read_jobs(settings, GUILD_ID, ALICE)
            assert (job["state"], job["cost"]) == ("succeeded", 2), "the image was made: its credits are spent"
        before = fake_discord.identify_payload
        async with started_bot(settings, fake_discord):  # a new process, the same ledger
            await eventually(lambda: fake_discord.identify_payload is not before)
            pressed, callback = await press(fake_discord, post, "Approve", user_id=9100, username="mod",
                                            permissions=MOD)
            said = await pressed.wait_followup()
            assert is_ephemeral(said) and said["content"] == f"Approved; posted in <#{art}>."
            result = await one_post(fake_discord, art)
            assert result["content"] == f"<@{ALICE}>'s image, approved by <@9100>."
            assert result["attachments"] and result["embeds"][0]["image"]["url"] == result["attachments"][0]["url"]
            assert {"Reroll", "Edit", "Details", "Delete", "Report"} <= set(button_ids(result))
            (job,) = await read_jobs(settings, GUILD_ID, ALICE)
            assert (job["result_channel_id"], job["result_message_id"]) == (art, int(result["id"]))
            decided = fake_discord.messages[post["id"]]
            assert decided["content"].startswith("Approved by <@9100>")
            assert all(b.get("disabled") for row in decided["components"] for b in row["components"])
            await until(lambda: has_action(settings, "approve"))
            (approved,) = await actions(settings, "approve")
            assert (approved["actor_id"], approved["target_id"]) == (9100, ALICE)
            assert approved["detail"]["job_id"] == job["id"]
            assert approved["detail"]["channel_id"] == art
            # The request's token still lived: the member was told privately on their own request.
            request_interaction = next(i for i in fake_discord.interactions.values() if i.label == "/sdxl")
            await eventually(lambda: any(is_ephemeral(f) and "approved your image" in f["content"]
                                         for f in request_interaction.followups))
        no_pings_anywhere(fake_discord)
    finally:
        logging.getLogger().removeHandler(handler)
    assert_clean_logs(records, secrets=(settings.discord_token.get_secret_value(),
                                        settings.pixazo_api_key.get_secret_value()))


async def test_an_expired_token_still_gets_the_result_posted_and_the_member_named(harness):
    art, review = await moderated(harness.discord)
    asked = await request(harness.discord, art)
    post = await one_post(harness.discord, review)
    asked.expire()
    pressed, _ = await press(harness.discord, post, "Approve", user_id=9100, permissions=MOD)
    assert (await pressed.wait_followup())["content"] == f"Approved; posted in <#{art}>."
    result = await one_post(harness.discord, art)
    assert result["content"].startswith(f"<@{ALICE}>'s image"), "the channel post tells them, without a ping"
    assert result["attachments"]
    assert not [f for f in asked.followups if "approved" in (f.get("content") or "")]
    no_pings_anywhere(harness.discord)


async def test_two_moderators_racing_one_wins_and_the_other_is_told_who(harness):
    art, review = await moderated(harness.discord)
    await request(harness.discord, art)
    post = await one_post(harness.discord, review)
    first = await harness.discord.click(post, button_ids(post)["Approve"], user_id=9100, permissions=MOD)
    second = await harness.discord.click(post, button_ids(post)["Approve"], user_id=9200, permissions=MOD)
    said = await asyncio.gather(answered(first), answered(second))
    won = [s["content"] for s in said if s["content"] == f"Approved; posted in <#{art}>."]
    lost = [s["content"] for s in said if s["content"].startswith("Approved already by <@")]
    assert len(won) == 1 and len(lost) == 1, said
    assert all(is_ephemeral(s) for s in said)
    await asyncio.sleep(0.2)
    assert len(posts(harness.discord, art)) == 1, "posted once"
    assert len(await actions(harness.settings, "approve")) == 1


async def test_an_approved_image_the_channel_refuses_waits_again(harness):
    art, review = await moderated(harness.discord)
    await request(harness.discord, art)
    post = await one_post(harness.discord, review)
    harness.discord.refuse_channel_posts.add(art)
    pressed, _ = await press(harness.discord, post, "Approve", user_id=9100, permissions=MOD)
    said = await pressed.wait_followup()
    assert said["content"].startswith(f"Discord would not let the bot post in <#{art}>, so the image is still waiting")
    assert harness.discord.messages[post["id"]]["content"].startswith("Waiting for approval"), "still to decide"
    assert await actions(harness.settings, "approve") == []
    harness.discord.refuse_channel_posts.discard(art)
    pressed, _ = await press(harness.discord, post, "Approve", user_id=9200, permissions=MOD)
    assert (await pressed.wait_followup())["content"] == f"Approved; posted in <#{art}>."
    assert (await one_post(harness.discord, art))["content"] == f"<@{ALICE}>'s image, approved by <@9200>."


async def test_a_member_without_manage_messages_cannot_decide(harness):
    art, review = await moderated(harness.discord)
    await request(harness.discord, art)
    post = await one_post(harness.discord, review)
    for label in ("Approve", "Reject"):
        _, callback = await press(harness.discord, post, label, user_id=4999)
        assert callback["type"] == 4 and is_ephemeral(callback["data"])
        assert callback["data"]["content"] == ("Only members who can manage messages in this channel can decide on "
                                               "images here.")
    assert posts(harness.discord, art) == []
    assert harness.discord.messages[post["id"]]["content"].startswith("Waiting for approval")
    assert await actions(harness.settings, "approve") == [] and await actions(harness.settings, "reject") == []


async def test_reject_asks_a_reason_and_the_member_is_told_privately(harness):
    art, review = await moderated(harness.discord)
    asked = await request(harness.discord, art)
    post = await one_post(harness.discord, review)
    opened, callback = await press(harness.discord, post, "Reject", user_id=9100, permissions=MOD)
    assert callback["type"] == 9 and callback["data"]["title"] == "Reject this image"
    submitted = await harness.discord.submit_modal(opened, {"Reason (shown to the member)": "off topic here"},
                                                   permissions=MOD)
    said = await submitted.wait_followup()
    assert is_ephemeral(said) and said["content"] == "Rejected; they were told privately."
    told = [f for f in asked.followups if "did not approve" in (f.get("content") or "")]
    assert len(told) == 1 and is_ephemeral(told[0]) and "off topic here" in told[0]["content"]
    assert posts(harness.discord, art) == [], "a rejected image is never posted"
    assert harness.discord.messages[post["id"]]["content"] == "Rejected by <@9100>: off topic here"
    (job,) = await read_jobs(harness.settings, GUILD_ID, ALICE)
    assert (job["state"], job["cost"]) == ("succeeded", 2), "credits are spent either way"
    (rejected,) = await actions(harness.settings, "reject")
    assert rejected["detail"]["reason"] == "off topic here" and rejected["target_id"] == ALICE
    again, callback = await press(harness.discord, post, "Approve", user_id=9200, permissions=MOD, validate=False)
    assert callback["data"]["content"].startswith("Rejected already by <@9100>")
    no_pings_anywhere(harness.discord)


async def test_a_rejection_reason_that_ends_a_sentence_is_not_stopped_twice(harness):
    art, review = await moderated(harness.discord)
    asked = await request(harness.discord, art)
    post = await one_post(harness.discord, review)
    opened, _ = await press(harness.discord, post, "Reject", user_id=9100, permissions=MOD)
    submitted = await harness.discord.submit_modal(opened, {"Reason (shown to the member)": "Too dark!"},
                                                   permissions=MOD)
    await submitted.wait_followup()
    (told,) = [f["content"] for f in asked.followups if "did not approve" in (f.get("content") or "")]
    assert told.endswith(r": Too dark\! Its credits stay spent, since the image was made."), told


async def test_reject_after_the_token_expired_goes_by_dm_and_a_refused_dm_is_logged(harness):
    art, review = await moderated(harness.discord)
    first = await request(harness.discord, art)
    post = await one_post(harness.discord, review)
    first.expire()
    opened, _ = await press(harness.discord, post, "Reject", user_id=9100, permissions=MOD)
    submitted = await harness.discord.submit_modal(opened, {"Reason (shown to the member)": "not here"},
                                                   permissions=MOD)
    assert (await submitted.wait_followup())["content"] == "Rejected; they were told by DM."
    (dm,) = harness.discord.dm_messages(ALICE)
    assert "did not approve" in dm["content"] and "not here" in dm["content"]

    harness.discord.refuse_dms.add(4001)
    second = await request(harness.discord, art, user_id=4001)
    await harness.discord.wait_for(lambda: len(posts(harness.discord, review)) == 2)
    later = posts(harness.discord, review)[-1]
    second.expire()
    opened, _ = await press(harness.discord, later, "Reject", user_id=9100, permissions=MOD)
    submitted = await harness.discord.submit_modal(opened, {}, permissions=MOD)
    assert (await submitted.wait_followup())["content"] == "Rejected; they could not be told (no DMs)."
    assert "could not tell user 4001 by DM" in harness.log_text()


async def test_approval_without_a_review_channel_is_refused_for_free(harness):
    art = await harness.discord.add_channel(GUILD_ID, name="art")
    said = await config(harness.discord, "approval", {"channel": art, "state": "on"})
    assert "refused until a review channel is set" in said["content"]
    interaction = await harness.invoke("sdxl", {"prompt": PROMPT}, user_id=ALICE, channel_id=art)
    callback = await interaction.wait_callback()
    assert callback["type"] == 4 and is_ephemeral(callback["data"])
    assert "no review channel" in callback["data"]["content"]
    assert harness.pixazo.requests == [] and await read_jobs(harness.settings, GUILD_ID, ALICE) == []
    shown = await config(harness.discord, "show")
    review = embed_fields(shown)["Review"]
    assert f"Approval: <#{art}>" in review and "Review channel: none set" in review


async def test_a_review_channel_that_refuses_the_post_costs_nothing(harness):
    art, review = await moderated(harness.discord)
    harness.discord.refuse_channel_posts.add(review)
    interaction = await harness.invoke("sdxl", {"prompt": PROMPT}, user_id=ALICE, channel_id=art)
    assert (await interaction.wait_callback())["data"]["flags"] & 64
    said = await interaction.wait_followup()
    assert is_ephemeral(said) and "could not post your image in the review channel" in said["content"]
    (job,) = await read_jobs(harness.settings, GUILD_ID, ALICE)
    assert job["state"] == "failed", "nothing was posted anywhere, so nothing is spent"
    assert posts(harness.discord, art) == [] and posts(harness.discord, review) == []


async def test_reroll_of_an_approved_image_waits_for_a_moderator_too(harness):
    art, review = await moderated(harness.discord)
    await request(harness.discord, art)
    post = await one_post(harness.discord, review)
    pressed, _ = await press(harness.discord, post, "Approve", user_id=9100, permissions=MOD)
    await pressed.wait_followup()
    result = await one_post(harness.discord, art)
    reroll = await harness.discord.click(result, button_ids(result)["Reroll"], user_id=4002)
    callback = await reroll.wait_callback()
    assert callback["type"] == 5 and callback["data"]["flags"] & 64, "a Reroll here is private too"
    waiting = await reroll.wait_followup()
    assert is_ephemeral(waiting) and WAITING in waiting["content"]
    await harness.discord.wait_for(lambda: len(posts(harness.discord, review)) == 2)
    second = posts(harness.discord, review)[-1]
    assert "<@4002>" in second["content"] and set(button_ids(second)) == {"Approve", "Reject"}
    assert len(posts(harness.discord, art)) == 1, "nothing new in the channel until approved"
