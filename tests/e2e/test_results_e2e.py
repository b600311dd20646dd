"""The buttons on every result, through the real discord.py against the fakes: Details and Delete,
their refusals, and a restart between the result and the press."""

from __future__ import annotations

from bot.catalog import MODELS
from bot.services.reproduce import parse_command
from bot.services.validation import prepare
from bot.storage import Member
from tests.conftest import GUILD_ID, eventually, is_ephemeral, make_settings, started_bot
from tests.ledger import open_view, read_jobs, until

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

    async def recorded() -> bool:  # where the result went is recorded with its success, just after the post
        return all(r["result_message_id"] for r in await read_jobs(harness.settings, GUILD_ID, 4001))

    await until(recorded)
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

    async def recorded() -> bool:  # the success lands just after the post: until then Delete says nothing of credits
        return [r["state"] for r in await read_jobs(harness.settings, GUILD_ID, 4001)] == ["succeeded"]

    await until(recorded)
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
    held = harness.discord.messages[message["id"]]
    for item in held["components"][0]["components"]:
        if item["label"] == "Details":
            item["custom_id"] = "result:details:999999"
    message = held
    unknown = await press(harness.discord, message, "Details", user_id=4001)
    assert unknown["data"]["content"] == "That image is no longer known to the bot."
    assert "Traceback" not in harness.log_text()


async def test_every_button_works_after_a_restart(tmp_path, fake_discord, fake_pixazo, ledger_settings):
    settings = make_settings(tmp_path, fake_discord, fake_pixazo, **ledger_settings)
    async with started_bot(settings, fake_discord):
        interaction = await fake_discord.invoke("sdxl", {"prompt": PROMPT, "seed": 7}, user_id=4001)
        message = await interaction.wait_followup()
        opened = await fake_discord.click(message, button_ids(message)["Edit"], user_id=4002)
        assert (await opened.wait_callback())["type"] == 9, "the form is open when the bot stops"
    before = fake_discord.identify_payload
    async with started_bot(settings, fake_discord):  # a new bot process, the same database
        await eventually(lambda: fake_discord.identify_payload is not before)
        reroll = await fake_discord.click(message, button_ids(message)["Reroll"], user_id=4002)
        assert (await reroll.wait_followup())["content"] == f"Reroll of job #{message_job(message)}"
        submitted = await fake_discord.submit_modal(opened, {"Other settings": "steps=10"})
        assert (await submitted.wait_followup())["content"] == f"Edit of job #{message_job(message)}"
        assert fake_pixazo.requests[-1].json["num_steps"] == 10 and fake_pixazo.requests[-1].json["seed"] == 7
        edit = await press(fake_discord, message, "Edit", user_id=4002)
        assert edit["type"] == 9 and edit["data"]["title"] == "Edit and run again"
        details = await press(fake_discord, message, "Details", user_id=4001)
        assert details["type"] == 4 and "seed: `7`" in details["data"]["embeds"][0]["description"]
        deleted = await press(fake_discord, message, "Delete", user_id=4001)
        assert "credits stay spent" in deleted["data"]["content"]
        await eventually(lambda: message["id"] in fake_discord.deleted_messages)


async def used(harness, user_id: int) -> int:
    async with open_view(harness.settings) as store:
        return (await store.snapshot(Member(GUILD_ID, user_id), default_allowance=20)).used


async def test_reroll_runs_the_same_request_with_a_new_seed_for_the_presser_through_the_queue(harness):
    message = await make_result(harness, seed=42, width=512)
    click = await harness.discord.click(message, button_ids(message)["Reroll"], user_id=4002)
    assert (await click.wait_callback())["type"] == 5, "deferred: the job waits in the queue like any other"
    result = await click.wait_followup()
    assert result["content"] == f"Reroll of job #{message_job(message)}" and result["embeds"]
    assert {"Reroll", "Edit", "Details", "Delete"} <= set(button_ids(result)), "the reroll has its own buttons"
    assert result["_payload"]["allowed_mentions"]["parse"] == []
    first, again = (call.json for call in harness.pixazo.requests)
    assert {**again, "seed": 42} == first and again["seed"] != 42
    assert (await used(harness, 4001), await used(harness, 4002)) == (2, 2), "charged to whoever pressed"
    rows = await read_jobs(harness.settings, GUILD_ID, 4002)
    assert [r["state"] for r in rows] == ["succeeded"]


def message_job(message: dict) -> int:
    return int(button_ids(message)["Details"].rsplit(":", 1)[1])


async def test_edit_opens_a_prefilled_form_refuses_bad_settings_and_runs_a_good_one(harness):
    message = await make_result(harness, seed=42, width=1024, height=1024, negative_prompt="blurry")
    opened = await harness.discord.click(message, button_ids(message)["Edit"], user_id=4002)
    modal = await opened.wait_callback()
    assert modal["type"] == 9 and modal["data"]["title"] == "Edit and run again"
    assert harness.discord.modal_values(opened) == {
        "Prompt": PROMPT, "Negative prompt": "blurry", "Seed (empty = random)": "42",
        "Other settings": "width=1024 height=1024 steps=20 guidance=5"}

    for bad, named in (("steps=99", "`steps` must be between"), ("width=1001", "multiple of 8"),
                       ("foo=1", "no setting named `foo`")):
        sent = await harness.discord.submit_modal(opened, {"Other settings": bad})
        reply = await sent.wait_callback()
        assert reply["type"] == 4 and is_ephemeral(reply["data"]) and named in reply["data"]["content"], bad
        assert "\n" not in reply["data"]["content"], "one sentence"
    assert len(harness.pixazo.requests) == 1 and await used(harness, 4002) == 0, "a refusal costs nothing"

    good = await harness.discord.submit_modal(opened, {"Prompt": "a lighthouse at dawn", "Seed (empty = random)": "7",
                                                       "Other settings": "width=768 steps=15"})
    result = await good.wait_followup()
    assert result["content"] == f"Edit of job #{message_job(message)}" and result["embeds"]
    assert harness.pixazo.requests[-1].json == {"prompt": "a lighthouse at dawn", "negative_prompt": "blurry",
                                                "width": 768, "height": 1024, "num_steps": 15,
                                                "guidance_scale": 5, "seed": 7}
    assert (await used(harness, 4001), await used(harness, 4002)) == (2, 2), "charged to whoever submitted"


async def test_reroll_and_edit_of_a_forgotten_job_say_so(harness):
    message = await make_result(harness)
    async with open_view(harness.settings) as store:
        await store.forget_member(4001)
    for label in ("Reroll", "Edit"):
        reply = await press(harness.discord, message, label, user_id=4002)
        assert is_ephemeral(reply["data"]) and "were cleared" in reply["data"]["content"], label
    assert len(harness.pixazo.requests) == 1


async def test_inpaint_reroll_reuses_the_attachments_while_discord_serves_them(harness):
    from tests.e2e.test_inpaint_e2e import pair

    interaction = await harness.discord.invoke("inpaint", {"prompt": PROMPT, "seed": 42}, attachments=pair(),
                                               user_id=4001)
    message = await interaction.wait_followup()
    first = harness.pixazo.requests[0].json
    click = await harness.discord.click(message, button_ids(message)["Reroll"], user_id=4002)
    result = await click.wait_followup()
    assert result["content"] == f"Reroll of job #{message_job(message)}" and result["embeds"]
    again = harness.pixazo.requests[1].json
    assert {**again, "seed": 42} == first and again["seed"] != 42, "the same image and mask, a new seed"

    harness.discord.cdn_remove(first["imageUrl"])
    gone = await harness.discord.click(message, button_ids(message)["Reroll"], user_id=4002)
    await gone.wait_callback()
    reply = await gone.wait_followup()
    assert is_ephemeral(reply) and "no longer serves the original image" in reply["content"]
    assert "/inpaint" in reply["content"] and len(harness.pixazo.requests) == 2
    assert (await used(harness, 4002)) == MODELS["inpaint"].cost, "only the reroll that ran is charged"
