"""A held result (approval mode, or the image check) meeting a ledger that stops taking writes, through the
real discord.py against the fakes, on both ledgers: SQLite's write lock held by another process, a
PostgreSQL server of the test's own stopped (`pg_ctl stop -m immediate`) and started again.

Once the review post is in the review channel a moderator may decide on it, so its record waits for the
ledger as a settle does: the job ends succeeded, spent once, and the moderator's Keep or Approve posts the
image. The member hears about credits only what the ledger has when they are told."""

from __future__ import annotations

import asyncio
import re
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

import asyncpg
import pytest

from bot.catalog import MODELS
from tests.conftest import GUILD_ID, embed_fields, eventually, is_ephemeral, make_settings, started_bot
from tests.e2e.test_approval_e2e import ALICE, MOD, WAITING, config, moderated, one_post, posts
from tests.e2e.test_results_e2e import button_ids
from tests.e2e.test_settle_e2e import write_lock_held
from tests.image_samples import FACE, photo_bytes, require_image_check
from tests.ledger import open_view, read_jobs, until
from tests.postgres import PostgresServer, postgres_or_skip

PROMPT = "a lighthouse at dusk"
COST = MODELS["sdxl"].cost
OUT = 1.5  # how long the ledger refuses writes once the review post is made: several busy timeouts


@dataclass
class Ledger:
    name: str
    server: PostgresServer | None = None
    url: str = ""


@pytest.fixture(params=["sqlite", "postgres"])
async def ledger(request) -> AsyncIterator[Ledger]:
    if request.param == "sqlite":
        yield Ledger("sqlite")
        return
    server = await asyncio.to_thread(PostgresServer.start, postgres_or_skip())  # one the test may stop
    try:
        yield Ledger("postgres", server, server.url(await server.create_database()))
    finally:
        await asyncio.to_thread(server.stop)


@pytest.fixture
def ledger_settings(ledger) -> dict:
    if ledger.server is None:
        return {"database_busy_timeout_seconds": 0.2}
    return {"database_url": ledger.url, "database_busy_timeout_seconds": 1.0}


@asynccontextmanager
async def ledger_out(ledger: Ledger, settings) -> AsyncIterator[None]:
    """The ledger takes no writes until the block ends: busy (SQLite) or down (PostgreSQL)."""
    if ledger.server is None:
        async with write_lock_held(settings.database_path):
            yield
        return
    await asyncio.to_thread(ledger.server.halt)
    try:
        yield
    finally:
        await asyncio.to_thread(ledger.server.resume)


async def arrived(fake, method: str, path: str, since: int = 0) -> None:
    """A request of the bot's (after the first `since`) has reached the fake and waits there, stalled
    (polled: the fake signals only the requests it answers)."""
    pattern = re.compile(path)

    async def seen() -> bool:
        return any(r.method == method and pattern.search(r.path) for r in fake.requests[since:])

    await until(seen, timeout=20)


async def job_state(harness) -> tuple[str, int]:
    (job,) = await read_jobs(harness.settings, GUILD_ID, ALICE)
    return job["state"], job["cost"]


async def succeeded(harness) -> bool:
    return (await job_state(harness))[0] == "succeeded"


async def posted_while_out(ledger: Ledger, harness, art: int, review: int, options: dict):
    """The member's request, its review post made while the ledger takes no writes; then, the ledger back,
    the job succeeded and spent once, the post still there. The request and the post."""
    fake = harness.discord
    to_review = rf"/channels/{review}/messages$"
    released = fake.stall("POST", to_review)
    interaction = await fake.invoke("sdxl", {"prompt": PROMPT, **options}, user_id=ALICE, channel_id=art)
    await arrived(fake, "POST", to_review)
    async with ledger_out(ledger, harness.settings):
        released.set()
        post = await one_post(fake, review)
        await asyncio.sleep(OUT)
    await until(lambda: succeeded(harness), timeout=20)
    assert await job_state(harness) == ("succeeded", COST), "the image is in the review channel: spent, once"
    assert post["id"] in fake.messages and post["id"] not in fake.deleted_messages, "the review post stays"
    assert "retrying 'record its review post' until it lands" in harness.log_text()
    return interaction, post


async def decided(harness, post: dict, button: str, art: int, said: str) -> None:
    """A moderator's press posts the image the review post holds in the channel it was asked for."""
    pressed = await harness.discord.click(post, button_ids(post)[button], user_id=9100, permissions=MOD)
    await pressed.wait_callback()
    assert (await pressed.wait_followup())["content"] == said
    (result,) = posts(harness.discord, art)
    assert result["attachments"] and result["embeds"][0]["image"]["url"] == result["attachments"][0]["url"]
    assert await job_state(harness) == ("succeeded", COST)


async def test_an_approval_post_the_ledger_cannot_record_at_once_waits_for_it_and_approve_posts_it(ledger, harness):
    art, review = await moderated(harness.discord)
    interaction, post = await posted_while_out(ledger, harness, art, review, {"seed": 5})
    waiting = await interaction.wait_followup(timeout=10)
    assert is_ephemeral(waiting) and WAITING in waiting["content"], waiting
    await decided(harness, post, "Approve", art, f"Approved; posted in <#{art}>.")


async def test_a_review_post_still_unrecorded_at_shutdown_is_deleted_and_the_job_runs_again(ledger, tmp_path,
                                                                                         fake_discord, fake_pixazo,
                                                                                         ledger_settings):
    """The bot stops while the ledger still takes no writes: the post goes (no moderator decides on an image
    whose job is not delivered), and the next start makes the image again and posts it under the same review."""
    settings = make_settings(tmp_path, fake_discord, fake_pixazo, shutdown_grace_seconds=0.5, **ledger_settings)
    async with AsyncExitStack() as out:
        async with started_bot(settings, fake_discord):
            art, review = await moderated(fake_discord)
            to_review = rf"/channels/{review}/messages$"
            released = fake_discord.stall("POST", to_review)
            await fake_discord.invoke("sdxl", {"prompt": PROMPT, "seed": 5}, user_id=ALICE, channel_id=art)
            await arrived(fake_discord, "POST", to_review)
            await out.enter_async_context(ledger_out(ledger, settings))
            released.set()
            first = await one_post(fake_discord, review)
            await asyncio.sleep(0.5)
        # Stopped (as on SIGTERM) with the ledger still out.
        assert first["id"] in fake_discord.deleted_messages, "an unrecorded review post does not outlive the bot"
    fake_discord.identify_payload = None
    async with started_bot(settings, fake_discord):
        await eventually(lambda: fake_discord.identify_payload is not None, timeout=15)
        post = await one_post(fake_discord, review)
        assert post["id"] != first["id"] and len(fake_pixazo.requests) == 2, "made again, posted again"

        async def delivered() -> bool:
            (job,) = await read_jobs(settings, GUILD_ID, ALICE)
            return job["state"] == "succeeded"
        await until(delivered, timeout=20)
        (job,) = await read_jobs(settings, GUILD_ID, ALICE)
        assert (job["cost"], job["attempts"]) == (COST, 2), "spent once"
        pressed = await fake_discord.click(post, button_ids(post)["Approve"], user_id=9100, permissions=MOD)
        await pressed.wait_callback()
        assert (await pressed.wait_followup())["content"] == f"Approved; posted in <#{art}>."
        (result,) = posts(fake_discord, art)
        assert result["attachments"] and result["embeds"][0]["image"]["url"] == result["attachments"][0]["url"]


async def held_by_the_check(harness) -> tuple[int, int]:
    require_image_check()
    harness.pixazo.result_override = (photo_bytes(FACE), "png")
    art = await harness.discord.add_channel(GUILD_ID, name="art")
    review = await harness.discord.add_channel(GUILD_ID, name="review")
    await config(harness.discord, "review-channel", {"channel": review})
    return art, review


IMAGE_CHECK = {"image_check": True, "image_check_classes": ("FACE_FEMALE",)}


@pytest.mark.parametrize("bot_settings", [IMAGE_CHECK])
async def test_a_held_image_the_ledger_cannot_record_at_once_waits_for_it_and_keep_posts_it(ledger, harness):
    art, review = await held_by_the_check(harness)
    interaction, post = await posted_while_out(ledger, harness, art, review, {})
    said = await interaction.wait_followup(timeout=10)
    assert is_ephemeral(said) and "The server's moderators can look at it" in said["content"], said
    assert embed_fields(post)["Image check"].startswith("face female")
    await decided(harness, post, "Keep", art, f"Kept; posted in <#{art}>.")


@pytest.mark.parametrize("bot_settings", [IMAGE_CHECK])
async def test_a_held_image_says_its_credits_stay_spent_only_once_the_ledger_has_them_spent(ledger, harness):
    fake = harness.discord
    art, review = await held_by_the_check(harness)
    followups = r"/webhooks/\d+/[^/]+$"  # the member's private word is the request's followup
    released = fake.stall("POST", followups)
    before = len(fake.requests)  # the admin's /config was answered with a followup too
    interaction = await fake.invoke("sdxl", {"prompt": PROMPT}, user_id=ALICE, channel_id=art)
    await arrived(fake, "POST", followups, since=before)
    ledger_had, _ = await job_state(harness)  # what the ledger has as the member is told
    async with ledger_out(ledger, harness.settings):
        released.set()
        said = await interaction.wait_followup(timeout=10)
        await asyncio.sleep(OUT)
    assert is_ephemeral(said) and "it was not posted here" in said["content"], said
    if ledger_had != "succeeded":
        assert "credits" not in said["content"], f"told {said['content']!r} while the ledger had the job {ledger_had}"
    else:
        assert said["content"].endswith("Its credits stay spent, since the image was made."), said
    await until(lambda: succeeded(harness), timeout=20)
    assert await job_state(harness) == ("succeeded", COST)
    assert len(interaction.followups) == 1, "told once"
    await one_post(fake, review)


async def soon(check: Callable[[], Awaitable[int | None]], timeout: float = 20) -> int:
    """`check()`'s first answer that is not None, asked every millisecond (`until` polls more slowly)."""
    for _ in range(int(timeout * 1000)):
        if (found := await check()) is not None:
            return found
        await asyncio.sleep(0.001)
    raise AssertionError(f"condition not met within {timeout}s")


@asynccontextmanager
async def busy_once_answered(ledger: Ledger, settings, user_id: int) -> AsyncIterator[None]:
    """From the moment the member's job is marked answered (the last write before its result is looked at
    and held) the ledger refuses its writes as busy, until the block ends: SQLite's write lock taken by
    another connection; on PostgreSQL the job's row and the audit log locked by another session. Polled
    from this event loop, so the ledger is busy before the image check has looked at the image."""
    if ledger.server is None:
        conn = sqlite3.connect(settings.database_path, timeout=0, isolation_level=None)
        try:
            async def answered_sqlite() -> int | None:
                found = conn.execute("SELECT id FROM jobs WHERE user_id = ? AND answered_at IS NOT NULL",
                                     (user_id,)).fetchone()
                return None if found is None else found[0]
            async def write_lock() -> int | None:  # as soon as a write of the bot's own lets it go
                try:
                    conn.execute("BEGIN IMMEDIATE")
                except sqlite3.OperationalError as exc:
                    if "locked" not in str(exc):
                        raise
                    return None
                return 1
            await soon(answered_sqlite)
            await soon(write_lock)
            yield
            conn.execute("ROLLBACK")
        finally:
            conn.close()
        return
    pg = await asyncpg.connect(ledger.url)
    try:
        async def answered_pg() -> int | None:
            return await pg.fetchval("SELECT id FROM jobs WHERE user_id = $1 AND answered_at IS NOT NULL", user_id)
        job_id = await soon(answered_pg)
        async with pg.transaction():
            await pg.execute("SELECT 1 FROM jobs WHERE id = $1 FOR UPDATE", job_id)
            await pg.execute("LOCK TABLE admin_actions IN EXCLUSIVE MODE")
            yield
    finally:
        await pg.close()


@pytest.mark.parametrize("bot_settings", [IMAGE_CHECK])
async def test_a_held_image_whose_first_settle_try_fails_is_told_without_credits_then_ends_spent_once(ledger, harness):
    """The ledger is busy when the held image's job would succeed: the member is told at once that it was not
    posted, without a word of its credits (the ledger does not have them spent yet); once the ledger takes
    the success, the job is succeeded and spent once, the member is not told again, and the server's audit
    log has the image check's hold."""
    require_image_check()
    fake = harness.discord
    harness.pixazo.result_override = (photo_bytes(FACE), "png")
    art = await fake.add_channel(GUILD_ID, name="art")  # no review channel: only the member hears of it
    interaction = await fake.invoke("sdxl", {"prompt": PROMPT}, user_id=ALICE, channel_id=art)
    async with busy_once_answered(ledger, harness.settings, ALICE):
        said = await interaction.wait_followup(timeout=10)
        assert "did not take its success at once" in harness.log_text(), "the settle's first try failed"
        await asyncio.sleep(OUT)
        assert (await job_state(harness))[0] == "running", "its success is not recorded yet"
    assert is_ephemeral(said) and "it was not posted here" in said["content"], said
    assert "credits" not in said["content"], f"told {said['content']!r} before the ledger had the job succeeded"
    await until(lambda: succeeded(harness), timeout=20)
    assert await job_state(harness) == ("succeeded", COST)
    assert len(interaction.followups) == 1, "told once"
    assert posts(fake, art) == [], "nothing posted where it was asked for"

    async def audited() -> bool:
        async with open_view(harness.settings) as store:
            return [a["action"] for a in await store.admin_actions(GUILD_ID)].count("held") == 1
    await until(audited, timeout=20)
