"""Self-test: the fake Pixazo fetches the image and mask it is given, from the fake Discord's CDN as
Pixazo fetches them from Discord's, records exactly what it saw, and fails the call when it cannot use them."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import aiohttp
import pytest
import pytest_asyncio

from tests.fakes.discord import FakeDiscord
from tests.fakes.images import image_size, make_jpeg, make_mask, make_png
from tests.fakes.pixazo import FakePixazo
from tests.fakes.pixazo_examples import INPAINT, INPAINT_STREAM, post

pytestmark = pytest.mark.asyncio

IMAGE, MASK = make_png(40, 24), make_mask(40, 24, "half")


@pytest_asyncio.fixture
async def fakes() -> AsyncIterator[tuple[FakeDiscord, FakePixazo, aiohttp.ClientSession]]:
    discord_fake = FakeDiscord()
    await discord_fake.start()
    try:
        async with FakePixazo() as pixazo, aiohttp.ClientSession() as http:
            yield discord_fake, pixazo, http
    finally:
        await discord_fake.close()


def body(discord_fake: FakeDiscord, image: bytes = IMAGE, mask: bytes = MASK) -> dict:
    """An inpainting request whose inputs are files on the fake Discord's CDN (signed links)."""
    return {"prompt": "a lion", "imageUrl": discord_fake.cdn_put("dog.png", image, "image/png", ephemeral=True),
            "maskUrl": discord_fake.cdn_put("dog-mask.png", mask, "image/png", ephemeral=True)}


@pytest.mark.parametrize("path", [INPAINT, INPAINT_STREAM])
async def test_the_exact_image_and_mask_are_recorded(fakes, path: str) -> None:
    discord_fake, pixazo, http = fakes
    sent = body(discord_fake)
    status, _, raw = await post(http, pixazo, path, sent)
    assert status == 200
    (call,) = pixazo.requests
    image, mask = call.inputs["imageUrl"], call.inputs["maskUrl"]
    assert (image.url, image.status, image.data, image.size, image.mode, image.format) == (
        sent["imageUrl"], 200, IMAGE, (40, 24), "RGB", "PNG")
    assert (mask.data, mask.size, mask.mode, mask.error) == (MASK, (40, 24), "L", None)
    assert pixazo.fetched_inputs == [image, mask]
    assert [status for _, status in discord_fake.cdn_fetches] == [200, 200]
    result = raw if path == INPAINT_STREAM else pixazo.images[call.image_url]
    assert image_size(result) == (40, 24), "answered at the input's size"


async def test_an_expired_discord_link_fails_the_call_naming_it(fakes) -> None:
    discord_fake, pixazo, http = fakes
    sent = body(discord_fake)
    discord_fake.expire_attachments(sent["maskUrl"])
    status, _, raw = await post(http, pixazo, INPAINT, sent)
    assert status == 400
    error = json.loads(raw)["error"]
    assert error.startswith("maskUrl could not be fetched (HTTP 404)") and sent["maskUrl"] in error
    (call,) = pixazo.requests
    assert call.inputs["imageUrl"].error is None and call.inputs["maskUrl"].status == 404
    assert call.image_url is None, "nothing was made"


async def test_a_refreshed_link_works_again(fakes) -> None:
    discord_fake, pixazo, http = fakes
    sent = body(discord_fake)
    discord_fake.expire_attachments()
    assert (await post(http, pixazo, INPAINT, sent))[0] == 400
    async with http.post(discord_fake.api_base + "/attachments/refresh-urls",
                         json={"attachment_urls": [sent["imageUrl"], sent["maskUrl"]]},
                         headers={"Authorization": f"Bot {discord_fake.token}"}) as resp:
        fresh = [r["refreshed"] for r in (await resp.json())["refreshed_urls"]]
    status, _, _ = await post(http, pixazo, INPAINT, {**sent, "imageUrl": fresh[0], "maskUrl": fresh[1]})
    assert status == 200 and pixazo.requests[-1].inputs["maskUrl"].data == MASK


@pytest.mark.parametrize(("spoil", "said"), [
    ("not_an_image", "imageUrl is not an image"),
    ("too_large", "imageUrl could not be fetched (ValueError: larger than 1000 bytes)"),
    ("removed", "imageUrl could not be fetched (HTTP 404)"),
])
async def test_an_unusable_input_fails_the_call(fakes, spoil: str, said: str) -> None:
    discord_fake, pixazo, http = fakes
    pixazo.input_max_bytes = 1000
    image = b"<html>not a picture</html>" if spoil == "not_an_image" else make_jpeg(400, 300, quality=95)
    sent = body(discord_fake, image=image if spoil != "removed" else IMAGE)
    if spoil == "removed":
        discord_fake.cdn_remove(sent["imageUrl"])
    if spoil == "not_an_image":
        pixazo.input_max_bytes = 10**6
    status, _, raw = await post(http, pixazo, INPAINT, sent)
    assert status == 400 and json.loads(raw)["error"].startswith(said)
    assert "maskUrl" not in pixazo.requests[0].inputs, "Pixazo stops at the first unusable input"


async def test_the_document_s_failed_generation_instead_of_a_400(fakes) -> None:
    discord_fake, pixazo, http = fakes
    pixazo.failed_input_answer = "empty_url"
    sent = body(discord_fake)
    discord_fake.cdn_remove(sent["imageUrl"])
    status, _, raw = await post(http, pixazo, INPAINT, sent)
    assert (status, json.loads(raw)) == (200, {"imageUrl": ""})
    assert pixazo.requests[0].inputs["imageUrl"].error is not None


async def test_the_bots_inpaint_inputs_reach_pixazo_through_signed_links(harness) -> None:
    """Today's /inpaint hands Pixazo the links Discord gave the member's uploads: with Discord's signed,
    ephemeral links on, Pixazo fetches those very bytes from the CDN."""
    harness.discord.signed_urls = True
    image, mask = make_png(64, 48), make_mask(64, 48, "half")
    files = {"image": {"filename": "dog.png", "content_type": "image/png", "data": image},
             "mask": {"filename": "dog-mask.png", "content_type": "image/png", "data": mask}}
    _, message = await harness.answer("inpaint", {"prompt": "a lion"}, attachments=files)
    assert message["embeds"], message
    (call,) = harness.pixazo.requests
    assert "/ephemeral-attachments/" in call.json["imageUrl"] and "&hm=" in call.json["maskUrl"]
    assert (call.inputs["imageUrl"].data, call.inputs["maskUrl"].data) == (image, mask)
    assert call.inputs["maskUrl"].size == (64, 48)
