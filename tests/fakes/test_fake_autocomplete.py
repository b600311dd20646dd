"""Self-test: autocomplete (interaction type 4) answered by the real discord.py's autocomplete callbacks
(callback type 8), the answer held to Discord's rules for choices."""

from __future__ import annotations

import discord
import pytest
from discord import app_commands
from discord.ext import commands

from tests.conftest import eventually
from tests.fakes.discord import FakeDiscord
from tests.fakes.discord_client import running_bot

GUILD_ID = 2000
STYLES = ["watercolour", "oil paint", "charcoal", "ink wash"]


def build_bot() -> commands.Bot:
    bot = commands.Bot(command_prefix="!", intents=discord.Intents.none(), guild_ready_timeout=0.05)
    bot.asked, bot.answer = [], None  # type: ignore[attr-defined]

    @bot.tree.command(description="Paint")
    async def paint(interaction: discord.Interaction, prompt: str, style: str, seed: int = 0) -> None:
        await interaction.response.send_message(f"{prompt} in {style}", ephemeral=True)

    @paint.autocomplete("style")
    async def styles(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        bot.asked.append((current, interaction.namespace.prompt))  # type: ignore[attr-defined]
        if bot.answer is not None:  # type: ignore[attr-defined]
            return bot.answer  # type: ignore[attr-defined]
        return [app_commands.Choice(name=s.title(), value=s) for s in STYLES if current in s]

    @paint.autocomplete("seed")
    async def seeds(interaction: discord.Interaction, current: int) -> list[app_commands.Choice[int]]:
        return bot.answer or [app_commands.Choice(name="lucky", value=7)]  # type: ignore[attr-defined]

    async def setup_hook() -> None:
        bot.tree.copy_global_to(guild=discord.Object(GUILD_ID))
        await bot.tree.sync(guild=discord.Object(GUILD_ID))

    bot.setup_hook = setup_hook  # type: ignore[method-assign]
    return bot


@pytest.fixture
async def fake():
    fake = FakeDiscord()
    await fake.start()
    try:
        yield fake
    finally:
        await fake.close()


async def test_the_driver_returns_the_bots_choices(fake: FakeDiscord) -> None:
    bot = build_bot()
    async with running_bot(fake, bot):
        choices = await fake.autocomplete("paint", {"prompt": "a ca", "style": "a"}, "style", locale="de")
        assert [c["value"] for c in choices] == ["watercolour", "oil paint", "charcoal", "ink wash"]
        assert choices[0] == {"name": "Watercolour", "value": "watercolour"}
        assert bot.asked == [("a", "a ca")]  # type: ignore[attr-defined]
        (fi,) = fake.interactions.values()
        assert fi.payload["type"] == 4 and fi.choices == choices and fi.payload["locale"] == "de"
        options = {o["name"]: o for o in fi.payload["data"]["options"]}
        assert options["style"] == {"name": "style", "type": 3, "value": "a", "focused": True}
        assert "focused" not in options["prompt"]
        assert await fake.autocomplete("paint", {"seed": 1}, "seed") == [{"name": "lucky", "value": 7}]
        assert await fake.autocomplete("paint", {}, "style") == fake.interactions[max(fake.interactions)].choices
        assert bot.asked[-1] == ("", None), "nothing typed yet"  # type: ignore[attr-defined]


async def test_only_what_discords_client_sends_is_sent(fake: FakeDiscord) -> None:
    async with running_bot(fake, build_bot()):
        with pytest.raises(AssertionError, match="does not autocomplete"):
            await fake.autocomplete("paint", {"prompt": "a"}, "prompt")
        with pytest.raises(AssertionError, match="not a valid integer"):
            await fake.autocomplete("paint", {"seed": "12a"}, "seed")  # a partial number never arrives
        with pytest.raises(AssertionError, match="give the number typed so far"):
            await fake.autocomplete("paint", {}, "seed")
        with pytest.raises(AssertionError, match="unknown option 'colour'"):
            await fake.autocomplete("paint", {"colour": "r"}, "style")
        assert not fake.interactions


@pytest.mark.parametrize(("option", "answer", "path"), [
    ("style", [app_commands.Choice(name=f"s{i}", value=f"s{i}") for i in range(26)], "data.choices"),
    ("style", [app_commands.Choice(name="x" * 101, value="x")], "data.choices.0.name"),
    ("style", [app_commands.Choice(name="x", value="x" * 101)], "data.choices.0.value"),
    ("seed", [app_commands.Choice(name="seven", value="7")], "data.choices.0.value"),
])
async def test_choices_past_discords_rules_are_refused(fake: FakeDiscord, option: str, answer, path: str) -> None:
    bot = build_bot()
    bot.answer = answer  # type: ignore[attr-defined]
    async with running_bot(fake, bot) as errors:
        fi = await fake.invoke("paint", {"seed": 3} if option == "seed" else {}, focused=option)
        await fake.wait_for(lambda: any(r.status == 400 for r in fake.requests))
        (refused,) = [r for r in fake.requests if r.status == 400]
        assert "/callback" in refused.path and fi.callbacks == []
        await eventually(lambda: bool(errors.records))
        assert any(path in str(r.exc_info[1]) for r in errors.records if r.exc_info), [r.getMessage() for r in errors.records]
        errors.records.clear()  # discord.py logged the refusal, as it does for an exception in a callback
