"""Where the bot may be used, and whose rules and credits apply there.

Members may add the bot to their own account (a user install) and use its members' commands in DMs,
group DMs and servers that never added it; the admin commands stay with servers that did. Where no
server decides (no server, or a server that did not add the bot), the member's personal credits pay
and the bot's own rules apply; in such a server the results are shown to the member alone, since the
bot cannot know that server's rules.
"""

from __future__ import annotations

from typing import Any, TypeVar

import discord
from discord import app_commands

from bot.core.i18n import _
from bot.domain import PERSONAL

T = TypeVar("T")

# Installable on a member's account as on a server; usable in servers, the bot's DM and group DMs.
EVERYWHERE_INSTALLS = app_commands.AppInstallationType(guild=True, user=True)
EVERYWHERE_CONTEXTS = app_commands.AppCommandContext(guild=True, dm_channel=True, private_channel=True)

PRIVATE_HERE = _("Only you can see this: this server has not added the bot, so it cannot know the server's rules. "
                 "Your personal credits paid for it.")
SERVER_INSTALL_ONLY = _("This command works only in a server that has added the bot.")


def anywhere(command: T) -> T:
    """The decorator for members' commands (a function, a Command or a Group): installable by members on
    their own account, usable in DMs and group DMs as in servers."""
    command = app_commands.allowed_installs(guilds=True, users=True)(command)
    return app_commands.allowed_contexts(guilds=True, dms=True, private_channels=True)(command)


def server_only(command: T) -> T:
    """The decorator for admin commands: only through a server's install of the bot, only in that server."""
    command = app_commands.allowed_installs(guilds=True, users=False)(command)
    return app_commands.allowed_contexts(guilds=True, dms=False, private_channels=False)(command)


def server_decides(interaction: discord.Interaction[Any]) -> bool:
    """A server that added the bot is where this happens: its configuration and allowances apply."""
    return interaction.guild_id is not None and interaction.is_guild_integration()


def scope_of(interaction: discord.Interaction[Any]) -> int:
    """The ledger scope whose credits and rules apply: the server's id, or PERSONAL where no server decides."""
    if server_decides(interaction):
        assert interaction.guild_id is not None
        return interaction.guild_id
    return PERSONAL


def private_here(interaction: discord.Interaction[Any]) -> bool:
    """In a server that did not add the bot (only the member did): what the bot answers is the member's alone."""
    return interaction.guild_id is not None and not interaction.is_guild_integration()


def server_install_only(command: app_commands.Command[Any, ..., Any] | app_commands.Group) -> bool:
    """The command is offered only through a server's install (the admin commands)."""
    root = command.root_parent or command
    installs = root.allowed_installs
    return installs is not None and not installs.user
