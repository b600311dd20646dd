from bot.domain import Member, QuotaSnapshot, Refused, StoreBusy, StoreDown, WriteInDoubt
from bot.domain.errors import StoreMisconfigured, StoreUnavailable
from bot.storage.migrate import SchemaTooNew
from bot.storage.open import open_store
from bot.storage.roles import Store
from bot.storage.sqlite.store import SqliteStore

__all__ = ["Member", "QuotaSnapshot", "Refused", "SchemaTooNew", "SqliteStore", "Store", "StoreBusy", "StoreDown",
           "StoreMisconfigured", "StoreUnavailable", "WriteInDoubt", "open_store"]
