"""Outside text, result addresses and damaged results, as a member and an admin meet them through Discord."""

from __future__ import annotations

import pytest

from tests.conftest import GUILD_ID, PIXAZO_KEY, TOKEN, embed_fields, is_ephemeral
from tests.e2e.test_quota_e2e import admin, quota_fields
from tests.fakes.discord import FakeInteraction
from tests.fakes.pixazo import Behaviour
from tests.ledger import columns, read_jobs

PROMPT = "a heron in the reeds"
FAST = {"pixazo_retry_base_delay_seconds": 0.01}
USER_ID = 4000  # the fake's default invoker


async def jobs(harness) -> list[tuple[str, str | None]]:
    return columns(await read_jobs(harness.settings, GUILD_ID, USER_ID), "state", "error")


def everything_discord_received(harness) -> str:
    return "\n".join(f"{r.path} {r.query} {r.json}" for r in harness.discord.requests)


def public_messages(harness) -> list[dict]:
    return [m for m in harness.discord.messages.values() if not FakeInteraction.ephemeral(m)]


async def assert_refunded_and_unposted(harness) -> None:
    assert [state for state, _ in await jobs(harness)] == ["failed"]
    assert (await quota_fields(harness))["Left today"] == "20", "no credit was spent"
    assert public_messages(harness) == [], "nothing stays posted in the channel"


async def test_a_400_echoing_the_key_reaches_no_member_no_row_and_no_log(harness):
    harness.pixazo.default = Behaviour.ECHO_KEY
    _, message = await harness.answer("sdxl", {"prompt": PROMPT})
    assert is_ephemeral(message)
    content = message["content"]
    assert content.startswith("Pixazo refused this request: `Request rejected: header Ocp-Apim-Subscription-Key="
                              "[redacted] is not valid"), content
    assert content.count("`") == 2, "the reason is one code span: no markdown, mention or link renders"
    assert message["_payload"]["allowed_mentions"] == {"parse": []}
    ((state, error),) = await jobs(harness)
    assert state == "failed" and "[redacted]" in error and PIXAZO_KEY not in error
    usage = await admin(harness, "usage", {"member": 4000})
    assert PIXAZO_KEY not in str(usage)
    assert PIXAZO_KEY not in everything_discord_received(harness) and TOKEN not in everything_discord_received(harness)
    assert "[redacted]" in harness.log_text() and PIXAZO_KEY not in harness.log_text()


@pytest.mark.parametrize("bot_settings", [FAST])
async def test_a_2500_character_status_still_gives_the_member_a_short_answer(harness):
    harness.pixazo.default = Behaviour.LONG_STATUS
    _, message = await harness.answer("sd35-large", {"prompt": PROMPT})  # the fake Discord refuses > 2000
    assert is_ephemeral(message)
    content = message["content"]
    assert content.startswith("Pixazo reported the generation as `failed for key [redacted]: **boom** @everyone")
    assert len(content) < 300 and content.count("`") == 2, content
    ((_, error),) = await jobs(harness)
    assert PIXAZO_KEY not in error and len(error) <= 600
    await assert_refunded_and_unposted(harness)


@pytest.mark.parametrize("bot_settings", [{**FAST, "pixazo_use_stream_endpoints": False},
                                          {**FAST, "pixazo_use_stream_endpoints": True}], ids=["url", "raw-stream"])
async def test_a_truncated_png_is_told_refunded_and_never_posted(harness):
    harness.pixazo.default = Behaviour.TRUNCATED
    _, message = await harness.answer("sdxl-lightning", {"prompt": PROMPT})
    assert is_ephemeral(message) and message["_files"] == []
    assert "Pixazo returned an image that is damaged or incomplete. No credits were spent." == message["content"]
    await assert_refunded_and_unposted(harness)
    ((_, error),) = await jobs(harness)
    assert "do not decode" in error


@pytest.mark.parametrize("bot_settings", [{**FAST, "pixazo_result_allow_private_hosts": False}])
async def test_a_result_on_a_private_address_is_refused_by_default(harness):
    _, message = await harness.answer("sdxl", {"prompt": PROMPT})
    assert is_ephemeral(message)
    assert "private network" in message["content"] and "No credits were spent." in message["content"]
    assert harness.pixazo.image_fetches == [], "127.0.0.1 was never contacted for the image"
    await assert_refunded_and_unposted(harness)


async def test_a_redirected_result_is_delivered(harness):
    harness.pixazo.default = Behaviour.REDIRECT
    harness.pixazo.redirect_hops = 2
    _, message = await harness.answer("sdxl", {"prompt": PROMPT})
    (call,) = harness.pixazo.requests
    ((_, _, data),) = message["_files"]
    assert data == harness.pixazo.images[call.image_url] and len(harness.pixazo.redirects) == 2
    assert embed_fields(message)["Cost"] == "2 credits · 18 left today"
