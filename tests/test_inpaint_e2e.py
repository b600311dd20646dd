"""/inpaint through the real discord.py: attachments on the fake CDN, the fake Pixazo fetching them."""

from __future__ import annotations

import json

import pytest

from tests.conftest import GUILD_ID, embed_fields, is_ephemeral, make_settings, started_bot
from tests.fakes.images import image_size, make_jpeg, make_mask, make_png
from tests.ledger import columns, read_jobs

PROMPT = "a lion instead of the dog"
MiB = 2**20


def png(name: str, data: bytes, content_type: str = "image/png") -> dict:
    return {"filename": name, "content_type": content_type, "data": data}


def pair(w: int = 512, h: int = 384, mask_kind: str = "half") -> dict:
    return {"image": png("dog.png", make_png(w, h)), "mask": png("dog-mask.png", make_mask(w, h, mask_kind))}


async def jobs(harness) -> list[tuple]:
    return columns(await read_jobs(harness.settings, GUILD_ID, 4000), "state", "inputs", "params")


async def test_schema_teaches_the_mask_convention(harness):
    (command,) = [c for c in harness.discord.synced[GUILD_ID] if c["name"] == "inpaint"]
    options = {o["name"]: o for o in command["options"]}
    assert [o["name"] for o in command["options"][:3]] == ["prompt", "image", "mask"]
    assert options["image"]["type"] == options["mask"]["type"] == 11
    assert options["image"]["required"] and options["mask"]["required"]
    assert "white" in options["mask"]["description"] and "black" in options["mask"]["description"]
    assert set(options) == {"prompt", "image", "mask", "negative_prompt", "width", "height", "steps", "guidance",
                            "seed"}


@pytest.mark.parametrize(("stream", "path"), [(False, "/inpainting/v1/getImage"),
                                              (True, "/inpainting/v1/getImageStream")])
async def test_inpaint_happy_path(tmp_path, fake_discord, fake_pixazo, stream, path):
    settings = make_settings(tmp_path, fake_discord, fake_pixazo, pixazo_use_stream_endpoints=stream)
    async with started_bot(settings, fake_discord):
        interaction = await fake_discord.invoke("inpaint", {"prompt": PROMPT, "seed": 42}, attachments=pair())
        message = await interaction.wait_followup()
    assert interaction.callbacks[0]["type"] == 5
    (call,) = fake_pixazo.requests
    assert call.path == path
    image_url, mask_url = call.json.pop("imageUrl"), call.json.pop("maskUrl")
    assert "/attachments/" in image_url and image_url.endswith("/dog.png")
    assert mask_url.endswith("/dog-mask.png")
    # The image's own 512x384 size is already within 256-2048 and a multiple of 8.
    assert call.json == {"prompt": PROMPT, "width": 512, "height": 384, "num_steps": 20, "guidance": 5, "seed": 42}
    assert [url for url, status, _ in fake_pixazo.inpaint_fetches] == [image_url, mask_url]
    (embed,) = message["embeds"]
    assert embed["thumbnail"]["url"] == image_url, "the original is the thumbnail"
    ((filename, _, data),) = message["_files"]
    assert message["_payload"]["embeds"][0]["image"]["url"] == f"attachment://{filename}"
    assert data == fake_pixazo.images[call.image_url]
    assert embed_fields(message)["Cost"] == "2 credits · 18 left today"
    ((state, inputs),) = columns(await read_jobs(settings, GUILD_ID, 4000), "state", "inputs")
    assert state == "succeeded"
    recorded = json.loads(inputs)
    assert recorded["image"]["filename"] == "dog.png" and recorded["mask"]["filename"] == "dog-mask.png"
    assert recorded["image"]["bytes"] == len(pair()["image"]["data"])


@pytest.mark.parametrize(("size", "sent"), [((400, 3000), (272, 2048)), ((100, 150), (256, 384)),
                                             ((1001, 999), (1000, 1000))])
async def test_size_defaults_to_the_image_scaled_into_range_and_snapped(harness, size, sent):
    files = {"image": png("photo.jpg", make_jpeg(*size), "image/jpeg"),
             "mask": png("photo-mask.png", make_mask(*size, "half"))}
    _, message = await harness.answer("inpaint", {"prompt": PROMPT}, attachments=files)
    assert message["embeds"], message
    (call,) = harness.pixazo.requests
    assert (call.json["width"], call.json["height"]) == sent


async def test_explicit_size_wins(harness):
    await harness.answer("inpaint", {"prompt": PROMPT, "width": 768, "height": 512}, attachments=pair())
    (call,) = harness.pixazo.requests
    assert (call.json["width"], call.json["height"]) == (768, 512)


REFUSALS = [
    ("differ", {"image": png("a.png", make_png(512, 512)), "mask": png("m.png", make_mask(512, 256))},
     "The image is 512×512 but the mask is 512×256"),
    ("black", pair(mask_kind="black"), "entirely black, so nothing would change"),
    ("white", pair(mask_kind="white"), "entirely white"),
    ("png-as-jpeg", {"image": png("dog.jpg", make_png(512, 384), "image/jpeg"), "mask": pair()["mask"]},
     "says it is JPEG but its contents are PNG"),
    ("text-as-png", {"image": png("notes.png", b"just some text, not a picture\n" * 20), "mask": pair()["mask"]},
     "its contents are not an image"),
    ("gif", {"image": png("a.gif", b"GIF89a" + b"\0" * 100, "image/gif"), "mask": pair()["mask"]},
     "is not a PNG, JPEG or WebP image"),
    ("too-big", {"image": png("huge.png", make_png(512, 384) + b"\0" * (10 * MiB)), "mask": pair()["mask"]},
     "the limit is 10.0 MiB"),
    ("too-thin", {"image": png("line.png", make_png(40, 1200)), "mask": png("line-m.png", make_mask(40, 1200))},
     "long side can be at most 8× its short side"),
]


@pytest.mark.parametrize(("files", "said"), [r[1:] for r in REFUSALS], ids=[r[0] for r in REFUSALS])
async def test_bad_inputs_are_refused_and_cost_nothing(harness, files, said):
    _, message = await harness.answer("inpaint", {"prompt": PROMPT}, attachments=files)
    assert is_ephemeral(message), message
    assert said in message["content"], message["content"]
    assert harness.pixazo.requests == []
    assert await jobs(harness) == [], "refused before any credit was reserved"


async def test_declared_size_that_lies_is_caught_while_downloading(harness):
    url = harness.discord.cdn_put("big.png", make_png(64, 64) + b"\0" * (10 * MiB + 10), "image/png")
    files = {"image": {"url": url, "filename": "big.png", "size": 2000, "content_type": "image/png"},
             "mask": pair()["mask"]}
    _, message = await harness.answer("inpaint", {"prompt": PROMPT}, attachments=files)
    assert is_ephemeral(message) and "larger than the 10.0 MiB limit" in message["content"]
    assert await jobs(harness) == []


async def test_mask_gone_by_the_time_pixazo_fetches_it(harness):
    files = pair()
    attachments = {"image": files["image"]}
    mask_url = harness.discord.cdn_put("dog-mask.png", files["mask"]["data"], "image/png")
    harness.discord.cdn_expire_after(mask_url, fetches=1)  # the bot's own check is the last fetch that works
    attachments["mask"] = {"url": mask_url, "filename": "dog-mask.png", "size": len(files["mask"]["data"]),
                           "content_type": "image/png", "width": 512, "height": 384}
    _, message = await harness.answer("inpaint", {"prompt": PROMPT}, attachments=attachments)
    assert is_ephemeral(message)
    assert "Pixazo refused this request" in message["content"] and "maskUrl" in message["content"]
    ((state, _, _),) = await jobs(harness)
    assert state == "failed", "the credits came back"


async def test_result_over_upload_limit_still_posts(harness):
    interaction = await harness.invoke("inpaint", {"prompt": PROMPT}, attachments=pair(1024, 1024),
                                       attachment_size_limit=1500)
    message = await interaction.wait_followup()
    ((_, _, data),) = message["_files"]
    assert len(data) <= 1500 and image_size(data)[0] > 0
