"""`/quotas usage` without a member: the server's spend and its chart, as an admin sees them in Discord."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from PIL import Image

from bot.services.usage_chart import CHART_SIZE, FILENAME, PALETTE, PLOT, bar_x, colour_of
from bot.storage import Member, open_store
from tests.conftest import GUILD_ID, embed_fields, is_ephemeral
from tests.e2e.test_quota_e2e import ADMIN, BOB, PROMPT
from tests.fakes.pixazo import Behaviour
from tests.ledger import columns, jobs, open_view, until

ALICE = 4000
CAROL = 4002


@pytest.fixture
def ledger_settings(backend) -> dict:
    """Every scenario here runs on both ledgers: SQLite and a real PostgreSQL."""
    return backend.settings


async def server_usage(harness) -> dict:
    interaction = await harness.invoke("quotas", {}, subcommand="usage", permissions=ADMIN, user_id=9000,
                                       username="mod")
    return await interaction.wait_followup()


async def settled(harness, *users: int, count: int) -> None:
    """Jobs settle just after their followup is posted; the view reads the ledger."""
    async with open_view(harness.settings) as store:
        async def done() -> bool:
            states = columns(await jobs(store, GUILD_ID, *users), "state")
            return len(states) == count and all(s in {("succeeded",), ("failed",)} for s in states)

        await until(done)


def chart_of(message: dict) -> Image.Image:
    ((filename, _, data),) = message["_files"]
    assert filename == FILENAME
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG" and image.size == CHART_SIZE
    return image.convert("RGB")


def today_bar(image: Image.Image) -> list[tuple[int, int, int]]:
    """The pixels of today's bar (the last one) from the plot's top to its bottom, top first."""
    _, top, _, bottom = PLOT
    x = bar_x(29)
    return [image.getpixel((x, y)) for y in range(top, bottom)]


async def test_the_server_view_sums_what_was_spent_by_model_and_member_with_a_chart(harness):
    # Three days ago, written with that clock (commands cannot run in the past): in the week, not today.
    when = (datetime.now(UTC) - timedelta(days=3)).timestamp()
    store = await open_store(harness.settings, clock=lambda: when, recover=False)
    try:
        job, _ = await store.reserve(Member(GUILD_ID, CAROL), channel_id=1, model="sdxl", params={}, cost=2,
                                     default_allowance=20, max_jobs=5, global_cap=None)
        await store.succeed(job, "https://x/y.png")
    finally:
        await store.close()
    await harness.answer("sd35-large", {"prompt": PROMPT}, user_id=ALICE)
    await harness.answer("sdxl", {"prompt": PROMPT}, user_id=ALICE)
    await harness.answer("sdxl", {"prompt": PROMPT}, user_id=BOB)
    harness.pixazo.push(Behaviour.UNAUTHORIZED)  # refunded: never counted
    await harness.answer("sd3", {"prompt": PROMPT}, user_id=CAROL)
    await settled(harness, ALICE, BOB, CAROL, count=5)

    message = await server_usage(harness)
    assert is_ephemeral(message)
    assert message["_payload"]["allowed_mentions"] == {"parse": []}, "the top members are named, never pinged"
    fields = embed_fields(message)
    assert fields["Today"] == "8 credits · 3 jobs"
    assert fields["Last 7 days"] == fields["Last 30 days"] == "10 credits · 4 jobs"
    assert fields["By model (30 days)"].splitlines() == ["/sdxl · 6 credits · 3 jobs",
                                                         "/sd35-large · 4 credits · 1 job"]
    # A tie is broken by member id, so the same usage always reads the same.
    assert fields["Top 10 members (30 days)"].splitlines() == [f"1. <@{ALICE}> · 6 credits · 2 jobs",
                                                               f"2. <@{BOB}> · 2 credits · 1 job",
                                                               f"3. <@{CAROL}> · 2 credits · 1 job"]
    (embed,) = message["embeds"]
    assert embed["image"]["url"].endswith(f"/{FILENAME}"), "the chart is the embed's image"
    bar = set(today_bar(chart_of(message)))
    assert {colour_of("sdxl"), colour_of("sd35-large")} <= bar and colour_of("sd3") not in bar
    async with open_view(harness.settings) as ledger:
        # Part 8's audit log also has a row for each image delivered; these are the admin's.
        actions = [a for a in columns(await ledger.admin_actions(GUILD_ID), "actor_id", "action", "target_id")
                   if a[1] != "generation"]
    assert actions == [(9000, "view", None)]


async def test_the_chart_says_when_nothing_was_spent_and_its_bars_follow_the_usage(harness):
    empty = await server_usage(harness)
    assert embed_fields(empty)["Today"] == "0 credits · 0 jobs"
    assert embed_fields(empty)["By model (30 days)"] == "No credits spent in the last 30 days."
    assert not set(today_bar(chart_of(empty))) & set(PALETTE), "no bar at all"

    await harness.answer("sdxl", {"prompt": PROMPT})
    await settled(harness, ALICE, count=1)
    one = today_bar(chart_of(await server_usage(harness)))
    assert set(one) & set(PALETTE) == {colour_of("sdxl")}

    await harness.answer("sd3", {"prompt": PROMPT})
    harness.pixazo.push(Behaviour.UNAUTHORIZED)
    await harness.answer("sd35-large", {"prompt": PROMPT})  # failed: adds nothing to the bar
    await settled(harness, ALICE, count=3)
    two = today_bar(chart_of(await server_usage(harness)))
    assert set(two) & set(PALETTE) == {colour_of("sdxl"), colour_of("sd3")}, "sd3 stacked on sdxl"
    sdxl_then, sdxl_now = one.count(colour_of("sdxl")), two.count(colour_of("sdxl"))
    # 2 of 5 credits now, the whole bar before; the axis top follows the tallest bar (2, then 5).
    assert sdxl_now == pytest.approx(sdxl_then * 2 / 5, abs=2)
    assert two.count(colour_of("sd3")) == pytest.approx(sdxl_then * 3 / 5, abs=2)


async def test_with_a_member_the_view_is_the_members_as_before(harness):
    await harness.answer("sdxl", {"prompt": PROMPT})
    await settled(harness, ALICE, count=1)
    interaction = await harness.invoke("quotas", {"member": ALICE}, subcommand="usage", permissions=ADMIN,
                                       user_id=9000, username="mod")
    message = await interaction.wait_followup()
    fields = embed_fields(message)
    assert (fields["Left today"], fields["Used today"]) == ("18", "2")
    assert "/sdxl · 2 credits · succeeded" in fields["Recent jobs"]
    assert message["_files"] == [] and "image" not in message["embeds"][0]
    async with open_view(harness.settings) as ledger:
        # Part 8's audit log also has a row for each image delivered; these are the admin's.
        actions = [a for a in columns(await ledger.admin_actions(GUILD_ID), "actor_id", "action", "target_id")
                   if a[1] != "generation"]
    assert actions == [(9000, "view", ALICE)]


async def test_a_member_without_manage_server_is_refused_the_server_view(harness):
    interaction = await harness.invoke("quotas", {}, subcommand="usage", user_id=BOB)
    callback = await interaction.wait_callback()
    assert callback["data"]["flags"] & 64
    assert "Manage Server" in callback["data"]["content"]
    assert interaction.followups == []
    async with open_view(harness.settings) as ledger:
        assert await ledger.admin_actions(GUILD_ID) == []
