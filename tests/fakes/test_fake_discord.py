"""Self-test: the real discord.py, unmodified, talks to FakeDiscord end to end."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator

import aiohttp
import discord
import pytest
import pytest_asyncio
from discord import app_commands
from discord.ext import commands
from PIL import Image

from tests.conftest import eventually
from tests.fakes.discord import DEFAULT_MEMBER_PERMISSIONS, FakeDiscord
from tests.fakes.discord_client import running_bot

pytestmark = pytest.mark.asyncio

GUILD_ID = 2000
FILE_BYTES = b"hello from the bot\n"


def _png(width: int, height: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), "red").save(buf, format="PNG")
    return buf.getvalue()


class AgainView(discord.ui.View):
    def __init__(self) -> None:
        super().__init__(timeout=None)  # no timer task left behind when the test ends
        self.clicked_by: list[int] = []

    @discord.ui.button(label="Again", custom_id="echo:again")
    async def again(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        self.clicked_by.append(interaction.user.id)
        await interaction.response.edit_message(content="clicked", view=None)  # type 7


class ConfirmView(discord.ui.View):
    def __init__(self) -> None:
        super().__init__(timeout=None)

    @discord.ui.button(label="Confirm", custom_id="confirm", style=discord.ButtonStyle.green)
    async def confirm(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        await interaction.response.defer()  # type 6 on a component
        await interaction.followup.send("confirmed", ephemeral=True)


def build_bot() -> commands.Bot:
    bot = commands.Bot(command_prefix="!", intents=discord.Intents.default(), guild_ready_timeout=0.05)
    bot.views: list[discord.ui.View] = []  # type: ignore[misc]

    @bot.tree.command(description="Echo text back")
    async def echo(interaction: discord.Interaction, text: str, count: app_commands.Range[int, 1, 5]) -> None:
        await interaction.response.defer(thinking=True)
        view = AgainView()
        bot.views.append(view)
        embed = discord.Embed(title="Echo", description=" ".join([text] * count))
        embed.set_image(url="attachment://echo.txt")
        await interaction.followup.send(
            embed=embed,
            file=discord.File(io.BytesIO(FILE_BYTES), filename="echo.txt"),
            allowed_mentions=discord.AllowedMentions.none(),
            view=view,
        )

    @bot.tree.command(description="Ask for confirmation")
    async def confirm(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("Sure?", view=ConfirmView())  # type 4

    @bot.tree.command(description="Measure an image")
    async def measure(interaction: discord.Interaction, image: discord.Attachment) -> None:
        data = await image.read()  # fetched from the fake's CDN
        await interaction.response.send_message(
            f"{len(data)} bytes {image.width}x{image.height} {image.content_type}", ephemeral=True
        )

    admin = app_commands.Group(name="admin", description="Admin commands")

    @admin.command(name="allowance-default", description="Set the default allowance")
    async def allowance_default(
        interaction: discord.Interaction, amount: app_commands.Range[int, 0, 100]
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        await interaction.edit_original_response(content=f"default is now {amount}")

    bot.tree.add_command(admin)

    async def setup_hook() -> None:
        guild = discord.Object(GUILD_ID)
        bot.tree.copy_global_to(guild=guild)
        await bot.tree.sync(guild=guild)

    bot.setup_hook = setup_hook  # type: ignore[method-assign]
    return bot


@pytest_asyncio.fixture
async def bot(fake: FakeDiscord) -> AsyncIterator[commands.Bot]:
    bot = build_bot()
    async with running_bot(fake, bot):
        yield bot


async def test_echo_defers_then_follows_up_with_embed_and_file(fake: FakeDiscord, bot: commands.Bot) -> None:
    fi = await fake.invoke("echo", {"text": "hi @everyone", "count": 2})

    callback = await fi.wait_callback()
    assert callback["type"] == 5
    assert fi.callback_at is not None and fi.callback_at - fi.created_at < 1.0

    answer = await fi.wait_followup()
    assert answer["id"] == fi.original_id  # the first followup replaced the "thinking…" message
    assert not fi.ephemeral(answer)
    embed = answer["embeds"][0]
    assert embed["title"] == "Echo" and embed["description"] == "hi @everyone hi @everyone"
    assert answer["_files"][0][0] == "echo.txt" and answer["_files"][0][2] == FILE_BYTES
    assert answer["_payload"]["allowed_mentions"] == {"parse": []}
    attachment = answer["attachments"][0]
    assert attachment["filename"] == "echo.txt" and attachment["size"] == len(FILE_BYTES)
    assert embed["image"]["url"] == attachment["url"]  # attachment:// resolved like Discord does

    async with aiohttp.ClientSession() as session, session.get(attachment["url"]) as resp:
        assert resp.status == 200 and await resp.read() == FILE_BYTES


async def test_invoke_validates_against_synced_schema(fake: FakeDiscord, bot: commands.Bot) -> None:
    assert {c["name"] for c in fake.synced[GUILD_ID]} == {"echo", "confirm", "measure", "admin"}
    with pytest.raises(AssertionError, match="above max_value 5"):
        await fake.invoke("echo", {"text": "x", "count": 9})
    with pytest.raises(AssertionError, match="required option 'count'"):
        await fake.invoke("echo", {"text": "x"})
    with pytest.raises(AssertionError, match="unknown option 'colour'"):
        await fake.invoke("echo", {"text": "x", "count": 1, "colour": "red"})
    with pytest.raises(AssertionError, match="not a valid integer"):
        await fake.invoke("echo", {"text": "x", "count": "3"})
    with pytest.raises(AssertionError, match="no such command"):
        await fake.invoke("nope")
    with pytest.raises(AssertionError, match="pass subcommand="):
        await fake.invoke("admin", {"amount": 1})
    assert not fake.interactions  # nothing reached the bot

    # Past Discord's client (validate=False) the bot gets the out-of-range value anyway.
    fi = await fake.invoke("echo", {"text": "x", "count": 9}, validate=False)
    answer = await fi.wait_followup()
    assert answer["embeds"][0]["description"] == " ".join(["x"] * 9)


async def test_click_button_on_followup_runs_view(fake: FakeDiscord, bot: commands.Bot) -> None:
    fi = await fake.invoke("echo", {"text": "a", "count": 1})
    answer = await fi.wait_followup()

    click = await fake.click(answer, "echo:again", user_id=4242, username="bob")
    callback = await click.wait_callback()
    assert callback["type"] == 7 and callback["data"]["components"] == []
    assert fake.messages[answer["id"]]["content"] == "clicked"
    assert bot.views[0].clicked_by == [4242]  # type: ignore[attr-defined]
    with pytest.raises(AssertionError, match="no component"):
        await fake.click(fake.messages[answer["id"]], "echo:again")  # the button was edited away


async def test_message_response_then_deferred_click(fake: FakeDiscord, bot: commands.Bot) -> None:
    fi = await fake.invoke("confirm")
    callback = await fi.wait_callback()
    assert callback["type"] == 4
    message = fi.original
    assert message is not None and message["content"] == "Sure?"

    click = await fake.click(message, "confirm")
    assert (await click.wait_callback())["type"] == 6
    followup = await click.wait_followup()
    assert followup["content"] == "confirmed" and click.ephemeral(followup)


async def test_attachment_option_and_subcommand(fake: FakeDiscord, bot: commands.Bot) -> None:
    png = _png(3, 2)
    fi = await fake.invoke(
        "measure", attachments={"image": {"filename": "a.png", "content_type": "image/png", "data": png}}
    )
    callback = await fi.wait_callback()
    assert callback["data"]["content"] == f"{len(png)} bytes 3x2 image/png"
    assert fi.ephemeral(callback["data"])

    fi = await fake.invoke(
        "admin",
        {"amount": 7},
        subcommand="allowance-default",
        roles=[6000],
        permissions=DEFAULT_MEMBER_PERMISSIONS,
    )
    answer = await fi.wait_followup()
    assert answer["content"] == "default is now 7" and fi.ephemeral(answer)
    assert fi.edits and fi.edits[0]["content"] == "default is now 7"
    assert bot.get_guild(GUILD_ID).get_role(6000) is not None  # unknown roles get created first


async def test_rest_contract_auth_content_type_cdn(fake: FakeDiscord) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.get(fake.api_base + "/users/@me") as resp:
            assert resp.status == 401
        async with session.get(
            fake.api_base + "/users/@me", headers={"Authorization": "Bot fake-token"}
        ) as resp:
            assert resp.status == 200 and resp.headers["Content-Type"] == "application/json"
        async with session.get(fake.api_base + "/nope", headers={"Authorization": "Bot fake-token"}) as resp:
            assert resp.status == 404 and await resp.json() == {"message": "Unknown", "code": 0}
        url = fake.cdn_put("x.bin", b"\x00\x01", "application/octet-stream")
        async with session.get(url) as resp:
            assert resp.status == 200 and await resp.read() == b"\x00\x01"
        fake.cdn_remove(url)
        async with session.get(url) as resp:
            assert resp.status == 404
    assert [r.status for r in fake.requests] == [401, 200, 404, 200, 404]


async def test_gateway_reconnect_resumes(fake: FakeDiscord, bot: commands.Bot) -> None:
    # discord.py asks for a compressed stream (zlib, or zstd when importable); the fake speaks it.
    wanted = discord.utils._ActiveDecompressionContext.COMPRESSION_TYPE
    assert fake.gateway_queries == [{"v": "10", "encoding": "json", "compress": wanted}]

    await fake.request_reconnect()
    await fake.wait_for(lambda: fake.resume_count == 1, timeout=2)
    assert len(fake.gateway_queries) == 2
    fi = await fake.invoke("confirm")
    assert (await fi.wait_callback())["type"] == 4


async def test_a_slow_route_answers_late_with_what_was_true_when_it_arrived() -> None:
    fake = FakeDiscord()
    await fake.start()
    try:
        posted = await fake.member_message(content="before")
        url = f"{fake.api_base}/channels/{posted['channel_id']}/messages/{posted['id']}"
        fake.slow("GET", r"/channels/\d+/messages/\d+$", 0.4)
        async with aiohttp.ClientSession(headers={"Authorization": f"Bot {fake.token}"}) as session:
            loop = asyncio.get_running_loop()
            started = loop.time()
            reading = asyncio.create_task(session.get(url))
            await eventually(lambda: any(r.path.endswith(f"/messages/{posted['id']}") for r in fake.requests))
            fake.messages[posted["id"]]["content"] = "after"  # changed while the answer is on its way
            async with await reading as response:
                assert response.status == 200
                assert (await response.json())["content"] == "before"
            assert loop.time() - started >= 0.4
            async with session.post(f"{fake.api_base}/channels/{posted['channel_id']}/typing") as typing:
                assert typing.status == 204, "other routes are answered at once"
    finally:
        await fake.close()
