"""Self-test: the fake Discord shards as Discord does, for the real discord.py's AutoShardedBot.

Each IDENTIFY carries [shard_id, shard_count]; each session gets only the guilds with
(guild_id >> 22) % shard_count == shard_id; a guild's interactions go out on its shard's connection,
whichever process holds it; GET /gateway/bot recommends a shard count for automatic sharding.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import discord
import pytest
from discord.ext import commands

from tests.fakes.discord import FakeDiscord

pytestmark = pytest.mark.asyncio

SHARD0_GUILD = 2000  # 2000 >> 22 == 0
SHARD1_GUILD = (1 << 22) | 2000  # (… >> 22) % 2 == 1


class Sharded(commands.AutoShardedBot):
    def __init__(self, name: str, **shards: object) -> None:
        super().__init__(command_prefix="!", intents=discord.Intents.none(), guild_ready_timeout=0.05, **shards)
        self.name = name

        @self.tree.command(description="Which process answers")
        async def where(interaction: discord.Interaction) -> None:
            await interaction.response.send_message(f"{self.name} shard {interaction.guild.shard_id}")

    async def setup_hook(self) -> None:
        await self.tree.sync()

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        pass  # discord.py waits 5 s between a process's shards (Discord's identify rate); the fake has none


@contextlib.asynccontextmanager
async def running(bot: Sharded, fake: FakeDiscord) -> AsyncIterator[Sharded]:
    task = asyncio.create_task(bot.start(fake.token))
    try:
        await asyncio.wait_for(bot.wait_until_ready(), 15)
        yield bot
    finally:
        await bot.close()
        with contextlib.suppress(Exception):
            await task


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    fake = FakeDiscord(guilds=(SHARD0_GUILD, SHARD1_GUILD))
    await fake.start()
    try:
        with fake.patch_discord():
            yield fake
    finally:
        await fake.close()


async def test_each_process_gets_its_shards_guilds_and_their_interactions(fake):
    assert [fake.shard_of(g, 2) for g in (SHARD0_GUILD, SHARD1_GUILD)] == [0, 1]
    async with running(Sharded("A", shard_count=2, shard_ids=[0]), fake) as a, \
            running(Sharded("B", shard_count=2, shard_ids=[1]), fake) as b:
        await fake.wait_shards(0, 1)
        assert sorted(tuple(i["shard"]) for i in fake.identifies) == [(0, 2), (1, 2)]
        assert [g.id for g in a.guilds] == [SHARD0_GUILD]
        assert [g.id for g in b.guilds] == [SHARD1_GUILD]
        for guild, answer in ((SHARD0_GUILD, "A shard 0"), (SHARD1_GUILD, "B shard 1")):
            interaction = await fake.invoke("where", guild_id=guild)
            callback = await interaction.wait_callback()
            assert callback["data"]["content"] == answer


async def test_a_guild_whose_shard_is_not_connected_gets_nothing(fake):
    async with running(Sharded("A", shard_count=2, shard_ids=[0]), fake):
        await fake.wait_shards(0)
        with pytest.raises(AssertionError, match="shard of guild"):
            await fake.invoke("where", guild_id=SHARD1_GUILD)


async def test_automatic_sharding_follows_the_recommendation(fake):
    fake.recommended_shards = 2
    async with running(Sharded("auto"), fake) as bot:
        await fake.wait_shards(0, 1)
        assert bot.shard_count == 2
        assert sorted(g.id for g in bot.guilds) == [SHARD0_GUILD, SHARD1_GUILD]
        interaction = await fake.invoke("where", guild_id=SHARD1_GUILD)
        assert (await interaction.wait_callback())["data"]["content"] == "auto shard 1"


async def test_one_unsharded_client_still_gets_every_guild(fake):
    bot = commands.Bot(command_prefix="!", intents=discord.Intents.none(), guild_ready_timeout=0.05)
    task = asyncio.create_task(bot.start(fake.token))
    try:
        await asyncio.wait_for(bot.wait_until_ready(), 15)
        assert "shard" not in fake.identifies[0] or fake.identifies[0]["shard"] == [0, 1]
        assert sorted(g.id for g in bot.guilds) == [SHARD0_GUILD, SHARD1_GUILD]
    finally:
        await bot.close()
        with contextlib.suppress(Exception):
            await task
