"""Plain types the services and every store backend share: no Discord, no SQL."""

from bot.domain.errors import StoreBusy, StoreDown, WriteInDoubt
from bot.domain.jobs import OPEN_STATES, JobState
from bot.domain.quota import PERSONAL, Member, QuotaSnapshot, Refused, next_renewal, utc_day

__all__ = ["OPEN_STATES", "PERSONAL", "JobState", "Member", "QuotaSnapshot", "Refused", "StoreBusy", "StoreDown", "WriteInDoubt",
           "next_renewal", "utc_day"]
