"""What the bot keeps about a member's images: /history's pages, /forget, and the retention sweep."""

from __future__ import annotations

import logging
from collections.abc import Callable

from bot.domain.records import JobRecord
from bot.storage.roles import Jobs

log = logging.getLogger(__name__)

PAGE = 5
DAY = 86_400.0


class History:
    def __init__(self, store: Jobs, *, forgotten: Callable[[int], None] | None = None) -> None:
        self._store = store
        self._forgotten = forgotten  # what else the process keeps about a member, dropped on /forget

    async def page(self, guild_id: int, owner_id: int, model: str | None, offset: int) -> tuple[list[JobRecord], int]:
        """One page of the member's jobs in the server, newest first, and how many there are in all."""
        return await self._store.history(guild_id, owner_id, model=model, offset=offset, limit=PAGE)

    async def forget(self, user_id: int) -> int:
        try:
            cleared = await self._store.forget_member(user_id)
        finally:
            if self._forgotten is not None:
                self._forgotten(user_id)
        log.info("user %s cleared the details of %d job(s) with /forget", user_id, cleared)
        return cleared

    async def sweep(self, days: int) -> None:
        """HISTORY_RETENTION_DAYS: forget what is older. A failed sweep is logged; the next one retries."""
        try:
            cleared = await self._store.forget_older_than(self._store.now() - days * DAY)
            if cleared:
                log.info("cleared the details of %d job(s) older than %d days", cleared, days)
        except Exception as exc:
            log.warning("the history retention sweep failed, retried in a day: %s: %s", type(exc).__name__, exc)
