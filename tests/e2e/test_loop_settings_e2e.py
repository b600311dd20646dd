"""A member's defaults (/settings) and a server's styles (/config styles), end to end through the real
discord.py against the fakes, on both backends: defaults applied where an option is left out and named
in Details; results shown to the member alone where the server allows it; styles offered by
autocomplete, put around the prompt, and held to the prompt rules at add time and with every request."""

from __future__ import annotations

import pytest

from bot.domain import JobState
from tests.conftest import GUILD_ID, embed_fields, is_ephemeral
from tests.ledger import read_jobs, until

USER = 4001
ADMIN = (1 << 5) | (1 << 10) | (1 << 11)  # Manage Server, View Channel, Send Messages
PROMPT = "a lighthouse at dusk"


@pytest.fixture
def ledger_settings(backend) -> dict:
    return backend.settings


@pytest.fixture
def bot_settings() -> dict:
    return {"quota_default_daily_credits": 60}


async def config(harness, sub: str, options: dict | None = None) -> dict:
    interaction = await harness.invoke("config", options or {}, subcommand=sub, user_id=9000, username="mod",
                                       permissions=ADMIN)
    callback = await interaction.wait_callback()
    return callback["data"] if callback["type"] == 4 else await interaction.wait_followup()


async def settings(harness, sub: str, options: dict | None = None, user: int = USER) -> dict:
    interaction = await harness.invoke("settings", options or {}, subcommand=sub, user_id=user)
    callback = await interaction.wait_callback()
    assert callback["type"] == 4 and is_ephemeral(callback["data"]), callback
    return callback["data"]


async def finished(harness, count: int, user: int = USER) -> list:
    async def ended() -> bool:
        rows = await read_jobs(harness.settings, GUILD_ID, user)
        return len(rows) >= count and all(r["state"] is not JobState.QUEUED and r["state"] is not JobState.RUNNING
                                          for r in rows)
    await until(ended, timeout=15)
    return await read_jobs(harness.settings, GUILD_ID, user)


def buttons(message: dict) -> dict[str, str]:
    return {item["label"]: item["custom_id"] for row in message.get("components") or []
            for item in row.get("components") or []}


async def test_defaults_are_applied_where_an_option_is_left_out_and_shown_in_details(harness):
    saved = await settings(harness, "set", {"model": "sd3", "count": 2, "aspect_ratio": "16:9",
                                            "negative_prompt": "blurry"})
    fields = embed_fields(saved)
    assert fields["Model for /imagine"] == "/sd3" and fields["Count"] == "2" and fields["Aspect ratio"] == "16:9"
    interaction = await harness.invoke("imagine", {"prompt": PROMPT}, user_id=USER)
    assert (await interaction.wait_callback())["type"] == 5
    rows = await finished(harness, 2)
    assert [r["model"] for r in rows] == ["sd3", "sd3"]
    assert all(c.json["aspect_ratio"] == "16:9" and c.json["negativePrompt"] == "blurry"
               for c in harness.pixazo.requests)
    assert rows[0]["delivery"].from_defaults == ("model", "aspect_ratio", "count", "negative_prompt")

    # An option given wins over the default; the rest still come from /settings.
    _, single = await harness.answer("imagine", {"prompt": PROMPT, "model": "sdxl", "count": 1}, user_id=USER)
    call = harness.pixazo.requests[-1]
    assert call.path == "/getImage/v1/getSDXLImage" and (call.json["width"], call.json["height"]) == (1368, 768)
    assert call.json["negative_prompt"] == "blurry"
    details = await harness.discord.click(single, buttons(single)["Details"], user_id=USER)
    text = (await details.wait_callback())["data"]["embeds"][0]["description"]
    assert "from your /settings: aspect ratio, negative prompt" in text

    assert "Cleared 4 defaults." in (await settings(harness, "reset"))["content"]
    await harness.answer("imagine", {"prompt": PROMPT}, user_id=USER)
    assert harness.pixazo.requests[-1].path == "/getImage/v1/getSDXLImage", "back to the server's model"
    assert "negative_prompt" not in harness.pixazo.requests[-1].json


async def test_results_only_to_me_needs_the_server_s_allowance(harness):
    refused = await settings(harness, "set", {"only_me": "on"})
    assert "does not offer results shown only to you" in refused["content"]
    said = await config(harness, "imagine", {"private_results": "on", "model": "sdxl-lightning"})
    assert "Members may have their results shown to them alone" in said["content"]
    assert "/sdxl-lightning" in said["content"]
    await settings(harness, "set", {"only_me": "on"})
    interaction, result = await harness.answer("imagine", {"prompt": PROMPT}, user_id=USER)
    assert interaction.callbacks[0]["data"]["flags"] & 64, "even thinking… is the member's alone"
    assert is_ephemeral(result) and result["embeds"], "the result is the member's alone"
    assert harness.pixazo.requests[-1].path.startswith("/sdxl_lightning"), "the server's /imagine model"
    others = await harness.answer("imagine", {"prompt": PROMPT}, user_id=4002)
    assert not is_ephemeral(others[1]), "another member's results stay public"


async def test_styles_offered_by_autocomplete_and_put_around_the_prompt(harness):
    offered = await harness.discord.autocomplete("imagine", {"prompt": PROMPT}, "style", user_id=USER)
    assert {c["value"] for c in offered} == {"photo", "watercolor", "anime", "cinematic", "pixel-art"}
    said = await config(harness, "styles add", {"name": "Noir", "template": "{prompt}, film noir, high contrast"})
    assert "Style `noir` saved" in said["content"]
    await config(harness, "styles remove", {"name": "anime"})
    offered = await harness.discord.autocomplete("sdxl", {"prompt": PROMPT}, "style", user_id=USER)
    assert {c["value"] for c in offered} == {"photo", "watercolor", "noir", "cinematic", "pixel-art"}
    typed = await harness.discord.autocomplete("imagine", {"prompt": PROMPT, "style": "no"}, "style", user_id=USER)
    assert [c["value"] for c in typed] == ["noir"]

    _, result = await harness.answer("sdxl", {"prompt": PROMPT, "style": "noir"}, user_id=USER)
    assert harness.pixazo.requests[-1].json["prompt"] == f"{PROMPT}, film noir, high contrast"
    details = await harness.discord.click(result, buttons(result)["Details"], user_id=USER)
    assert "style: `noir`" in (await details.wait_callback())["data"]["embeds"][0]["description"]

    gone = await harness.invoke("imagine", {"prompt": PROMPT, "style": "anime"}, user_id=USER)
    answer = await gone.wait_callback()
    assert answer["type"] == 4 and "no style named `anime`" in answer["data"]["content"]
    listed = await config(harness, "styles list")
    assert "noir" in listed["embeds"][0]["description"] and "anime" not in listed["embeds"][0]["description"]


async def test_a_style_goes_through_the_prompt_rules(harness):
    no_placeholder = await config(harness, "styles add", {"name": "plain", "template": "film noir"})
    assert "needs `{prompt}`" in no_placeholder["content"]
    await config(harness, "words add", {"term": "castle"})
    blocked = await config(harness, "styles add", {"name": "castles", "template": "{prompt}, a castle"})
    assert "cannot be added" in blocked["content"] and "castle" in blocked["content"]
    await config(harness, "styles add", {"name": "towers", "template": "{prompt}, a tower"})
    await config(harness, "words add", {"term": "tower"})  # blocked after the style was added
    interaction = await harness.invoke("imagine", {"prompt": PROMPT, "style": "towers"}, user_id=USER)
    refusal = await interaction.wait_callback()
    assert refusal["type"] == 4 and is_ephemeral(refusal["data"])
    assert "`tower`" in refusal["data"]["content"] and "blocked" in refusal["data"]["content"]
    assert harness.pixazo.requests == [] and await read_jobs(harness.settings, GUILD_ID, USER) == []


async def test_at_most_25_styles(harness):
    for n in range(20):
        said = await config(harness, "styles add", {"name": f"s{n}", "template": "{prompt}, " + f"style {n}"})
        assert "saved" in said["content"], said
    full = await config(harness, "styles add", {"name": "one-more", "template": "{prompt}, more"})
    assert "already offers 25 styles" in full["content"]
    await config(harness, "styles remove", {"name": "photo"})
    assert "saved" in (await config(harness, "styles add", {"name": "one-more", "template": "{prompt}, more"}))["content"]


async def test_config_show_names_the_imagine_model_and_the_styles(harness):
    await config(harness, "styles add", {"name": "noir", "template": "{prompt}, film noir"})
    await config(harness, "imagine", {"model": "sd3"})
    fields = embed_fields(await config(harness, "show"))
    shown = fields["/imagine and styles (6)"]
    assert shown.startswith("model /sd3; results only to a member who asks: not offered. Styles: ")
    assert "noir" in shown and "watercolor" in shown


async def test_a_change_of_defaults_is_seen_by_the_very_next_command(harness):
    """The process keeps a member's defaults once read (a command costs no read for them); /settings set
    and reset drop what it kept, so the next command uses what the member just chose."""
    await harness.answer("imagine", {"prompt": PROMPT}, user_id=USER)  # the (empty) defaults are kept now
    await settings(harness, "set", {"model": "sd3"})
    await harness.answer("imagine", {"prompt": PROMPT}, user_id=USER)
    await settings(harness, "set", {"count": 2})
    await harness.answer("imagine", {"prompt": PROMPT}, user_id=USER)
    await settings(harness, "reset")
    await harness.answer("imagine", {"prompt": PROMPT}, user_id=USER)
    rows = sorted(await finished(harness, 5), key=lambda r: r["id"])
    assert [r["model"] for r in rows] == ["sdxl", "sd3", "sd3", "sd3", "sdxl"]


async def test_a_result_only_to_me_zooms_out_to_the_member_alone(harness):
    """The edits are on a result only the member sees (they can press them there): Zoom Out 2× sends the
    canvas and the new result to the member alone as well, with its own edits."""
    from tests.e2e.test_edits_e2e import INPAINT_PATH, open_form, submitted

    harness.discord.signed_urls = True  # Discord's own links: signed, expiring, ephemeral uploads
    await config(harness, "imagine", {"private_results": "on"})
    await settings(harness, "set", {"only_me": "on"})
    _, result = await harness.answer("sdxl", {"prompt": PROMPT}, user_id=USER)
    assert is_ephemeral(result) and buttons(result)["Zoom Out 2×"].startswith("result:zoom-2:")
    opened = await open_form(harness, harness.discord.messages[result["id"]], "Zoom Out 2×", user_id=USER)
    _, hosted, posted = await submitted(harness, opened)
    assert is_ephemeral(hosted) and [a["filename"] for a in hosted["attachments"]] == ["canvas.jpg", "mask.png"]
    assert is_ephemeral(posted) and posted["embeds"], "the zoomed result is the member's alone too"
    assert buttons(posted)["Zoom Out 2×"].startswith("result:zoom-2:")
    call = harness.pixazo.requests[-1]
    assert call.path == INPAINT_PATH and call.json["imageUrl"] == hosted["attachments"][0]["url"]
    *_, edit = await finished(harness, 2)
    assert (edit["model"], edit["state"], edit["cost"]) == ("inpaint", JobState.SUCCEEDED, 2)


async def test_a_reroll_of_a_result_only_to_me_is_the_members_alone_too(harness):
    """Reroll runs again for whoever pressed: on a result only the member sees, that is the member, and the
    new result follows their "only me" as the first did."""
    await config(harness, "imagine", {"private_results": "on"})
    await settings(harness, "set", {"only_me": "on"})
    _, result = await harness.answer("sdxl", {"prompt": PROMPT}, user_id=USER)
    assert is_ephemeral(result)
    click = await harness.discord.click(harness.discord.messages[result["id"]], buttons(result)["Reroll"],
                                        user_id=USER)
    assert is_ephemeral((await click.wait_callback()).get("data", {})), "even its 'thinking…' is the member's alone"
    posted = await click.wait_followup()
    assert is_ephemeral(posted) and posted["embeds"], "the reroll is the member's alone too"
