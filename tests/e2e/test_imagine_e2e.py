"""/imagine and batches end to end, through the real discord.py against the fakes, on both backends:
a batch of four with one image failing at Pixazo (three charged, one refunded, one message), Use on each
image (no new call, no charge), Reroll all, Cancel of a batch, the aspect ratio per model, and a restart
between the batch and the presses."""

from __future__ import annotations

import asyncio
import io

import pytest
from PIL import Image, ImageChops

from bot.domain import JobState
from tests.conftest import GUILD_ID, embed_fields, eventually, is_ephemeral, make_settings, started_bot
from tests.fakes.pixazo import Behaviour
from tests.ledger import open_view, read_jobs, until

USER = 4001
PROMPT = "a lighthouse at dusk"


@pytest.fixture
def ledger_settings(backend) -> dict:
    return backend.settings


@pytest.fixture
def bot_settings() -> dict:
    return {"quota_default_daily_credits": 40, "pixazo_max_concurrency": 4}


@pytest.fixture
def slow_pixazo(bot_settings) -> None:
    bot_settings["pixazo_timeout_seconds"] = 30.0


@pytest.fixture
def one_at_a_time(bot_settings) -> None:
    bot_settings["pixazo_max_concurrency"] = 1


def buttons(message: dict) -> dict[str, str]:
    return {item["label"]: item["custom_id"] for row in message.get("components") or []
            for item in row.get("components") or []}


async def settled(harness, user: int, count: int) -> list:
    async def ended() -> bool:
        rows = await read_jobs(harness.settings, GUILD_ID, user)
        return len(rows) >= count and all(r["state"] in (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED)
                                          for r in rows)
    await until(ended, timeout=15)
    return await read_jobs(harness.settings, GUILD_ID, user)


async def imagine(harness, user: int = USER, **options) -> tuple[object, list]:
    interaction = await harness.invoke("imagine", {"prompt": PROMPT, **options}, user_id=user)
    callback = await interaction.wait_callback()
    assert callback["type"] == 5, callback
    return interaction, await settled(harness, user, options.get("count", 1))


async def test_a_batch_of_four_with_one_failing_is_one_message_three_charged_and_each_usable(harness):
    harness.pixazo.push(Behaviour.OK, Behaviour.OK, Behaviour.BAD_REQUEST, Behaviour.OK)
    interaction, rows = await imagine(harness, count=4, seed=100)
    assert len(harness.pixazo.requests) == 4, "one Pixazo call per image"
    assert sorted(r["params"]["seed"] for r in rows) == [100, 101, 102, 103], "seeds follow the one given"
    assert len({r["batch_id"] for r in rows}) == 1
    states = [r["state"] for r in rows]
    assert states.count(JobState.SUCCEEDED) == 3 and states.count(JobState.FAILED) == 1
    async with open_view(harness.settings) as store:
        from bot.storage import Member
        snap = await store.snapshot(Member(GUILD_ID, USER), default_allowance=40)
    assert snap.used == 6, "three images charged at 2 credits, the failed one refunded"

    await eventually(lambda: len((interaction.original or {}).get("attachments") or []) == 3, timeout=5)
    message = interaction.original
    assert not is_ephemeral(message)
    fields = embed_fields(message)
    made = [r for r in rows if r["state"] is JobState.SUCCEEDED]
    failed = next(r for r in rows if r["state"] is JobState.FAILED)
    for place, row in enumerate(rows, 1):
        if row["state"] is JobState.SUCCEEDED:
            assert fields[f"Image {place}"] == f"seed {row['params']['seed']}"
        else:
            assert "refunded" in fields[f"Image {place}"]
    labels = buttons(message)
    assert set(labels) == {*(f"Use {rows.index(r) + 1}" for r in made), "Reroll all"}
    assert f"Use {rows.index(failed) + 1}" not in labels
    told = [f for f in interaction.followups if is_ephemeral(f)]
    assert any(f"Image {rows.index(failed) + 1} of 4" in f["content"] for f in told), "the member hears why"

    # Use each: that image alone as a normal result, the very bytes on the batch message, at no cost.
    files = {a["filename"]: a for a in message["attachments"]}
    for row in made:
        place = rows.index(row) + 1
        press = await harness.discord.click(message, labels[f"Use {place}"], user_id=USER)
        await press.wait_callback()
        result = await press.wait_followup()
        assert not is_ephemeral(result)
        assert {"Reroll", "Edit", "Details", "Delete"} <= set(buttons(result)), "the usual buttons"
        assert embed_fields(result)["Seed"] == str(row["params"]["seed"])
        ((_, _, data),) = result["_files"]
        original = next(a for name, a in files.items() if name.startswith(f"{place}-{row['id']}."))
        assert data == harness.discord.cdn_file(original["url"]).data, "the image on the batch message, as is"
    assert len(harness.pixazo.requests) == 4, "Use made no new Pixazo call"
    async with open_view(harness.settings) as store:
        assert (await store.snapshot(Member(GUILD_ID, USER), default_allowance=40)).used == 6, "nor charged"

    stranger = await harness.discord.click(message, labels["Use 1" if rows[0] in made else "Use 2"], user_id=4999)
    refusal = await stranger.wait_callback()
    assert is_ephemeral(refusal["data"]) and "Only the member who asked" in refusal["data"]["content"]


async def test_a_batch_that_does_not_fit_is_refused_as_one_and_nothing_runs(tmp_path, fake_discord, fake_pixazo,
                                                                            ledger_settings):
    settings = make_settings(tmp_path, fake_discord, fake_pixazo, quota_default_daily_credits=7, **ledger_settings)
    async with started_bot(settings, fake_discord):
        interaction = await fake_discord.invoke("imagine", {"prompt": PROMPT, "count": 4}, user_id=USER)
        refused = await interaction.wait_followup()
        assert is_ephemeral(refused)
        assert refused["content"].startswith("4 images on /sdxl need 8 credits and you have 7 left today"), refused
        await asyncio.sleep(0.3)
        assert fake_pixazo.requests == [] and await read_jobs(settings, GUILD_ID, USER) == []


async def test_batch_buttons_work_after_a_restart(tmp_path, fake_discord, fake_pixazo, ledger_settings):
    settings = make_settings(tmp_path, fake_discord, fake_pixazo, quota_default_daily_credits=40, **ledger_settings)
    async with started_bot(settings, fake_discord):
        interaction = await fake_discord.invoke("imagine", {"prompt": PROMPT, "count": 2}, user_id=USER)
        await eventually(lambda: len((interaction.original or {}).get("attachments") or []) == 2, timeout=10)
        message = interaction.original
    labels = buttons(message)
    assert set(labels) == {"Use 1", "Use 2", "Reroll all"}
    before = fake_discord.identify_payload
    async with started_bot(settings, fake_discord):  # a new process answers the old message's buttons
        await eventually(lambda: fake_discord.identify_payload is not before)
        press = await fake_discord.click(message, labels["Use 2"], user_id=USER)
        result = await press.wait_followup()
        assert result["embeds"] and {"Reroll", "Details"} <= set(buttons(result))
        again = await fake_discord.click(message, labels["Reroll all"], user_id=USER)
        await again.wait_callback()
        await eventually(lambda: len((again.original or {}).get("attachments") or []) == 2, timeout=10)
        assert again.original["content"].startswith("Reroll of batch #")
    rows = await read_jobs(settings, GUILD_ID, USER)
    assert [r["state"] for r in rows] == [JobState.SUCCEEDED] * 4 and len({r["batch_id"] for r in rows}) == 2
    assert len(fake_pixazo.requests) == 4, "Use called nothing; Reroll all made two new images"


async def test_a_restart_mid_batch_delivers_the_rest_into_the_same_message(tmp_path, fake_discord, fake_pixazo,
                                                                             ledger_settings):
    settings = make_settings(tmp_path, fake_discord, fake_pixazo, quota_default_daily_credits=40,
                             pixazo_max_concurrency=1, **ledger_settings)
    async with started_bot(settings, fake_discord):
        fake_pixazo.push(Behaviour.OK)
        fake_pixazo.default = Behaviour.HANG
        interaction = await fake_discord.invoke("imagine", {"prompt": PROMPT, "count": 3}, user_id=USER)
        await eventually(lambda: len((interaction.original or {}).get("attachments") or []) == 1, timeout=10)
        await eventually(lambda: len(fake_pixazo.requests) == 2)
    fake_pixazo.default = Behaviour.OK
    async with started_bot(settings, fake_discord):
        await eventually(lambda: len((interaction.original or {}).get("attachments") or []) == 3, timeout=15)
    rows = await read_jobs(settings, GUILD_ID, USER)
    assert [r["state"] for r in rows] == [JobState.SUCCEEDED] * 3
    async with open_view(settings) as store:
        from bot.storage import Member
        assert (await store.snapshot(Member(GUILD_ID, USER), default_allowance=40)).used == 6, "charged once each"
    names = sorted(a["filename"] for a in interaction.original["attachments"])
    assert [n.split(".")[0] for n in names] == [f"{n}-{r['id']}" for n, r in enumerate(rows, 1)], "once each, in place"
    assert set(buttons(interaction.original)) == {"Use 1", "Use 2", "Use 3", "Reroll all"}


async def test_cancel_under_a_batch_refunds_every_image_not_made(slow_pixazo, harness):
    harness.pixazo.default = Behaviour.HANG
    interaction = await harness.invoke("imagine", {"prompt": PROMPT, "count": 3}, user_id=USER)
    await eventually(lambda: "Cancel" in buttons(interaction.original or {}), timeout=10)
    press = await harness.discord.click(interaction.original, buttons(interaction.original)["Cancel"], user_id=USER)
    answer = await press.wait_callback()
    assert answer["type"] == 7 and "no credits were spent" in answer["data"]["content"]
    rows = await settled(harness, USER, 3)
    assert [r["state"] for r in rows] == [JobState.CANCELLED] * 3
    async with open_view(harness.settings) as store:
        from bot.storage import Member
        assert (await store.snapshot(Member(GUILD_ID, USER), default_allowance=40)).used == 0


@pytest.mark.parametrize(("model", "ratio", "sent"), [
    ("sdxl", "16:9", {"width": 1368, "height": 768}),
    ("sdxl-lightning", "9:21", {"width": 672, "height": 1568}),
    ("sd3", "21:9", {"aspect_ratio": "21:9"}),
    ("sd35-large", "4:5", {"aspect_ratio": "4:5"}),
])
async def test_the_aspect_ratio_becomes_each_model_s_own_options(harness, model, ratio, sent):
    interaction, rows = await imagine(harness, model=model, aspect_ratio=ratio)
    (call,) = harness.pixazo.requests
    assert {k: call.json[k] for k in sent} == sent
    assert rows[0]["model"] == model and rows[0]["state"] is JobState.SUCCEEDED


async def test_imagine_defaults_to_sdxl(harness):
    await imagine(harness)
    (call,) = harness.pixazo.requests
    assert call.path == "/getImage/v1/getSDXLImage" and (call.json["width"], call.json["height"]) == (1024, 1024)


async def test_a_batch_waits_behind_other_members_first_jobs(one_at_a_time, harness):
    """At one image at a time, a batch of four asked first runs its first image, then the other member's
    first job, then the rest of the batch: a batch never jumps ahead of anyone's first job."""
    harness.pixazo.latency = 0.2
    await harness.invoke("imagine", {"prompt": "batch", "count": 4}, user_id=USER)
    await eventually(lambda: len(harness.pixazo.requests) >= 1)
    await harness.invoke("sdxl", {"prompt": "single"}, user_id=4002)
    await settled(harness, USER, 4)
    assert [c.json["prompt"] for c in harness.pixazo.requests][:3] == ["batch", "single", "batch"]


async def test_images_landing_after_the_token_died_are_posted_alone_in_the_channel(one_at_a_time, harness):
    harness.pixazo.latency = 0.3
    interaction = await harness.invoke("imagine", {"prompt": PROMPT, "count": 3}, user_id=USER)
    await eventually(lambda: len((interaction.original or {}).get("attachments") or []) == 1, timeout=10)
    interaction.expire()  # Discord's 15 minutes are up: the batch's message can no longer be edited
    rows = await settled(harness, USER, 3)
    assert [r["state"] for r in rows] == [JobState.SUCCEEDED] * 3, "nothing lost"
    alone = [m for m in harness.discord.messages.values()
             if m["id"] != interaction.original["id"] and m.get("embeds") and f"<@{USER}>" in (m.get("content") or "")]
    assert len(alone) == 2 and all({"Reroll", "Details"} <= set(buttons(m)) for m in alone)
    assert len(interaction.original["attachments"]) == 1


async def test_a_batch_asked_in_german_is_worded_in_german_its_use_too(harness):
    """/imagine count:2 from a German client: the batch's message (its embed and its buttons), then Use
    (the image alone, its note and its buttons) and /help's word on batches, all in German."""
    interaction = await harness.invoke("imagine", {"prompt": PROMPT, "count": 2, "seed": 100}, user_id=USER,
                                       locale="de")
    assert (await interaction.wait_callback())["type"] == 5
    rows = await settled(harness, USER, 2)
    await eventually(lambda: len((interaction.original or {}).get("attachments") or []) == 2, timeout=5)
    message = interaction.original
    (embed,) = message["embeds"]
    assert embed["title"].endswith("· 2 Bilder") and embed["author"]["name"].startswith("Angefragt von")
    assert embed_fields(message) == {"Bild 1": "Seed 100", "Bild 2": "Seed 101"}
    assert f"Serie #{rows[0]['id']}" in embed["footer"]["text"] and "kostenlos" in embed["footer"]["text"]
    labels = buttons(message)
    assert set(labels) == {"1 verwenden", "2 verwenden", "Alle neu würfeln"}

    press = await harness.discord.click(message, labels["2 verwenden"], user_id=USER, locale="de")
    await press.wait_callback()
    result = await press.wait_followup()
    assert result["content"] == f"Bild 2 der Serie #{rows[0]['id']}"
    # the image alone is a result like any other: its edits too, in German
    assert set(buttons(result)) == {"Reroll", "Bearbeiten", "Details", "Löschen", "Melden", "Herauszoomen 1,5×",
                                    "Herauszoomen 2×", "Bereich variieren", "Schwenken ←", "Schwenken →",
                                    "Schwenken ↑", "Schwenken ↓"}
    assert embed_fields(result)["Seed"] == "101"

    stranger = await harness.discord.click(message, labels["1 verwenden"], user_id=4999, locale="de")
    refusal = (await stranger.wait_callback())["data"]
    assert is_ephemeral(refusal) and refusal["content"].startswith("Nur das Mitglied, das diese Bilder angefragt hat")

    helped = await harness.invoke("help", {}, user_id=USER, locale="de")
    fields = embed_fields((await helped.wait_callback())["data"])
    assert "„Alle neu würfeln“" in fields["Mehrere auf einmal, eins auswählen"]


async def test_zoom_out_on_a_batch_images_use_paints_that_image(harness):
    """Use on a batch's second image, then Zoom Out 2× on the result it posted: the form with the batch's
    prompt, the canvas of that image at the middle of a mask white all around it, a new public result
    with the edits of its own, and the zoom charged as an inpainting."""
    from tests.e2e.test_edits_e2e import INPAINT_PATH, grey, open_form, submitted, white_exactly_in

    harness.discord.signed_urls = True  # Discord's own links: signed, expiring, ephemeral uploads
    interaction, rows = await imagine(harness, count=2, seed=100)
    await eventually(lambda: len((interaction.original or {}).get("attachments") or []) == 2, timeout=5)
    press = await harness.discord.click(interaction.original, buttons(interaction.original)["Use 2"], user_id=USER)
    await press.wait_callback()
    used = harness.discord.messages[(await press.wait_followup())["id"]]
    assert embed_fields(used)["Seed"] == "101"

    opened = await open_form(harness, used, "Zoom Out 2×", user_id=USER)
    assert harness.discord.modal_values(opened) == {"Prompt": PROMPT}, "the batch's prompt, prefilled"
    _, hosted, posted = await submitted(harness, opened)
    assert is_ephemeral(hosted) and [a["filename"] for a in hosted["attachments"]] == ["canvas.jpg", "mask.png"]
    assert not is_ephemeral(posted) and buttons(posted)["Zoom Out 2×"].startswith("result:zoom-2:")

    call = harness.pixazo.requests[-1]
    assert call.path == INPAINT_PATH and call.json["prompt"] == PROMPT
    image, mask = call.inputs["imageUrl"], call.inputs["maskUrl"]
    width, height = image.size
    keep = (width // 4, height // 4, width - width // 4, height - height // 4)
    assert mask.size == image.size and white_exactly_in(grey(mask.data), keep)
    (second,) = [c for c in harness.pixazo.requests[:2] if c.json["seed"] == 101]
    source = Image.open(io.BytesIO(harness.pixazo.images[second.image_url])).convert("RGB")
    kept = Image.open(io.BytesIO(image.data)).convert("RGB").crop(keep).resize(source.size)
    assert max(high for _, high in ImageChops.difference(kept, source).getextrema()) < 24, "image 2, kept"

    *_, edit = await settled(harness, USER, 3)
    assert (edit["model"], edit["state"], edit["cost"]) == ("inpaint", "succeeded", 2)


async def test_images_of_a_batch_finishing_together_all_stay_on_its_message(harness):
    """Four workers finish a batch of four at once while reading its message is slow: each edit holds the
    batch (here and in the ledger), so each reads the message with the others' files and keeps them."""
    harness.discord.slow("GET", r"/webhooks/.*/messages/@original$", 0.3)
    interaction, rows = await imagine(harness, count=4)
    assert [r["state"] for r in rows] == [JobState.SUCCEEDED] * 4
    await eventually(lambda: len((interaction.original or {}).get("attachments") or []) == 4, timeout=10)
    names = sorted(a["filename"].split(".")[0] for a in interaction.original["attachments"])
    assert names == [f"{place}-{row['id']}" for place, row in enumerate(rows, 1)]
    assert {f"Use {n}" for n in range(1, 5)} <= set(buttons(interaction.original))
    async with open_view(harness.settings) as store:
        from bot.storage import Member
        assert (await store.snapshot(Member(GUILD_ID, USER), default_allowance=40)).used == 8, "each charged once"
