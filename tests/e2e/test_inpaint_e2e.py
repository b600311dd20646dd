"""/inpaint through the real discord.py: attachments on the fake CDN, the fake Pixazo fetching them."""

from __future__ import annotations

import asyncio
import functools

import pytest

from tests.conftest import GUILD_ID, embed_fields, eventually, is_ephemeral, make_settings, started_bot
from tests.fakes.images import (
    image_size,
    make_big_png,
    make_dot_mask,
    make_jpeg,
    make_mask,
    make_png,
    make_rotated,
)
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
    recorded = inputs
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
    said = message["content"]
    assert "Pixazo could not fetch the picture or the mask from Discord" in said and "maskUrl" in said
    assert "No credits were spent." in said and "http" not in said, "the link itself is of no use to the member"
    ((state, _, _),) = await jobs(harness)
    assert state == "failed", "the credits came back"


async def test_result_over_upload_limit_still_posts(harness):
    interaction = await harness.invoke("inpaint", {"prompt": PROMPT}, attachments=pair(1024, 1024),
                                       attachment_size_limit=1500)
    message = await interaction.wait_followup()
    ((_, _, data),) = message["_files"]
    assert len(data) <= 1500 and image_size(data)[0] > 0


# -- cheap refusals first, heavy checks off the event loop -----------------------------------------------

@functools.cache
def heavy(kind: str) -> bytes:
    """4096×4096 RGBA, at the pixel cap: ~0.1 MB to send, 0.1-0.2 s to decode and check."""
    return make_big_png(4096, 4096, kind=kind)


@functools.cache
def over_cap() -> bytes:
    return make_big_png(5000, 4000, "L")


def heavy_files(name: str = "big", mask: str = "mask") -> dict:
    return {"image": png(f"{name}.png", heavy("image")), "mask": png(f"{name}-mask.png", heavy(mask))}


def cdn_downloads(harness) -> list[str]:
    return [r.path for r in harness.discord.requests if r.path.startswith("/attachments/")]


@pytest.mark.parametrize("bot_settings", [{"quota_default_daily_credits": 0}])
async def test_member_without_credits_is_refused_before_anything_is_downloaded(harness):
    _, message = await harness.answer("inpaint", {"prompt": PROMPT}, attachments=heavy_files())
    assert is_ephemeral(message)
    assert "/inpaint needs 2 credits and you have 0 left today" in message["content"], message["content"]
    assert cdn_downloads(harness) == [], "the files were downloaded although the member could not pay"
    assert await jobs(harness) == [] and harness.pixazo.requests == []


@pytest.mark.parametrize("bot_settings", [{"quota_max_jobs_per_user": 1}])
async def test_jobs_at_once_is_refused_before_anything_is_downloaded(harness):
    harness.pixazo.latency = 1.0
    first = await harness.invoke("inpaint", {"prompt": PROMPT}, attachments=pair())
    await eventually(lambda: harness.pixazo.requests)  # reserved: one job in the ledger
    second = {"image": png("cat.png", make_png(512, 384)), "mask": png("cat-mask.png", make_mask(512, 384))}
    _, message = await harness.answer("inpaint", {"prompt": PROMPT}, attachments=second)
    assert "You already have 1 image(s) being made; the limit is 1 at a time" in message["content"]
    assert not [p for p in cdn_downloads(harness) if "/cat" in p], "the second pair was downloaded anyway"
    assert (await first.wait_followup())["embeds"]


async def test_image_past_the_pixel_cap_is_refused_naming_the_cap(harness):
    files = {"image": png("huge.png", over_cap()), "mask": pair()["mask"]}
    _, message = await harness.answer("inpaint", {"prompt": PROMPT}, attachments=files)
    assert is_ephemeral(message)
    assert "The image (`huge.png`) is 5000×4000 (20.0 megapixels); the limit is 4096×4096 (16.8 megapixels)" \
        in message["content"], message["content"]
    assert cdn_downloads(harness) == [], "Discord's own measurement already rules it out"
    assert await jobs(harness) == []


async def test_pixel_cap_holds_when_discord_gives_no_size(harness):
    data = over_cap()
    url = harness.discord.cdn_put("huge.png", data, "image/png")
    files = {"image": {"url": url, "filename": "huge.png", "size": len(data), "content_type": "image/png"},
             "mask": pair()["mask"]}
    _, message = await harness.answer("inpaint", {"prompt": PROMPT}, attachments=files)
    assert is_ephemeral(message) and "is 5000×4000" in message["content"] and "4096×4096" in message["content"]
    assert await jobs(harness) == []


async def test_quota_is_deferred_promptly_while_heavy_inputs_are_checked(harness):
    # All-black masks: refused once checked, so the fake Pixazo (on this same event loop) never decodes them.
    heavy = [await harness.invoke("inpaint", {"prompt": PROMPT}, attachments=heavy_files(f"big{i}", "black"),
                                  user_id=4100 + i) for i in range(3)]
    finished = asyncio.ensure_future(asyncio.gather(*(i.wait_followup(timeout=20) for i in heavy)))
    loop = asyncio.get_running_loop()
    waits = []
    while not finished.done():  # bystanders ask all through the checking, one after another
        # From one ask to the next, not just the defer: the fakes and this test share the bot's event
        # loop, so a stall between asks would otherwise delay the next ask instead of showing.
        asked = loop.time()
        quota = await harness.invoke("quota", user_id=4200 + len(waits), username="bystander")
        await quota.wait_followup()
        await asyncio.sleep(0.01)
        waits.append((quota.callback_at - asked, loop.time() - asked))
    assert all("entirely black" in message["content"] for message in finished.result())
    defer, cycle = max(d for d, _ in waits), max(c for _, c in waits)
    # Measured: with the checks on the event loop, 0.75-1 s between asks; on the pool, under 60 ms idle and
    # up to ~350 ms on two cores busy with other work (bounds are loose for busy CI machines, and still well
    # below what the event loop doing the checks costs).
    assert defer < 0.5 and cycle < 0.6, f"/quota: defer up to {defer * 1000:.0f} ms, ask to next ask up to " \
        f"{cycle * 1000:.0f} ms ({len(waits)} asked)"
    assert len(waits) >= 5, "the heavy work ended before it could be observed"


@pytest.mark.parametrize("bot_settings", [{"image_work_timeout_seconds": 0.005}])
async def test_input_check_past_its_deadline_is_refused_and_costs_nothing(harness):
    _, message = await harness.answer("inpaint", {"prompt": PROMPT}, attachments=heavy_files())
    assert is_ephemeral(message)
    assert "took too long to check, so nothing was spent" in message["content"], message["content"]
    assert await jobs(harness) == [] and harness.pixazo.requests == []


# -- EXIF orientation and the size sent --------------------------------------------------------------------

@pytest.mark.parametrize(("fmt", "content_type"), [("JPEG", "image/jpeg"), ("WEBP", "image/webp")])
async def test_exif_rotated_image_with_a_mask_drawn_as_displayed_is_accepted(harness, fmt, content_type):
    photo = make_rotated(512, 384, orientation=6, fmt=fmt)  # stored landscape, shown portrait
    files = {"image": png("phone.jpg", photo, content_type), "mask": png("phone-mask.png", make_mask(384, 512))}
    _, message = await harness.answer("inpaint", {"prompt": PROMPT}, attachments=files)
    assert message["embeds"], message
    (call,) = harness.pixazo.requests
    assert (call.json["width"], call.json["height"]) == (384, 512), "sized as displayed"
    ((_, inputs, _),) = await jobs(harness)
    recorded = inputs["image"]
    assert (recorded["width"], recorded["height"], recorded["exif_orientation"]) == (384, 512, 6)


async def test_mask_drawn_on_the_stored_pixels_of_a_rotated_photo_is_refused(harness):
    files = {"image": png("phone.jpg", make_rotated(512, 384, orientation=6), "image/jpeg"),
             "mask": png("phone-mask.png", make_mask(512, 384))}
    _, message = await harness.answer("inpaint", {"prompt": PROMPT}, attachments=files)
    assert is_ephemeral(message) and "The image is 384×512 but the mask is 512×384" in message["content"]


@pytest.mark.parametrize(("given", "sent"), [({"width": 1024}, (1024, 768)), ({"height": 768}, (1024, 768)),
                                              ({"width": 2048}, (2048, 1536)), ({"width": 256}, (256, 256))])
async def test_one_side_given_keeps_the_image_shape(harness, given, sent):
    _, message = await harness.answer("inpaint", {"prompt": PROMPT, **given}, attachments=pair(512, 384))
    assert message["embeds"], message
    (call,) = harness.pixazo.requests
    assert (call.json["width"], call.json["height"]) == sent


async def test_one_side_given_keeps_the_shape_of_a_rotated_photo(harness):
    files = {"image": png("phone.jpg", make_rotated(512, 384, orientation=6), "image/jpeg"),
             "mask": png("phone-mask.png", make_mask(384, 512))}
    await harness.answer("inpaint", {"prompt": PROMPT, "width": 768}, attachments=files)
    (call,) = harness.pixazo.requests
    assert (call.json["width"], call.json["height"]) == (768, 1024)


@pytest.mark.parametrize("bot_settings", [{"quota_max_jobs_per_user": 1}])
async def test_commands_fired_together_count_as_jobs_at_once_before_any_download(harness):
    first = await harness.invoke("inpaint", {"prompt": PROMPT}, attachments=heavy_files("one", "black"))
    await eventually(lambda: cdn_downloads(harness))  # the first pair is being checked
    _, message = await harness.answer("inpaint", {"prompt": PROMPT}, attachments=heavy_files("two", "black"))
    assert "You already have 1 image(s) being made; the limit is 1 at a time" in message["content"]
    assert not [p for p in cdn_downloads(harness) if "/two" in p], "the second pair was downloaded anyway"
    assert "entirely black" in (await first.wait_followup())["content"]


@pytest.mark.parametrize("mode", ["L", "RGBA"])
async def test_a_single_painted_pixel_survives_the_reduced_mask_check(harness, mode):
    files = {"image": png("dog.png", make_png(1024, 1024)), "mask": png("dot.png", make_dot_mask(1024, 1024, mode))}
    _, message = await harness.answer("inpaint", {"prompt": PROMPT}, attachments=files)
    assert message["embeds"], message
