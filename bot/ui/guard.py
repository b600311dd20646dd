"""What a client can send that no command should see: refused before discord.py parses the options.

Discord's own client keeps to the synced schema, but the interaction is just JSON from outside.
discord.py turns a number option with `float(value)` and a member option with `int(value)` outside
any error handler, so "abc" there would end the command silently; a missing required option ends
in an anonymous signature error. And `guild_only` is a hint to Discord's client, not a check.
"""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands

from bot.core.i18n import Text, _, option_name
from bot.ui.installs import SERVER_INSTALL_ONLY, server_decides, server_install_only

GUILD_ONLY = _("This command works only in a server.")
STALE_COMMAND = _("This command does not match what the bot offers now; Discord may still show an older version. "
                  "Reopen the command and try again.")

_KIND = {
    3: _("text"),
    4: _("a whole number"),
    10: _("a number"),
    5: _("true or false"),
    6: _("a member"),
    7: _("a channel"),
    8: _("a role"),
    9: _("a member or role"),
    11: _("an attachment"),
}
# Where each snowflake option's object must be in `data.resolved`.
_RESOLVED_IN = {6: ("users",), 7: ("channels",), 8: ("roles",), 9: ("users", "roles"), 11: ("attachments",)}


def kind_of(option_type: discord.AppCommandOptionType) -> Text:
    return _KIND.get(option_type.value) or _("a valid value")


def required(name: str) -> Text:
    return _("`{option}` is required.", option=option_name(name))


def must_be(name: str, kind: Text) -> Text:
    return _("`{option}` must be {kind}.", option=option_name(name), kind=kind)


def problem(interaction: discord.Interaction) -> Text | None:
    """The sentence refusing this slash command, or None if its command may run."""
    if interaction.type is not discord.InteractionType.application_command:
        return None  # autocomplete cannot be answered with a message
    command = interaction.command
    if not isinstance(command, app_commands.Command):
        return None  # unknown or a context menu: discord.py's own errors reach the funnel
    if interaction.guild_id is None and _guild_only(command):
        return GUILD_ONLY
    if server_install_only(command) and not server_decides(interaction):
        return SERVER_INSTALL_ONLY  # Discord offers it only through a server's install; a raw client may not
    data: dict[str, Any] = interaction.data or {}  # type: ignore[assignment]
    given = {o.get("name"): o for o in _leaf_options(data.get("options")) if isinstance(o, dict)}
    raw_resolved = data.get("resolved")
    resolved: dict = raw_resolved if isinstance(raw_resolved, dict) else {}
    for param in command.parameters:
        option = given.get(param.display_name)
        if option is None:
            if param.required:
                return required(param.display_name)
            continue
        value = option.get("value")
        if value is None and param.required:
            return required(param.display_name)
        if option.get("type") != param.type.value or not _fits(param.type.value, value, resolved):
            return must_be(param.display_name, kind_of(param.type))
    return None


def autocomplete_problem(interaction: discord.Interaction) -> str | None:
    """Why an autocomplete request cannot be answered with suggestions, or None if its option has them.

    Discord's client asks only for options the synced schema marks as autocompleted; a request for any
    other (a made-up one, or an older schema's) would end in discord.py's CommandSignatureMismatch,
    which it logs with a traceback and leaves unanswered."""
    if interaction.type is not discord.InteractionType.autocomplete:
        return None
    command = interaction.command
    if not isinstance(command, app_commands.Command):
        return "no such command"
    data: dict[str, Any] = interaction.data or {}  # type: ignore[assignment]
    focused = next((o.get("name") for o in _leaf_options(data.get("options")) if isinstance(o, dict) and o.get("focused")),
                   None)
    if focused is None:
        return "no option is focused"
    param = next((p for p in command.parameters if p.display_name == focused), None)
    if param is None:
        return f"/{command.qualified_name} has no option {str(focused)[:40]!r}"
    if not param.autocomplete:
        return f"/{command.qualified_name}'s option {param.display_name!r} offers no suggestions"
    return None


def _guild_only(command: app_commands.Command) -> bool:
    root = command.root_parent or command
    contexts = root.allowed_contexts
    if contexts is not None:
        return not (contexts.dm_channel or contexts.private_channel)
    return root.guild_only


def _leaf_options(options: Any) -> list:
    # Subcommands (type 1) and groups (type 2) nest the options one level each.
    while isinstance(options, list) and options and isinstance(options[0], dict) and options[0].get("type") in (1, 2):
        options = options[0].get("options")
    return options if isinstance(options, list) else []


def _fits(option_type: int, value: Any, resolved: dict) -> bool:
    if option_type == 3:
        return isinstance(value, str)
    if option_type == 4:
        # Fractions, NaN and infinities are numbers: the value's own checks name them precisely.
        return isinstance(value, int | float) and not isinstance(value, bool)
    if option_type == 10:
        # discord.py calls float() on it, which overflows past about 1.8e308.
        return isinstance(value, float) or (isinstance(value, int) and not isinstance(value, bool)
                                            and value.bit_length() <= 1023)
    if option_type == 5:
        return isinstance(value, bool)
    if option_type in _RESOLVED_IN:
        key = str(value)
        return key.isdigit() and any(key in (resolved.get(kind) or {}) for kind in _RESOLVED_IN[option_type])
    return False


def unreadable(interaction: discord.Interaction, error: app_commands.TransformerError) -> Text:
    """The sentence for an option value discord.py could not turn into what the command takes."""
    # The error holds the value, not the option; find the option by that value in the namespace.
    name = next((n for n, v in interaction.namespace if v is error.value), None)
    if name is None:
        return _("One of the options could not be understood.")
    if error.type in (discord.AppCommandOptionType.user, discord.AppCommandOptionType.mentionable) \
            and interaction.guild_id is not None:
        return _("`{option}` must be a member of this server.", option=option_name(name))
    return must_be(name, kind_of(error.type))
