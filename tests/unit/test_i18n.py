"""The catalogs and the commands' localizations, checked without Discord: every string of the code is in
the template, every language translates each with the same placeholders, the compiled catalogs say
what their sources say, and the commands each language syncs keep to Discord's naming and length rules."""

from __future__ import annotations

import gettext
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import discord
import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

from bot.core.i18n import CATALOGS, LOCALE_DIR, SOURCE, _, _n, catalog_name, option_name, placeholders, render
from bot.ui.command_strings import collect, tree_of_the_bot
from bot.ui.i18n import CommandTranslator
from tests.fakes.discord.schema import command_schema_problems

ROOT = Path(__file__).resolve().parents[2]
TRANSLATED = sorted(name for name in CATALOGS.values() if name != SOURCE)
# Discord's rule for command and option names, any locale (developers/interactions/application-commands.mdx).
NAME = re.compile(r"^[-_'\w\u0900-\u097F\u0E00-\u0E7F]{1,32}$")


def catalog(name: str) -> Catalog:
    path = LOCALE_DIR / name / "LC_MESSAGES" / "bot.po"
    with path.open("rb") as fp:
        return read_po(fp, locale=name, domain="bot")


def template() -> Catalog:
    with (LOCALE_DIR / "bot.pot").open("rb") as fp:
        return read_po(fp)


def key(message) -> tuple:
    return message.context, message.id


def test_the_languages_are_the_ones_promised() -> None:
    assert set(CATALOGS) == {"en-US", "de", "fr", "es-ES", "pt-BR", "ja"}
    assert set(CATALOGS) <= {locale.value for locale in discord.Locale}
    for name in CATALOGS.values():
        assert (LOCALE_DIR / name / "LC_MESSAGES" / "bot.po").is_file(), name


@pytest.mark.parametrize("name", TRANSLATED)
def test_every_message_is_translated_with_the_same_placeholders(name: str) -> None:
    source = {key(m): m for m in template() if m.id}
    translated = {key(m): m for m in catalog(name) if m.id}
    assert set(translated) == set(source), "run pybabel update (docs/architecture.md, Languages)"
    for k, message in translated.items():
        forms = message.string if isinstance(message.string, tuple) else (message.string,)
        assert all(forms), f"{name}: {k} has no translation"
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        wanted = placeholders(ids[-1])
        assert placeholders(ids[0]) <= wanted
        for form in forms:
            assert placeholders(form) == wanted, f"{name}: {k}: {form!r} has other placeholders than {wanted}"


def test_the_template_has_every_string_of_the_code(tmp_path: Path) -> None:
    """A sentence wrapped in _() (or a command's new option) without catalog entries fails here."""
    extracted = tmp_path / "bot.pot"
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", "extract", "-F", "babel.cfg", "-k", "_n:1,2",
                    "--no-location", "--sort-output", "-o", str(extracted), "."], cwd=ROOT, check=True,
                   capture_output=True)
    with extracted.open("rb") as fp:
        fresh = {key(m) for m in read_po(fp) if m.id}
    assert fresh == {key(m) for m in template() if m.id}, "run pybabel extract (docs/architecture.md, Languages)"


@pytest.mark.parametrize("name", TRANSLATED)
def test_the_compiled_catalog_says_what_its_source_says(name: str) -> None:
    with (LOCALE_DIR / name / "LC_MESSAGES" / "bot.mo").open("rb") as fp:
        compiled = gettext.GNUTranslations(fp)
    for message in catalog(name):
        if not message.id:
            continue
        if isinstance(message.id, tuple):
            for n in (1, 2, 5):
                got = (compiled.npgettext(message.context, *message.id, n) if message.context
                       else compiled.ngettext(*message.id, n))
                assert got in message.string, f"{name}: {message.id} (n={n}): run pybabel compile"
        else:
            got = compiled.pgettext(message.context, message.id) if message.context else compiled.gettext(message.id)
            assert got == message.string, f"{name}: {message.id!r}: run pybabel compile"


async def test_every_command_string_is_in_the_catalogs() -> None:
    strings = await collect()
    assert ("command name", "quota") in strings and ("option description", "What to draw") in strings
    assert ("choice", "on") in strings and not any(m == "webp" for _, m in strings)  # data stays as it is
    known = {key(m) for m in template() if m.id}
    assert set(strings) <= known


def _names(payload: list[dict], locale: str) -> list[list[str]]:
    """The names Discord shows side by side in `locale`: the commands, each command's options (or
    subcommands), recursively."""
    def shown(item: dict) -> str:
        return (item.get("name_localizations") or {}).get(locale, item["name"])

    levels = [[shown(c) for c in payload]]
    stack = list(payload)
    while stack:
        item = stack.pop()
        options = item.get("options") or []
        if options:
            levels.append([shown(o) for o in options])
            stack.extend(o for o in options if o.get("type") in (1, 2))
    return levels


async def test_the_synced_localizations_keep_discords_rules() -> None:
    tree = await tree_of_the_bot()
    await tree.set_translator(CommandTranslator())
    payload = [await command.get_translated_payload(tree, CommandTranslator()) for command in tree.get_commands()]
    assert command_schema_problems(payload) == []
    seen: Counter[str] = Counter()
    stack = list(payload)
    while stack:
        item = stack.pop()
        stack.extend(item.get("options") or [])
        for locale, name in (item.get("name_localizations") or {}).items():
            seen[locale] += 1
            if item.get("type") == 3:  # a message menu's name is shown as written: spaces and capitals allowed
                assert 1 <= len(name) <= 32, f"{locale}: {name!r}"
                continue
            assert NAME.match(name) and name == name.lower(), f"{locale}: {name!r}"
        for locale, text in (item.get("description_localizations") or {}).items():
            assert 1 <= len(text) <= 100, f"{locale}: {text!r}"
        for choice in item.get("choices") or []:
            for locale, text in (choice.get("name_localizations") or {}).items():
                assert 1 <= len(text) <= 100, f"{locale}: {text!r}"
    for locale in ("de", "fr", "es-ES", "pt-BR", "ja"):
        assert seen[locale] > 50, f"{locale} is synced"
        for level in _names(payload, locale):
            assert len(level) == len(set(level)), f"{locale}: two names alike side by side: {level}"


def test_a_sentence_reads_in_each_language_and_falls_back_to_english() -> None:
    text = _("`{option}` must be {kind}.", option=option_name("prompt"), kind=_("a whole number"))
    assert str(text) == "`prompt` must be a whole number."
    assert render(text, "de") == "`prompt` muss eine ganze Zahl sein."
    assert render(text, "ja") == "`プロンプト` には整数を指定してください。"
    assert render(text, "es-419") == render(text, "es-ES")  # the language's catalog
    assert render(text, "en-GB") == render(text, "ko") == str(text)  # no catalog: English
    assert [render(_n("{n} credit", "{n} credits", n), "fr") for n in (1, 2)] == ["1 crédit", "2 crédits"]
    assert catalog_name("pt-PT") == "pt_BR" and catalog_name(None) == SOURCE

