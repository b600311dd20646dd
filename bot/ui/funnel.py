"""The one funnel: every error of a slash command, a button or a form ends here, and every one gets an
answer: the member's sentence (ephemeral), the operator's detail in the log at its level."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands

from bot.core import logs
from bot.core.errors import UserFacingError
from bot.core.i18n import Text, _
from bot.domain import StoreBusy, StoreDown, WriteInDoubt
from bot.services.writes import wrote_to_ledger
from bot.ui import guard
from bot.ui.replies import delivered, discord_fault, reply_privately, tell_discord_fault

if TYPE_CHECKING:
    from bot.ui.app import PixazoBot

log = logging.getLogger(__name__)

# What a command or button that failed may say about credits and changes depends on what it had written
# to the ledger by then (bot/services/writes.py): nothing, and "nothing was spent" is true; something
# (a job queued with its credits held, a setting changed), and the answer says nothing of it.
UNEXPECTED = _("Something unexpected went wrong on the bot's side. The operator has the details in the log; "
               "no credits were spent.")
UNEXPECTED_AFTER_WRITE = _("Something unexpected went wrong on the bot's side. The operator has the details in the "
                           "log.")
BUSY = _("The bot is busy right now; nothing was changed. Please try again in a moment.")
BUSY_AFTER_WRITE = _("The bot is busy right now and could not finish this; part of it may already be saved. "
                     "Please check before trying again.")
DOWN = _("The bot can't record anything right now; nothing was spent or changed. Please try again in a few minutes.")
DOWN_AFTER_WRITE = _("The bot can't record anything right now and could not finish this; part of it may already be "
                     "saved. Please check before trying again in a few minutes.")
IN_DOUBT = _("The bot lost its connection to its records while saving this, so it may or may not have been saved. "
             "Please check before trying again.")
NOT_ALLOWED = _("You are not allowed to use this command here.")
PERMISSIONS = {"manage_guild": _("Manage Server"), "manage_messages": _("Manage Messages")}  # as Discord names them


def bind_logs(interaction: discord.Interaction[Any]) -> None:
    """The lines this interaction's task logs are about its server, member and shard (LOG_FORMAT=json)."""
    guild, count = interaction.guild_id, interaction.client.shard_count
    logs.bind(server=guild, member=interaction.user.id,
              shard=(guild >> 22) % count if guild is not None and count else None)


class FunnelTree(app_commands.CommandTree):
    """Every command error ends here, and every one gets an answer."""

    async def interaction_check(self, interaction: discord.Interaction[Any]) -> bool:
        bind_logs(interaction)
        unsuggestible = guard.autocomplete_problem(interaction)
        if unsuggestible is not None:
            # Made up, or from an older schema: an empty list of suggestions, not a traceback.
            log.warning("autocomplete request by user %s refused: %s (guild %s)", interaction.user.id, unsuggestible,
                        interaction.guild_id)
            try:
                await interaction.response.autocomplete([])
            except discord.HTTPException as exc:
                log.info("could not answer that autocomplete request: HTTP %s %s", exc.status, exc.text)
            return False
        refusal = guard.problem(interaction)
        if refusal is None:
            return True
        where = f"/{interaction.command.qualified_name}" if interaction.command else "interaction"
        log.info("%s by user %s refused before it ran: %s (guild %s)", where, interaction.user.id, refusal,
                 interaction.guild_id)
        await reply_privately(interaction, refusal)
        return False

    async def on_error(self, interaction: discord.Interaction[Any], error: app_commands.AppCommandError) -> None:
        cause = error.original if isinstance(error, app_commands.CommandInvokeError) else error
        where = f"/{interaction.command.qualified_name}" if interaction.command else "interaction"
        await answer_error(interaction, cause, where)


async def answer_error(interaction: discord.Interaction[PixazoBot], cause: BaseException, where: str) -> None:
    """The funnel's answer to one error, for slash commands and buttons alike."""
    if delivered(interaction):
        # The member has their result; whatever failed after it, any answer here ("no credits were
        # spent", "try again") would be false. The operator gets the detail; the member nothing.
        known = isinstance(cause, (UserFacingError, StoreBusy))
        log.log(logging.WARNING if known else logging.ERROR, "%s by user %s failed after its result was "
                "delivered: %s: %s", where, interaction.user.id, type(cause).__name__,
                getattr(cause, "detail", cause), exc_info=None if known else cause)
    elif isinstance(cause, UserFacingError):
        log.log(logging.getLevelName(cause.log_level), "%s by user %s: %s", where, interaction.user.id, cause.detail)
        await reply_privately(interaction, cause.text, view=await refusal_view(interaction, cause))
    elif isinstance(cause, WriteInDoubt):
        log.warning("%s by user %s: the database connection was lost during a write: %s", where, interaction.user.id,
                    cause)
        await reply_privately(interaction, IN_DOUBT)
    elif isinstance(cause, StoreDown):  # the store logged the outage once; this names the member refused
        log.info("%s by user %s refused, the ledger can't be written: %s", where, interaction.user.id, cause)
        await reply_privately(interaction, DOWN_AFTER_WRITE if wrote_to_ledger() else DOWN)
    elif isinstance(cause, StoreBusy):
        log.warning("%s by user %s refused, the database is busy: %s", where, interaction.user.id, cause)
        await reply_privately(interaction, BUSY_AFTER_WRITE if wrote_to_ledger() else BUSY)
    elif isinstance(cause, app_commands.MissingPermissions):
        log.info("%s refused for user %s: %s", where, interaction.user.id, cause)
        await reply_privately(interaction, missing_permissions(cause))
    elif isinstance(cause, app_commands.NoPrivateMessage):
        log.info("%s refused for user %s: %s", where, interaction.user.id, cause)
        await reply_privately(interaction, guard.GUILD_ONLY)
    elif isinstance(cause, app_commands.CheckFailure):
        log.info("%s refused for user %s: %s", where, interaction.user.id, cause)
        await reply_privately(interaction, str(cause) or NOT_ALLOWED)
    elif isinstance(cause, app_commands.TransformerError):
        log.info("%s by user %s: option could not be read: %s", where, interaction.user.id, cause)
        await reply_privately(interaction, guard.unreadable(interaction, cause))
    elif isinstance(cause, discord.HTTPException) and discord_fault(cause):
        # Discord's trouble or refusal (a 5xx after discord.py's retries, 10062 Unknown interaction, a
        # missing permission): one line with the cause, and a sentence to the member if any reaches them.
        await tell_discord_fault(interaction, cause, where)
    elif isinstance(cause, app_commands.CommandSignatureMismatch | app_commands.CommandNotFound):
        # Discord's client is showing a command (or options) this bot no longer has.
        log.warning("%s by user %s does not match the synced commands: %s", where, interaction.user.id, cause)
        await reply_privately(interaction, guard.STALE_COMMAND)
    else:
        written = wrote_to_ledger()
        log.error("%s by user %s failed unexpectedly%s", where, interaction.user.id,
                  " after it had written to the ledger" if written else "", exc_info=cause)
        await reply_privately(interaction, UNEXPECTED_AFTER_WRITE if written else UNEXPECTED)


def missing_permissions(cause: app_commands.MissingPermissions) -> Text:
    """discord.py's sentence, with the permissions named as Discord's client names them to the member."""
    named = [PERMISSIONS.get(p) or p.replace("_", " ").title() for p in cause.missing_permissions]
    return _("You are missing {permissions} permission(s) to run this command.",
             permissions=Text(", ".join(f"{{p{i}}}" for i in range(len(named))), {f"p{i}": n for i, n in enumerate(named)}))


async def refusal_view(interaction: discord.Interaction[PixazoBot], cause: UserFacingError) -> discord.ui.View | None:
    """A refusal by the server's own prompt rules may come with Ask a moderator (bot/ui/items/appeals.py)."""
    from bot.ui.items.appeals import offer  # the items build on this funnel

    try:
        return await offer(interaction, cause)
    except Exception as exc:  # the refusal itself must still be told
        log.warning("could not offer an appeal to user %s: %s: %s", interaction.user.id, type(exc).__name__, exc)
        return None
