"""The bare bot (bench/bare_bot.py) plus only what any bot must add to a job to keep this bot's promises,
done the cheapest way: the floor that bench/overhead.py --floor measures.

What it adds, and why each is the least a bot can do:

* a durable ledger in SQLite through aiosqlite (WAL, synchronous NORMAL, autocommit, one connection):
  the job's row written before Pixazo is called (credits are reserved, and a restart finds the job),
  and its success written after the image is posted (credits are spent only for an image the member
  received). Two statements a job, each one trip to aiosqlite's thread; the bot itself makes three (it
  also marks the job just before posting: its Pixazo slot freed in the ledger's count, the member's
  credits read for the embed, a Cancel seen), and keeps a lease, a fair queue, a quota and an audit
  row in them;
* the decode check: every pixel of the result decoded (Pillow) before it is posted, on a thread, since a
  real result takes milliseconds to decode.

No moderation, no quotas, no queue, no buttons, no languages. It imports nothing of the bot.

    python -m bench.floor_bot
"""

from __future__ import annotations

import asyncio
import io
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import aiosqlite
import discord
from PIL import Image

from bench.bare_bot import NO_PINGS, BareBot, run

SCHEMA = """CREATE TABLE IF NOT EXISTS jobs (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL, prompt TEXT NOT NULL,
    cost INTEGER NOT NULL, state TEXT NOT NULL, created_at REAL NOT NULL, finished_at REAL, message_id INTEGER)"""
RESERVE = "INSERT INTO jobs (user_id, prompt, cost, state, created_at) VALUES (?, ?, 1, 'running', ?) RETURNING id"
SETTLE = "UPDATE jobs SET state = 'succeeded', finished_at = ?, message_id = ? WHERE id = ? AND state = 'running'"


def decode(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as img:
        img.load()
        return img.size


class FloorBot(BareBot):
    def __init__(self) -> None:
        super().__init__()
        self.ledger: aiosqlite.Connection | None = None
        self.images = ThreadPoolExecutor(2, thread_name_prefix="decode")
        self.data_dir = Path(os.environ.get("DATA_DIR", "."))
        self.data_dir.mkdir(parents=True, exist_ok=True)

    async def setup_hook(self) -> None:
        self.ledger = await aiosqlite.connect(self.data_dir / "floor.sqlite3", isolation_level=None)
        for statement in ("PRAGMA journal_mode = WAL", "PRAGMA synchronous = NORMAL", SCHEMA):
            await self.ledger.execute(statement)
        await super().setup_hook()

    async def generate(self, interaction: discord.Interaction, prompt: str) -> None:
        assert self.session is not None and self.ledger is not None
        await interaction.response.defer(thinking=True)
        ((job_id,),) = await self.ledger.execute_fetchall(RESERVE, (interaction.user.id, prompt, time.time()))
        data = await self.fetch_image(prompt)
        await asyncio.get_running_loop().run_in_executor(self.images, decode, data)
        embed = discord.Embed(title="Stable Diffusion XL Lightning", description=prompt[:4000])
        embed.set_image(url="attachment://image.png")
        message = await interaction.followup.send(embed=embed, file=discord.File(io.BytesIO(data), "image.png"),
                                                  allowed_mentions=NO_PINGS, wait=True)
        await self.ledger.execute_fetchall(SETTLE, (time.time(), message.id, job_id))

    async def close(self) -> None:
        if self.ledger is not None:
            await self.ledger.close()
        self.images.shutdown()
        await super().close()


if __name__ == "__main__":
    run(FloorBot)
