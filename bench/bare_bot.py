"""A bare discord.py bot, the yardstick of bench/overhead.py: what the bot's job path does, and nothing more.

One slash command, /sdxl-lightning prompt:…, synced to DEV_GUILD_ID: defer ("thinking…"), POST the
prompt to Pixazo, GET the image it names, answer with a followup carrying an embed and the file. No
queue, no ledger, no moderation, no audit, no image checks. It reads the same environment as
`python -m bot` (DISCORD_TOKEN, PIXAZO_API_KEY, PIXAZO_BASE_URL, DISCORD_API_BASE_URL,
DISCORD_GATEWAY_URL, DEV_GUILD_ID) and imports nothing of the bot.

    python -m bench.bare_bot
"""

from __future__ import annotations

import asyncio
import io
import logging
import os
import signal

import aiohttp
import discord
import yarl
from discord import app_commands

PATH = "/sdxl_lightning/getImage/v1/getSDXLImage"  # the catalog's sdxl-lightning endpoint
NO_PINGS = discord.AllowedMentions.none()


class BareBot(discord.Client):
    def __init__(self) -> None:
        intents = discord.Intents.none()
        intents.guilds = True  # as the bot's
        super().__init__(intents=intents, allowed_mentions=NO_PINGS)
        self.tree = app_commands.CommandTree(self)
        self.session: aiohttp.ClientSession | None = None
        self.pixazo = os.environ["PIXAZO_BASE_URL"].rstrip("/") + PATH
        self.key = os.environ["PIXAZO_API_KEY"]

    async def setup_hook(self) -> None:
        self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        guild = discord.Object(int(os.environ["DEV_GUILD_ID"]))

        @app_commands.command(name="sdxl-lightning", description="Generate an image")
        async def generate(interaction: discord.Interaction, prompt: str) -> None:
            await self.generate(interaction, prompt)

        self.tree.add_command(generate, guild=guild)
        await self.tree.sync(guild=guild)

    async def generate(self, interaction: discord.Interaction, prompt: str) -> None:
        await interaction.response.defer(thinking=True)
        data = await self.fetch_image(prompt)
        embed = discord.Embed(title="Stable Diffusion XL Lightning", description=prompt[:4000])
        embed.set_image(url="attachment://image.png")
        await interaction.followup.send(embed=embed, file=discord.File(io.BytesIO(data), "image.png"),
                                        allowed_mentions=NO_PINGS)

    async def fetch_image(self, prompt: str) -> bytes:
        """Pixazo's answer to the prompt, and the image it names."""
        assert self.session is not None
        async with self.session.post(self.pixazo, json={"prompt": prompt},
                                     headers={"Ocp-Apim-Subscription-Key": self.key}) as resp:
            resp.raise_for_status()
            url = (await resp.json())["imageUrl"]
        async with self.session.get(url) as resp:
            resp.raise_for_status()
            return await resp.read()

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()
        await super().close()


async def main(kind: type[BareBot]) -> None:
    discord.http.Route.BASE = os.environ["DISCORD_API_BASE_URL"]
    if os.environ.get("DISCORD_GATEWAY_URL"):
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(os.environ["DISCORD_GATEWAY_URL"])
    bot = kind()
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, task.cancel)
    try:
        async with bot:
            await bot.start(os.environ["DISCORD_TOKEN"])
    except asyncio.CancelledError:
        pass


def run(kind: type[BareBot]) -> None:
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "WARNING"))
    asyncio.run(main(kind))


if __name__ == "__main__":
    run(BareBot)
