"""The durable queue through the real discord.py against the fakes: order, notices, Cancel, restarts."""

from __future__ import annotations

import asyncio
import re

import pytest

from bot.storage import Member
from tests.conftest import GUILD_ID, eventually, is_ephemeral, make_settings, started_bot
from tests.fakes.discord import DEFAULT_MEMBER_PERMISSIONS
from tests.ledger import columns, jobs, open_view, read_jobs, until

MANAGE_MESSAGES = 1 << 13
CANCEL = re.compile(r"^queue:cancel:(\d+)$")


@pytest.fixture
async def ledger(harness):
    async with open_view(harness.settings) as store:
        yield store


def prompts_seen(pixazo) -> list[str]:
    return [call.json["prompt"] for call in pixazo.requests if isinstance(call.json, dict) and "prompt" in call.json]


def cancel_id(message: dict) -> str | None:
    for row in message.get("components") or []:
        for item in row.get("components") or []:
            if CANCEL.match(item.get("custom_id", "")):
                return item["custom_id"]
    return None


def shows(interaction, text: str) -> bool:
    original = interaction.original
    return bool(original and text in (original.get("content") or ""))


def has_result(interaction) -> bool:
    return bool(interaction.original and interaction.original["embeds"])


@pytest.mark.parametrize("bot_settings", [{"pixazo_max_concurrency": 1, "quota_max_jobs_per_user": 3}])
async def test_the_queue_is_fair_between_members(harness):
    harness.pixazo.latency = 0.4
    z = await harness.invoke("sdxl-lightning", {"prompt": "Z"}, user_id=4026)
    await eventually(lambda: len(harness.pixazo.requests) == 1)
    harness.pixazo.latency = 0.02
    waiting = []
    for user, name in ((4001, "A"), (4002, "B"), (4003, "C")):
        for n in (1, 2, 3):
            waiting.append(await harness.invoke("sdxl-lightning", {"prompt": f"{name}{n}"}, user_id=user))
            await waiting[-1].wait_callback()
    for interaction in (z, *waiting):
        await eventually(lambda i=interaction: has_result(i), timeout=10)
    assert prompts_seen(harness.pixazo) == ["Z", "A1", "B1", "C1", "A2", "B2", "C2", "A3", "B3", "C3"]


@pytest.mark.parametrize("bot_settings", [{"pixazo_max_concurrency": 1, "progress_interval_seconds": 0.3}])
async def test_waiting_jobs_show_their_position_and_a_cancel_button(harness, ledger):
    harness.pixazo.latency = 30  # the first job holds the only slot
    first = await harness.invoke("sdxl", {"prompt": "first"}, user_id=4000)
    await eventually(lambda: len(harness.pixazo.requests) == 1)
    waiting = [await harness.invoke("sdxl", {"prompt": f"w{n}"}, user_id=4001 + n) for n in range(3)]
    for n, interaction in enumerate(waiting):
        await eventually(lambda i=interaction, n=n: shows(i, f"position {n + 1} of 3"), timeout=3)
        assert cancel_id(interaction.original), "a Cancel button on the notice"
        assert not interaction.original["embeds"]
    assert interaction.followups == []
    assert first.edits == [], "a job that started at once keeps its thinking message"

    # Cancel while waiting: refunded, the message says so and by whom, Pixazo never sees it.
    target = waiting[0]
    # Two clicks at once (a double click, or a second member): one cancels, the other is told so.
    click, again = await asyncio.gather(*(harness.discord.click(target.original, cancel_id(target.original),
                                                                 user_id=4001) for _ in range(2)))
    callbacks = [await click.wait_callback(), await again.wait_callback()]
    if callbacks[0]["type"] != 7:
        callbacks.reverse()
    callback, second = callbacks
    assert callback["type"] == 7
    assert "Cancelled by <@4001>" in target.original["content"] and not target.original["components"]
    assert callback["data"]["allowed_mentions"]["parse"] == []
    (job,) = await jobs(ledger, GUILD_ID, 4001)
    assert (job["state"], job["cancelled_by"], job["interaction_token"]) == ("cancelled", 4001, None)
    assert (await ledger.snapshot(Member(GUILD_ID, 4001), default_allowance=20)).used == 0
    # The others moved up.
    await eventually(lambda: shows(waiting[1], "position 1 of 2"), timeout=3)
    await eventually(lambda: shows(waiting[2], "position 2 of 2"), timeout=3)
    reply = second["data"]
    assert is_ephemeral(reply) and "already cancelled" in reply["content"], "the second click says so"
    assert "w0" not in prompts_seen(harness.pixazo)
    await harness.pixazo.close()  # ends the hanging call so the test stops quickly


@pytest.mark.parametrize("bot_settings", [{"pixazo_max_concurrency": 1, "progress_interval_seconds": 0.3}])
async def test_cancel_by_a_stranger_is_refused_and_by_a_moderator_allowed(harness, ledger):
    harness.pixazo.latency = 30
    await harness.invoke("sdxl", {"prompt": "first"}, user_id=4000)
    await eventually(lambda: len(harness.pixazo.requests) == 1)
    target = await harness.invoke("sdxl", {"prompt": "second"}, user_id=4001)
    await eventually(lambda: shows(target, "position 1 of 1"), timeout=3)
    custom_id = cancel_id(target.original)

    stranger = await harness.discord.click(target.original, custom_id, user_id=4999)
    reply = (await stranger.wait_callback())["data"]
    assert is_ephemeral(reply) and "Only the member who asked" in reply["content"]
    assert columns(await jobs(ledger, GUILD_ID, 4001), "state") == [("queued",)]

    moderator = await harness.discord.click(target.original, custom_id, user_id=4998,
                                            permissions=DEFAULT_MEMBER_PERMISSIONS | MANAGE_MESSAGES)
    assert (await moderator.wait_callback())["type"] == 7
    assert "Cancelled by <@4998>" in target.original["content"]
    assert columns(await jobs(ledger, GUILD_ID, 4001), "state", "cancelled_by") == [("cancelled", 4998)]
    await harness.pixazo.close()


@pytest.mark.parametrize("bot_settings", [{"pixazo_max_concurrency": 1, "progress_interval_seconds": 0.2}])
async def test_cancel_while_running_discards_the_result_and_refunds(harness, ledger):
    harness.pixazo.latency = 0.5
    await harness.invoke("sdxl", {"prompt": "first"}, user_id=4000)
    await eventually(lambda: len(harness.pixazo.requests) == 1)
    target = await harness.invoke("sdxl", {"prompt": "second"}, user_id=4001)
    await eventually(lambda: shows(target, "Generating…"), timeout=5)
    assert prompts_seen(harness.pixazo)[-1] == "second"
    click = await harness.discord.click(target.original, cancel_id(target.original), user_id=4001)
    assert (await click.wait_callback())["type"] == 7
    await asyncio.sleep(1.0)  # longer than the call would have taken
    assert not has_result(target) and "Cancelled by <@4001>" in target.original["content"]
    assert target.followups == []
    assert columns(await jobs(ledger, GUILD_ID, 4001), "state") == [("cancelled",)]
    assert (await ledger.snapshot(Member(GUILD_ID, 4001), default_allowance=20)).used == 0
    assert await ledger.audit() == []


@pytest.mark.parametrize("bot_settings", [{"queue_max_length": 2, "pixazo_max_concurrency": 1}])
async def test_a_full_queue_refuses_and_charges_nothing(harness, ledger):
    harness.pixazo.latency = 30
    await harness.invoke("sdxl", {"prompt": "running"}, user_id=4000)
    await eventually(lambda: len(harness.pixazo.requests) == 1)
    for user in (4001, 4002):
        await (await harness.invoke("sdxl", {"prompt": "waits"}, user_id=user)).wait_callback()
    await until(lambda: _count(ledger, 3))
    _, message = await harness.answer("sdxl", {"prompt": "one too many"}, user_id=4003)
    assert is_ephemeral(message) and "queue is full" in message["content"]
    assert (await ledger.snapshot(Member(GUILD_ID, 4003), default_allowance=20)).used == 0
    assert await jobs(ledger, GUILD_ID, 4003) == []
    await harness.pixazo.close()


async def _count(ledger, n: int) -> bool:
    return len(await jobs(ledger, GUILD_ID, 4000, 4001, 4002)) == n


async def test_a_restart_resumes_the_queue_in_order_and_delivers_each_once(tmp_path, fake_discord, fake_pixazo,
                                                                            ledger_settings):
    settings = make_settings(tmp_path, fake_discord, fake_pixazo, pixazo_max_concurrency=1,
                             quota_max_jobs_per_user=3, **ledger_settings)
    fake_pixazo.latency = 30
    async with started_bot(settings, fake_discord):
        first = await fake_discord.invoke("sdxl-lightning", {"prompt": "P0"}, user_id=4000)
        await eventually(lambda: len(fake_pixazo.requests) == 1)
        rest = [await fake_discord.invoke("sdxl-lightning", {"prompt": f"P{n}"}, user_id=4000 + n) for n in (1, 2, 3)]
        for interaction in rest:
            await interaction.wait_callback()
        await eventually(lambda: len(fake_discord.edit_times) >= 3, timeout=3)
    states = columns(await read_jobs(settings, GUILD_ID, 4000, 4001, 4002, 4003), "state")
    assert states == [("queued",)] * 4, "the running one went back to the head of the queue"
    fake_pixazo.latency = 0.02
    async with started_bot(settings, fake_discord):
        for interaction in (first, *rest):
            await eventually(lambda i=interaction: has_result(i), timeout=10)
    assert prompts_seen(fake_pixazo) == ["P0", "P0", "P1", "P2", "P3"]
    for interaction in (first, *rest):
        results = [m for m in interaction.followups if m.get("embeds")]
        results += [e for e in interaction.edits if e.get("embeds")]
        assert len(results) == 1, "delivered exactly once"
    rows = await read_jobs(settings, GUILD_ID, 4000, 4001, 4002, 4003)
    assert columns(rows, "state", "interaction_token") == [("succeeded", None)] * 4


@pytest.mark.parametrize("bot_settings", [{"pixazo_max_concurrency": 2, "shutdown_grace_seconds": 1.0}])
async def test_a_stop_lets_short_calls_finish_and_puts_long_ones_back(tmp_path, fake_discord, fake_pixazo,
                                                                      ledger_settings, bot_settings):
    settings = make_settings(tmp_path, fake_discord, fake_pixazo, **{**ledger_settings, **bot_settings})
    fake_pixazo.latency = 0.6
    async with started_bot(settings, fake_discord) as task:
        short = await fake_discord.invoke("sdxl", {"prompt": "short"}, user_id=4000)
        await eventually(lambda: len(fake_pixazo.requests) == 1)
        fake_pixazo.latency = 30
        long = await fake_discord.invoke("sdxl", {"prompt": "long"}, user_id=4001)
        await eventually(lambda: len(fake_pixazo.requests) == 2)
        task.cancel()  # what SIGTERM does (run_until_signalled)
        try:
            await task
        except asyncio.CancelledError:
            pass
    assert has_result(short) or any(m.get("embeds") for m in short.followups), "finished within the grace"
    assert columns(await read_jobs(settings, GUILD_ID, 4000), "state") == [("succeeded",)]
    assert columns(await read_jobs(settings, GUILD_ID, 4001), "state", "attempts") == [("queued", 0)]
    assert not long.followups


@pytest.mark.parametrize("bot_settings", [{"pixazo_max_concurrency": 2, "progress_interval_seconds": 1.0,
                                           "progress_max_edits_per_second": 10, "quota_max_jobs_per_user": 5,
                                           "quota_default_daily_credits": 1000}])
async def test_edits_keep_to_the_interval_per_job_and_the_budget_bot_wide(harness):
    harness.pixazo.latency = 0.07  # long enough a queue that the edit budget, not the queue, bounds the notices
    interactions = [await harness.invoke("sdxl-lightning", {"prompt": f"j{n}"}, user_id=4000 + n // 5)
                    for n in range(200)]
    for interaction in interactions:
        await eventually(lambda i=interaction: has_result(i) or bool(i.followups), timeout=30)
    times = []
    by_message: dict[str, list[float]] = {}
    for at, message_id in harness.discord.edit_times:
        by_message.setdefault(message_id, []).append(at)
    results = {i.original["id"] for i in interactions if has_result(i)}
    for interaction in interactions:
        edits = [e for e in interaction.edits if not e.get("embeds")]
        stamps = by_message.get(interaction.original["id"], [])[:len(edits)]
        times += stamps
        gaps = [b - a for a, b in zip(stamps, stamps[1:], strict=False)]
        assert all(gap >= 0.9 for gap in gaps), gaps  # the bot keeps 1.0 s; 0.1 s for transit
    assert len(times) > 50, "the queue was long enough to show many notices"
    times.sort()
    # Seen where the fake receives them: the bot keeps 10 a second as it sends, and transit on a busy
    # machine can bunch two arrivals, so the window allows 0.1 s of it, as the gaps above do.
    peak = max(sum(1 for t in times if start <= t < start + 0.9) for start in times)
    assert peak <= 10, peak
    assert results


def bot_env(tmp_path, fake_discord, fake_pixazo, **extra: str) -> dict[str, str]:
    from tests.conftest import PIXAZO_KEY, TOKEN
    from tests.e2e.test_startup import clean_env

    return {**clean_env(), "DISCORD_TOKEN": TOKEN, "PIXAZO_API_KEY": PIXAZO_KEY,
            "PIXAZO_BASE_URL": fake_pixazo.base_url, "PIXAZO_REQUIRE_HTTPS_RESULTS": "false",
            "PIXAZO_RESULT_ALLOW_PRIVATE_HOSTS": "true", "PIXAZO_TIMEOUT_SECONDS": "60",
            "DISCORD_API_BASE_URL": fake_discord.api_base, "DISCORD_GATEWAY_URL": fake_discord.gateway_url,
            "DISCORD_GUILD_READY_TIMEOUT": "0.05", "DEV_GUILD_ID": str(GUILD_ID),
            "DATA_DIR": str(tmp_path / "data"), **extra}


async def test_kill_9_mid_call_runs_the_job_once_more_and_delivers_it_once(tmp_path, fake_discord, fake_pixazo):
    import signal
    import sys

    fake_pixazo.latency = 30
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "bot", cwd=tmp_path,
                                                env=bot_env(tmp_path, fake_discord, fake_pixazo),
                                                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    try:
        await fake_discord.wait_identified(timeout=15)
        await fake_discord.wait_synced(timeout=15)
        interaction = await fake_discord.invoke("sdxl", {"prompt": "cut short"})
        await eventually(lambda: len(fake_pixazo.requests) == 1, timeout=10)
    finally:
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
    settings = make_settings(tmp_path, fake_discord, fake_pixazo)
    assert columns(await read_jobs(settings, GUILD_ID, 4000), "state") == [("running",)], "nothing settled it"
    fake_pixazo.latency = 0.02
    async with started_bot(settings, fake_discord):
        await eventually(lambda: has_result(interaction) or any(m.get("embeds") for m in interaction.followups),
                         timeout=10)
        await asyncio.sleep(0.3)
    assert prompts_seen(fake_pixazo) == ["cut short", "cut short"], "its Pixazo call was made once more"
    delivered = [m for m in interaction.followups if m.get("embeds")] + [e for e in interaction.edits if e.get("embeds")]
    assert len(delivered) == 1
    assert columns(await read_jobs(settings, GUILD_ID, 4000), "state", "attempts") == [("succeeded", 2)]


async def test_sigterm_finishes_short_calls_requeues_long_ones_and_exits_0(tmp_path, fake_discord, fake_pixazo):
    import signal
    import sys

    fake_pixazo.latency = 1.0
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", cwd=tmp_path,
        env=bot_env(tmp_path, fake_discord, fake_pixazo, SHUTDOWN_GRACE_SECONDS="2", QUOTA_MAX_JOBS_PER_USER="3"),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        await fake_discord.wait_identified(timeout=15)
        await fake_discord.wait_synced(timeout=15)
        short = await fake_discord.invoke("sdxl", {"prompt": "short"}, user_id=4000)
        await eventually(lambda: len(fake_pixazo.requests) == 1, timeout=10)
        fake_pixazo.latency = 30
        await fake_discord.invoke("sdxl", {"prompt": "long"}, user_id=4001)
        await eventually(lambda: len(fake_pixazo.requests) == 2, timeout=10)
        proc.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(proc.communicate(), timeout=10)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, stderr.decode()[-2000:]
    assert any(m.get("embeds") for m in short.followups) or has_result(short), "delivered within the grace"
    settings = make_settings(tmp_path, fake_discord, fake_pixazo)
    assert columns(await read_jobs(settings, GUILD_ID, 4000, 4001), "user_id", "state") == [(4000, "succeeded"),
                                                                                           (4001, "queued")]
    assert "go back to the head of the queue" in stderr.decode()


@pytest.mark.parametrize("bot_settings", [{"pixazo_max_concurrency": 1, "queue_max_wait_seconds": 0.5}])
async def test_a_job_waiting_too_long_fails_refunded_and_the_member_is_told(harness, ledger):
    harness.pixazo.latency = 30
    await harness.invoke("sdxl", {"prompt": "holds the slot"}, user_id=4000)
    await eventually(lambda: len(harness.pixazo.requests) == 1)
    waiting = await harness.invoke("sdxl", {"prompt": "waits"}, user_id=4001)
    await eventually(lambda: any(is_ephemeral(m) for m in waiting.followups), timeout=10)
    told = next(m for m in waiting.followups if is_ephemeral(m))
    assert "waited in the queue too long" in told["content"] and "no credits were spent" in told["content"]
    (row,) = await jobs(ledger, GUILD_ID, 4001)
    assert (row["state"], row["interaction_token"]) == ("failed", None)
    assert (await ledger.snapshot(Member(GUILD_ID, 4001), default_allowance=20)).used == 0
    assert "waits" not in prompts_seen(harness.pixazo)
    await harness.pixazo.close()
