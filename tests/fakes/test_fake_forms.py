"""Self-test: forms (modals) with Labels, text inputs, string selects, file uploads and text displays,
opened and read by the real discord.py 2.7 (`discord.ui.Label`, `Select`, `FileUpload`, `TextDisplay`)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import discord
import pytest
import pytest_asyncio
from discord.ext import commands

from tests.conftest import eventually
from tests.fakes.discord import FakeDiscord
from tests.fakes.discord.components import file_type_problem, modal_problems
from tests.fakes.discord_client import running_bot
from tests.fakes.images import make_mask, make_png

GUILD_ID = 2000
MASK = make_mask(8, 8, "half")
REGIONS = [discord.SelectOption(label="Left half", value="left", default=True),
           discord.SelectOption(label="Right half", value="right"), discord.SelectOption(label="Centre", value="centre")]


class RegionForm(discord.ui.Modal, title="Vary region"):
    intro = discord.ui.TextDisplay("Repaint part of the picture.")
    prompt = discord.ui.Label(text="Prompt", component=discord.ui.TextInput(
        custom_id="prompt", style=discord.TextStyle.paragraph, default="a cat", max_length=100))
    region = discord.ui.Label(text="Region", description="Which part to repaint",
                              component=discord.ui.Select(custom_id="region", options=REGIONS))
    mask = discord.ui.Label(text="Or upload a mask", component=discord.ui.FileUpload(
        custom_id="mask", required=False, max_values=1))

    async def on_submit(self, interaction: discord.Interaction) -> None:
        assert isinstance(self.prompt.component, discord.ui.TextInput)
        assert isinstance(self.region.component, discord.ui.Select)
        assert isinstance(self.mask.component, discord.ui.FileUpload)
        files = self.mask.component.values
        seen = (self.prompt.component.value, list(self.region.component.values), [f.filename for f in files],
                [await f.read() for f in files])
        interaction.client.forms.append(seen)  # type: ignore[attr-defined]
        try:
            await interaction.response.send_modal(RegionForm())  # a form cannot answer a form
        except discord.HTTPException as exc:
            interaction.client.refusals.append(exc)  # type: ignore[attr-defined]
            await interaction.response.send_message("ok", ephemeral=True)


def build_bot() -> commands.Bot:
    bot = commands.Bot(command_prefix="!", intents=discord.Intents.none(), guild_ready_timeout=0.05)
    bot.forms, bot.refusals = [], []  # type: ignore[attr-defined]

    @bot.tree.command(description="Vary a region")
    async def vary(interaction: discord.Interaction) -> None:
        await interaction.response.send_modal(RegionForm())

    @bot.tree.command(description="Open a form Discord refuses")
    async def broken(interaction: discord.Interaction, kind: str) -> None:
        form = discord.ui.Modal(title="x" * 46 if kind == "title" else "Broken")
        if kind == "select":  # a select straight in the form: discord.py puts it in an Action Row
            form.add_item(discord.ui.Select(custom_id="s", options=REGIONS))
        else:
            form.add_item(discord.ui.TextInput(label="Text", custom_id="t"))
        try:
            await interaction.response.send_modal(form)
        except discord.HTTPException as exc:
            bot.refusals.append(exc)  # type: ignore[attr-defined]

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


async def opened(fake: FakeDiscord):
    fi = await fake.invoke("vary")
    assert (await fi.wait_callback())["type"] == 9
    return fi


async def test_a_form_of_labels_is_accepted_and_shows_its_defaults(fake: FakeDiscord, bot: commands.Bot) -> None:
    fi = await opened(fake)
    modal = fi.callbacks[0]["data"]
    assert [c["type"] for c in modal["components"]] == [10, 18, 18, 18]
    assert [c["component"]["type"] for c in modal["components"][1:]] == [4, 3, 19]
    assert fake.modal_values(fi) == {"Prompt": "a cat", "Region": ["left"], "Or upload a mask": []}


async def test_submitting_sends_values_and_uploaded_files(fake: FakeDiscord, bot: commands.Bot) -> None:
    fi = await opened(fake)
    sent = await fake.submit_modal(fi, {"Prompt": "a dog", "Region": ["centre"]},
                                   files={"Or upload a mask": [("mask.png", MASK)]})
    assert (await sent.wait_callback())["data"]["content"] == "ok"
    assert bot.forms == [("a dog", ["centre"], ["mask.png"], [MASK])]  # type: ignore[attr-defined]
    data = sent.payload["data"]
    (upload_id,) = data["resolved"]["attachments"]
    assert data["components"] == [
        {"type": 10, "id": 1},
        {"type": 18, "id": 2, "component": {"type": 4, "id": 3, "custom_id": "prompt", "value": "a dog"}},
        {"type": 18, "id": 4, "component": {"type": 3, "id": 5, "custom_id": "region", "values": ["centre"]}},
        {"type": 18, "id": 6, "component": {"type": 19, "id": 7, "custom_id": "mask", "values": [upload_id]}},
    ]
    attachment = data["resolved"]["attachments"][upload_id]
    assert attachment["ephemeral"] is True and attachment["content_type"] == "image/png"
    assert "/ephemeral-attachments/" in attachment["url"] and "&hm=" in attachment["url"]


async def test_inputs_left_alone_keep_what_they_showed(fake: FakeDiscord, bot: commands.Bot) -> None:
    sent = await fake.submit_modal(await opened(fake))
    await sent.wait_callback()
    assert bot.forms == [("a cat", ["left"], [], [])]  # type: ignore[attr-defined]
    assert "resolved" not in sent.payload["data"]


@pytest.mark.parametrize(("values", "files", "said"), [
    ({"Prompt": ""}, {}, "Prompt: 0 characters"),
    ({"Prompt": "x" * 101}, {}, "Prompt: 101 characters, the input takes 1-100"),
    ({"Region": ["north"]}, {}, "['north'] are not among the options"),
    ({"Region": ["left", "right"]}, {}, "Region: 2 chosen, the input takes 1-1"),
    ({}, {"Or upload a mask": [("a.png", MASK), ("b.png", MASK)]}, "2 chosen, the input takes 1-1"),
    ({"Colour": "red"}, {}, "the form has no inputs ['Colour']"),
])
async def test_what_discords_client_would_not_submit_is_refused(fake: FakeDiscord, bot: commands.Bot, values,
                                                                files, said: str) -> None:
    fi = await opened(fake)
    with pytest.raises(AssertionError) as refused:
        await fake.submit_modal(fi, values, files=files)
    assert said in str(refused.value)
    assert len(fake.interactions) == 1, "nothing reached the bot"


async def test_a_hostile_client_is_not_held_to_the_form(fake: FakeDiscord, bot: commands.Bot) -> None:
    sent = await fake.submit_modal(await opened(fake), {"Region": ["north", "south"]}, validate=False)
    await sent.wait_callback()
    assert bot.forms[0][1] == ["north", "south"]  # type: ignore[attr-defined]


async def test_a_form_cannot_answer_a_form(fake: FakeDiscord, bot: commands.Bot) -> None:
    sent = await fake.submit_modal(await opened(fake))
    await sent.wait_callback()
    (refusal,) = bot.refusals  # type: ignore[attr-defined]
    assert refusal.status == 400 and refusal.code == 50035


@pytest.mark.parametrize(("kind", "where"), [("select", "data.components.0.components"), ("title", "data.title")])
async def test_discord_refuses_a_form_it_cannot_show(fake: FakeDiscord, bot: commands.Bot, kind, where) -> None:
    fi = await fake.invoke("broken", {"kind": kind})
    await eventually(lambda: bool(bot.refusals))  # type: ignore[attr-defined]
    (refusal,) = bot.refusals  # type: ignore[attr-defined]
    assert refusal.status == 400 and refusal.code == 50035 and where in str(refusal)
    assert fi.callbacks == []


async def test_submit_form_makes_up_any_form_with_selects_and_uploads(fake: FakeDiscord, bot: commands.Bot) -> None:
    png = make_png(4, 4)
    sent = await fake.submit_form("anything:1", {"note": "hi", "pick": ["a", "b"]}, labels=True,
                                  files={"upload": [("x.png", png)]})
    data = sent.payload["data"]
    assert [c["component"]["type"] for c in data["components"]] == [4, 3, 19]
    (att,) = data["resolved"]["attachments"].values()
    assert data["components"][2]["component"]["values"] == [att["id"]] and att["size"] == len(png)


def test_modal_rules() -> None:
    def label(component: dict, text: str = "Label") -> dict:
        return {"type": 18, "label": text, "component": component}

    text = {"type": 4, "custom_id": "t", "style": 1}
    ok = {"custom_id": "m", "title": "Form", "components": [label(text)]}
    assert modal_problems(ok) == []
    cases = {
        "data.components": {**ok, "components": [label({**text, "custom_id": f"t{i}"}) for i in range(6)]},
        "data.components.0.component": {**ok, "components": [label({"type": 2, "custom_id": "b"})]},
        "data.components.0.label": {**ok, "components": [label(text, "x" * 46)]},
        "data.components.0.component.style": {**ok, "components": [label({**text, "style": 3})]},
        "data.components.0.component.disabled": {**ok, "components": [label(
            {"type": 3, "custom_id": "s", "options": [{"label": "a", "value": "a"}], "disabled": True})]},
        "data.components.0.component.min_values": {**ok, "components": [label(
            {"type": 19, "custom_id": "f", "min_values": 0})]},
        "data.components.0.component.file_types.0": {**ok, "components": [label(
            {"type": 19, "custom_id": "f", "file_types": ["pdf"]})]},
        "data.components.0.components.0.label": {**ok, "components": [{"type": 1, "components": [text]}]},
    }
    for path, modal in cases.items():
        assert path in [p[0] for p in modal_problems(modal)], path
    twice = {**ok, "components": [label(text), label(text)]}
    assert [p[2] for p in modal_problems(twice)] == ["COMPONENT_CUSTOM_ID_DUPLICATED"]


def test_file_types_filter_by_extension_only() -> None:
    upload = {"type": 19, "custom_id": "f", "file_types": ["image", ".PDF"]}
    assert file_type_problem("Mask", upload, "m.JPG") is None and file_type_problem("Mask", upload, "a.pdf") is None
    assert "not among the file types" in (file_type_problem("Mask", upload, "notes.txt") or "")
