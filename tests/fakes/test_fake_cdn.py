"""Self-test: files on the fake Discord's CDN are fetchable, signed and expiring like Discord's.

The real discord.py uploads (followups, ephemeral followups, channel messages, edits) and reads
(`Attachment.read`, `fetch_message`, a raw `Route` for the refresh endpoint); a plain aiohttp client
fetches links as Pixazo would.
"""

from __future__ import annotations

import io
import urllib.parse
from collections.abc import AsyncIterator

import aiohttp
import discord
import pytest
import pytest_asyncio
from discord.ext import commands

from tests.fakes.discord import FakeDiscord
from tests.fakes.discord_client import running_bot
from tests.fakes.images import make_jpeg, make_png

pytestmark = pytest.mark.asyncio

GUILD_ID, CHANNEL_ID = 2000, 3000
PNG = make_png(6, 4)
JPEG = make_jpeg(5, 3)


def build_bot() -> commands.Bot:
    bot = commands.Bot(command_prefix="!", intents=discord.Intents.none(), guild_ready_timeout=0.05)
    bot.read: list[bytes] = []  # type: ignore[attr-defined]

    @bot.tree.command(description="Post files")
    async def post(interaction: discord.Interaction) -> None:
        await interaction.response.defer(thinking=True)
        embed = discord.Embed(title="Result").set_image(url="attachment://result.png")
        await interaction.followup.send(embed=embed, file=discord.File(io.BytesIO(PNG), "result.png"))
        await interaction.followup.send(file=discord.File(io.BytesIO(JPEG), "mask.jpg"), ephemeral=True)
        assert isinstance(interaction.channel, discord.TextChannel)
        await interaction.channel.send(file=discord.File(io.BytesIO(b"plain text\n"), "note.txt"))

    @bot.tree.command(description="Replace the result's file")
    async def replace(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("first", file=discord.File(io.BytesIO(PNG), "a.png"))
        message = await interaction.original_response()
        await interaction.edit_original_response(
            attachments=[message.attachments[0], discord.File(io.BytesIO(JPEG), "b.jpg")])

    @bot.tree.command(description="Read an image")
    async def measure(interaction: discord.Interaction, image: discord.Attachment) -> None:
        try:
            data = await image.read()
        except discord.NotFound:
            await interaction.response.send_message("gone", ephemeral=True)
            return
        bot.read.append(data)  # type: ignore[attr-defined]
        await interaction.response.send_message(f"{len(data)} bytes", ephemeral=True)

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


async def get(url: str) -> tuple[int, bytes, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as resp:
        return resp.status, await resp.read(), resp.headers.get("Content-Type", "")


def query(url: str) -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))


async def posted(fake: FakeDiscord) -> tuple[dict, dict, dict]:
    """The /post command's result, its ephemeral followup and its channel message."""
    fi = await fake.invoke("post")
    result = await fi.wait_followup()
    await fake.wait_for(lambda: len(fi.followups) == 2 and len(fake.channel_messages(CHANNEL_ID)) == 3)
    note = [m for m in fake.channel_messages(CHANNEL_ID) if m["attachments"] and m["attachments"][0]["filename"] == "note.txt"]
    return result, fi.followups[1], note[0]


async def test_uploaded_files_get_signed_links_served_with_their_type(fake: FakeDiscord, bot: commands.Bot) -> None:
    result, private, note = await posted(fake)
    (att,) = result["attachments"]
    path = urllib.parse.urlsplit(att["url"]).path
    assert path == f"/attachments/{CHANNEL_ID}/{att['id']}/result.png"
    params = query(att["url"])
    assert set(params) == {"ex", "is", "hm"} and att["url"].endswith("&")
    assert int(params["ex"], 16) - int(params["is"], 16) == 24 * 3600 and len(params["hm"]) == 64
    assert result["embeds"][0]["image"]["url"] == att["url"]
    assert urllib.parse.urlsplit(att["proxy_url"]).path == "/media" + path
    assert await get(att["url"]) == (200, PNG, "image/png")
    assert await get(att["proxy_url"]) == (200, PNG, "image/png")
    (mask,) = private["attachments"]
    assert mask["ephemeral"] is True and mask["url"].startswith(f"{fake.base_url}/ephemeral-attachments/{CHANNEL_ID}/")
    assert await get(mask["url"]) == (200, JPEG, "image/jpeg")
    assert (await get(note["attachments"][0]["url"]))[::2] == (200, "text/plain")


async def test_a_link_without_its_signature_or_with_a_wrong_one_is_404(fake: FakeDiscord, bot: commands.Bot) -> None:
    result, _, _ = await posted(fake)
    url = result["attachments"][0]["url"]
    bare = url.split("?")[0]
    forged = url.replace(query(url)["hm"], "0" * 64)
    later = url.replace(query(url)["ex"], f"{int(query(url)['ex'], 16) + 3600:08x}")  # the signature covers ex
    for bad in (bare, forged, later):
        status, body, _ = await get(bad)
        assert (status, body) == (404, b"This content is no longer available.")


async def test_expired_links_404_until_refreshed_through_the_api(fake: FakeDiscord, bot: commands.Bot) -> None:
    result, private, _ = await posted(fake)
    old = [result["attachments"][0]["url"], private["attachments"][0]["proxy_url"]]
    fake.expire_attachments()
    assert [(await get(u))[0] for u in old] == [404, 404]
    route = discord.http.Route("POST", "/attachments/refresh-urls")
    unknown = "https://example.com/not-a-discord-file.png"
    answer = await bot.http.request(route, json={"attachment_urls": [*old, unknown]})
    refreshed = [r["refreshed"] for r in answer["refreshed_urls"]]
    assert [r["original"] for r in answer["refreshed_urls"]] == [*old, unknown]
    assert refreshed[2] == unknown and refreshed[:2] != old
    assert urllib.parse.urlsplit(refreshed[1]).path == urllib.parse.urlsplit(old[1]).path  # still the proxy
    assert [await get(u) for u in refreshed[:2]] == [(200, PNG, "image/png"), (200, JPEG, "image/jpeg")]
    assert (await get(old[0]))[0] == 404, "the old link stays dead"


async def test_refresh_needs_the_bot_token_and_takes_at_most_50(fake: FakeDiscord, bot: commands.Bot) -> None:
    result, _, _ = await posted(fake)
    url = result["attachments"][0]["url"]
    async with aiohttp.ClientSession() as session:
        async with session.post(fake.api_base + "/attachments/refresh-urls", json={"attachment_urls": [url]}) as resp:
            assert resp.status == 401
    route = discord.http.Route("POST", "/attachments/refresh-urls")
    with pytest.raises(discord.HTTPException) as too_many:
        await bot.http.request(route, json={"attachment_urls": [url] * 51})
    assert too_many.value.status == 400 and too_many.value.code == 50035
    assert "attachment_urls" in str(too_many.value)


async def test_a_fetched_message_carries_links_that_work_again(fake: FakeDiscord, bot: commands.Bot) -> None:
    result, _, _ = await posted(fake)
    old = result["attachments"][0]["url"]
    fake.expire_attachments()
    channel = bot.get_channel(CHANNEL_ID)
    assert isinstance(channel, discord.TextChannel)
    message = await channel.fetch_message(int(result["id"]))  # Discord re-signs what it hands out
    assert message.attachments[0].url != old and await message.attachments[0].read() == PNG
    assert message.embeds[0].image.url == message.attachments[0].url


async def test_an_edit_keeps_the_listed_file_and_adds_the_new_one(fake: FakeDiscord, bot: commands.Bot) -> None:
    fi = await fake.invoke("replace")
    await fake.wait_for(lambda: len(fi.edits) == 1)
    first, second = fi.original["attachments"]  # type: ignore[index]
    assert (first["filename"], second["filename"]) == ("a.png", "b.jpg")
    assert fi.edits[0]["_files"][0][0] == "b.jpg"
    assert [(await get(a["url"]))[:2] for a in (first, second)] == [(200, PNG), (200, JPEG)]


async def test_a_members_upload_is_an_ephemeral_attachment_that_can_expire_alone(
        fake: FakeDiscord, bot: commands.Bot) -> None:
    image = {"filename": "cat.png", "content_type": "image/png", "data": PNG}
    fi = await fake.invoke("measure", attachments={"image": image})
    assert (await fi.wait_callback())["data"]["content"] == f"{len(PNG)} bytes"
    (att,) = fi.payload["data"]["resolved"]["attachments"].values()
    assert att["ephemeral"] is True and "/ephemeral-attachments/" in att["url"] and query(att["url"])["hm"]
    assert bot.read == [PNG]  # type: ignore[attr-defined]

    other = await fake.invoke("measure", attachments={"image": {**image, "filename": "dog.png"}})
    await other.wait_callback()
    (kept,) = other.payload["data"]["resolved"]["attachments"].values()
    fake.expire_attachments(att["url"])  # only that file's links
    assert (await get(att["url"]))[0] == 404 and (await get(kept["url"]))[0] == 200
    again = await fake.invoke("measure", attachments={"image": att})  # the stale attachment object again
    assert (await again.wait_callback())["data"]["content"] == "gone"


async def test_bare_links_while_signing_is_off(fake: FakeDiscord, bot: commands.Bot) -> None:
    fake.signed_urls = False
    fi = await fake.invoke("measure", attachments={"image": {"filename": "a.png", "data": PNG}})
    await fi.wait_callback()
    (att,) = fi.payload["data"]["resolved"]["attachments"].values()
    assert att["url"] == f"{fake.base_url}/attachments/{CHANNEL_ID}/{att['id']}/a.png" and "ephemeral" not in att
    assert (await get(att["url"]))[0] == 200
    with pytest.raises(AssertionError, match="signed"):
        fake.expire_attachments()


@pytest.mark.parametrize("fetches", [1, 2])
async def test_cdn_expire_after_counts_fetches(fake: FakeDiscord, fetches: int) -> None:
    url = fake.cdn_put("x.png", PNG, "image/png")
    fake.cdn_expire_after(url, fetches)
    assert [(await get(url))[0] for _ in range(fetches + 1)] == [200] * fetches + [404]
