"""Self-test: the member's and the server's language on every interaction, and localized commands synced
through discord.py's Translator, held to Discord's naming and length rules."""

from __future__ import annotations

from collections.abc import AsyncIterator

import discord
import pytest
import pytest_asyncio
from discord import app_commands
from discord.app_commands import locale_str
from discord.ext import commands

from tests.conftest import eventually
from tests.fakes.discord import FakeDiscord
from tests.fakes.discord.schema import MAX_COMMAND_SIZE, command_schema_problems, command_size
from tests.fakes.discord_client import running_bot

GUILD_ID = 2000
GERMAN = {"paint": "malen", "Paint a picture": "Ein Bild malen", "prompt": "beschreibung",
          "What to paint": "Was gemalt werden soll", "style": "stil", "Watercolour": "Aquarell"}


class Translator(app_commands.Translator):
    def __init__(self, table: dict[str, str]) -> None:
        self.table = table

    async def translate(self, string: locale_str, locale: discord.Locale, context: app_commands.TranslationContext
                        ) -> str | None:
        return self.table.get(string.message) if locale is discord.Locale.german else None


def build_bot(table: dict[str, str] = GERMAN) -> commands.Bot:
    bot = commands.Bot(command_prefix="!", intents=discord.Intents.default(), guild_ready_timeout=0.05)
    bot.seen, bot.sync_errors = [], []  # type: ignore[attr-defined]

    @bot.tree.command(name=locale_str("paint"), description=locale_str("Paint a picture"))
    @app_commands.describe(prompt=locale_str("What to paint"))
    @app_commands.rename(prompt=locale_str("prompt"), style=locale_str("style"))
    @app_commands.choices(style=[app_commands.Choice(name=locale_str("Watercolour"), value="watercolour")])
    async def paint(interaction: discord.Interaction, prompt: str, style: str = "watercolour") -> None:
        bot.seen.append((interaction.locale, interaction.guild_locale,  # type: ignore[attr-defined]
                         interaction.guild.preferred_locale if interaction.guild else None))
        await interaction.response.send_message(prompt, ephemeral=True)

    async def setup_hook() -> None:
        await bot.tree.set_translator(Translator(table))
        bot.tree.copy_global_to(guild=discord.Object(GUILD_ID))
        try:
            await bot.tree.sync(guild=discord.Object(GUILD_ID))
        except discord.HTTPException as exc:
            bot.sync_errors.append(exc)  # type: ignore[attr-defined]

    bot.setup_hook = setup_hook  # type: ignore[method-assign]
    return bot


@pytest_asyncio.fixture
async def bot(fake: FakeDiscord) -> AsyncIterator[commands.Bot]:
    bot = build_bot()
    async with running_bot(fake, bot):
        yield bot


async def test_localized_names_and_descriptions_are_synced(fake: FakeDiscord, bot: commands.Bot) -> None:
    (paint,) = fake.synced[GUILD_ID]
    assert paint["name_localizations"] == {"de": "malen"}
    assert paint["description_localizations"] == {"de": "Ein Bild malen"}
    prompt, style = paint["options"]
    assert (prompt["name_localizations"], prompt["description_localizations"]) == ({"de": "beschreibung"},
                                                                                   {"de": "Was gemalt werden soll"})
    assert style["choices"][0]["name_localizations"] == {"de": "Aquarell"}


async def test_every_interaction_carries_the_members_and_the_servers_locale(fake: FakeDiscord,
                                                                             bot: commands.Bot) -> None:
    fi = await fake.invoke("paint", {"prompt": "a cat"}, locale="de")
    await fi.wait_callback()
    assert (fi.payload["locale"], fi.payload["guild_locale"]) == ("de", "en-US")
    await fake.set_guild_locale(GUILD_ID, "fr")
    await eventually(lambda: bot.get_guild(GUILD_ID).preferred_locale is discord.Locale.french)  # type: ignore[union-attr]
    fi = await fake.invoke("paint", {"prompt": "a cat"}, locale="ja")
    await fi.wait_callback()
    fi = await fake.invoke("paint", {"prompt": "a cat"}, locale="pt-BR", guild_locale="es-ES")
    await fi.wait_callback()
    assert bot.seen == [(discord.Locale.german, discord.Locale.american_english, discord.Locale.american_english),  # type: ignore[attr-defined]
                        (discord.Locale.japanese, discord.Locale.french, discord.Locale.french),
                        (discord.Locale.brazil_portuguese, discord.Locale.spain_spanish, discord.Locale.french)]
    with pytest.raises(AssertionError, match="not one of Discord's locales"):
        await fake.invoke("paint", {"prompt": "a cat"}, locale="de-DE")


async def test_a_dm_has_the_members_locale_and_no_servers(fake: FakeDiscord) -> None:
    bot = build_bot()
    bot.tree.add_command(app_commands.Command(name="hello", description="Say hello", callback=_hello))
    async with running_bot(fake, bot):
        fi = await fake.invoke("hello", dm=True, locale="ko", validate=False)
        await fi.wait_callback()
    assert fi.payload["locale"] == "ko" and "guild_locale" not in fi.payload
    assert fi.callbacks[0]["data"]["content"] == "ko None"


async def _hello(interaction: discord.Interaction) -> None:
    await interaction.response.send_message(f"{interaction.locale.value} {interaction.guild_locale}")


@pytest.mark.parametrize(("german", "said"), [
    ({**GERMAN, "paint": "Malen"}, "  name_localizations.de: Command name is invalid"),  # has a lowercase form
    ({**GERMAN, "paint": "ein bild"}, "  name_localizations.de: Command name is invalid"),  # no spaces
    ({**GERMAN, "What to paint": "x" * 101},
     "In parameter 'prompt'\n    description_localizations.de: Must be between 1 and 100 in length."),
    ({**GERMAN, "style": "beschreibung"},  # two options, one German name
     "In parameter 'style'\n    name_localizations.de: Localized option name 'beschreibung' repeats"),
    ({**GERMAN, "Watercolour": "x" * 101}, "choices.0.name_localizations.de: Must be between 1 and 100 in length."),
])
async def test_a_localization_past_discords_rules_fails_the_sync(fake: FakeDiscord, german: dict, said: str) -> None:
    bot = build_bot(german)
    async with running_bot(fake, bot, synced=False):
        await eventually(lambda: bool(bot.sync_errors))  # type: ignore[attr-defined]
    (error,) = bot.sync_errors  # type: ignore[attr-defined]
    assert error.status == 400 and error.code == 50035  # discord.py read Discord's error shape ...
    assert said in str(error), str(error)  # ... and named the command and the field from it
    assert GUILD_ID not in fake.synced


def command(**fields) -> dict:
    return {"type": 1, "name": "paint", "description": "Paint a picture", **fields}


@pytest.mark.parametrize(("fields", "path", "code"), [
    ({"name": "Paint"}, "0.name", "APPLICATION_COMMAND_INVALID_NAME"),
    ({"name": "x" * 33}, "0.name", "BASE_TYPE_BAD_LENGTH"),
    ({"description": ""}, "0.description", "BASE_TYPE_BAD_LENGTH"),
    ({"description": "x" * 101}, "0.description", "BASE_TYPE_BAD_LENGTH"),
    ({"name_localizations": {"xx": "malen"}}, "0.name_localizations.xx", "BASE_TYPE_CHOICES"),
    ({"name_localizations": {"de": "x" * 33}}, "0.name_localizations.de", "BASE_TYPE_BAD_LENGTH"),
    ({"description_localizations": {"fr": ""}}, "0.description_localizations.fr", "BASE_TYPE_BAD_LENGTH"),
    ({"name_localizations": "de"}, "0.name_localizations", "DICT_TYPE_CONVERT"),
    ({"integration_types": [2]}, "0.integration_types.0", "BASE_TYPE_CHOICES"),
    ({"contexts": [3]}, "0.contexts.0", "BASE_TYPE_CHOICES"),
])
def test_sync_rules(fields: dict, path: str, code: str) -> None:
    assert (path, code) in [(p[0], p[2]) for p in command_schema_problems([command(**fields)])]


def test_names_in_any_script_pass() -> None:
    names = {"zh-CN": "生日", "el": "γενέθλια", "hi": "नमस्ते", "th": "สวัสดี", "fr": "l'été", "ko": "그림"}
    assert command_schema_problems([command(name_localizations=names, description_localizations=None)]) == []


def test_the_size_counts_the_longest_localization() -> None:
    option = {"type": 3, "name": "prompt", "description": "d" * 50, "description_localizations": {"de": "x" * 100}}
    big = command(options=[{**option, "name": chr(ord("a") + i)} for i in range(25)],
                  description_localizations={"de": "y" * 100})
    assert command_size(big) == len("paint") + 100 + 25 * (1 + 100)
    two_choices = [{"name": f"{j}" * 100, "value": f"{j}" * 100} for j in range(2)]
    huge = {**big, "options": [{**o, "choices": two_choices} for o in big["options"]]}
    assert command_size(huge) > MAX_COMMAND_SIZE
    assert [p[2] for p in command_schema_problems([huge])] == ["APPLICATION_COMMAND_TOO_LARGE"]
