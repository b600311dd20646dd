"""Reports where members and moderators meet them, through the real discord.py against the fakes:
Report on every result, the review post with a copy of the image, hiding after `hide_after` reports,
Keep (shown again) and Remove (deleted), one report per member, reporting off, no pings. Both ledgers."""

from __future__ import annotations

import pytest

from tests.conftest import GUILD_ID, embed_fields, eventually, is_ephemeral, make_settings, started_bot
from tests.e2e.test_approval_e2e import MOD, actions, config, no_pings_anywhere, one_post, posts
from tests.e2e.test_results_e2e import button_ids
from tests.ledger import until

AUTHOR = 4001
REPORTER = 4002
PROMPT = "a lighthouse at dusk: oil painting"
REASON_LABEL = "What is wrong with it? (optional)"
HIDDEN = "This image is hidden while a moderator looks at it."


@pytest.fixture
def ledger_settings(backend) -> dict:
    return backend.settings


async def result_and_review_channel(harness) -> tuple[dict, int]:
    review = await harness.discord.add_channel(GUILD_ID, name="review")
    await config(harness.discord, "review-channel", {"channel": review})
    _, result = await harness.answer("sdxl", {"prompt": PROMPT}, user_id=AUTHOR)
    assert "Report" in button_ids(result) and result["attachments"]
    return result, review


async def report(harness, result: dict, user_id: int = REPORTER, reason: str | None = None) -> dict:
    """Press Report, fill in the form; what the reporter reads."""
    opened = await harness.discord.click(result, button_ids(result)["Report"], user_id=user_id)
    callback = await opened.wait_callback()
    if callback["type"] == 4:
        return callback["data"]
    assert callback["type"] == 9 and callback["data"]["title"] == "Report this image"
    submitted = await harness.discord.submit_modal(opened, {REASON_LABEL: reason} if reason else {})
    return await submitted.wait_followup()


async def decide(harness, post: dict, label: str, **kwargs) -> dict:
    kwargs.setdefault("permissions", MOD)
    interaction = await harness.discord.click(post, button_ids(post)[label], user_id=9100, **kwargs)
    callback = await interaction.wait_callback()
    return callback["data"] if callback["type"] == 4 else await interaction.wait_followup()


async def test_a_report_hides_the_image_and_keep_shows_it_again(harness):
    result, review = await result_and_review_channel(harness)
    original = harness.discord.messages[result["id"]]
    said = await report(harness, result, reason="too gory")
    assert is_ephemeral(said) and said["content"] == "Thank you; a moderator will look at it. It is hidden until then."
    post = await one_post(harness.discord, review)
    fields = embed_fields(post)
    assert (fields["Reported by"], fields["Made by"], fields["Reason"]) == (f"<@{REPORTER}>", f"<@{AUTHOR}>", "too gory")
    assert post["attachments"], "the review post carries a copy of the image"
    assert set(button_ids(post)) == {"Keep", "Remove"}
    hidden = harness.discord.messages[result["id"]]
    assert hidden["attachments"] == [] and hidden["embeds"][0]["description"] == HIDDEN
    assert "Report" in button_ids(hidden)

    refused = await decide(harness, post, "Keep", permissions=0)
    assert refused["content"].startswith("Only members who can manage messages")
    assert harness.discord.messages[result["id"]]["attachments"] == [], "a non-moderator changes nothing"

    said = await decide(harness, post, "Keep")
    assert is_ephemeral(said) and said["content"] == "Kept; the image is shown again."
    shown = harness.discord.messages[result["id"]]
    assert shown["attachments"] and shown["embeds"][0]["image"]["url"] == shown["attachments"][0]["url"]
    assert shown["embeds"][0]["description"] == original["embeds"][0]["description"]
    assert shown["attachments"][0]["filename"] == original["attachments"][0]["filename"]
    decided = harness.discord.messages[post["id"]]
    assert decided["content"] == "Kept by <@9100>."
    assert all(b.get("disabled") for row in decided["components"] for b in row["components"])
    await until(lambda: _has(harness, "keep"))
    (reported,) = await actions(harness.settings, "report")
    (kept,) = await actions(harness.settings, "keep")
    assert (reported["actor_id"], reported["target_id"]) == (REPORTER, AUTHOR)
    assert reported["detail"]["reason"] == "too gory"
    assert (kept["actor_id"], kept["target_id"], kept["detail"]["reason"]) == (9100, AUTHOR, "too gory")
    no_pings_anywhere(harness.discord)


async def _has(harness, action: str) -> bool:
    return bool(await actions(harness.settings, action))


async def test_remove_deletes_the_reported_result(harness):
    result, review = await result_and_review_channel(harness)
    await report(harness, result)
    post = await one_post(harness.discord, review)
    assert embed_fields(post)["Reason"] == "none given"
    said = await decide(harness, post, "Remove")
    assert said["content"] == "Removed; the message is deleted."
    assert result["id"] in harness.discord.deleted_messages
    assert harness.discord.messages[post["id"]]["content"] == "Removed by <@9100>."
    again = await decide(harness, post, "Keep", validate=False)  # a late press on the disabled post
    assert again["content"].startswith("Removed already by <@9100>")
    await until(lambda: _has(harness, "remove"))
    (removed,) = await actions(harness.settings, "remove")
    assert (removed["actor_id"], removed["target_id"]) == (9100, AUTHOR)
    no_pings_anywhere(harness.discord)


async def test_one_report_per_member_and_hide_after_counts_members(harness):
    result, review = await result_and_review_channel(harness)
    said = await config(harness.discord, "reports", {"hide_after": 2})
    assert "A result is now hidden after 2 reports." in said["content"]
    first = await report(harness, result, reason="spam")
    assert first["content"] == "Thank you; a moderator will look at it."
    assert harness.discord.messages[result["id"]]["attachments"], "one report of two: still shown"
    again = await report(harness, result)
    assert is_ephemeral(again) and again["content"] == "You already reported this image; a moderator will look at it."
    second = await report(harness, result, user_id=4003)
    assert second["content"].endswith("It is hidden until then.")
    assert harness.discord.messages[result["id"]]["attachments"] == []
    await harness.discord.wait_for(lambda: len(posts(harness.discord, review)) == 2)
    first_post, second_post = posts(harness.discord, review)
    said = await decide(harness, second_post, "Keep")
    assert said["content"] == "Kept; the image is shown again."
    assert harness.discord.messages[result["id"]]["attachments"]
    # One decision settles both reports: the other post shows it too.
    assert harness.discord.messages[first_post["id"]]["content"] == "Kept by <@9100>."
    late = await decide(harness, first_post, "Remove", validate=False)
    assert late["content"].startswith("Kept already by <@9100>")
    assert result["id"] not in harness.discord.deleted_messages
    await until(lambda: _has(harness, "keep"))
    assert len(await actions(harness.settings, "report")) == 2 and len(await actions(harness.settings, "keep")) == 1


async def test_reporting_off_or_no_review_channel_is_said_on_the_press(harness):
    _, result = await harness.answer("sdxl", {"prompt": PROMPT}, user_id=AUTHOR)
    said = await report(harness, result)
    assert is_ephemeral(said) and said["content"].startswith("This server has no review channel set")
    review = await harness.discord.add_channel(GUILD_ID, name="review")
    await config(harness.discord, "review-channel", {"channel": review})
    shown = await config(harness.discord, "reports", {"hide_after": 0})
    assert "Reporting is now off." in shown["content"] and "Reports: off" in shown["content"]
    said = await report(harness, result)
    assert is_ephemeral(said) and said["content"] == "Reporting results is turned off in this server."
    assert posts(harness.discord, review) == [] and await actions(harness.settings, "report") == []
    assert harness.discord.messages[result["id"]]["attachments"]


async def test_a_hidden_result_is_kept_after_a_restart(tmp_path, fake_discord, fake_pixazo, ledger_settings):
    settings = make_settings(tmp_path, fake_discord, fake_pixazo, **ledger_settings)
    async with started_bot(settings, fake_discord):
        review = await fake_discord.add_channel(GUILD_ID, name="review")
        await config(fake_discord, "review-channel", {"channel": review})
        interaction = await fake_discord.invoke("sdxl", {"prompt": PROMPT}, user_id=AUTHOR)
        result = await interaction.wait_followup()
        opened = await fake_discord.click(result, button_ids(result)["Report"], user_id=REPORTER)
        assert (await opened.wait_callback())["type"] == 9, "the form is open when the bot stops"
    before = fake_discord.identify_payload
    async with started_bot(settings, fake_discord):  # a new process, the same ledger
        await eventually(lambda: fake_discord.identify_payload is not before)
        submitted = await fake_discord.submit_modal(opened, {REASON_LABEL: "after the restart"})
        assert (await submitted.wait_followup())["content"].endswith("It is hidden until then.")
        assert fake_discord.messages[result["id"]]["attachments"] == []
        post = await one_post(fake_discord, review)
        kept = await fake_discord.click(post, button_ids(post)["Keep"], user_id=9100, permissions=MOD)
        assert (await kept.wait_followup())["content"] == "Kept; the image is shown again."
        assert fake_discord.messages[result["id"]]["attachments"]
