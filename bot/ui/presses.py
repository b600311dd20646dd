"""What every button press and form submission passes before it acts: `pressed`.

The custom_id of a button or form carries the id of the row it is about (a job, a review, an appeal,
or the member whose /history or /forget it is). Discord's client sends back what the bot put on its
message, but an interaction is JSON from outside: its id may name a row of another server, or a number
no row can have. So each press loads its row through `pressed`, which answers "no longer known" unless
the row exists, belongs to the server it was pressed in and is in a channel where the bot put its
buttons, and then judges the member's permissions there (the press's own, which Discord computes for
that channel). A row of a member's personal use (bot/ui/installs.py) belongs where no server decides,
and only that member may press its buttons. One function for every button and form, so no new one can
forget a part of it.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import discord

from bot.core.errors import UserFacingError
from bot.core.i18n import Text, _
from bot.domain import PERSONAL
from bot.ui.installs import scope_of

if TYPE_CHECKING:
    from bot.ui.app import PixazoBot

log = logging.getLogger(__name__)

# Both ledgers' ids are signed 64-bit integers (SQLite INTEGER, PostgreSQL BIGINT): a larger number in a
# custom_id names no row, and handed to the database it would overflow. `pressed` answers it as unknown.
MAX_ROW_ID = 2**63 - 1
# What a custom_id template matches as an id: any run of digits (Discord caps a custom_id at 100
# characters), so an id out of range still reaches its item and is answered instead of ignored.
ID = r"[0-9]{1,100}"


@dataclass(frozen=True)
class Subject:
    """What a press is about: how its row is read, the sentence when it is not (or no longer) known
    here, and the row's columns naming the channels where the bot puts its buttons."""

    name: str
    unknown: Text
    reader: str  # the `Lookups` method that reads the row by id ("" for MEMBER: the id is the member's)
    channels: tuple[str, ...]


JOB = Subject("job", _("That image is no longer known to the bot."), "job", ("channel_id", "result_channel_id"))
REVIEW = Subject("review", _("This review is no longer known to the bot."), "review", ("review_channel_id",))
# An appeal's Ask a moderator is under the refusal, in the channel asked in; Allow once and Deny are on
# its post in the review channel.
APPEAL = Subject("appeal", _("That request is no longer known to the bot."), "appeal", ("channel_id",))
APPEAL_REVIEW = Subject("appeal", _("That request is no longer known to the bot."), "appeal", ("review_channel_id",))
PERSONAL_ONLY = _("Only the member who made this can use its buttons: it is theirs, made with their personal credits.")
# /history's pages and /forget's question: the member's own, in the server pressed in.
MEMBER = Subject("member", _("These buttons are no longer known to the bot."), "", ())


class Who(enum.Enum):
    """Who may press, judged where the press was made."""

    ANYONE = "anyone"
    OWNER = "owner"  # the row's member (the requester, the one whose history it is)
    MODERATOR = "moderator"  # Manage Messages in the channel pressed in
    OWNER_OR_MODERATOR = "owner or moderator"


async def pressed(interaction: discord.Interaction[PixazoBot], subject: Subject, raw_id: int, *, what: str,
                  who: Who = Who.ANYONE, refusal: Text | str = "") -> Any:
    """The row the press is about, or a UserFacingError with the one sentence saying why not.

    `raw_id` is the custom_id's number as given, in range or not. `refusal` is the sentence for a
    member `who` does not allow. The row is a JobRecord, ReviewRecord or AppealRecord; for MEMBER, a
    dict with the member's `user_id` and the press's `guild_id`."""
    row = await _load(interaction, subject, raw_id)
    unknown = UserFacingError(subject.unknown, detail=f"{what}: {subject.name} {raw_id} is not known in "
                                                    f"guild {interaction.guild_id}")
    if row is None:
        raise unknown
    guild_id = row.get("guild_id")
    scope = scope_of(interaction)  # the server that added the bot, or PERSONAL where none decides
    channels = {row[c] for c in subject.channels if row.get(c) is not None}  # none known: any channel
    if guild_id != scope or (channels and interaction.channel_id not in channels):
        # Not a stale button: a press that names another server's (or channel's) row was made up.
        unknown.detail = (f"{what}: {subject.name} {raw_id} belongs to guild {guild_id} (channels "
                          f"{sorted(channels)}), pressed by user {interaction.user.id} in guild "
                          f"{interaction.guild_id} channel {interaction.channel_id}")
        unknown.log_level = "WARNING"
        raise unknown
    owner = row.get("user_id") == interaction.user.id
    if scope == PERSONAL and not owner:
        # Personal credits paid for it and no server's moderators look after it: it is the member's alone.
        raise UserFacingError(PERSONAL_ONLY, detail=f"{what}: user {interaction.user.id} is not the owner of "
                                                    f"personal {subject.name} {raw_id}")
    moderator = scope != PERSONAL and interaction.permissions.manage_messages
    allowed = {Who.ANYONE: True, Who.OWNER: owner, Who.MODERATOR: moderator,
               Who.OWNER_OR_MODERATOR: owner or moderator}[who]
    if not allowed:
        raise UserFacingError(refusal or _("You cannot use this button."),
                              detail=f"{what}: user {interaction.user.id} is not the {who.value} of "
                                     f"{subject.name} {raw_id}")
    return row


async def _load(interaction: discord.Interaction[PixazoBot], subject: Subject, raw_id: int) -> Any:
    if not 0 < raw_id <= MAX_ROW_ID:
        return None
    if not subject.reader:
        return {"user_id": raw_id, "guild_id": scope_of(interaction)}
    return await getattr(interaction.client.services.lookups, subject.reader)(raw_id)
