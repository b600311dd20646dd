"""The bot's languages on Discord's side: the commands' names, descriptions, options and choices from
the catalogs (`CommandTranslator`, set on the command tree before the sync), and the locale a reply is
worded in: the member's (`interaction.locale`) for what only they read, the server's
(`guild_locale`) for what is posted for everyone. The sentences themselves are bot/core/i18n.py's."""

from __future__ import annotations

from collections.abc import Callable

import discord
from discord import app_commands

from bot.catalog import MODELS, TEXT_MODELS, Model
from bot.core.i18n import SOURCE, Text, catalog_name, lookup, render

Loc = app_commands.TranslationContextLocation
# The message context of each place Discord shows a command's string (bot.core.i18n.COMMAND_CONTEXTS).
CONTEXT: dict[Loc, str] = {
    Loc.command_name: "command name",
    Loc.command_description: "command description",
    Loc.group_name: "group name",
    Loc.group_description: "group description",
    Loc.parameter_name: "option name",
    Loc.parameter_description: "option description",
    Loc.choice_name: "choice",
}


def model_choice(model: Model) -> str:
    """A model as /imagine's and /settings' `model` choices name it: its own name, the same in every language."""
    return f"{model.title} ({model.key})"[:100]


# Choices that are data, the same in every language: model commands and names, file formats, aspect ratios.
DATA_CHOICES = frozenset({*MODELS, *(f"/{key}" for key in MODELS), *(model_choice(m) for m in TEXT_MODELS),
                          *(c for model in MODELS.values() for p in model.params for c in p.choices)})
# Names that are the model's own (/sdxl): never translated.
DATA_NAMES = frozenset(MODELS)


def translatable(message: str, location: Loc) -> bool:
    """Whether a command's string goes in the catalogs (a model's key or a file format does not)."""
    if location not in CONTEXT:
        return False
    if location is Loc.choice_name:
        return message not in DATA_CHOICES
    if location in (Loc.command_name, Loc.group_name):
        return message not in DATA_NAMES
    return True


class CommandTranslator(app_commands.Translator):
    """Each Discord locale with a catalog gets the commands in its language; the rest the English."""

    async def translate(self, string: app_commands.locale_str, locale: discord.Locale,
                        context: app_commands.TranslationContext) -> str | None:
        catalog = catalog_name(locale.value)
        if catalog == SOURCE or not translatable(string.message, context.location):
            return None
        shown = lookup(Text(string.message, context=CONTEXT[context.location]), catalog)
        return None if shown == string.message else shown


def member_locale(interaction: discord.Interaction) -> str:
    """The locale of the member who acted: their Discord client's language."""
    return interaction.locale.value


def server_locale(interaction: discord.Interaction) -> str:
    """The server's language (its preferred locale), for messages everyone in it reads; in a DM the member's."""
    if interaction.guild_locale is not None:
        return interaction.guild_locale.value
    return member_locale(interaction)


def guild_locale(guild: discord.Guild | None) -> str:
    """A server's language where no interaction tells it (the audit poster)."""
    return guild.preferred_locale.value if guild is not None else "en-US"


def words(locale: str) -> Callable[[Text | str], str]:
    """`t = words(locale)`; `t(_("Left today"))`: each Text in that locale (a str as it is)."""
    return lambda text: render(text, locale)


def for_member(interaction: discord.Interaction) -> Callable[[Text | str], str]:
    return words(member_locale(interaction))


def for_server(interaction: discord.Interaction) -> Callable[[Text | str], str]:
    return words(server_locale(interaction))


def for_guild(client: discord.Client, guild_id: int | None) -> Callable[[Text | str], str]:
    """Words for a message posted in a server's channel for everyone: the server's language."""
    return words(guild_locale(client.get_guild(guild_id) if guild_id else None))
