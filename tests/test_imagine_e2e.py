"""/imagine and batches end to end, through the real discord.py against the fakes, on both backends:
a batch of four with one image failing at Pixazo (three charged, one refunded, one message), Use on each
image (no new call, no charge), Reroll all, Cancel of a batch, the aspect ratio per model, and a restart
between the batch and the presses."""

from __future__ import annotations

import asyncio

import pytest

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
