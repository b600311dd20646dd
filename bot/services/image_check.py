"""Whether a result may be posted unchecked, and what holds it back: the image check runs for results
bound for a channel that is not age-restricted, where the server has it on (the default) and the bot
has it installed. The detector is bot/moderation/image_check.py."""

from __future__ import annotations

from bot.core.errors import UserFacingError
from bot.core.i18n import _
from bot.core.offload import Offload
from bot.core.settings import Settings
from bot.domain.delivery import Delivery
from bot.domain.detections import Detection
from bot.domain.records import JobRecord
from bot.moderation.config import IMAGE_CHECK, IMAGE_THRESHOLD
from bot.moderation.image_check import ImageCheck, ImageCheckFailed, screen
from bot.services.moderation import Moderation

CHECK_FAILED = _("The bot could not check this image before posting it, so it was not posted and no credits were "
                 "spent. Please try again.")


class ImageChecks:
    def __init__(self, settings: Settings, moderation: Moderation, detector: ImageCheck, offload: Offload) -> None:
        self._settings = settings
        self._moderation = moderation
        self.detector = detector
        self._offload = offload

    async def finding(self, job: JobRecord, image: bytes) -> Detection | None:
        """What holds this result back, if anything. A check that cannot say (timeout, unreadable image,
        model failure) fails closed: nothing is posted unchecked where the server asked for the check,
        and since the member gets nothing and the fault is the bot's, the job fails and its credits are
        refunded (the caller's UserFacingError path)."""
        delivery = job.get("delivery") or Delivery()
        if delivery.age_restricted or delivery.spoiler or not self.detector.available:
            return None
        config = await self._moderation.config(job["guild_id"])
        if not config.get(IMAGE_CHECK):
            return None
        threshold = config.get(IMAGE_THRESHOLD) or self._settings.image_check_threshold
        try:
            return await screen(self.detector, self._offload, image, threshold=threshold,
                                timeout=self._settings.image_check_timeout_seconds)
        except ImageCheckFailed as exc:
            raise UserFacingError(CHECK_FAILED, detail=f"job {job['id']}: the image check failed: {exc}") from None
