"""A member's Cancel while their result is on its way to the review channel (approval mode), through the
real discord.py against the fakes, on both ledgers.

Once a job's result is out for review (its review opened, its post sent or recorded) a moderator may
decide on it, so the job can no longer be cancelled: the Cancel says so, privately, and the job ends
as a held job does (succeeded, its credits spent once, the image made). A Cancel that lands before the
review is opened stops the job (refunded), and nothing reaches the review channel. Never a live review
post of a cancelled job."""

from __future__ import annotations

import asyncio

import pytest

from bot.domain.reviews import ReviewKind
from tests.conftest import GUILD_ID, eventually, is_ephemeral
from tests.e2e.test_approval_e2e import ALICE, MOD, moderated, one_post, posts
from tests.e2e.test_queue_e2e import cancel_id
from tests.e2e.test_results_e2e import button_ids
from tests.e2e.test_review_faults_e2e import (
    COST,
    IMAGE_CHECK,
    PROMPT,
    arrived,
    held_by_the_check,
    job_state,
    succeeded,
)
from tests.fakes.pixazo import Behaviour
from tests.ledger import open_view, read_jobs, until

BOB = 4100
OUT_FOR_REVIEW = "already made and waits for the server's moderators"


@pytest.fixture
def ledger_settings(backend) -> dict:
    return backend.settings


# One job at a time, so Alice's waits behind Bob's and shows its notice with a Cancel button.
ONE_AT_A_TIME = {"progress_interval_seconds": 0.2, "pixazo_max_concurrency": 1}


@pytest.fixture
def bot_settings() -> dict:
    return ONE_AT_A_TIME


@pytest.fixture(autouse=True)
def slow_pixazo(harness) -> None:
    harness.pixazo.latency = 1.0


async def cancellable(harness, art: int, stalled: str, bobs: int | None = None):
    """Alice's request in the approval channel, its review post or what follows it held by Discord (`stalled`,
    a route of the bot's) once the request shows its Cancel button: the request, and the held route's release."""
    interaction = await waiting(harness, art, bobs)
    return interaction, harness.discord.stall(*stalled.split(" ", 1))


async def waiting(harness, art: int, bobs: int | None = None):
    """Alice's request in `art`, waiting behind Bob's elsewhere (`bobs`): it shows its Cancel button."""
    fake = harness.discord
    await fake.invoke("sdxl", {"prompt": "first"}, user_id=BOB, **({"channel_id": bobs} if bobs else {}))
    await eventually(lambda: len(harness.pixazo.requests) == 1, timeout=10)
    interaction = await fake.invoke("sdxl", {"prompt": PROMPT, "seed": 5}, user_id=ALICE, channel_id=art)
    await eventually(lambda: interaction.original is not None and cancel_id(interaction.original), timeout=10)
    return interaction


async def pressed_cancel(fake, interaction) -> dict:
    """Alice presses Cancel on her request: what she is answered."""
    click = await fake.click(interaction.original, cancel_id(interaction.original), user_id=ALICE)
    callback = await click.wait_callback()
    return callback if callback["type"] != 5 else {"type": 5, "data": await click.wait_followup()}


async def recorded_review(harness) -> dict:
    """The review of Alice's (first) job."""
    job = (await read_jobs(harness.settings, GUILD_ID, ALICE))[0]
    async with open_view(harness.settings) as store:
        (review,) = await store.open_reviews(job["id"], ReviewKind.APPROVAL)
    return review


async def refused_then_approved(harness, art: int, review: int, answer: dict) -> None:
    """The Cancel was refused (privately, saying why); the job ends held (succeeded, spent once), its post is
    live and recorded, and a moderator's Approve posts the image where it was asked for."""
    fake = harness.discord
    post = await one_post(fake, review)
    await until(lambda: ended(harness), timeout=20)
    if (await job_state(harness))[0] == "cancelled":  # never a live review post of a cancelled job
        await asyncio.sleep(1.0)  # time to withdraw it
        assert post["id"] in fake.deleted_messages, f"a cancelled job's review post is live: {post['content']!r}"
    assert answer["type"] == 4 and is_ephemeral(answer["data"]), answer
    assert OUT_FOR_REVIEW in answer["data"]["content"], answer
    await until(lambda: succeeded(harness), timeout=20)
    assert await job_state(harness) == ("succeeded", COST), "the image was made and is with the moderators"
    assert post["id"] in fake.messages and post["id"] not in fake.deleted_messages
    assert (await recorded_review(harness))["review_message_id"] == int(post["id"])
    pressed = await fake.click(post, button_ids(post)["Approve"], user_id=9100, permissions=MOD)
    await pressed.wait_callback()
    assert (await pressed.wait_followup())["content"] == f"Approved; posted in <#{art}>."
    (result,) = posts(fake, art)
    assert result["attachments"], result


async def test_a_cancel_while_the_review_post_is_in_flight_is_refused_and_the_post_stays_held(harness):
    """Discord has not answered the review post yet when Alice presses Cancel: it may be posted whatever the
    bot does now, so the Cancel is refused rather than leaving a post the ledger does not know of."""
    fake = harness.discord
    art, review = await moderated(fake)
    to_review = rf"/channels/{review}/messages$"
    interaction, released = await cancellable(harness, art, f"POST {to_review}")
    await arrived(fake, "POST", to_review)
    answer = await pressed_cancel(fake, interaction)
    released.set()
    await refused_then_approved(harness, art, review, answer)


async def test_a_cancel_after_the_review_post_is_recorded_is_refused_and_approve_still_posts_it(harness):
    """The review post is made and recorded, the job not settled yet (the member's waiting note held by
    Discord) when Alice presses Cancel: refused; a moderator's Approve is not an image of a cancelled job."""
    fake = harness.discord
    art, review = await moderated(fake)
    interaction, released = await cancellable(harness, art, r"PATCH /webhooks/\d+/[^/]+/messages/@original$")

    async def recorded() -> bool:
        return bool(posts(fake, review)) and (await recorded_review(harness))["review_message_id"] is not None

    await until(recorded, timeout=20)
    answer = await pressed_cancel(fake, interaction)
    released.set()
    await refused_then_approved(harness, art, review, answer)


@pytest.mark.parametrize("bot_settings", [{**ONE_AT_A_TIME, **IMAGE_CHECK}])
async def test_a_cancel_while_an_image_the_check_held_is_posted_for_review_is_refused_and_keep_posts_it(harness):
    """The same for a result the image check held: the Cancel is refused, Alice is told once what happened to
    her image (its credits spent: the ledger has them so), and a moderator's Keep posts it."""
    fake = harness.discord
    art, review = await held_by_the_check(harness)
    adult = await fake.add_channel(GUILD_ID, name="adult", nsfw=True)  # Bob's image is not checked there
    to_review = rf"/channels/{review}/messages$"
    interaction, released = await cancellable(harness, art, f"POST {to_review}", bobs=adult)
    await arrived(fake, "POST", to_review)
    answer = await pressed_cancel(fake, interaction)
    released.set()
    assert answer["type"] == 4 and is_ephemeral(answer["data"]), answer
    assert OUT_FOR_REVIEW in answer["data"]["content"], answer
    post = await one_post(fake, review)
    await until(lambda: succeeded(harness), timeout=20)
    assert await job_state(harness) == ("succeeded", COST)
    await eventually(lambda: len(interaction.followups) == 1, timeout=10)  # its notice was edits of @original
    (said,) = interaction.followups
    assert is_ephemeral(said) and said["content"].endswith("Its credits stay spent, since the image was made."), said
    pressed = await fake.click(post, button_ids(post)["Keep"], user_id=9100, permissions=MOD)
    await pressed.wait_callback()
    assert (await pressed.wait_followup())["content"] == f"Kept; posted in <#{art}>."
    assert len(posts(fake, art)) == 1 and len(interaction.followups) == 1


async def test_a_cancel_before_the_result_is_made_leaves_the_review_channel_empty(harness):
    """The Cancel lands while Pixazo still works: the job is cancelled and refunded, and nothing is posted
    for review."""
    fake = harness.discord
    art, review = await moderated(fake)
    interaction = await waiting(harness, art)
    await eventually(lambda: "Generating" in interaction.original["content"], timeout=10)
    answer = await pressed_cancel(fake, interaction)
    assert answer["type"] == 7 and "Cancelled by" in answer["data"]["content"], answer
    await until(lambda: job_is(harness, "cancelled"), timeout=10)
    await eventually(lambda: harness.pixazo.in_flight == 0, timeout=5)
    assert posts(fake, review) == [] and await job_state(harness) == ("cancelled", COST)


async def job_is(harness, state: str) -> bool:
    return (await job_state(harness))[0] == state


async def ended(harness) -> bool:
    return (await job_state(harness))[0] in ("succeeded", "failed", "cancelled")


async def test_a_cancel_under_a_batch_keeps_the_image_out_for_review_and_cancels_the_rest(harness):
    """Cancel under a batch while its first image's review post is in flight: that image stays with the
    moderators (spent), the one Pixazo is still making is cancelled and refunded."""
    fake = harness.discord
    harness.pixazo.push(Behaviour.OK, Behaviour.HANG)  # the second image is never made
    art, review = await moderated(fake)
    interaction = await fake.invoke("imagine", {"prompt": PROMPT, "count": 2}, user_id=ALICE, channel_id=art)
    await eventually(lambda: "Cancel" in labels(interaction.original or {}), timeout=10)
    to_review = rf"/channels/{review}/messages$"
    released = fake.stall("POST", to_review)
    await arrived(fake, "POST", to_review)
    press = await fake.click(interaction.original, labels(interaction.original)["Cancel"], user_id=ALICE)
    answer = await press.wait_callback()
    assert answer["type"] == 7 and "no credits were spent for the images not made" in answer["data"]["content"]
    released.set()
    post = await one_post(fake, review)

    async def ended() -> bool:
        return all(j["state"] in ("succeeded", "cancelled") for j in await read_jobs(harness.settings, GUILD_ID, ALICE))
    await until(ended, timeout=20)
    rows = await read_jobs(harness.settings, GUILD_ID, ALICE)
    assert [r["state"] for r in rows] == ["succeeded", "cancelled"], "the image out for review stays; the rest goes"
    assert (await recorded_review(harness))["review_message_id"] == int(post["id"])
    pressed = await fake.click(post, button_ids(post)["Approve"], user_id=9100, permissions=MOD)
    await pressed.wait_callback()
    assert (await pressed.wait_followup())["content"] == f"Approved; posted in <#{art}>."


def labels(message: dict) -> dict[str, str]:
    return {item["label"]: item["custom_id"] for row in message.get("components") or []
            for item in row.get("components") or []}
