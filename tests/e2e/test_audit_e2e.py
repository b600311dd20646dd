"""The audit log through the real discord.py against the fakes, on SQLite and on a real PostgreSQL:
each action's row and its embed in the audit channel, batched (10 rows a message, one message per
AUDIT_POST_INTERVAL_SECONDS), a restart posting what is unposted exactly once, rows a dead poster held
taken again, and /config audit's filters, paging and refusals."""

from __future__ import annotations

import asyncio
import json

import pytest

from bot.domain.rules import RuleKind
from tests.conftest import GUILD_ID, is_ephemeral, make_settings, started_bot
from tests.e2e.test_results_e2e import button_ids
from tests.fakes.discord import DEFAULT_MEMBER_PERMISSIONS
from tests.ledger import open_view, until

MANAGE_GUILD, MANAGE_MESSAGES = 1 << 5, 1 << 13
ADMIN = DEFAULT_MEMBER_PERMISSIONS | MANAGE_GUILD
ALICE, BOB, MOD, ADMIN_ID = 4000, 4001, 8000, 9000
FAST = {"audit_post_interval_seconds": 1.0}


@pytest.fixture
def ledger_settings(backend) -> dict:
    return backend.settings


@pytest.fixture
def bot_settings() -> dict:
    return dict(FAST)


async def config(harness_or_fake, sub: str, options: dict | None = None, *, permissions: int = ADMIN,
                 user_id: int = ADMIN_ID, validate: bool = True) -> dict:
    fake = getattr(harness_or_fake, "discord", harness_or_fake)
    interaction = await fake.invoke("config", options or {}, subcommand=sub, user_id=user_id, username="admin",
                                    permissions=permissions, validate=validate)
    callback = await interaction.wait_callback()
    return callback["data"] if callback["type"] == 4 else await interaction.wait_followup()


def posts(fake, channel: int) -> list[dict]:
    return [m for m in fake.channel_messages(channel) if m["embeds"]]


def embeds(fake, channel: int) -> list[dict]:
    return [e for m in posts(fake, channel) for e in m["embeds"]]


def no_pings(fake, channel: int) -> None:
    sent = [r for r in fake.requests if r.method == "POST" and r.path.endswith(f"/channels/{channel}/messages")]
    assert sent and all(r.json["allowed_mentions"]["parse"] == [] for r in sent)


async def test_each_action_is_a_row_and_a_compact_embed_in_the_audit_channel(harness):
    fake = harness.discord
    audit = await fake.add_channel(GUILD_ID, name="audit")
    said = await config(harness, "audit-channel", {"channel": audit})
    assert f"<#{audit}>" in said["content"]
    shown = await config(harness, "show")
    assert f"posted in <#{audit}>" in {f["name"]: f["value"] for f in shown["embeds"][0]["fields"]}["Audit log"]
    _, result = await harness.answer("sdxl", {"prompt": "a lighthouse at dusk"}, user_id=ALICE)
    await config(harness, "words add", {"term": "castle"})
    grant = await harness.invoke("quotas", {"member": ALICE, "extra_credits": 5}, subcommand="grant",
                                 user_id=ADMIN_ID, permissions=ADMIN)
    await grant.wait_followup()
    deleted = await fake.click(result, button_ids(result)["Delete"], user_id=MOD,
                               permissions=DEFAULT_MEMBER_PERMISSIONS | MANAGE_MESSAGES)
    await deleted.wait_callback()
    await fake.wait_for(lambda: len(embeds(fake, audit)) >= 5, timeout=10)
    by_title = {e["title"]: e["description"] for e in embeds(fake, audit)}
    assert set(by_title) == {"Configuration changed", "Image generated", "Credits granted",
                             "Result deleted by a moderator"}, by_title
    generated = by_title["Image generated"]
    link = f"https://discord.com/channels/{GUILD_ID}/{result['channel_id']}/{result['id']}"
    assert f"by <@{ALICE}>" in generated and "/sdxl · 2 credits" in generated and link in generated
    assert "`a lighthouse at dusk`" in generated
    assert f"by <@{MOD}> · member <@{ALICE}>" in by_title["Result deleted by a moderator"]
    assert f"by <@{ADMIN_ID}> · member <@{ALICE}>" in by_title["Credits granted"]
    words = [e["description"] for e in embeds(fake, audit) if "word.add" in e["description"]]
    assert words and "`castle`" in words[0]
    assert all(e.get("timestamp") for e in embeds(fake, audit))
    no_pings(fake, audit)
    async with open_view(harness.settings) as store:
        rows, _ = await store.audit_log(GUILD_ID)
    assert {r["action"] for r in rows} >= {"generation", "grant", "delete", "config.word.add", "config.setting.add"}


async def test_a_result_deleted_by_its_own_requester_is_not_a_moderation_decision(harness):
    _, result = await harness.answer("sdxl", {"prompt": "a lighthouse"}, user_id=ALICE)
    async with open_view(harness.settings) as store:
        await until(lambda: generations(store))  # written once the job's success is in the ledger
        deleted = await harness.discord.click(result, button_ids(result)["Delete"], user_id=ALICE)
        assert "credits stay spent" in (await deleted.wait_callback())["data"]["content"]
        rows, _ = await store.audit_log(GUILD_ID)
    assert [r["action"] for r in rows] == ["generation"]


async def generations(store) -> bool:
    return (await store.audit_log(GUILD_ID, action="generation"))[1] > 0


async def seed(settings, audit: int, rows: int) -> None:
    """The audit channel set and `rows` more rows recorded while no bot runs."""
    async with open_view(settings) as store:
        if audit:
            await store.put_rule(GUILD_ID, RuleKind.SETTING, "audit_channel", json.dumps(audit), actor_id=ADMIN_ID)
        for i in range(rows):
            await store.record_action(GUILD_ID, ADMIN_ID, "grant", ALICE, {"credits": i + 1})


async def test_many_rows_at_once_are_batched_ten_a_message_one_message_per_interval_and_a_restart_posts_only_the_rest(
        tmp_path, fake_discord, fake_pixazo, ledger_settings):
    # Every 2 s: the poster looks every second, so a gap of 2 shows the interval, not the tick.
    settings = make_settings(tmp_path, fake_discord, fake_pixazo, **ledger_settings, audit_post_interval_seconds=2.0)
    audit = await fake_discord.add_channel(GUILD_ID, name="audit")
    await seed(settings, audit, 24)  # and the audit channel's own row: 25
    loop = asyncio.get_running_loop()
    async with started_bot(settings, fake_discord):
        arrived = []
        for n in (1, 2, 3):
            await fake_discord.wait_for(lambda n=n: len(posts(fake_discord, audit)) >= n, timeout=15)
            arrived.append(loop.time())
        await asyncio.sleep(1.5)
    assert [len(m["embeds"]) for m in posts(fake_discord, audit)] == [10, 10, 5]
    assert min(b - a for a, b in zip(arrived, arrived[1:], strict=False)) >= 1.8, "one message per interval at most"
    credits = [e["description"] for e in embeds(fake_discord, audit)]
    assert sum("credits: `" in c for c in credits) == 24
    no_pings(fake_discord, audit)

    async with open_view(settings) as store:  # one row a poster claimed before it died
        await store.record_action(GUILD_ID, MOD, "delete", BOB, {"job": 1})
        (held,) = await store.claim_audit(GUILD_ID, limit=10, lease_seconds=2.0)
    await seed(settings, 0, 3)  # ... and three recorded while the bot was down
    async with started_bot(settings, fake_discord):
        await fake_discord.wait_for(lambda: len(embeds(fake_discord, audit)) >= 29, timeout=15)
        await asyncio.sleep(1.5)
    assert len(embeds(fake_discord, audit)) == 29, "the four new rows, each once"
    assert [len(m["embeds"]) for m in posts(fake_discord, audit)][3:] == [3, 1], "the held row after its lease"
    assert posts(fake_discord, audit)[-1]["embeds"][0]["title"] == "Result deleted by a moderator"
    async with open_view(settings) as store:
        assert await store.unposted_guilds() == []
        assert (await store.audit_log(GUILD_ID))[1] == 29


async def test_a_poster_that_died_after_posting_is_not_posted_twice(tmp_path, fake_discord, fake_pixazo,
                                                                    ledger_settings):
    """Posted, then the process died before marking the rows: the next poster's message carries the same
    nonce, and Discord answers with the message it already has."""
    settings = make_settings(tmp_path, fake_discord, fake_pixazo, **ledger_settings, **FAST)
    audit = await fake_discord.add_channel(GUILD_ID, name="audit")
    await seed(settings, audit, 2)
    async with started_bot(settings, fake_discord):
        await fake_discord.wait_for(lambda: len(posts(fake_discord, audit)) == 1, timeout=10)
    async with open_view(settings) as store:
        ids = [r["id"] for r in (await store.audit_log(GUILD_ID))[0]]
    await unmark(settings, ids)  # as if the process died between Discord's answer and the mark
    async with started_bot(settings, fake_discord):
        async with open_view(settings) as store:
            for _ in range(200):
                if await store.unposted_guilds() == []:
                    break
                await asyncio.sleep(0.05)
            assert await store.unposted_guilds() == [], "the second poster took them"
    sent = [r for r in fake_discord.requests if r.method == "POST" and r.path.endswith(f"/channels/{audit}/messages")]
    assert len(sent) == 2 and sent[0].json["nonce"] == sent[1].json["nonce"], "sent again, with the same nonce"
    assert len(posts(fake_discord, audit)) == 1, "and Discord kept the one message it had"


async def unmark(settings, ids: list[int]) -> None:
    """Clear the posted mark of rows (what a crash between Discord's answer and the mark leaves)."""
    if settings.database_url is None:
        import sqlite3
        db = sqlite3.connect(settings.data_dir / "bot.sqlite3")
        with db:
            db.executemany("UPDATE admin_actions SET posted_at = NULL, claimed_until = NULL WHERE id = ?", [(i,) for i in ids])
        db.close()
        return
    import asyncpg
    conn = await asyncpg.connect(settings.database_url.get_secret_value())
    try:
        await conn.execute("UPDATE admin_actions SET posted_at = NULL, claimed_until = NULL"
                           " WHERE id = ANY($1::bigint[])", ids)
    finally:
        await conn.close()


async def test_config_audit_filters_by_member_action_and_since_and_pages(harness):
    async with open_view(harness.settings) as store:
        for i in range(12):
            await store.record_action(GUILD_ID, ADMIN_ID, "grant", ALICE, {"credits": i + 1})
        await store.record_action(GUILD_ID, BOB, "generation", None, {"model": "sdxl", "cost": 2, "prompt": "a fox"})
        await store.record_action(GUILD_ID, ADMIN_ID, "config.word.add", None, {"value": "castle"})
    page = await config(harness, "audit")
    assert is_ephemeral(page)
    (embed,) = page["embeds"]
    assert embed["footer"]["text"] == "Page 1 of 2 · 14 rows"
    rows = embed["description"].split("\n")
    assert len(rows) == 10 and "Configuration changed" in rows[0] and "Image generated" in rows[1], "newest first"
    second = (await config(harness, "audit", {"page": 2}))["embeds"][0]
    assert second["footer"]["text"] == "Page 2 of 2 · 14 rows" and len(second["description"].split("\n")) == 4
    bob = (await config(harness, "audit", {"member": BOB}))["embeds"][0]
    assert bob["footer"]["text"].endswith("· 1 row") and "`a fox`" in bob["description"]
    grants = (await config(harness, "audit", {"action": "grant", "member": ALICE}))["embeds"][0]
    assert grants["footer"]["text"].endswith("· 12 rows")
    configs = (await config(harness, "audit", {"action": "config"}))["embeds"][0]
    assert configs["footer"]["text"].endswith("· 1 row") and "`castle`" in configs["description"]
    recent = (await config(harness, "audit", {"since": "2h", "action": "generation"}))["embeds"][0]
    assert recent["footer"]["text"].endswith("· 1 row")
    future = await config(harness, "audit", {"since": "2999-01-01"})
    assert future["content"] == "No audit log rows match."
    beyond = await config(harness, "audit", {"page": 9})
    assert beyond["content"] == "There are only 2 pages."
    for bad in ("yesterday", "2h ago", "2026-02-31", "-3d"):
        refused = await config(harness, "audit", {"since": bad})
        assert is_ephemeral(refused) and refused["content"].startswith("`since` must be a time like"), bad
    denied = await config(harness, "audit", permissions=DEFAULT_MEMBER_PERMISSIONS, user_id=ALICE, validate=False)
    assert is_ephemeral(denied) and "Manage Server" in denied["content"]
    followups = [r for r in harness.discord.requests if r.method == "POST" and "/webhooks/" in r.path]
    assert followups and all(r.json["allowed_mentions"]["parse"] == [] for r in followups), "mentions never ping"


async def test_rows_from_before_there_was_an_audit_channel_are_kept_but_never_posted(harness):
    fake = harness.discord
    await harness.answer("sdxl", {"prompt": "a lighthouse"}, user_id=ALICE)
    async with open_view(harness.settings) as store:
        for _ in range(100):  # the row is written, the poster looked, found no audit channel, marked it done
            if (await store.audit_log(GUILD_ID))[1] == 1 and await store.unposted_guilds() == []:
                break
            await asyncio.sleep(0.05)
        assert (await store.audit_log(GUILD_ID))[1] == 1 and await store.unposted_guilds() == []
    audit = await fake.add_channel(GUILD_ID, name="audit")
    await config(harness, "audit-channel", {"channel": audit})
    await fake.wait_for(lambda: embeds(fake, audit), timeout=10)
    await asyncio.sleep(1.5)
    assert [e["title"] for e in embeds(fake, audit)] == ["Configuration changed"], "news only, no backlog"
    shown = (await config(harness, "audit", {"action": "generation"}))["embeds"][0]
    assert shown["footer"]["text"].endswith("· 1 row"), "and still in /config audit"
    off = await config(harness, "audit-channel")
    assert "no longer posted" in off["content"]
