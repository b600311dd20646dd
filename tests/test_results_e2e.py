"""The buttons on every result, through the real discord.py against the fakes: Details and Delete,
their refusals, and a restart between the result and the press."""

from __future__ import annotations

from bot.reproduce import parse_command
from bot.services.validation import prepare
from tests.conftest import GUILD_ID, eventually, is_ephemeral, make_settings, started_bot
from tests.ledger import open_view, read_jobs

MANAGE_MESSAGES = 1 << 13
PROMPT = "a lighthouse at dusk: oil painting"


def button_ids(message: dict) -> dict[str, str]:
    """Label -> custom_id of every button on the message."""
    return {item["label"]: item["custom_id"] for row in message.get("components") or []
            for item in row.get("components") or []}


def no_pings(callback: dict) -> bool:
    return callback["data"]["allowed_mentions"]["parse"] == []


async def press(discord_fake, message: dict, label: str, **kwargs) -> dict:
    interaction = await discord_fake.click(message, button_ids(message)[label], **kwargs)
    return await interaction.wait_callback()


async def make_result(harness, **options) -> dict:
    _, message = await harness.answer("sdxl", {"prompt": PROMPT, **options}, user_id=4001)
    assert message["embeds"], "a result"
    return message


async def test_every_result_carries_the_buttons_and_the_ledger_knows_where_it_went(harness):
    message = await make_result(harness, seed=42)
    assert {"Details", "Delete"} <= set(button_ids(message))
    (job,) = await read_jobs(harness.settings, GUILD_ID, 4001)
    assert set(button_ids(message).values()) >= {f"result:details:{job['id']}", f"result:delete:{job['id']}"}
    assert (job["result_channel_id"], job["result_message_id"]) == (int(message["channel_id"]), int(message["id"]))


async def test_details_shows_every_parameter_and_a_command_that_makes_the_same_body(harness):
    message = await make_result(harness, seed=42, width=512, negative_prompt="blurry: low quality")
    callback = await press(harness.discord, message, "Details", user_id=4999)  # anyone may look
    assert callback["type"] == 4 and is_ephemeral(callback["data"]) and no_pings(callback)
    (embed,) = callback["data"]["embeds"]
    text = embed["description"]
    (job,) = await read_jobs(harness.settings, GUILD_ID, 4001)
    assert f"Job #{job['id']}" in text and "<@4001>" in text and "2 credits" in text and "time taken" in text
    assert "steps: `20`" in text and "seed: `42`" in text and "width: `512`" in text
    command = text.split("```\n")[1].split("\n```")[0]
    assert command.startswith("/sdxl prompt:a lighthouse at dusk: oil painting ")
    model, options = parse_command(command)
    (call,) = harness.pixazo.requests
    assert prepare(model, options).payload == call.json, "the command makes the very same request again"


async def test_delete_by_the_requester_and_a_moderator_removes_it_a_stranger_is_refused(harness):
    first = await make_result(harness)
    stranger = await press(harness.discord, first, "Delete", user_id=4999)
    assert is_ephemeral(stranger["data"]) and no_pings(stranger)
    assert stranger["data"]["content"].startswith("Only the member who asked")
    assert first["id"] in harness.discord.messages, "a stranger's press removes nothing"

    owner = await press(harness.discord, first, "Delete", user_id=4001)
    assert is_ephemeral(owner["data"]) and "credits stay spent" in owner["data"]["content"] and no_pings(owner)
    assert first["id"] in harness.discord.deleted_messages

    second = await make_result(harness)
    moderator = await press(harness.discord, second, "Delete", user_id=4998,
                            permissions=MANAGE_MESSAGES | (1 << 10) | (1 << 11))
    assert is_ephemeral(moderator["data"]) and second["id"] in harness.discord.deleted_messages
    rows = await read_jobs(harness.settings, GUILD_ID, 4001)
    assert [(r["state"], r["cost"]) for r in rows] == [("succeeded", 2), ("succeeded", 2)], "credits stay spent"


async def test_a_button_for_an_unknown_or_forgotten_job_says_so(harness):
    message = await make_result(harness)
    (job,) = await read_jobs(harness.settings, GUILD_ID, 4001)
    async with open_view(harness.settings) as store:
        assert await store.forget_member(4001) == 1
    forgotten = await press(harness.discord, message, "Details", user_id=4001)
    assert is_ephemeral(forgotten["data"]) and "were cleared" in forgotten["data"]["content"]
    # A message whose button names a job this ledger never had (another bot's database, say).
    message["components"][0]["components"][0]["custom_id"] = "result:details:999999"
    harness.discord.messages[message["id"]]["components"] = message["components"]
    unknown = await press(harness.discord, message, "Details", user_id=4001)
    assert unknown["data"]["content"] == "That image is no longer known to the bot."
    assert "Traceback" not in harness.log_text()


async def test_every_button_works_after_a_restart(tmp_path, fake_discord, fake_pixazo, ledger_settings):
    settings = make_settings(tmp_path, fake_discord, fake_pixazo, **ledger_settings)
    async with started_bot(settings, fake_discord):
        interaction = await fake_discord.invoke("sdxl", {"prompt": PROMPT, "seed": 7}, user_id=4001)
        message = await interaction.wait_followup()
    before = fake_discord.identify_payload
    async with started_bot(settings, fake_discord):  # a new bot process, the same database
        await eventually(lambda: fake_discord.identify_payload is not before)
        details = await press(fake_discord, message, "Details", user_id=4001)
        assert details["type"] == 4 and "seed: `7`" in details["data"]["embeds"][0]["description"]
        deleted = await press(fake_discord, message, "Delete", user_id=4001)
        assert "credits stay spent" in deleted["data"]["content"]
        await eventually(lambda: message["id"] in fake_discord.deleted_messages)
