"""The image check where members and moderators meet it, through the real discord.py against the fakes,
with the real model on real photographs: a held result is never posted publicly, the member is told
privately (the credits were spent), the review post is a report Keep posts; benign results post as
always; age-restricted channels keep their spoilers; a check that cannot answer posts nothing and
refunds; without the package the bot starts and /config show says so. Both ledgers where the store
keeps a review.

The detector names faces as well as body parts, so the positive path is proven honestly by counting
a face class (IMAGE_CHECK_CLASSES=FACE_FEMALE) and returning a real photograph of a face."""

from __future__ import annotations

import sys

import pytest

from bot.catalog import MODELS
from tests.conftest import CHANNEL_ID, GUILD_ID, embed_fields, is_ephemeral, make_settings, started_bot
from tests.e2e.test_approval_e2e import MOD, actions, config, no_pings_anywhere, one_post, posts
from tests.e2e.test_results_e2e import button_ids
from tests.image_samples import FACE, photo_bytes, require_image_check
from tests.ledger import read_jobs, until

ALICE = 4000
PROMPT = "a portrait of an astronaut"
HELD = ("The image check found what looks like face female, {sure} in your image, so it was not posted here: this "
        "channel is not age-restricted. The server's moderators can look at it and post it. Its credits stay spent, "
        "since the image was made.")


@pytest.fixture
def ledger_settings(backend) -> dict:
    return backend.settings


@pytest.fixture
def bot_settings() -> dict:
    require_image_check()
    return {"image_check": True, "image_check_classes": ("FACE_FEMALE",)}


async def states(harness) -> list[tuple[str, int]]:
    return [(j["state"], j["cost"]) for j in await read_jobs(harness.settings, GUILD_ID, ALICE)]


async def generate(harness, channel_id: int | None = None) -> tuple[object, dict]:
    kwargs = {"user_id": ALICE} if channel_id is None else {"user_id": ALICE, "channel_id": channel_id}
    return await harness.answer("sdxl", {"prompt": PROMPT}, **kwargs)


async def test_a_held_image_is_told_privately_goes_to_review_and_keep_posts_it(harness):
    harness.pixazo.result_override = (photo_bytes(FACE), "png")
    art = await harness.discord.add_channel(GUILD_ID, name="art")
    review = await harness.discord.add_channel(GUILD_ID, name="review")
    await config(harness.discord, "review-channel", {"channel": review})

    _, said = await generate(harness, art)
    assert is_ephemeral(said), "the member is told privately"
    assert said["content"].startswith(HELD.split("{sure}")[0]) and said["content"].endswith(HELD.split("{sure}")[1])
    assert not said.get("attachments") and not said.get("embeds"), "the member's word carries no image"
    assert posts(harness.discord, art) == [], "nothing public where it was asked for"
    await until(lambda: _state_is(harness, "succeeded"))
    assert await states(harness) == [("succeeded", MODELS["sdxl"].cost)], "the image was made: its credits are spent"

    post = await one_post(harness.discord, review)
    assert post["content"] == (f"The image check held an image by <@{ALICE}> for <#{art}>. Keep posts it there; "
                               "Remove leaves it unposted.")
    fields = embed_fields(post)
    assert (fields["Made by"], fields["For channel"]) == (f"<@{ALICE}>", f"<#{art}>")
    assert fields["Image check"].startswith("face female, ")
    (attachment,) = post["attachments"]
    assert attachment["filename"].startswith("SPOILER_"), "moderators open it when they choose"
    assert set(button_ids(post)) == {"Keep", "Remove"}
    await until(lambda: has_action(harness, "held"))

    interaction = await harness.discord.click(post, button_ids(post)["Keep"], user_id=9100, permissions=MOD)
    await interaction.wait_callback()
    decided = await interaction.wait_followup()
    assert decided["content"] == f"Kept; posted in <#{art}>."
    (shown,) = posts(harness.discord, art)
    assert shown["content"] == f"<@{ALICE}>'s image, posted by <@9100> after the image check held it."
    assert shown["attachments"] and not shown["attachments"][0]["filename"].startswith("SPOILER_")
    assert shown["embeds"][0]["image"]["url"] == shown["attachments"][0]["url"]
    assert "Reroll" in button_ids(shown), "posted as the result it is, with the usual buttons"
    assert harness.discord.messages[post["id"]]["content"].startswith("Kept by <@9100>; posted in")
    await harness.discord.wait_for(lambda: told(harness, "posted it in"))  # the member is told where
    await until(lambda: has_action(harness, "keep"))
    no_pings_anywhere(harness.discord)


def told(harness, words: str) -> bool:
    """The member got a private message saying `words` (their request's followup, or a DM)."""
    return any(words in (m.get("content") or "") and is_ephemeral(m) for m in harness.discord.messages.values())


async def _state_is(harness, state: str) -> bool:
    return [s for s, _ in await states(harness)] == [state]


async def has_action(harness, action: str) -> bool:
    return bool(await actions(harness.settings, action))


async def test_remove_leaves_a_held_image_unposted_and_tells_the_member(harness):
    harness.pixazo.result_override = (photo_bytes(FACE), "png")
    review = await harness.discord.add_channel(GUILD_ID, name="review")
    await config(harness.discord, "review-channel", {"channel": review})
    await generate(harness)
    post = await one_post(harness.discord, review)
    interaction = await harness.discord.click(post, button_ids(post)["Remove"], user_id=9100, permissions=MOD)
    await interaction.wait_callback()
    assert (await interaction.wait_followup())["content"] == "Removed; the image stays unposted."
    assert posts(harness.discord, CHANNEL_ID) == []
    await harness.discord.wait_for(lambda: told(harness, "stays unposted"))


async def test_without_a_review_channel_the_member_is_told_and_nothing_is_posted(harness):
    harness.pixazo.result_override = (photo_bytes(FACE, "JPEG"), "jpeg")
    _, said = await generate(harness)
    assert is_ephemeral(said) and "An age-restricted channel can show such images." in said["content"]
    assert not [m for m in harness.discord.messages.values() if not is_ephemeral(m) and m.get("attachments")]
    await until(lambda: _state_is(harness, "succeeded"))


async def test_benign_results_are_posted_as_always(harness):
    harness.pixazo.result_override = (photo_bytes("coffee"), "png")
    _, said = await generate(harness)
    assert not is_ephemeral(said) and said["attachments"], "a cup of coffee is posted"
    harness.pixazo.result_override = None
    _, said = await generate(harness)  # the fake's own painted image
    assert not is_ephemeral(said) and said["attachments"]


async def test_age_restricted_channels_are_not_checked_and_keep_their_spoilers(harness):
    harness.pixazo.result_override = (photo_bytes(FACE), "png")
    nsfw = await harness.discord.add_channel(GUILD_ID, name="after-dark", nsfw=True)
    _, said = await generate(harness, nsfw)
    assert not is_ephemeral(said)
    (attachment,) = said["attachments"]
    assert attachment["filename"].startswith("SPOILER_")


async def test_a_server_can_turn_the_check_off_or_raise_its_threshold(harness):
    harness.pixazo.result_override = (photo_bytes(FACE), "png")
    said = await config(harness.discord, "nsfw", {"image-check": "off"})
    assert "Image check: Off" in said["content"]
    _, result = await generate(harness)
    assert not is_ephemeral(result) and result["attachments"]
    await config(harness.discord, "nsfw", {"image-check": "on", "image-threshold": 0.95})
    shown = embed_fields(await config(harness.discord, "show"))["Image check"]
    assert shown.startswith("On:") and "Threshold 0.95." in shown and "face female" in shown
    _, result = await generate(harness)
    assert not is_ephemeral(result), "the face scores below 95%"
    await config(harness.discord, "nsfw", {"image-threshold": 0.3})
    _, result = await generate(harness)
    assert is_ephemeral(result) and result["content"].startswith("The image check found")


@pytest.fixture
def slow_check_settings(bot_settings) -> dict:
    bot_settings["image_check_timeout_seconds"] = 0.001  # no model answers in a millisecond
    return bot_settings


async def test_a_check_that_cannot_answer_in_time_posts_nothing_and_refunds(slow_check_settings, harness):
    _, said = await generate(harness)
    assert is_ephemeral(said)
    assert said["content"] == ("The bot could not check this image before posting it, so it was not posted and no "
                               "credits were spent. Please try again.")
    assert not [m for m in harness.discord.messages.values() if not is_ephemeral(m) and m.get("attachments")]
    await until(lambda: _state_is(harness, "failed"))
    assert "the image check failed: no answer within 0.001 s" in harness.log_text()


async def test_without_the_package_the_bot_starts_and_config_show_says_unavailable(tmp_path, fake_discord,
                                                                                  fake_pixazo, monkeypatch):
    require_image_check()
    monkeypatch.setitem(sys.modules, "nudenet", None)  # as when the extra is not installed: import fails
    settings = make_settings(tmp_path, fake_discord, fake_pixazo, image_check=True,
                             image_check_classes=("FACE_FEMALE",))
    fake_pixazo.result_override = (photo_bytes(FACE), "png")
    async with started_bot(settings, fake_discord):
        interaction = await fake_discord.invoke("config", {}, subcommand="show", user_id=9000, permissions=MOD | (1 << 5))
        await interaction.wait_callback()
        shown = embed_fields(await interaction.wait_followup())["Image check"]
        assert shown == ("Unavailable: the image check is not installed on this bot (its operator can add it with "
                         'pip install ".[image-check]"). Results are posted without it.')
        interaction = await fake_discord.invoke("sdxl", {"prompt": PROMPT}, user_id=ALICE)
        await interaction.wait_callback()
        result = await interaction.wait_followup()
        assert not is_ephemeral(result) and result["attachments"], "posted as before the check existed"
