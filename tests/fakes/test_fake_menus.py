"""Self-test: message context menus (Apps ▸ …) synced and used by the real discord.py, on a member's own
message with an upload and on the bot's own result."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator

import discord
import pytest
import pytest_asyncio
from discord import app_commands
from discord.ext import commands

from tests.conftest import eventually
from tests.fakes.discord import FakeDiscord
from tests.fakes.discord.schema import command_schema_problems
from tests.fakes.discord_client import running_bot
from tests.fakes.images import make_png

GUILD_ID, CHANNEL_ID = 2000, 3000
PHOTO = make_png(12, 8)
MENU = "Inpaint this…"


def build_bot(intents: discord.Intents | None = None) -> commands.Bot:
    bot = commands.Bot(command_prefix="!", intents=intents or discord.Intents.none(), guild_ready_timeout=0.05)
    bot.targets, bot.seen = [], []  # type: ignore[attr-defined]

    async def inpaint_this(interaction: discord.Interaction, message: discord.Message) -> None:
        files = [(a.filename, await a.read()) for a in message.attachments]
        bot.targets.append((message.id, message.author.id, message.content, files))  # type: ignore[attr-defined]
        await interaction.response.send_message("ok", ephemeral=True)

    @bot.tree.command(description="Post a picture")
    async def picture(interaction: discord.Interaction) -> None:
        await interaction.response.send_message(file=discord.File(io.BytesIO(PHOTO), "result.png"))

    @bot.event
    async def on_message(message: discord.Message) -> None:
        bot.seen.append((message.content, [a.filename for a in message.attachments]))  # type: ignore[attr-defined]

    bot.tree.add_command(app_commands.ContextMenu(name=MENU, callback=inpaint_this))

    async def setup_hook() -> None:
        bot.tree.copy_global_to(guild=discord.Object(GUILD_ID))
        await bot.tree.sync(guild=discord.Object(GUILD_ID))

    bot.setup_hook = setup_hook  # type: ignore[method-assign]
    return bot


@pytest_asyncio.fixture
async def bot(fake: FakeDiscord) -> AsyncIterator[commands.Bot]:
    bot = build_bot()
    async with running_bot(fake, bot):
        yield bot


async def test_a_message_command_is_synced_as_type_3(fake: FakeDiscord, bot: commands.Bot) -> None:
    (menu,) = [c for c in fake.synced[GUILD_ID] if c.get("type") == 3]
    assert menu["name"] == MENU and "description" not in menu and "options" not in menu


async def test_used_on_a_members_upload(fake: FakeDiscord, bot: commands.Bot) -> None:
    posted = await fake.member_message(content="my dog", files=[("dog.png", PHOTO)], user_id=4100, username="bob")
    fi = await fake.invoke_message_command(MENU, posted)
    assert (await fi.wait_callback())["data"]["content"] == "ok"
    assert bot.targets == [(int(posted["id"]), 4100, "my dog", [("dog.png", PHOTO)])]  # type: ignore[attr-defined]
    assert fi.payload["type"] == 2 and fi.payload["member"]["user"]["id"] == "4000"
    data = fi.payload["data"]
    assert (data["type"], data["name"], data["target_id"], data["guild_id"]) == (3, MENU, posted["id"], str(GUILD_ID))
    target = data["resolved"]["messages"][posted["id"]]
    assert target["author"]["id"] == "4100" and target["attachments"][0]["url"].split("?")[0].endswith(
        f"/attachments/{CHANNEL_ID}/{target['attachments'][0]['id']}/dog.png")
    assert bot.seen == [], "no MESSAGE_CREATE for a bot without the intent"  # type: ignore[attr-defined]


async def test_used_on_the_bots_own_result_after_its_links_expired(fake: FakeDiscord, bot: commands.Bot) -> None:
    shown = await fake.invoke("picture")
    result = (await shown.wait_callback())["data"]
    message = shown.original
    assert message is not None and result["attachments"][0]["filename"] == "result.png"
    fake.expire_attachments()
    fi = await fake.invoke_message_command(MENU, message, user_id=4200)
    await fi.wait_callback()
    assert bot.targets == [(int(message["id"]), fake.bot_user_id, "", [("result.png", PHOTO)])]  # type: ignore[attr-defined]


async def test_only_a_synced_message_command_can_be_used(fake: FakeDiscord, bot: commands.Bot) -> None:
    posted = await fake.member_message(content="hi")
    with pytest.raises(AssertionError, match="no such command"):
        await fake.invoke_message_command("Zoom out this", posted)
    with pytest.raises(AssertionError, match="no such command"):
        await fake.invoke_message_command("picture", posted)  # a slash command, not a message command
    with pytest.raises(AssertionError, match="not a message the fake holds"):
        await fake.invoke_message_command(MENU, {**posted, "id": "1"})
    assert not fake.interactions


async def test_a_members_message_reaches_a_bot_with_the_intent(fake: FakeDiscord) -> None:
    bot = build_bot(discord.Intents(guilds=True, guild_messages=True))
    async with running_bot(fake, bot):
        await fake.member_message(content="secret words", files=[("a.png", PHOTO)])
        await eventually(lambda: bool(bot.seen))  # type: ignore[attr-defined]
    assert bot.seen == [("", ["a.png"])], "content only with the message content intent"  # type: ignore[attr-defined]


def test_message_command_rules() -> None:
    good = {"type": 3, "name": "Zoom Out This 2×"}
    assert command_schema_problems([good]) == []
    assert command_schema_problems([{**good, "description": ""}]) == []
    refused = {
        "0.name": {**good, "name": "x" * 33},
        "0.description": {**good, "description": "Zooms out"},
        "0.options": {**good, "options": [{"type": 3, "name": "a", "description": "a"}]},
        "0.name_localizations.de": {**good, "name_localizations": {"de": ""}},
    }
    for path, command in refused.items():
        assert path in [p[0] for p in command_schema_problems([command])], path
    too_many = [{"type": 3, "name": f"menu {i}"} for i in range(16)]
    assert [p[0] for p in command_schema_problems(too_many)] == ["_"]
