"""Where a result must wait for a moderator (approval mode, part 8). Discord-free: the gates' `Asker`."""

from __future__ import annotations

from bot.core.errors import UserFacingError
from bot.core.i18n import _
from bot.moderation.config import REVIEW_CHANNEL, GuildConfig
from bot.moderation.gates import Asker

NO_REVIEW_FOR_APPROVAL = _("Images made in this channel wait for a moderator's approval, but this server has no "
                           "review channel set, so nothing can be made here yet; ask a server admin (/config "
                           "review-channel).")


def approval_here(config: GuildConfig, asker: Asker) -> bool:
    """Approval is on for the channel, or for the channel a thread is in."""
    return bool({asker.channel_id, asker.parent_id} & config.approval)


def review_target(config: GuildConfig, asker: Asker) -> int | None:
    """The review channel a result made here must wait in; None where approval is off. Refuses (before
    anything is deferred or spent) where approval is on but no review channel is set."""
    if not approval_here(config, asker):
        return None
    channel = config.get(REVIEW_CHANNEL)
    if channel is None:
        raise UserFacingError(NO_REVIEW_FOR_APPROVAL, detail=f"guild {config.guild_id}: approval on in channel "
                                                              f"{asker.channel_id} but no review channel")
    return int(channel)
