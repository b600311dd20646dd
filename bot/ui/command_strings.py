"""Every string the commands show (names, descriptions, options, choices), read from the command tree
itself: the cogs build their commands from the catalog and decorators, so the tree is the one
complete list. `pybabel extract` gets them through `extract` (babel.cfg's `commands` method), each
with its message context, for the catalogs; the tests read `collect` to hold every locale's to
Discord's rules."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.ui.app import EXTENSIONS
from bot.ui.i18n import CONTEXT, translatable

NOTES = {
    "command name": "A command's name: 1-32 characters, lowercase, no spaces (letters, digits, - and _).",
    "group name": "A command group's name: 1-32 characters, lowercase, no spaces (letters, digits, - and _).",
    "option name": "An option's name: 1-32 characters, lowercase, no spaces; unique within its command.",
    "command description": "A command's description: at most 100 characters.",
    "group description": "A command group's description: at most 100 characters.",
    "option description": "An option's description: at most 100 characters.",
    "choice": "A choice shown for an option: at most 100 characters.",
}


class _Recorder(app_commands.Translator):
    def __init__(self) -> None:
        self.seen: dict[tuple[str, str], None] = {}

    async def translate(self, string: app_commands.locale_str, locale: discord.Locale,
                        context: app_commands.TranslationContext) -> str | None:
        if locale is discord.Locale.american_english and translatable(string.message, context.location):
            self.seen[(CONTEXT[context.location], string.message)] = None
        return None


async def tree_of_the_bot() -> app_commands.CommandTree:
    """The bot's command tree as its extensions build it, with no connection to Discord."""
    bot = commands.Bot(command_prefix="!", intents=discord.Intents.none(), help_command=None)
    for name in EXTENSIONS:
        await bot.load_extension(name)
    return bot.tree


async def collect(tree: app_commands.CommandTree | None = None) -> list[tuple[str, str]]:
    """(message context, English string) for every translatable string of the tree's commands."""
    tree = tree or await tree_of_the_bot()
    recorder = _Recorder()
    for command in tree.get_commands():
        await command.get_translated_payload(tree, recorder)
    return list(recorder.seen)


def extract(fileobj: Any, keywords: Any, comment_tags: Any, options: Any) -> Iterator[tuple]:
    """Babel's extraction method (babel.cfg): the commands' strings, as pgettext calls."""
    for context, message in asyncio.run(collect()):
        yield 0, "pgettext", (context, message), [NOTES[context]]
