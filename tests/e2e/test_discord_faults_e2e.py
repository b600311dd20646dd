"""Discord's faults and forged input through the real discord.py against the fake: a first answer (defer)
answered 5xx, one Discord took and then answered 5xx, Unknown interaction (10062), autocomplete requests
for options that have none. Each is one WARNING line with its cause and no traceback; the member gets a
sentence wherever one still reaches them, and nothing is spent."""

from __future__ import annotations

import logging

from tests.conftest import GUILD_ID, eventually, is_ephemeral
from tests.ledger import read_jobs

ALICE = 4001
TROUBLE = "Discord had trouble taking the bot's answer just now. Please try again in a moment."


def warnings_about(harness, text: str) -> list[logging.LogRecord]:
    return [r for r in harness.logs if r.levelno == logging.WARNING and text in r.getMessage()]


def no_tracebacks(harness) -> None:
    assert [r.getMessage() for r in harness.logs if r.exc_info or r.levelno >= logging.ERROR] == []


async def nothing_spent(harness) -> None:
    assert await read_jobs(harness.settings, GUILD_ID, ALICE) == []
    assert harness.pixazo.requests == []


async def test_a_defer_answered_5xx_until_discord_py_gives_up_is_one_warning_and_the_member_is_told(harness):
    harness.discord.callback_deadline = None  # so the answer after discord.py's five tries (~25 s) arrives
    harness.discord.fail_callbacks(503, times=5)
    interaction = await harness.invoke("sdxl", {"prompt": "a red fox"}, user_id=ALICE)
    reply = (await interaction.wait_callback(timeout=40))["data"]
    assert is_ephemeral(reply) and reply["content"] == TROUBLE
    (line,) = warnings_about(harness, "failed on Discord's side")
    assert "HTTP 503" in line.getMessage() and "the member was told so" in line.getMessage()
    no_tracebacks(harness)
    await nothing_spent(harness)


async def test_a_defer_discord_took_but_answered_5xx_is_followed_up(harness):
    # Discord acts on the defer and answers 503; discord.py's retry then hears 40060 "already acknowledged".
    harness.discord.fail_callbacks(503, applied=True)
    interaction = await harness.invoke("sdxl", {"prompt": "a red fox"}, user_id=ALICE)
    told = await interaction.wait_followup()
    assert is_ephemeral(told) and told["content"] == TROUBLE
    assert interaction.original is None or is_ephemeral(interaction.original), "no public thinking… left behind"
    (line,) = warnings_about(harness, "failed on Discord's side")
    assert "code 40060" in line.getMessage()
    no_tracebacks(harness)
    await nothing_spent(harness)


async def test_unknown_interaction_is_one_warning_and_nothing_more_is_tried(harness):
    harness.discord.fail_callbacks(404, code=10062, message="Unknown interaction")
    interaction = await harness.invoke("sdxl", {"prompt": "a red fox"}, user_id=ALICE)
    await eventually(lambda: bool(warnings_about(harness, "no longer knows the interaction")))
    (line,) = warnings_about(harness, "no longer knows the interaction")
    assert "code 10062" in line.getMessage() and "cannot be told" in line.getMessage()
    tried = [r for r in harness.discord.requests if interaction.token in r.path]
    assert len(tried) == 1, "the one refused defer, then nothing: Discord no longer takes anything for it"
    no_tracebacks(harness)
    await nothing_spent(harness)


async def test_autocomplete_for_an_option_without_suggestions_gets_an_empty_list(harness):
    asked = await harness.invoke("sdxl", {"prompt": "a red"}, user_id=ALICE, focused="prompt")
    assert (await asked.wait_callback()) == {"type": 8, "data": {"choices": []}}
    unknown = await harness.invoke("no-such-command", validate=False, user_id=ALICE, focused="x",
                                   raw_options=[{"name": "x", "type": 3, "value": "a"}])
    assert (await unknown.wait_callback())["type"] == 8
    lines = [r.getMessage() for r in warnings_about(harness, "autocomplete request")]
    assert len(lines) == 2 and "offers no suggestions" in lines[0] and "no such command" in lines[1], lines
    no_tracebacks(harness)
