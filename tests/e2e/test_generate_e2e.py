"""Every model end to end: the real bot, the real discord.py, a fake Discord and a fake Pixazo.

The expected bodies and schema below are written out from the issue and the API document, not
derived from the catalog, so a wrong catalog entry fails here.
"""

from __future__ import annotations

import asyncio
import re

import pytest

from tests.conftest import CHANNEL_ID, GUILD_ID, PIXAZO_KEY, TOKEN, embed_fields, is_ephemeral
from tests.fakes.images import image_size
from tests.fakes.pixazo import Behaviour
from tests.ledger import columns, jobs, open_view, read_jobs, until

USER_ID = 4000  # the fake's default invoker

PROMPT = "a red fox in snow"
STRING, INTEGER, NUMBER = 3, 4, 10
RATIOS = ["1:1", "16:9", "21:9", "3:2", "2:3", "4:5", "5:4", "9:16", "9:21"]
SDXL_OPTIONS = {
    "prompt": (STRING, True, None, None, None),
    "negative_prompt": (STRING, False, None, None, None),
    "width": (INTEGER, False, 256, 2048, None),
    "height": (INTEGER, False, 256, 2048, None),
    "steps": (INTEGER, False, 1, 20, None),
    "guidance": (INTEGER, False, 0, 20, None),
    "seed": (INTEGER, False, 0, 2**32 - 1, None),
}
# Every model's command also takes `count` (one to four images at once) and `style` (the server's styles).
LOOP = {"count": (INTEGER, False, 1, 4, None), "style": (STRING, False, None, None, None)}
SDXL_OPTIONS.update(LOOP)
# name -> (type, required, min, max, choices)
EXPECTED_SCHEMA = {
    "sd3": {
        "prompt": (STRING, True, None, None, None),
        "negative_prompt": (STRING, False, None, None, None),
        "aspect_ratio": (STRING, False, None, None, RATIOS),
        "steps": (INTEGER, False, 1, 28, None),
        "guidance": (NUMBER, False, 0, 20, None),
        "output_format": (STRING, False, None, None, ["webp", "jpg", "png"]),
        "output_quality": (INTEGER, False, 0, 100, None),
        **LOOP,
    },
    "sd35-large": {
        "prompt": (STRING, True, None, None, None),
        "aspect_ratio": (STRING, False, None, None, RATIOS),
        "steps": (INTEGER, False, 20, 100, None),
        "guidance": (NUMBER, False, 1, 20, None),
        "output_format": (STRING, False, None, None, ["webp", "jpg", "png"]),
        "output_quality": (INTEGER, False, 1, 100, None),
        **LOOP,
    },
    "sdxl": SDXL_OPTIONS,
    "sdxl-lightning": SDXL_OPTIONS,
}


def synced_commands(harness) -> dict[str, dict]:
    return {c["name"]: c for c in harness.discord.synced[GUILD_ID]}


async def test_synced_schema_has_every_model_option_range_and_choice(harness):
    commands = synced_commands(harness)
    for name, options in EXPECTED_SCHEMA.items():
        assert name in commands, f"/{name} was not synced"
        got = {o["name"]: o for o in commands[name]["options"]}
        assert set(got) == set(options), f"/{name} options: {sorted(got)}"
        for option, (kind, required, low, high, choices) in options.items():
            o = got[option]
            assert o["type"] == kind, f"/{name} {option} type"
            assert bool(o.get("required")) is required, f"/{name} {option} required"
            assert o.get("min_value") == low and o.get("max_value") == high, f"/{name} {option} range"
            assert [c["value"] for c in o.get("choices", [])] == (choices or []), f"/{name} {option} choices"
            assert 1 <= len(o["description"]) <= 100
        prompt = got["prompt"]
        assert (prompt.get("min_length"), prompt.get("max_length")) == (1, 1500)
        # Members may add the bot to their own account and use it in DMs (personal credits pay there).
        assert (commands[name]["integration_types"], commands[name]["contexts"]) == ([0, 1], [0, 1, 2])
    for name in ("imagine", "settings"):  # the loop's: /settings keeps personal defaults where no server decides
        assert (commands[name]["integration_types"], commands[name]["contexts"]) == ([0, 1], [0, 1, 2]), name
    assert "negative prompts" in {o["name"]: o for o in commands["sd3"]["options"]}["negative_prompt"]["description"].lower()


async def test_sdxl_end_to_end(harness):
    interaction, message = await harness.answer(
        "sdxl", {"prompt": PROMPT, "negative_prompt": "blurry", "seed": 42, "width": 512, "height": 768})
    assert interaction.callbacks[0]["type"] == 5, "the bot must defer before anything slow"
    (call,) = harness.pixazo.requests
    assert call.path == "/getImage/v1/getSDXLImage"
    assert call.json == {"prompt": PROMPT, "negative_prompt": "blurry", "width": 512, "height": 768,
                         "num_steps": 20, "guidance_scale": 5, "seed": 42}
    assert call.headers["Ocp-Apim-Subscription-Key"] == PIXAZO_KEY
    assert call.headers["Cache-Control"] == "no-cache"
    assert call.headers["Content-Type"].startswith("application/json")
    assert not is_ephemeral(message)
    (embed,) = message["embeds"]
    assert embed["description"] == f"```\n{PROMPT}\n```"  # shown as code, so it renders literally
    assert embed["title"] == "Stable Diffusion XL Base 1.0"
    fields = embed_fields(message)
    assert fields["Seed"] == "42" and fields["Steps"] == "20" and fields["Guidance"] == "5"
    assert fields["Width"] == "512" and fields["Height"] == "768" and fields["Negative prompt"] == "```\nblurry\n```"
    assert fields["Cost"] == "2 credits · 18 left today"
    assert fields["Time"].endswith(" s")
    assert "alice" in embed["author"]["name"]
    ((filename, _, data),) = message["_files"]
    assert message["_payload"]["embeds"][0]["image"]["url"] == f"attachment://{filename}"
    assert embed["image"]["url"].endswith(f"/{filename}"), "Discord shows the attached file inside the embed"
    assert data == harness.pixazo.images[call.image_url], "the attachment must be the image Pixazo made"
    assert message["_payload"]["allowed_mentions"] == {"parse": []}


@pytest.mark.parametrize(("command", "path", "body"), [
    ("sd3", "/sd3/v1/getData",
     {"prompt": PROMPT, "aspect_ratio": "1:1", "steps": 28, "cfg": 3.5, "output_format": "webp",
      "output_quality": 90}),
    ("sd35-large", "/sd3-5/v1/r-sd-3-5-large",
     {"prompt": PROMPT, "aspect_ratio": "1:1", "steps": 40, "cfg": 4.5, "output_format": "webp",
      "output_quality": 90, "prompt_strength": 0.85}),
])
async def test_sd3_family_defaults(harness, command, path, body):
    interaction, message = await harness.answer(command, {"prompt": PROMPT})
    assert interaction.callbacks[0]["type"] == 5
    (call,) = harness.pixazo.requests
    assert (call.path, call.json) == (path, body)
    ((_, _, data),) = message["_files"]
    assert data == harness.pixazo.images[call.image_url]
    assert "Seed" not in embed_fields(message), "SD3 endpoints take no seed"


async def test_sd3_passes_every_option(harness):
    await harness.answer("sd3", {"prompt": PROMPT, "negative_prompt": "dark", "aspect_ratio": "16:9", "steps": 10,
                                 "guidance": 7.5, "output_format": "png", "output_quality": 70})
    (call,) = harness.pixazo.requests
    assert call.json == {"prompt": PROMPT, "negativePrompt": "dark", "aspect_ratio": "16:9", "steps": 10,
                         "cfg": 7.5, "output_format": "png", "output_quality": 70}


async def test_lightning_uses_its_own_field_names_and_picks_a_seed(harness):
    _, message = await harness.answer("sdxl-lightning", {"prompt": PROMPT, "negative_prompt": "text", "guidance": 2})
    (call,) = harness.pixazo.requests
    assert call.path == "/sdxl_lightning/getImage/v1/getSDXLImage"
    seed = call.json.pop("seed")
    assert isinstance(seed, int) and 0 <= seed < 2**32
    assert call.json == {"prompt": PROMPT, "negativePrompt": "text", "width": 1024, "height": 1024,
                         "num_steps": 20, "guidance": 2}
    assert embed_fields(message)["Seed"] == str(seed), "the picked seed must be shown so the image can be remade"


@pytest.mark.parametrize("bot_settings", [{"pixazo_use_stream_endpoints": True}])
async def test_lightning_stream_endpoint_takes_raw_image_bytes(harness):
    _, message = await harness.answer("sdxl-lightning", {"prompt": PROMPT, "seed": 7})
    (call,) = harness.pixazo.requests
    assert call.path == "/sdxl_lightning/getImage/v1/getSDXLImageStream"
    assert harness.pixazo.image_fetches == [], "a raw answer needs no second fetch"
    ((_, _, data),) = message["_files"]
    assert data == harness.pixazo.images[call.image_url]


async def test_prompt_with_mentions_pings_nobody(harness):
    _, message = await harness.answer("sdxl", {"prompt": "@everyone <@&123> look"})
    assert message["_payload"]["allowed_mentions"] == {"parse": []}


async def test_long_prompt_is_truncated_in_the_embed_not_in_the_request(harness):
    prompt = "a very long prompt " * 78  # 1482 characters
    _, message = await harness.answer("sdxl", {"prompt": prompt})
    (call,) = harness.pixazo.requests
    assert call.json["prompt"] == prompt.strip()
    embed = message["embeds"][0]
    assert len(embed["description"]) <= 4096


@pytest.mark.parametrize("bot_settings", [{"pixazo_max_image_bytes": 30 * 1024 * 1024}])
async def test_image_over_the_upload_limit_is_reencoded_to_fit(harness):
    interaction = await harness.invoke("sdxl", {"prompt": PROMPT, "width": 2048, "height": 2048},
                                       attachment_size_limit=2000)
    message = await interaction.wait_followup()
    ((filename, _, data),) = message["_files"]
    assert len(data) <= 2000
    assert image_size(data)[0] > 0
    assert message["_payload"]["embeds"][0]["image"]["url"] == f"attachment://{filename}"


# -- Pixazo failures: what the user reads, and that nothing is spent ----------------------------------

FAILURES = [
    (Behaviour.BAD_REQUEST, "refused this request: `prompt violates policy`", 1),
    (Behaviour.UNAUTHORIZED, "operator", 1),
    (Behaviour.FORBIDDEN, "operator", 1),
    (Behaviour.NOT_FOUND, "PIXAZO_BASE_URL", 1),
    (Behaviour.RATE_LIMITED, "busy", 3),
    (Behaviour.SERVER_ERROR, "internal error", 3),
    (Behaviour.BAD_GATEWAY, "internal error", 3),
    (Behaviour.HANG, "did not answer in", 3),
    (Behaviour.MALFORMED_JSON, "could not read", 1),
    (Behaviour.UNEXPECTED_SHAPE, "without an image", 1),
    (Behaviour.EMPTY_URL, "no image", 1),
    (Behaviour.IMAGE_404, "does not work (HTTP 404)", 1),
    (Behaviour.NOT_AN_IMAGE, "not an image", 1),
    (Behaviour.OVERSIZED, "larger than", 1),
]


@pytest.mark.parametrize("bot_settings", [{"pixazo_retry_base_delay_seconds": 0.01, "pixazo_timeout_seconds": 0.3,
                                           "pixazo_max_image_bytes": 1024 * 1024}])
@pytest.mark.parametrize(("behaviour", "said", "attempts"), FAILURES, ids=[f[0].name for f in FAILURES])
async def test_pixazo_failure_is_explained_and_refunded(harness, behaviour, said, attempts):
    harness.pixazo.default = behaviour
    interaction, message = await harness.answer("sdxl", {"prompt": PROMPT})
    assert interaction.callbacks[0]["type"] == 5
    assert is_ephemeral(message), message
    assert said in message["content"], message["content"]
    assert "Traceback" not in message["content"] and "error occurred" not in message["content"]
    assert len(harness.pixazo.requests) == attempts
    await assert_refunded(harness)


async def test_a_quoted_reason_that_ends_a_sentence_gets_no_second_full_stop(harness):
    harness.pixazo.default = Behaviour.BAD_REQUEST
    harness.pixazo.bad_request_message = "The prompt was blocked by the safety filter."
    _, message = await harness.answer("sdxl", {"prompt": PROMPT})
    assert message["content"] == ("Pixazo refused this request: `The prompt was blocked by the safety filter.` "
                                  "No credits were spent.")


@pytest.mark.parametrize("bot_settings", [{"pixazo_retry_base_delay_seconds": 0.2, "pixazo_timeout_seconds": 0.5}])
async def test_a_timeout_after_retries_states_the_members_whole_wait(harness):
    harness.pixazo.default = Behaviour.HANG
    started = asyncio.get_running_loop().time()
    _, message = await harness.answer("sdxl", {"prompt": PROMPT})
    waited = asyncio.get_running_loop().time() - started
    said = re.fullmatch(r"Pixazo did not answer in ([0-9.]+) seconds \(3 tries\), so the request was dropped\. "
                        r"No credits were spent\.", message["content"])
    assert said, message["content"]
    assert 3 * 0.5 < float(said[1]) <= waited + 0.1, "three tries of 0.5 s and the pauses between them, not one try's 0.5 s"
    await assert_refunded(harness)


@pytest.mark.parametrize("bot_settings", [{"pixazo_retry_base_delay_seconds": 0.01}])
async def test_endpoint2_status_other_than_succeeded_is_a_failure(harness):
    harness.pixazo.default = Behaviour.NOT_SUCCEEDED
    _, message = await harness.answer("sd35-large", {"prompt": PROMPT})
    assert is_ephemeral(message) and "as `failed`" in message["content"]
    await assert_refunded(harness)


@pytest.mark.parametrize("bot_settings", [{"pixazo_retry_base_delay_seconds": 0.01}])
async def test_transient_failures_are_retried_then_succeed(harness):
    harness.pixazo.push(Behaviour.SERVER_ERROR, Behaviour.RATE_LIMITED)
    _, message = await harness.answer("sdxl", {"prompt": PROMPT})
    assert [c.status for c in harness.pixazo.requests] == [500, 429, 200]
    assert message["embeds"] and not is_ephemeral(message)


@pytest.mark.parametrize("bot_settings", [{"pixazo_retry_base_delay_seconds": 0.01}])
async def test_retry_after_is_honoured(harness):
    harness.pixazo.push(Behaviour.RATE_LIMITED, retry_after=0.4)
    await harness.answer("sdxl", {"prompt": PROMPT})
    first, second = harness.pixazo.requests
    assert second.at - first.at >= 0.4


async def assert_refunded(harness) -> None:
    rows = columns(await read_jobs(harness.settings, GUILD_ID, USER_ID), "state", "error")
    assert rows and all(state == "failed" and error for state, error in rows), rows


# -- bad input: refused before anything is deferred, spent or sent -----------------------------------

@pytest.mark.parametrize(("command", "options", "said"), [
    ("sdxl", {"prompt": PROMPT, "steps": 50}, "`steps` must be between 1 and 20 on /sdxl (you gave 50)"),
    ("sdxl", {"prompt": PROMPT, "width": 100}, "`width` must be between 256 and 2048"),
    ("sdxl", {"prompt": PROMPT, "width": 1001}, "nearest valid values are 1000 or 1008"),
    ("sdxl-lightning", {"prompt": PROMPT, "height": 2047}, "nearest valid values are 2040"),
    ("sdxl", {"prompt": "   "}, "The prompt is empty"),
    ("sd3", {"prompt": PROMPT, "guidance": 25.5}, "`guidance` must be between 0 and 20"),
    ("sd3", {"prompt": PROMPT, "aspect_ratio": "7:3"}, "`aspect_ratio` must be one of"),
    ("sd35-large", {"prompt": PROMPT, "steps": 10}, "between 20 and 100"),
    ("sdxl", {"prompt": PROMPT, "seed": -1}, "`seed` must be between 0"),
])
async def test_bad_input_is_refused_with_a_specific_ephemeral_message(harness, command, options, said):
    interaction = await harness.invoke(command, options, validate=False)
    callback = await interaction.wait_callback()
    assert callback["type"] == 4, "refused at once, not deferred"
    data = callback["data"]
    assert data["flags"] & 64, "ephemeral"
    assert said in data["content"], data["content"]
    assert harness.pixazo.requests == []
    assert await read_jobs(harness.settings, GUILD_ID, USER_ID) == []


async def test_secrets_never_reach_discord(harness):
    harness.pixazo.default = Behaviour.UNAUTHORIZED
    await harness.answer("sdxl", {"prompt": PROMPT})
    harness.pixazo.default = Behaviour.OK
    await harness.answer("sdxl", {"prompt": PROMPT})
    for request in harness.discord.requests:
        seen = f"{request.path} {request.query} {request.json}"
        assert TOKEN not in seen and PIXAZO_KEY not in seen
    # Discord gets the bot token only as the Authorization header, and never on webhook routes.
    for request in harness.discord.requests:
        if "/webhooks/" in request.path or "/interactions/" in request.path:
            assert TOKEN not in str(request.headers)


async def test_job_is_recorded_with_who_where_and_what(harness):
    await harness.answer("sdxl", {"prompt": PROMPT, "seed": 3})

    async with open_view(harness.settings) as store:
        async def settled() -> bool:  # the job is settled just after the followup is posted
            return columns(await jobs(store, GUILD_ID, USER_ID), "state") == [("succeeded",)]

        await until(settled)
        (row,) = await jobs(store, GUILD_ID, USER_ID)
    assert (row["user_id"], row["guild_id"], row["channel_id"]) == (4000, GUILD_ID, CHANNEL_ID)
    assert (row["model"], row["cost"], row["state"]) == ("sdxl", 2, "succeeded")
    assert row["params"]["seed"] == 3 and row["result_url"].startswith(harness.pixazo.base_url)


async def test_an_image_that_cannot_be_made_to_fit_is_linked_instead(harness):
    interaction = await harness.invoke("sdxl", {"prompt": PROMPT}, attachment_size_limit=64)
    message = await interaction.wait_followup()
    (call,) = harness.pixazo.requests
    assert message["_files"] == []
    assert message["embeds"][0]["image"]["url"] == call.image_url, "the embed shows Pixazo's own link"
