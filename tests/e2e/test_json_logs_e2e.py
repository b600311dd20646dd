"""LOG_FORMAT=json from a real `python -m bot` between the fakes: every line it writes is one JSON
object; a job's lines carry its job, server and member ids, a command's its server, member and shard;
and no secret reaches any field, Pixazo echoing the key back included."""

from __future__ import annotations

import json

from tests.conftest import GUILD_ID, PIXAZO_KEY, TOKEN, eventually
from tests.fakes.launch import BotProcess, bot_env
from tests.fakes.pixazo import Behaviour

ALICE, BOB, CAROL = 4000, 4001, 4002


async def test_json_logs_from_a_running_bot_carry_the_ids_and_no_secret(tmp_path, fake_discord, fake_pixazo):
    env = bot_env(tmp_path, fake_discord, fake_pixazo, log_format="json", pixazo_retry_base_delay_seconds=0.0)
    bot = await BotProcess(env, tmp_path / "run").start()
    try:
        await bot.wait_ready(fake_discord)
        made = await fake_discord.invoke("sdxl", {"prompt": "a red fox"}, user_id=ALICE)
        await made.wait_followup(timeout=10)
        fake_pixazo.push(Behaviour.ECHO_KEY)  # a 400 whose message repeats the subscription key
        refused = await fake_discord.invoke("sdxl", {"prompt": "a blue heron"}, user_id=BOB)
        await refused.wait_followup(timeout=10)
        await eventually(lambda: "failed" in bot.log(), timeout=5)
        blocked = await fake_discord.invoke("sdxl", {"prompt": "a nude figure"}, user_id=CAROL)  # the built-in rules
        await blocked.wait_callback(timeout=10)
        await eventually(lambda: str(CAROL) in bot.log(), timeout=5)
    finally:
        assert await bot.stop() == 0
    text = bot.log()
    assert TOKEN not in text and PIXAZO_KEY not in text
    lines = [json.loads(line) for line in text.splitlines()]  # every line is one JSON object
    assert all({"time", "level", "logger", "message", "shard"} <= set(line) for line in lines)

    (success,) = [line for line in lines if "succeeded in" in line["message"]]
    assert (success["server"], success["member"], success["shard"]) == (GUILD_ID, ALICE, "all")
    assert isinstance(success["job"], int) and f"job {success['job']} " in success["message"]
    (failure,) = [line for line in lines if line["logger"] == "bot.services.queue" and "failed" in line["message"]]
    assert (failure["server"], failure["member"]) == (GUILD_ID, BOB) and failure["job"] != success["job"]
    assert "[redacted]" in failure["message"], "the echoed key, redacted"
    (refusal,) = [line for line in lines if line.get("member") == CAROL]
    assert refusal["logger"] == "bot.ui.funnel" and (refusal["server"], refusal["shard"]) == (GUILD_ID, 0), \
        "a command's lines: its server, its member, and the shard its server is on"
    assert "job" not in refusal, "refused before any job"
    started = [line for line in lines if "ledger:" in line["message"]]
    assert started and "job" not in started[0] and "member" not in started[0], "start-up lines are about no job"
