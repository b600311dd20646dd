"""The image check on a batch's images, through the real discord.py against the fakes, with the real
model on a real photograph (as tests/e2e/test_image_check_e2e.py proves the single result): each image it
holds goes to the review channel on its own, never onto the batch's public message, which says it is
held; the member is told privately, and the credits stay spent (the images were made). Both ledgers."""

from __future__ import annotations

import pytest

from bot.domain import JobState
from tests.conftest import GUILD_ID, embed_fields, is_ephemeral
from tests.e2e.test_approval_e2e import config, posts
from tests.image_samples import FACE, photo_bytes, require_image_check
from tests.ledger import read_jobs, until

ALICE = 4000


@pytest.fixture
def ledger_settings(backend) -> dict:
    return backend.settings


@pytest.fixture
def bot_settings() -> dict:
    require_image_check()
    return {"image_check": True, "image_check_classes": ("FACE_FEMALE",)}


async def test_each_held_image_of_a_batch_goes_to_review_and_the_message_says_so(harness):
    harness.pixazo.result_override = (photo_bytes(FACE), "png")
    review = await harness.discord.add_channel(GUILD_ID, name="review")
    await config(harness.discord, "review-channel", {"channel": review})
    interaction = await harness.invoke("imagine", {"prompt": "a portrait", "count": 2}, user_id=ALICE)
    await harness.discord.wait_for(lambda: len(posts(harness.discord, review)) == 2, timeout=30)

    async def made() -> bool:
        rows = await read_jobs(harness.settings, GUILD_ID, ALICE)
        return [r["state"] for r in rows] == [JobState.SUCCEEDED] * 2
    await until(made, timeout=15)
    # Each image's word follows its settle (what it says of credits is what the ledger has).
    await harness.discord.wait_for(lambda: len([f for f in interaction.followups if is_ephemeral(f)]) == 2)
    message = interaction.original
    assert not message.get("attachments"), "a held image never shows on the public message"
    fields = embed_fields(message)
    assert fields["Image 1"] == fields["Image 2"] == "held for the moderators"
    told = [f["content"] for f in interaction.followups if is_ephemeral(f)]
    assert sorted(t.split(":")[0] for t in told) == ["Image 1 of 2", "Image 2 of 2"]
    assert all("The image check found" in t for t in told)
