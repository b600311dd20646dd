"""Hostile input through the real discord.py: what a client outside Discord's own can send.

Discord's client keeps to the synced schema; these interactions do not (validate=False, raw
option objects, a DM context), as a tester's modified client did.
"""

from __future__ import annotations

import math
import sqlite3

import pytest

from bot.ui.embeds import PROMPT_SHOWN_MAX
from tests.conftest import GUILD_ID, embed_fields, is_ephemeral
from tests.fakes.images import make_mask, make_png
from tests.ledger import columns, read_jobs

PROMPT = "a red fox in snow"


async def job_rows(harness) -> list[tuple]:
    return columns(await read_jobs(harness.settings, GUILD_ID, 4000, 4001), "guild_id", "state")


async def refused(harness, name: str, options: dict | None = None, **kwargs) -> str:
    """The ephemeral sentence the member reads; asserts nothing reached Pixazo or the ledger."""
    _, message = await harness.answer(name, options, **kwargs)
    assert is_ephemeral(message), message
    assert not message.get("embeds")
    assert harness.pixazo.requests == [], "a refused command never reaches Pixazo"
    assert await job_rows(harness) == [], "a refused command opens no job"
    assert "unexpected" not in message["content"].lower()
    return message["content"]


# -- item 7: prompts that draw nothing ---------------------------------------------------------------

@pytest.mark.parametrize("prompt", [
    "\u200b\u200c\u200d\u2060",  # zero-width space, non-joiner, joiner, word joiner
    "\u2800\u2800\u2800",  # braille blank
    "\x00\x00",  # NUL
    "\u202e\u2066\u2069\u200f",  # bidi override, isolates, right-to-left mark
    "\u3164 \u115f\u1160\uffa0",  # Hangul fillers
    "\ufeff \u00ad\u034f\t",  # BOM, soft hyphen, combining grapheme joiner, tab
])
async def test_a_prompt_of_invisible_characters_is_refused_like_an_empty_one(harness, prompt):
    assert (await refused(harness, "sdxl", {"prompt": prompt})).startswith("The prompt is empty.")


async def test_control_and_bidi_characters_are_removed_before_pixazo(harness):
    _, message = await harness.answer("sdxl", {"prompt": "a red\x00 fox\u202e in\x1b snow\n", "seed": 1})
    assert message["embeds"]
    (call,) = harness.pixazo.requests
    assert call.json["prompt"] == PROMPT


async def test_an_invisible_negative_prompt_is_left_out(harness):
    _, message = await harness.answer("sdxl", {"prompt": PROMPT, "negative_prompt": "\u200b\u2800"})
    assert message["embeds"] and "Negative prompt" not in embed_fields(message)
    (call,) = harness.pixazo.requests
    assert "negative_prompt" not in call.json


# -- item 7: numbers that are not numbers ------------------------------------------------------------

@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize(("model", "option"), [("sd3", "guidance"), ("sdxl", "guidance"), ("sdxl", "steps")])
async def test_nan_and_infinity_are_refused_naming_the_option(harness, model, option, value):
    text = await refused(harness, model, {"prompt": PROMPT, option: value}, validate=False)
    assert text.startswith(f"`{option}` must be a finite number")


async def test_a_number_option_sent_empty_is_refused(harness):
    # discord.py itself would turn an empty number option into NaN.
    text = await refused(harness, "sd3", {"prompt": PROMPT},
                         raw_options=[{"name": "guidance", "type": 10, "value": ""}], validate=False)
    assert text == "`guidance` must be a number."


@pytest.mark.parametrize(("model", "options", "expected"), [
    ("sdxl", {"negative_prompt": "blurry"}, "`prompt` is required."),
    ("sdxl", {"prompt": None}, "`prompt` is required."),
    ("sdxl", {"prompt": None, "steps": None}, "`prompt` is required."),
    ("inpaint", {"prompt": PROMPT}, "`image` is required."),
])
async def test_a_missing_required_option_is_named(harness, model, options, expected):
    assert await refused(harness, model, options, validate=False) == expected


async def test_a_missing_attachment_is_named(harness):
    attachments = {"image": {"filename": "dog.png", "content_type": "image/png", "data": make_png(64, 64)}}
    text = await refused(harness, "inpaint", {"prompt": PROMPT}, attachments=attachments, validate=False)
    assert text == "`mask` is required."


@pytest.mark.parametrize(("options", "raw", "expected"), [
    # A number option holding text: discord.py's float("abc") would end the command in silence.
    ({"prompt": PROMPT, "guidance": "abc"}, [], "`guidance` must be a number."),
    ({"prompt": PROMPT, "steps": "abc"}, [], "`steps` must be a whole number."),
    ({"prompt": PROMPT, "steps": True}, [], "`steps` must be a whole number."),
    ({"prompt": PROMPT, "steps": 7.5}, [], "`steps` must be a whole number (you gave 7.5)."),
    ({"prompt": PROMPT, "guidance": 10**400}, [], "`guidance` must be a number."),
    ({"prompt": PROMPT, "steps": 10**400}, [], "`steps` must be between 1 and 28 on /sd3 (you gave 100000000000…)."),
    ({"prompt": PROMPT, "aspect_ratio": 5}, [], "`aspect_ratio` must be text."),
    ({"prompt": PROMPT}, [{"name": "guidance", "type": 3, "value": "5"}], "`guidance` must be a number."),
    ({}, [{"name": "prompt", "type": 4, "value": 5}], "`prompt` must be text."),
    ({"prompt": PROMPT}, [{"name": "guidance", "type": 10, "value": None}], "`guidance` must be a number."),
])
async def test_a_value_of_the_wrong_type_names_the_option_and_the_type(harness, options, raw, expected):
    assert await refused(harness, "sd3", options, raw_options=raw, validate=False) == expected


async def test_an_attachment_that_is_not_in_the_interaction_is_refused(harness):
    text = await refused(harness, "inpaint", {"prompt": PROMPT},
                         raw_options=[{"name": "image", "type": 11, "value": "123"},
                                      {"name": "mask", "type": 11, "value": "not-a-snowflake"}], validate=False)
    assert text == "`image` must be an attachment."


async def test_an_option_value_outside_the_choices_is_quoted_as_code(harness):
    text = await refused(harness, "sd3", {"prompt": PROMPT, "aspect_ratio": "`[Nitro](https://e.example)"},
                         validate=False)
    assert text.endswith("(you gave `ˋ[Nitro](https://e.example)`).")


# -- item 7: server-only commands outside a server ---------------------------------------------------

@pytest.mark.parametrize(("name", "options", "subcommand"), [
    ("quotas", {"member": 4001, "extra_credits": 5}, "grant"),
    ("config", {}, "show"),
])
async def test_a_server_only_command_in_a_dm_is_refused_before_anything_is_charged(harness, name, options,
                                                                                  subcommand):
    interaction = await harness.invoke(name, options, guild_id=None, subcommand=subcommand, validate=False)
    assert interaction.payload["context"] == 1 and "guild_id" not in interaction.payload
    callback = await interaction.wait_callback()
    assert callback["type"] == 4 and callback["data"]["flags"] & 64
    assert callback["data"]["content"] == "This command works only in a server."
    assert harness.pixazo.requests == []
    # The whole file, whatever guild a stray row would carry (none, from a DM): more than the store's
    # per-server reads can show, so this one looks at SQLite itself.
    with sqlite3.connect(harness.settings.database_path) as db:
        for table in ("jobs", "grants", "admin_actions"):
            assert db.execute(f"SELECT COUNT(*) FROM {table}").fetchone() == (0,), table


# -- item 9: member markdown in the bot's public embed -----------------------------------------------

@pytest.mark.parametrize("prompt", [
    "[Claim your Nitro](https://discord.gift.example/free)",
    "# ADMIN NOTICE: your account is suspended",
    "-# small print > quote\n1. list",
    "``` closing the block early ``` # heading",
    "trailing backtick `",
])
async def test_prompts_are_shown_as_code_so_they_render_literally(harness, prompt):
    _, message = await harness.answer("sdxl", {"prompt": prompt, "negative_prompt": prompt}, validate=False)
    (embed,) = message["embeds"]
    for shown in (embed["description"], embed_fields(message)["Negative prompt"]):
        assert shown.startswith("```\n") and shown.endswith("\n```")
        inner = shown[4:-4]
        assert "```" not in inner and not inner.endswith("`"), "the block cannot be closed early"
        assert inner.replace("\u200b", "") == harness.pixazo.requests[-1].json["prompt"]
    assert message["_payload"]["allowed_mentions"] == {"parse": []}


async def test_a_filename_in_a_refusal_is_quoted_as_code(harness):
    attachments = {
        "image": {"filename": "[Nitro](https://e.example)`x.gif", "content_type": "[gif](https://e.example)",
                  "data": make_png(64, 64)},
        "mask": {"filename": "mask.png", "content_type": "image/png", "data": make_mask(64, 64, "half")},
    }
    text = await refused(harness, "inpaint", {"prompt": PROMPT}, attachments=attachments)
    assert text == ("The image (`[Nitro](https://e.example)ˋx.gif`) is not a PNG, JPEG or WebP image "
                    "(Discord says it is `[gif](https://e.example)`).")


async def test_a_prompt_of_backticks_stays_one_block_within_the_shown_length(harness):
    _, message = await harness.answer("sdxl", {"prompt": "`" * 1500})
    shown = message["embeds"][0]["description"]
    assert len(shown) <= PROMPT_SHOWN_MAX
    assert shown.startswith("```\n") and shown.endswith("\n```") and "```" not in shown[4:-4]
