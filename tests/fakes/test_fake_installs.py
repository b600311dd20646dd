"""Self-test: where an interaction comes from — a server, the bot's DM, a DM between users, a server the bot
is not in (a member's own install of the app) — as the real discord.py 2.7 reads it and acts on it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import discord
import pytest
import pytest_asyncio
from discord import app_commands
from discord.ext import commands

from tests.conftest import eventually
from tests.fakes.discord import FakeDiscord
from tests.fakes.discord.wire import BOT_DM_APP_PERMISSIONS, BOT_PERMISSIONS, PRIVATE_APP_PERMISSIONS
from tests.fakes.discord_client import running_bot

GUILD_ID, OTHER_GUILD = 2000, 7000


def build_bot() -> commands.Bot:
    bot = commands.Bot(command_prefix="!", intents=discord.Intents.default(), guild_ready_timeout=0.05)
    bot.seen, bot.sync_errors = [], []  # type: ignore[attr-defined]

    @bot.tree.command(description="Works anywhere")
    @app_commands.allowed_installs(guilds=True, users=True)
    @app_commands.allowed_contexts(guilds=True, dms=True, private_channels=True)
    async def anywhere(interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            await interaction.channel.send("hello")  # type: ignore[union-attr]
            posted: object = "posted"
        except discord.Forbidden as exc:
            posted = exc.code
        bot.seen.append({  # type: ignore[attr-defined]
            "context": interaction.context, "guild_id": interaction.guild_id, "posted": posted,
            "member": isinstance(interaction.user, discord.Member), "user_install": interaction.is_user_integration(),
            "guild_install": interaction.is_guild_integration(), "cached": bot.get_guild(interaction.guild_id or 0),
            "can_attach": interaction.app_permissions.attach_files,
        })
        await interaction.followup.send("done", ephemeral=True)

    @bot.tree.command(description="Only where the bot is installed")
    @app_commands.allowed_installs(guilds=True, users=False)
    async def serveronly(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("ok", ephemeral=True)

    @bot.tree.command(description="Message someone")
    async def tell(interaction: discord.Interaction, user: discord.User) -> None:
        try:
            await user.send("psst")
            said = "sent"
        except discord.Forbidden as exc:
            said = str(exc.code)
        await interaction.response.send_message(said, ephemeral=True)

    async def setup_hook() -> None:
        try:
            await bot.tree.sync()  # global: where integration_types and contexts apply
        except discord.HTTPException as exc:
            bot.sync_errors.append(exc)  # type: ignore[attr-defined]

    bot.setup_hook = setup_hook  # type: ignore[method-assign]
    return bot


@pytest_asyncio.fixture
async def bot(fake: FakeDiscord) -> AsyncIterator[commands.Bot]:
    bot = build_bot()
    async with running_bot(fake, bot):
        yield bot


async def run(fake: FakeDiscord, bot: commands.Bot, **where) -> tuple[dict, dict]:
    fi = await fake.invoke("anywhere", **where)
    assert (await fi.wait_followup())["content"] == "done"
    return fi.payload, bot.seen[-1]  # type: ignore[attr-defined]


async def test_synced_commands_carry_their_installs_and_contexts(fake: FakeDiscord, bot: commands.Bot) -> None:
    by_name = {c["name"]: c for c in fake.synced[None]}
    assert (by_name["anywhere"]["integration_types"], by_name["anywhere"]["contexts"]) == ([0, 1], [0, 1, 2])
    assert by_name["serveronly"]["integration_types"] == [0]
    assert set(fake._application()["integration_types_config"]) == {"0", "1"}  # installable to servers and users


async def test_a_user_install_needs_the_application_to_allow_it(fake: FakeDiscord) -> None:
    fake.install_types = {0}
    bot = build_bot()
    async with running_bot(fake, bot, synced=False):
        await eventually(lambda: bool(bot.sync_errors))  # type: ignore[attr-defined]
    (error,) = bot.sync_errors  # type: ignore[attr-defined]
    assert error.status == 400 and error.code == 50035 and "integration_types" in str(error)


async def test_in_a_server_the_bot_is_in(fake: FakeDiscord, bot: commands.Bot) -> None:
    payload, seen = await run(fake, bot)
    assert (payload["context"], payload["authorizing_integration_owners"]) == (0, {"0": str(GUILD_ID)})
    assert seen["posted"] == "posted" and seen["member"] and seen["guild_install"] and not seen["user_install"]
    assert payload["app_permissions"] == str(BOT_PERMISSIONS) and seen["cached"] is not None
    payload, seen = await run(fake, bot, user_install=True)
    assert payload["authorizing_integration_owners"] == {"0": str(GUILD_ID), "1": "4000"} and seen["user_install"]


@pytest.mark.parametrize("user_install", [False, True])
async def test_in_the_bots_dm(fake: FakeDiscord, bot: commands.Bot, user_install: bool) -> None:
    payload, seen = await run(fake, bot, dm=True, user_install=user_install)
    assert payload["context"] == 1 and "guild_id" not in payload and "member" not in payload
    assert payload["user"]["id"] == "4000" and payload["channel"]["type"] == 1
    owners = {"0": "0", **({"1": "4000"} if user_install else {})}
    assert payload["authorizing_integration_owners"] == owners
    assert payload["app_permissions"] == str(BOT_DM_APP_PERMISSIONS)
    assert seen["context"].dm_channel and seen["posted"] == "posted" and not seen["member"]
    assert [m["content"] for m in fake.dm_messages(4000) if not m["flags"] & 64] == ["hello"]


async def test_in_a_server_the_bot_is_not_in(fake: FakeDiscord, bot: commands.Bot) -> None:
    payload, seen = await run(fake, bot, guild_id=OTHER_GUILD, user_install=True)
    assert (payload["context"], payload["guild_id"]) == (0, str(OTHER_GUILD))
    assert payload["authorizing_integration_owners"] == {"1": "4000"} and payload["member"]["user"]["id"] == "4000"
    assert payload["app_permissions"] == str(PRIVATE_APP_PERMISSIONS) and seen["can_attach"]
    assert seen["posted"] == 50001, "403 Missing Access: the bot cannot post there"
    assert seen["cached"] is None and OTHER_GUILD not in [g.id for g in bot.guilds]
    assert seen["user_install"] and not seen["guild_install"]


async def test_in_a_dm_between_users(fake: FakeDiscord, bot: commands.Bot) -> None:
    payload, seen = await run(fake, bot, context=2, user_install=True)
    assert payload["context"] == 2 and "guild_id" not in payload and payload["user"]["id"] == "4000"
    assert payload["authorizing_integration_owners"] == {"1": "4000"}
    assert payload["channel"]["recipients"][0]["id"] != "4000"
    assert seen["context"].private_channel and seen["posted"] == 50001


async def test_only_an_install_that_reaches_the_place_brings_the_command(fake: FakeDiscord, bot: commands.Bot) -> None:
    with pytest.raises(AssertionError, match="no such command usable"):
        await fake.invoke("serveronly", guild_id=OTHER_GUILD, user_install=True)
    with pytest.raises(AssertionError, match="no such command usable"):
        await fake.invoke("serveronly", context=2, user_install=True)
    with pytest.raises(AssertionError, match="user_install=True"):
        await fake.invoke("anywhere", guild_id=OTHER_GUILD)
    with pytest.raises(AssertionError, match="user_install=True"):
        await fake.invoke("anywhere", context=2)
    assert not fake.interactions
    fi = await fake.invoke("serveronly", dm=True)  # the app's own DM: its server install reaches it
    assert (await fi.wait_callback())["type"] == 4


async def test_dms_to_a_member_who_takes_none_are_refused(fake: FakeDiscord, bot: commands.Bot) -> None:
    fi = await fake.invoke("tell", {"user": 4100})
    assert (await fi.wait_callback())["data"]["content"] == "sent"
    assert fake.dm_messages(4100)[0]["content"] == "psst"
    fake.refuse_dms.add(4100)
    fi = await fake.invoke("tell", {"user": 4100})
    assert (await fi.wait_callback())["data"]["content"] == "50007"
