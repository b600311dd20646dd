"""DATABASE_URL for PostgreSQL: checked before connecting, and shown without its password."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from bot.domain.errors import StoreUnavailable

SCHEMES = ("postgresql", "postgres")
EXAMPLE = "postgresql://user:password@host:5432/database"
ENCODE = "a password with @ : / ? or # in it must be percent-encoded (@ as %40, : as %3A, / as %2F)"


@dataclass(frozen=True)
class DatabaseUrl:
    user: str
    host: str
    port: int
    database: str
    password: str

    @classmethod
    def parse(cls, url: str) -> DatabaseUrl:
        """The parts of url, or StoreUnavailable naming what is wrong (never echoing the URL)."""
        try:
            parts = urlsplit(url.strip())
            port = parts.port or 5432
        except ValueError:
            raise StoreUnavailable(f"DATABASE_URL is malformed: expected {EXAMPLE}; {ENCODE}") from None
        if parts.scheme not in SCHEMES:
            raise StoreUnavailable(f"DATABASE_URL must start with postgresql:// (expected {EXAMPLE})")
        if "@" in parts.netloc.rpartition("@")[0]:
            # asyncpg splits at the first @, not the last: it would try the rest of the password as the host.
            raise StoreUnavailable(f"DATABASE_URL has more than one @ before the host: {ENCODE}")
        database = unquote(parts.path.lstrip("/"))
        if not parts.hostname or not database or "/" in database:
            raise StoreUnavailable(f"DATABASE_URL needs a host and a database name (expected {EXAMPLE}; {ENCODE})")
        return cls(unquote(parts.username or ""), parts.hostname, port, database, unquote(parts.password or ""))

    def __str__(self) -> str:
        who = f"{self.user}@" if self.user else ""
        return f"{who}{self.host}:{self.port}/{self.database}"

    def scrub(self, text: str) -> str:
        return text.replace(self.password, "***") if self.password else text
