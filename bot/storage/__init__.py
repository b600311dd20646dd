from bot.storage.store import Member, QuotaSnapshot, Refused, Store

__all__ = ["Member", "QuotaSnapshot", "Refused", "Store"]
