"""/forget leaves no copy of what a member asked for, through the real discord.py against the fakes, on
SQLite and on a real PostgreSQL: not in the jobs, the reviews' saved result embeds, the audit rows, the
appeals, any other table; on SQLite not in the database's or its write-ahead log's bytes either."""

from __future__ import annotations

import json
import sqlite3

import asyncpg
import pytest

from tests.conftest import GUILD_ID, is_ephemeral
from tests.e2e.test_approval_e2e import config, moderated, one_post, posts
from tests.e2e.test_history_e2e import buttons
from tests.e2e.test_reports_e2e import decide, report
from tests.ledger import open_view, read_jobs, until

SECRET = "zebraquasar"  # in every prompt; nothing else the bot stores says it
ALICE = 4000
BLOCKED = "forbiddenword"


@pytest.fixture
def ledger_settings(backend) -> dict:
    return backend.settings


def sqlite_rows(path) -> list[str]:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = [name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return [f"{table}: {row}" for table in tables for row in db.execute(f'SELECT * FROM "{table}"')]
    finally:
        db.close()


async def postgres_rows(url: str) -> list[str]:
    conn = await asyncpg.connect(url)
    try:
        tables = await conn.fetch("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")
        return [f"{t['table_name']}: {row[0]}" for t in tables
                for row in await conn.fetch(f'SELECT t::text FROM "{t["table_name"]}" AS t')]
    finally:
        await conn.close()


async def rows_saying(settings, text: str) -> list[str]:
    if settings.database_url is None:
        rows = sqlite_rows(settings.database_path)
    else:
        rows = await postgres_rows(settings.database_url.get_secret_value())
    return [row for row in rows if text in row]


def files_saying(settings, text: str) -> list[str]:
    found = []
    for path in (settings.database_path, settings.database_path.with_name(settings.database_path.name + "-wal")):
        if path.exists() and text.encode() in path.read_bytes():
            found.append(path.name)
    return found


async def test_forget_clears_every_copy_of_the_members_prompts(harness):
    fake = harness.discord
    art, review = await moderated(fake)
    await config(fake, "words add", {"term": BLOCKED})
    # An approved image (its review kept the result embed), an image reported and hidden (the report
    # keeps the embed to show it again), and a refusal offering Ask a moderator (the request is kept).
    waiting = await fake.invoke("sdxl", {"prompt": f"a harbour {SECRET} at dawn"}, user_id=ALICE, channel_id=art)
    assert "approval" in (await waiting.wait_followup())["content"]
    post = await one_post(fake, review)
    approved = await decide(harness, post, "Approve")
    assert approved["content"].startswith("Approved")
    for n in range(3):  # more rows: the page's freed space is what secure_delete must overwrite
        _, done = await harness.answer("sdxl-lightning", {"prompt": f"{SECRET} number {n}"}, user_id=ALICE)
        assert done["embeds"]
    _, result = await harness.answer("sdxl", {"prompt": f"a lighthouse {SECRET} at dusk"}, user_id=ALICE)
    said = await report(harness, result, reason="too dark")
    assert "hidden" in said["content"]
    refused = await fake.invoke("sdxl", {"prompt": f"{SECRET} {BLOCKED}"}, user_id=ALICE)
    refusal = (await refused.wait_callback())["data"]
    assert "Ask a moderator" in str(refusal["components"])
    await until(lambda: _generation_rows(harness.settings, 5))
    assert await rows_saying(harness.settings, SECRET), "before: the ledger holds the prompt"

    question = await fake.invoke("forget", user_id=ALICE)
    await question.wait_callback()
    confirm = await fake.click(question.original, buttons(question.original)["Confirm"]["custom_id"], user_id=ALICE)
    assert (await confirm.wait_callback())["type"] == 7
    assert fake.messages[question.original["id"]]["content"].startswith("Cleared the details of 5 images, and your /settings defaults")

    assert await rows_saying(harness.settings, SECRET) == []
    if harness.settings.database_url is None:
        assert files_saying(harness.settings, SECRET) == [], "the bytes are gone from the files too"

    # What a decision still needs stays: Keep shows the image again, without the prompt.
    report_post = [p for p in posts(fake, review) if "reported" in p["content"]][-1]
    kept = await decide(harness, report_post, "Keep")
    assert kept["content"] == "Kept; the image is shown again."
    shown = fake.messages[result["id"]]
    assert shown["attachments"] and shown["embeds"][0]["image"]["url"] == shown["attachments"][0]["url"]
    assert SECRET not in json.dumps(shown["embeds"])
    # The refusal's Ask a moderator says what happened to the request.
    ask = await fake.click(refused.original, _ask_id(refused.original), user_id=ALICE)
    answer = (await ask.wait_callback())["data"]
    assert is_ephemeral(answer) and "cleared this request with /forget" in answer["content"]
    assert [j["forgotten_at"] is not None for j in await read_jobs(harness.settings, GUILD_ID, ALICE)] == [True] * 5


async def _generation_rows(settings, count: int) -> bool:
    async with open_view(settings) as store:
        return len([a for a in await store.admin_actions(GUILD_ID, limit=100) if a["action"] == "generation"]) >= count


def _ask_id(message: dict) -> str:
    return next(item["custom_id"] for row in message["components"] for item in row["components"]
                if item["custom_id"].startswith("appeal:ask:"))


async def test_forget_clears_the_members_settings_defaults_and_the_next_command_uses_none_of_them(harness):
    """A member's saved defaults are theirs too: a free-text negative prompt and a style. After /forget
    the ledger holds neither, and the process that kept them for the member's commands forgets them too."""
    from tests.e2e.test_loop_settings_e2e import settings

    await settings(harness, "set", {"negative_prompt": f"{SECRET} smudges", "style": "watercolor"}, user=ALICE)
    await harness.answer("imagine", {"prompt": "a quiet harbour"}, user_id=ALICE)  # the defaults are kept now
    used = harness.pixazo.requests[-1].json
    assert SECRET in str(used) and "watercolor" in used["prompt"], used
    question = await harness.discord.invoke("forget", user_id=ALICE)
    asked = (await question.wait_callback())["data"]["content"]
    assert "/settings defaults" in asked, asked
    confirm = await harness.discord.click(question.original, buttons(question.original)["Confirm"]["custom_id"],
                                          user_id=ALICE)
    await confirm.wait_callback()
    assert "your /settings defaults in every server" in harness.discord.messages[question.original["id"]]["content"]

    assert await rows_saying(harness.settings, SECRET) == []
    if harness.settings.database_url is None:
        assert files_saying(harness.settings, SECRET) == [], "the bytes are gone from the files too"
    await harness.answer("imagine", {"prompt": "a quiet harbour"}, user_id=ALICE)
    after = harness.pixazo.requests[-1].json
    assert SECRET not in str(after) and after["prompt"] == "a quiet harbour", after
    shown = await settings(harness, "show", user=ALICE)
    assert SECRET not in str(shown) and "watercolor" not in str(shown), shown
