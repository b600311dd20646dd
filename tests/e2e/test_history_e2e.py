"""/history, /forget and /help through the real discord.py against the fakes."""

from __future__ import annotations

import sqlite3
import time
from contextlib import asynccontextmanager

import asyncpg
import pytest

from bot.domain import utc_day
from bot.storage import Member, open_store
from bot.storage.postgres import migrations as pg_migrations
from bot.storage.sqlite import migrations as sqlite_migrations
from tests.conftest import GUILD_ID, eventually, is_ephemeral, make_settings, started_bot
from tests.ledger import open_view, read_jobs, until

MANY = {"quota_default_daily_credits": 100, "quota_max_jobs_per_user": 20}


def buttons(message: dict) -> dict[str, dict]:
    return {item["label"]: item for row in message.get("components") or [] for item in row.get("components") or []}


async def make_jobs(harness, n: int, user_id: int = 4001) -> list[dict]:
    results = []
    for i in range(n):
        _, message = await harness.answer("sdxl-lightning", {"prompt": f"picture {i}"}, user_id=user_id)
        assert message["embeds"]
        results.append(message)

    async def settled() -> bool:  # the success, and the result's link with it, land just after Discord answers the post
        return all(j["state"] == "succeeded" for j in await read_jobs(harness.settings, GUILD_ID, user_id))

    await until(settled)
    return results


async def ask(harness, name: str, options: dict | None = None, user_id: int = 4001) -> dict:
    """An ephemeral command's answer as the message the fake holds (buttons can be pressed on it)."""
    interaction, reply = await harness.answer(name, options or {}, user_id=user_id)
    assert is_ephemeral(reply)
    return interaction.original


async def no_pings_anywhere(harness) -> None:
    checked = 0
    for rec in harness.discord.requests:
        body = rec.json if isinstance(rec.json, dict) else {}
        data = body.get("data") if isinstance(body.get("data"), dict) else body
        if data and ("content" in data or "embeds" in data):
            assert data.get("allowed_mentions", {}).get("parse") == [], rec.path
            checked += 1
    assert checked >= 3, "the bot's messages were seen"


@pytest.mark.parametrize("bot_settings", [MANY])
async def test_history_pages_five_at_a_time_newest_first_with_links(harness):
    results = await make_jobs(harness, 12)
    reply = await ask(harness, "history")
    jobs = await read_jobs(harness.settings, GUILD_ID, 4001)
    newest = [j["id"] for j in jobs][::-1]

    def shown_ids(message: dict) -> list[int]:
        text = message["embeds"][0]["description"]
        return [int(part.split("**")[0]) for part in text.split("**#")[1:]]

    assert shown_ids(reply) == newest[:5]
    assert "picture 11" in reply["embeds"][0]["description"]
    link = f"https://discord.com/channels/{GUILD_ID}/{results[-1]['channel_id']}/{results[-1]['id']}"
    assert link in reply["embeds"][0]["description"], "a link to the posted result"
    assert buttons(reply)["Previous"].get("disabled") and not buttons(reply)["Next"].get("disabled")
    page = reply
    for expected in (newest[5:10], newest[10:]):
        click = await harness.discord.click(page, buttons(page)["Next"]["custom_id"], user_id=4001)
        assert (await click.wait_callback())["type"] == 7
        page = harness.discord.messages[page["id"]]
        assert shown_ids(page) == expected
    assert buttons(page)["Next"].get("disabled") and "Page 3 of 3" in page["embeds"][0]["footer"]["text"]
    click = await harness.discord.click(page, buttons(page)["Previous"]["custom_id"], user_id=4001)
    await click.wait_callback()
    assert shown_ids(harness.discord.messages[page["id"]]) == newest[5:10]
    only = await ask(harness, "history", {"model": "sdxl"})
    assert only["embeds"][0]["description"] == "No images yet."
    await no_pings_anywhere(harness)


async def test_forget_asks_then_clears_every_job_and_details_then_says_so(harness):
    (result,) = await make_jobs(harness, 1)
    question = await ask(harness, "forget")
    assert "stay in their channels" in question["content"]
    assert set(buttons(question)) == {"Confirm", "Cancel"}
    cancel = await harness.discord.click(question, buttons(question)["Cancel"]["custom_id"], user_id=4001)
    await cancel.wait_callback()
    assert harness.discord.messages[question["id"]]["content"] == "Nothing was cleared."
    (job,) = await read_jobs(harness.settings, GUILD_ID, 4001)
    assert job["forgotten_at"] is None

    question = await ask(harness, "forget")
    confirm = await harness.discord.click(question, buttons(question)["Confirm"]["custom_id"], user_id=4001)
    await confirm.wait_callback()
    done = harness.discord.messages[question["id"]]["content"]
    assert done.startswith("Cleared the details of 1 image, and your /settings defaults") and "Delete button" in done
    (job,) = await read_jobs(harness.settings, GUILD_ID, 4001)
    assert (job["params"], job["delivery"], job["result_url"], job["state"], job["cost"]) == (
        {}, None, None, "succeeded", 1)
    assert result["id"] in harness.discord.messages, "the posted image is not touched"
    details = await harness.discord.click(result, buttons(result)["Details"]["custom_id"], user_id=4001)
    reply = (await details.wait_callback())["data"]
    assert is_ephemeral(reply) and "were cleared" in reply["content"]
    history = await ask(harness, "history")
    assert "(cleared)" in history["embeds"][0]["description"]
    await no_pings_anywhere(harness)


async def test_help_lists_every_command_each_cost_and_your_credits(harness):
    await make_jobs(harness, 1)
    reply = await ask(harness, "help")
    fields = {f["name"]: f["value"] for f in reply["embeds"][0]["fields"]}
    commands = harness.discord.synced.get(GUILD_ID) or harness.discord.synced[None]
    synced = {c["name"] for c in commands if c.get("type", 1) == 1}  # slash commands; message menus below
    admin = {"config", "quotas"}
    for name in synced - admin:
        assert f"/{name}:" in fields["Commands"]
    names = [f["name"] for f in reply["embeds"][0]["fields"]]
    assert names.index("Commands") < names.index("For server admins (Manage Server)"), "members' commands first"
    assert {line.split(":")[0] for line in fields["For server admins (Manage Server)"].splitlines()} == {
        f"/{name}" for name in admin}
    assert "/config" not in fields["Commands"] and "/quotas" not in fields["Commands"]
    assert "/sdxl: 2 credits" in fields["Cost per image"] and "/sdxl-lightning: 1 credit" in fields["Cost per image"]
    assert fields["Your credits"] == "19 left today of 20"
    assert all(button in fields["The buttons on a result"] for button in ("Reroll", "Edit", "Details", "Delete",
                                                                           "Report"))
    assert "90 days" in fields["What the bot keeps"]
    menus = {c["name"] for c in commands if c.get("type") == 3}
    assert menus == {"Inpaint this…", "Zoom out this"}
    assert all(f"Apps ▸ {menu}" in fields["Push a picture further"] for menu in menus)
    assert all(button in fields["Push a picture further"] for button in ("Zoom Out 1.5×", "Pan ←", "Vary Region"))
    assert "costs 2 credits" in fields["Push a picture further"]


async def test_the_retention_sweep_at_start_clears_jobs_older_than_the_setting(tmp_path, fake_discord, fake_pixazo):
    settings = make_settings(tmp_path, fake_discord, fake_pixazo, history_retention_days=30)
    now = time.time()
    made = {}
    for age in (31, 29):  # days: one past HISTORY_RETENTION_DAYS, one inside it, written with that clock
        async with ledger_at(settings, now - age * 86_400) as store:
            job, _ = await store.reserve(Member(GUILD_ID, 4001), channel_id=5, model="sdxl",
                                         params={"prompt": f"{age} days"}, cost=2, default_allowance=20,
                                         max_jobs=5, global_cap=None)
            await store.succeed(job, "https://x/old.png")
            made[age] = job
    async with started_bot(settings, fake_discord):
        await until(lambda: job_forgotten(settings, made[31]))
        async with open_view(settings) as store:
            kept = await store.job(made[29])
            old = await store.job(made[31])
    assert kept["forgotten_at"] is None and kept["result_url"] == "https://x/old.png"
    assert (old["params"], old["result_url"], old["cost"], old["state"]) == ({}, None, 2, "succeeded")


@asynccontextmanager
async def ledger_at(settings, when: float):
    store = await open_store(settings, clock=lambda: when, recover=False)
    try:
        yield store
    finally:
        await store.close()


async def job_forgotten(settings, job_id: int) -> bool:
    async with open_view(settings) as store:
        return (await store.job(job_id))["forgotten_at"] is not None


@pytest.mark.parametrize("bot_settings", [MANY])
async def test_history_pages_and_forget_answer_after_a_restart(tmp_path, fake_discord, fake_pixazo, bot_settings):
    settings = make_settings(tmp_path, fake_discord, fake_pixazo, **bot_settings)
    async with started_bot(settings, fake_discord):
        for i in range(7):
            interaction = await fake_discord.invoke("sdxl-lightning", {"prompt": f"picture {i}"}, user_id=4001)
            assert (await interaction.wait_followup())["embeds"]
        history = await fake_discord.invoke("history", user_id=4001)
        await history.wait_callback()
        page = history.original
        forget = await fake_discord.invoke("forget", user_id=4001)
        await forget.wait_callback()
        question = forget.original
    before = fake_discord.identify_payload
    async with started_bot(settings, fake_discord):  # a new bot process: nothing of the old one in memory
        await eventually(lambda: fake_discord.identify_payload is not before)
        turned = await fake_discord.click(page, buttons(page)["Next"]["custom_id"], user_id=4001)
        assert (await turned.wait_callback())["type"] == 7
        page = fake_discord.messages[page["id"]]
        assert "Page 2 of 2" in page["embeds"][0]["footer"]["text"] and "picture 1" in page["embeds"][0]["description"]
        assert buttons(page)["Next"].get("disabled") and not buttons(page)["Previous"].get("disabled")
        back = await fake_discord.click(page, buttons(page)["Previous"]["custom_id"], user_id=4001)
        await back.wait_callback()
        assert "Page 1 of 2" in fake_discord.messages[page["id"]]["embeds"][0]["footer"]["text"]
        stranger = await fake_discord.click(question, buttons(question)["Confirm"]["custom_id"], user_id=4999)
        assert (await stranger.wait_callback())["data"]["content"] == "Only the member who opened this can use these buttons."
        confirm = await fake_discord.click(question, buttons(question)["Confirm"]["custom_id"], user_id=4001)
        assert (await confirm.wait_callback())["type"] == 7
        assert fake_discord.messages[question["id"]]["content"].startswith("Cleared the details of 7 images, and your /settings defaults")
        assert not fake_discord.messages[question["id"]]["components"], "the question's buttons are gone"
    assert all(job["forgotten_at"] is not None for job in await read_jobs(settings, GUILD_ID, 4001))


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)
async def test_history_shows_the_prompts_of_jobs_from_a_ledger_before_the_queue(tmp_path, fake_discord, fake_pixazo,
                                                                                backend):
    """A ledger written at schema version 4 (before the queue kept `delivery`), migrated at start."""
    settings = make_settings(tmp_path, fake_discord, fake_pixazo, **backend.settings)
    rows = [(4001, "sdxl", '{"prompt": "an old lighthouse", "seed": 5}', "succeeded"),
            (4001, "sd3", '{"prompt": "an old harbour", "negativePrompt": "fog"}', "failed")]
    now = time.time()  # recent: the retention sweep at start must not clear them first
    insert = ("INSERT INTO jobs (user_id, guild_id, channel_id, model, params, cost, day, state, created_at)"
              f" VALUES ({{}}, {{}}, 5, {{}}, {{}}, 2, '{utc_day(now)}', {{}}, {now - 3600})")
    if backend.name == "sqlite":
        settings.database_path.parent.mkdir(parents=True)
        db = sqlite3.connect(settings.database_path, isolation_level=None)
        sqlite_migrations.apply_migrations(db, upto=4)
        for user, model, params, state in rows:
            db.execute(insert.format("?", "?", "?", "?", "?"), (user, GUILD_ID, model, params, state))
        db.close()
    else:
        conn = await asyncpg.connect(backend.location)
        await pg_migrations.apply_migrations(conn, upto=4)
        for user, model, params, state in rows:
            await conn.execute(insert.format("$1", "$2", "$3", "$4", "$5"), user, GUILD_ID, model, params, state)
        await conn.close()
    async with started_bot(settings, fake_discord):
        interaction, reply = await fake_discord_answer(fake_discord, "history", user_id=4001)
    text = reply["embeds"][0]["description"]
    assert "an old lighthouse" in text and "an old harbour" in text, text
    assert "(cleared)" not in text


async def fake_discord_answer(fake, name: str, **kwargs):
    interaction = await fake.invoke(name, {}, **kwargs)
    return interaction, (await interaction.wait_callback())["data"]
