"""Zoom Out, Pan and Vary Region pass every gate a generation passes, on both ledgers: the server's words,
the member's credits (refused before the picture is downloaded), approval mode; a job that waited until
Discord's links expired gets fresh ones; a Pixazo that cannot fetch the canvas or mask fails the job, refunded."""

from __future__ import annotations

import pytest

from bot.storage import Member
from tests.conftest import GUILD_ID, eventually, is_ephemeral
from tests.e2e.test_approval_e2e import WAITING, one_post
from tests.e2e.test_approval_e2e import config as admin_config
from tests.e2e.test_edits_e2e import PROMPT, make_result, open_form
from tests.e2e.test_results_e2e import button_ids
from tests.ledger import open_view, read_jobs

BOB = 4002


@pytest.fixture
def ledger_settings(backend) -> dict:
    return backend.settings


async def config(harness, sub: str, options: dict) -> None:
    """An admin's /config, answered (so the change is in the ledger)."""
    said = await admin_config(harness.discord, sub, options)
    assert said["content"].startswith(("Blocked", "Moderators now", "Approval is now")), said


async def refused(harness, opened, values: dict) -> str:
    """The form sent and refused: what the member reads, privately (the only answer: nothing was hosted)."""
    sent = await harness.discord.submit_modal(opened, values)
    answer = await sent.wait_followup() if (await sent.wait_callback())["type"] == 5 else sent.callbacks[0]["data"]
    assert is_ephemeral(answer) and not answer.get("attachments"), answer
    assert len(sent.followups) <= 1
    return answer["content"]


async def test_the_servers_words_apply_to_the_edited_prompt(harness):
    result = await make_result(harness)
    await config(harness, "words add", {"term": "kraken"})
    opened = await open_form(harness, result, "Pan →")
    said = await refused(harness, opened, {"Prompt": "a kraken rising from the sea"})
    assert "`kraken`" in said and "this server has blocked" in said
    assert len(harness.pixazo.requests) == 1 and len(await read_jobs(harness.settings, GUILD_ID, 4000)) == 1


@pytest.mark.parametrize("bot_settings", [{"quota_default_daily_credits": 2}])
async def test_a_member_without_credits_is_refused_before_the_picture_is_downloaded(harness):
    result = await make_result(harness)  # its 2 credits are the day's allowance
    fetched = len(harness.discord.cdn_fetches)
    opened = await open_form(harness, result, "Zoom Out 2×")
    said = await refused(harness, opened, {})
    assert "credit" in said
    assert len(harness.discord.cdn_fetches) == fetched, "nothing downloaded"
    assert [j["model"] for j in await read_jobs(harness.settings, GUILD_ID, 4000)] == ["sdxl"]


async def test_approval_mode_holds_the_edit_for_a_moderator(harness):
    art = await harness.discord.add_channel(GUILD_ID, name="art")
    review = await harness.discord.add_channel(GUILD_ID, name="review")
    harness.discord.signed_urls = True
    _, first = await harness.answer("sdxl", {"prompt": PROMPT, "width": 512, "height": 384}, channel_id=art)
    result = harness.discord.messages[first["id"]]
    await config(harness, "review-channel", {"channel": review})
    await config(harness, "approval", {"channel": art, "state": "on"})
    opened = await open_form(harness, result, "Vary Region")
    sent = await harness.discord.submit_modal(opened, {"Region to repaint": ["border"]})
    held = await one_post(harness.discord, review)
    assert held["content"].startswith("Waiting for approval") and {"Approve", "Reject"} <= set(button_ids(held))
    await harness.discord.wait_for(lambda: WAITING in (sent.original or {}).get("content", ""))
    assert is_ephemeral(sent.original), "the member's own note"
    assert not any(m["channel_id"] == str(art) and m["id"] != result["id"] and not is_ephemeral(m)
                   for m in harness.discord.messages.values()), "nothing public until approved"


@pytest.mark.parametrize("bot_settings", [{"pixazo_max_concurrency": 1, "progress_interval_seconds": 0.3}])
async def test_links_that_expired_while_the_job_waited_are_refreshed(harness):
    result = await make_result(harness)
    opened = await open_form(harness, result, "Pan ↓")
    harness.pixazo.latency = 1.0  # Bob's picture holds the only slot
    await harness.invoke("sdxl", {"prompt": "a busy day"}, user_id=BOB)
    await eventually(lambda: len(harness.pixazo.requests) == 2)
    harness.pixazo.latency = 0.0
    sent = await harness.discord.submit_modal(opened, {})
    hosted = await sent.wait_followup()
    harness.discord.expire_attachments()  # a day later, by the CDN's clock
    await harness.discord.wait_for(lambda: len(sent.followups) >= 2, timeout=10)
    assert sent.followups[1]["embeds"], sent.followups[1]
    call = harness.pixazo.requests[2]
    given = [a["url"] for a in hosted["attachments"]]
    assert [call.json["imageUrl"], call.json["maskUrl"]] != given, "fresh links, not the expired ones"
    assert [call.json[f].split("?")[0] for f in ("imageUrl", "maskUrl")] == [u.split("?")[0] for u in given]
    assert (call.inputs["imageUrl"].status, call.inputs["maskUrl"].status) == (200, 200)
    refreshes = [r for r in harness.discord.requests if r.path.endswith("/attachments/refresh-urls")]
    assert len(refreshes) == 1 and refreshes[0].json == {"attachment_urls": given}
    assert any("Waiting to start" in (e.get("content") or "") for e in sent.edits), "its notice, while it waited"
    await harness.discord.wait_for(lambda: sent.original["content"].endswith(": done, posted below."))
    note = sent.original
    assert not note.get("components"), "no Cancel left on it"
    assert [a["filename"] for a in note["attachments"]] == ["canvas.jpg", "mask.png"], "the files kept"


@pytest.mark.parametrize("bot_settings", [{"pixazo_max_concurrency": 1}])
async def test_a_canvas_pixazo_cannot_fetch_fails_the_job_and_refunds_it(harness):
    result = await make_result(harness)
    opened = await open_form(harness, result, "Zoom Out 1.5×")
    harness.pixazo.latency = 1.0
    await harness.invoke("sdxl", {"prompt": "a busy day"}, user_id=BOB)
    await eventually(lambda: len(harness.pixazo.requests) == 2)
    harness.pixazo.latency = 0.0
    sent = await harness.discord.submit_modal(opened, {})
    hosted = await sent.wait_followup()
    harness.discord.cdn_remove(hosted["attachments"][1]["url"])  # the mask is gone from Discord
    await harness.discord.wait_for(lambda: len(sent.followups) >= 2, timeout=10)
    told = sent.followups[-1]
    assert is_ephemeral(told) and "could not fetch the picture or the mask from Discord" in told["content"]
    assert "No credits were spent." in told["content"]
    assert harness.pixazo.requests[2].inputs["maskUrl"].status == 404
    rows = {j["model"]: j for j in await read_jobs(harness.settings, GUILD_ID, 4000)}
    assert rows["inpaint"]["state"] == "failed"
    async with open_view(harness.settings) as store:
        snapshot = await store.snapshot(Member(GUILD_ID, 4000, ()), default_allowance=20)
    assert snapshot.left == 18, "only the first picture's 2 credits are spent"


async def test_discord_refusing_the_canvas_costs_nothing(harness):
    result = await make_result(harness)
    clicked = await harness.discord.click(result, button_ids(result)["Zoom Out 2×"], attachment_size_limit=500)
    assert (await clicked.wait_callback())["type"] == 9
    sent = await harness.discord.submit_modal(clicked, {})
    answer = await sent.wait_followup()
    assert is_ephemeral(answer) and answer["content"].startswith("Discord would not take the canvas and mask")
    assert "nothing was spent" in answer["content"] and not answer.get("attachments")
    assert len(harness.pixazo.requests) == 1
    assert [j["model"] for j in await read_jobs(harness.settings, GUILD_ID, 4000)] == ["sdxl"], "nothing queued"
