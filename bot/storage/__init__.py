from bot.domain import Member, QuotaSnapshot, Refused, StoreBusy
from bot.storage.store import Store

__all__ = ["Member", "QuotaSnapshot", "Refused", "Store", "StoreBusy"]
