"""Zoom Out, Pan and Vary Region on a result, through the real discord.py against the fakes, on both
ledgers: the form, the canvas and mask the bot posts to the member (Discord's CDN hosts them, with signed
links), and what the fake Pixazo fetched from those links, pixel by pixel."""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageChops

from tests.conftest import GUILD_ID, embed_fields, eventually, is_ephemeral, make_settings, started_bot
from tests.e2e.test_results_e2e import button_ids
from tests.fakes.discord import FakeInteraction
from tests.fakes.images import make_mask, make_png
from tests.ledger import read_jobs, until

PROMPT = "a lighthouse at dusk"
INPAINT_PATH = "/inpainting/v1/getImage"


@pytest.fixture
def ledger_settings(backend) -> dict:
    return backend.settings


async def make_result(harness, width: int = 512, height: int = 384, user_id: int = 4000) -> dict:
    harness.discord.signed_urls = True  # Discord's own links: signed, expiring, ephemeral uploads
    _, message = await harness.answer("sdxl", {"prompt": PROMPT, "width": width, "height": height}, user_id=user_id)
    assert message["embeds"], message
    return harness.discord.messages[message["id"]]


async def open_form(harness, message: dict, label: str, user_id: int = 4000) -> FakeInteraction:
    clicked = await harness.discord.click(message, button_ids(message)[label], user_id=user_id)
    callback = await clicked.wait_callback()
    assert callback["type"] == 9, callback
    return clicked


async def submitted(harness, opened: FakeInteraction, values: dict | None = None, files: dict | None = None,
                    ) -> tuple[FakeInteraction, dict, dict]:
    """The form sent; (the submission, the private message with the canvas and mask, the result)."""
    assert (await opened.wait_callback())["type"] == 9, "the form was opened"
    sent = await harness.discord.submit_modal(opened, values or {}, files=files)
    hosted = await sent.wait_followup()
    await harness.discord.wait_for(lambda: len(sent.followups) >= 2, timeout=10)
    return sent, hosted, sent.followups[1]


async def settled(harness, count: int) -> list[dict]:
    """The member's jobs once all `count` are settled (a success lands just after Discord took the post)."""
    async def done() -> bool:
        rows = await read_jobs(harness.settings, GUILD_ID, 4000)
        return len(rows) == count and all(r["state"] not in ("queued", "running") for r in rows)

    await until(done)
    return await read_jobs(harness.settings, GUILD_ID, 4000)


def grey(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data)).convert("L")


def white_exactly_in(mask: Image.Image, keep: tuple[int, int, int, int]) -> bool:
    """Black inside `keep`, white everywhere else."""
    expected = Image.new("L", mask.size, 255)
    expected.paste(0, keep)
    return ImageChops.difference(mask, expected).getbbox() is None


# The fake Pixazo makes a 512×384 request at 1/16: a 32×24 result. The inpainting model takes sides of 256 to
# 2048 in multiples of 8, so its canvas is scaled up to fit: 344×256 for a Zoom Out (the picture's own shape),
# 48×24 -> 512×256 for a Pan sideways, 32×36 -> 256×288 for a Pan up or down.
ZOOMS = [("Zoom Out 2×", (344, 256), (86, 64, 258, 192)), ("Zoom Out 1.5×", (344, 256), (57, 42, 286, 213))]
PANS = [("Pan →", (512, 256), (0, 0, 341, 256)), ("Pan ←", (512, 256), (171, 0, 512, 256)),
        ("Pan ↓", (256, 288), (0, 0, 256, 192)), ("Pan ↑", (256, 288), (0, 96, 256, 288))]


@pytest.mark.parametrize(("label", "size", "keep"), ZOOMS + PANS, ids=[c[0] for c in ZOOMS + PANS])
async def test_zoom_and_pan_send_the_canvas_and_a_mask_white_exactly_where_new(harness, label, size, keep):
    result = await make_result(harness)
    opened = await open_form(harness, result, label)
    assert harness.discord.modal_values(opened) == {"Prompt": PROMPT}, "the prompt, prefilled"
    sent, hosted, posted = await submitted(harness, opened, {"Prompt": PROMPT + ", wide shot"})
    assert is_ephemeral(hosted) and [a["filename"] for a in hosted["attachments"]] == ["canvas.jpg", "mask.png"]
    assert not is_ephemeral(posted) and posted["embeds"], "the result is public, a new message"
    assert button_ids(posted)["Zoom Out 2×"].startswith("result:zoom-2:"), "the result carries the buttons too"

    _, call = harness.pixazo.requests
    assert call.path == INPAINT_PATH
    image, mask = call.inputs["imageUrl"], call.inputs["maskUrl"]
    assert (call.json["imageUrl"], call.json["maskUrl"]) == tuple(a["url"] for a in hosted["attachments"])
    assert "/ephemeral-attachments/" in image.url and "&hm=" in mask.url
    assert call.json["prompt"] == PROMPT + ", wide shot"
    assert (call.json["width"], call.json["height"]) == size == image.size == mask.size
    assert (image.status, mask.status, mask.mode) == (200, 200, "L")
    assert white_exactly_in(grey(mask.data), keep)
    source = Image.open(io.BytesIO(harness.pixazo.images[harness.pixazo.requests[0].image_url])).convert("RGB")
    kept = Image.open(io.BytesIO(image.data)).convert("RGB").crop(keep).resize(source.size)
    assert max(high for _, high in ImageChops.difference(kept, source).getextrema()) < 24, "the picture, kept"

    first, second = await settled(harness, 2)
    assert (second["model"], second["state"], second["cost"]) == ("inpaint", "succeeded", 2)
    assert embed_fields(posted)["Cost"].startswith("2 credits")
    assert second["inputs"]["image"]["width"] == size[0] and second["inputs"]["mask"]["format"] == "png"
    assert (image.format, mask.format) == ("JPEG", "PNG")


async def test_vary_region_with_a_preset(harness):
    result = await make_result(harness)
    opened = await open_form(harness, result, "Vary Region")
    assert harness.discord.modal_values(opened) == {"Prompt": PROMPT, "Region to repaint": ["centre"],
                                                     "Your mask (optional)": []}
    _, _, posted = await submitted(harness, opened, {"Region to repaint": ["left"]})
    assert posted["embeds"]
    _, call = harness.pixazo.requests
    mask = call.inputs["maskUrl"]
    assert mask.size == call.inputs["imageUrl"].size == (344, 256)
    assert white_exactly_in(grey(mask.data), (172, 0, 344, 256)), "the left half white, the rest black"


async def test_vary_region_with_an_uploaded_mask_scaled_to_the_picture(harness):
    result = await make_result(harness)
    opened = await open_form(harness, result, "Vary Region")
    drawn = make_mask(64, 48, "half")  # left half white, not the picture's size but its shape
    _, _, posted = await submitted(harness, opened, files={"Your mask (optional)": [("mine.png", drawn)]})
    assert posted["embeds"]
    _, call = harness.pixazo.requests
    mask = grey(call.inputs["maskUrl"].data)
    assert mask.size == (344, 256)
    assert mask.getpixel((10, 10)) == 255 and mask.getpixel((330, 250)) == 0


async def test_an_uploaded_mask_of_another_shape_is_refused_for_free(harness):
    result = await make_result(harness)
    opened = await open_form(harness, result, "Vary Region")
    sent = await harness.discord.submit_modal(opened, {}, files={"Your mask (optional)": [
        ("mine.png", make_mask(300, 300, "half"))]})
    answer = await sent.wait_followup()
    assert is_ephemeral(answer) and "same shape" in answer["content"]
    assert len(harness.pixazo.requests) == 1
    assert len(await read_jobs(harness.settings, GUILD_ID, 4000)) == 1, "nothing reserved"


async def test_a_png_uploaded_as_the_picture_of_a_menu(harness):
    harness.discord.signed_urls = True
    posted = await harness.discord.member_message(content="my dog", files=[("dog.png", make_png(640, 480))],
                                                  user_id=4100, username="bob")
    opened = await harness.discord.invoke_message_command("Zoom out this", posted)
    assert (await opened.wait_callback())["type"] == 9
    sent, hosted, result = await submitted(harness, opened, {"Prompt": "a dog on a beach", "How far": ["2"]})
    assert result["embeds"] and is_ephemeral(hosted)
    (call,) = harness.pixazo.requests
    assert call.inputs["imageUrl"].size == (640, 480)
    assert white_exactly_in(grey(call.inputs["maskUrl"].data), (160, 120, 480, 360))


# -- the message menus -----------------------------------------------------------------------------------

async def member_picture(harness, name: str = "dog.png", data: bytes | None = None, **kwargs) -> dict:
    harness.discord.signed_urls = True
    return await harness.discord.member_message(content="my dog", files=[(name, data or make_png(640, 480), *(
        [kwargs.pop("content_type")] if "content_type" in kwargs else []))], user_id=4100, username="bob")


async def test_inpaint_this_on_a_members_upload_with_a_preset_region(harness):
    posted = await member_picture(harness)
    opened = await harness.discord.invoke_message_command("Inpaint this…", posted)
    assert (await opened.wait_callback())["type"] == 9
    assert harness.discord.modal_values(opened)["Prompt"] in ("", None), "nothing to prefill on a member's upload"
    _, hosted, result = await submitted(harness, opened, {"Prompt": "a cat", "Region to repaint": ["top"]})
    assert result["embeds"] and result["content"] == "Vary region (top half)"
    (call,) = harness.pixazo.requests
    assert call.inputs["imageUrl"].size == (640, 480) and call.json["prompt"] == "a cat"
    assert white_exactly_in(grey(call.inputs["maskUrl"].data), (0, 240, 640, 480)), "the top half white"
    (job,) = await settled(harness, 1)
    assert job["inputs"]["source"]["filename"] == "dog.png", "charged to who used the menu"


async def test_inpaint_this_with_an_uploaded_mask(harness):
    posted = await member_picture(harness)
    opened = await harness.discord.invoke_message_command("Inpaint this…", posted)
    drawn = make_mask(640, 480, "half")
    _, _, result = await submitted(harness, opened, {"Prompt": "a cat"}, files={"Your mask (optional)": [
        ("mine.png", drawn)]})
    assert result["content"] == "Vary region (your mask)"
    (call,) = harness.pixazo.requests
    assert white_exactly_in(grey(call.inputs["maskUrl"].data), (320, 0, 640, 480)), "the member's mask as drawn"


async def test_your_own_mask_chosen_but_none_uploaded_is_refused(harness):
    posted = await member_picture(harness)
    opened = await harness.discord.invoke_message_command("Inpaint this…", posted)
    await opened.wait_callback()
    sent = await harness.discord.submit_modal(opened, {"Prompt": "a cat", "Region to repaint": ["upload"]})
    answer = (await sent.wait_callback())["data"]
    assert is_ephemeral(answer) and "uploaded none" in answer["content"]
    assert harness.pixazo.requests == [] and await read_jobs(harness.settings, GUILD_ID, 4000) == []


async def test_zoom_out_this_on_the_bots_own_result_prefills_its_prompt(harness):
    result = await make_result(harness)
    opened = await harness.discord.invoke_message_command("Zoom out this", result, user_id=4200)
    assert (await opened.wait_callback())["type"] == 9
    assert harness.discord.modal_values(opened) == {"Prompt": PROMPT, "How far": ["2"]}
    _, _, posted = await submitted(harness, opened, {"How far": ["1.5"]})
    assert posted["content"] == "Zoom out 1.5×"
    call = harness.pixazo.requests[1]
    assert call.json["prompt"] == PROMPT and white_exactly_in(grey(call.inputs["maskUrl"].data), (57, 42, 286, 213))


@pytest.mark.parametrize("menu", ["Inpaint this…", "Zoom out this"])
async def test_a_message_without_a_picture_gets_a_clear_answer(harness, menu):
    posted = await harness.discord.member_message(content="just words", user_id=4100)
    answer = (await (await harness.discord.invoke_message_command(menu, posted)).wait_callback())
    assert answer["type"] == 4 and is_ephemeral(answer["data"])
    assert answer["data"]["content"].startswith("That message has no picture the bot can work on")


async def test_a_picture_inpainting_cannot_take_is_refused_before_the_form(harness):
    gif = b"GIF89a" + b"\0" * 100
    posted = await member_picture(harness, "funny.gif", gif, content_type="image/gif")
    answer = await (await harness.discord.invoke_message_command("Zoom out this", posted)).wait_callback()
    assert answer["type"] == 4 and "is not a PNG, JPEG or WebP image" in answer["data"]["content"]


async def test_a_picture_whose_contents_lie_is_refused_before_anything_is_spent(harness):
    posted = await member_picture(harness, "dog.jpg", make_png(640, 480), content_type="image/jpeg")
    opened = await harness.discord.invoke_message_command("Zoom out this", posted)
    await opened.wait_callback()
    sent = await harness.discord.submit_modal(opened, {"Prompt": "a dog"})
    answer = await sent.wait_followup()
    assert is_ephemeral(answer) and "says it is JPEG but its contents are PNG" in answer["content"]
    assert harness.pixazo.requests == [] and await read_jobs(harness.settings, GUILD_ID, 4000) == []


async def test_a_menus_form_is_its_members_own(harness):
    posted = await member_picture(harness)
    custom_id = f"menu:zoom:4000:{posted['channel_id']}:{posted['id']}"
    sent = await harness.discord.submit_form(custom_id, {"prompt": "mine now"}, labels=True, user_id=4999)
    answer = (await sent.wait_callback())["data"]
    assert is_ephemeral(answer) and answer["content"] == "Only the member who opened this form can send it."
    assert harness.pixazo.requests == []


@pytest.mark.parametrize(("op", "values", "said"), [
    ("zoom", {"prompt": "x", "factor": ["9"]}, "Choose one of the zooms the form offers."),
    ("inpaint", {"prompt": "x", "region": ["north"]}, "Choose one of the regions the form offers."),
])
async def test_a_made_up_choice_is_refused_for_free(harness, op, values, said):
    posted = await member_picture(harness)
    sent = await harness.discord.submit_form(f"menu:{op}:4000:{posted['channel_id']}:{posted['id']}", values)
    answer = (await sent.wait_callback())["data"]
    assert is_ephemeral(answer) and answer["content"] == said
    assert harness.pixazo.requests == [] and await read_jobs(harness.settings, GUILD_ID, 4000) == []


# -- a restart ---------------------------------------------------------------------------------------------

async def test_the_edit_buttons_and_forms_work_after_a_restart(tmp_path, fake_discord, fake_pixazo, ledger_settings):
    settings = make_settings(tmp_path, fake_discord, fake_pixazo, **ledger_settings)
    fake_discord.signed_urls = True
    async with started_bot(settings, fake_discord):
        _, message = await answer(fake_discord, "sdxl", {"prompt": PROMPT, "width": 512, "height": 384})
        result = fake_discord.messages[message["id"]]
        vary = await fake_discord.click(result, button_ids(result)["Vary Region"])
        assert (await vary.wait_callback())["type"] == 9, "a form open when the bot stops"
    before = fake_discord.identify_payload
    async with started_bot(settings, fake_discord):  # a new process, the same ledger
        await eventually(lambda: fake_discord.identify_payload is not before)
        pan = await fake_discord.click(result, button_ids(result)["Pan ←"])
        assert (await pan.wait_callback())["type"] == 9
        for opened in (vary, pan):
            sent = await fake_discord.submit_modal(opened, {})
            await fake_discord.wait_for(lambda s=sent: len(s.followups) >= 2, timeout=10)
            assert sent.followups[1]["embeds"], sent.followups[1]
    assert [r.json["width"] for r in fake_pixazo.requests[1:]] == [344, 512]


async def answer(fake, name: str, options: dict) -> tuple[FakeInteraction, dict]:
    interaction = await fake.invoke(name, options)
    return interaction, await interaction.wait_followup()


@pytest.mark.parametrize("a_day_later", [False, True])
async def test_reroll_of_an_edit_paints_the_same_canvas_again(harness, a_day_later):
    result = await make_result(harness)
    _, hosted, edited = await submitted(harness, await open_form(harness, result, "Zoom Out 2×"))
    if a_day_later:
        harness.discord.expire_attachments()  # the canvas and mask links the job kept are dead now
    reroll = await harness.discord.click(edited, button_ids(edited)["Reroll"])
    again = await reroll.wait_followup()
    assert again["embeds"] and again["content"].startswith("Reroll of job #")
    first, second = harness.pixazo.requests[1:]
    assert (second.json["imageUrl"] == first.json["imageUrl"]) is not a_day_later, "fresh links a day later"
    assert second.json["imageUrl"].split("?")[0] == first.json["imageUrl"].split("?")[0], "the same canvas"
    assert second.inputs["maskUrl"].data == first.inputs["maskUrl"].data
    assert [j["state"] for j in await settled(harness, 3)] == ["succeeded"] * 3


async def test_a_pan_past_the_models_largest_side_is_scaled_to_fit(harness):
    harness.pixazo.result_override = (make_png(2048, 1536), "png")  # a result as large as SDXL makes
    result = await make_result(harness)
    harness.pixazo.result_override = None
    _, _, posted = await submitted(harness, await open_form(harness, result, "Pan →"))
    assert posted["embeds"]
    call = harness.pixazo.requests[1]
    # 3072×1536 would pass the inpainting model's 2048: the whole canvas at two thirds, picture and new part alike
    assert (call.json["width"], call.json["height"]) == (2048, 1024) == call.inputs["imageUrl"].size
    assert white_exactly_in(grey(call.inputs["maskUrl"].data), (0, 0, 1365, 1024))


@pytest.mark.parametrize("bot_settings", [{"pixazo_max_concurrency": 1, "progress_interval_seconds": 0.3}])
async def test_an_edit_asked_in_german_is_worded_in_german_from_the_form_to_the_result(harness):
    """Zoom Out 2× from a German client: the form, the private message hosting the canvas and mask, the
    line above the result, and the hosting message once the result is posted (it waited, so it showed
    its notice); then Vary Region's form, its choices, and its refusal of a missing mask."""
    harness.discord.signed_urls = True
    _, made = await harness.answer("sdxl", {"prompt": PROMPT, "width": 512, "height": 384}, locale="de")
    result = harness.discord.messages[made["id"]]
    job = result["embeds"][0]["footer"]["text"].rsplit("#", 1)[1]
    clicked = await harness.discord.click(result, button_ids(result)["Herauszoomen 2×"], locale="de")
    form = (await clicked.wait_callback())["data"]
    assert form["title"] == "Herauszoomen 2×", form
    assert harness.discord.modal_values(clicked) == {"Prompt": PROMPT}
    harness.pixazo.latency = 1.0  # another member's picture holds the only slot: the edit waits
    await harness.invoke("sdxl", {"prompt": "a busy day"}, user_id=4001)
    await eventually(lambda: len(harness.pixazo.requests) == 2)
    harness.pixazo.latency = 0.0
    sent, hosted, posted = await submitted(harness, clicked)
    assert hosted["content"] == (f"Herauszoomen 2× von Auftrag #{job}: Diese Leinwand geht an den Maler, und das "
                                 "Weiße der Maske wird neu gemalt. Das Bild folgt hier."), hosted["content"]
    assert posted["content"] == f"Herauszoomen 2× von Auftrag #{job}", "the note above the result"
    await harness.discord.wait_for(lambda: "fertig" in (sent.original["content"] or ""), timeout=10)
    assert sent.original["content"] == f"Herauszoomen 2× von Auftrag #{job}: fertig, unten gepostet."

    vary = await harness.discord.click(result, button_ids(result)["Bereich variieren"], locale="de")
    form = (await vary.wait_callback())["data"]
    assert form["title"] == "Einen Bereich neu malen"
    assert harness.discord.modal_values(vary) == {"Prompt": PROMPT, "Neu zu malender Bereich": ["centre"],
                                                   "Deine Maske (optional)": []}
    labels = [o["label"] for row in form["components"] for o in (row.get("component") or {}).get("options") or []]
    assert labels == ["Linke Hälfte", "Rechte Hälfte", "Obere Hälfte", "Untere Hälfte", "Mitte", "Rand",
                      "Meine eigene Maske (unten hochladen)"], labels
    refused = await harness.discord.submit_modal(vary, {"Neu zu malender Bereich": ["upload"]})
    answer = (await refused.wait_callback())["data"]
    assert is_ephemeral(answer) and answer["content"].startswith("Du hast deine eigene Maske gewählt"), answer


async def test_zoom_out_this_from_a_japanese_client_is_worded_in_japanese(harness):
    """The menu's form (title, labels, how far), the canvas's hosting message and the note above the result."""
    posted = await member_picture(harness)
    opened = await harness.discord.invoke_message_command("Zoom out this", posted, locale="ja")
    form = (await opened.wait_callback())["data"]
    assert form["title"] == "この画像をズームアウト"
    assert harness.discord.modal_values(opened) == {"プロンプト": "", "どれだけ": ["2"]}
    options = [o["label"] for row in form["components"] for o in (row.get("component") or {}).get("options") or []]
    assert options == ["ズームアウト 1.5×", "ズームアウト 2×"]
    sent, hosted, result = await submitted(harness, opened, {"プロンプト": "浜辺の犬", "どれだけ": ["1.5"]})
    assert hosted["content"].startswith("ズームアウト 1.5×：このキャンバスがペインターに渡され"), hosted["content"]
    assert result["content"] == "ズームアウト 1.5×" and result["embeds"]
