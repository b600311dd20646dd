"""Logging set-up, with the secrets scrubbed from every record as a last line of defence."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable

REDACTED = "[redacted]"


class RedactSecrets(logging.Filter):
    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self._secrets = tuple(s for s in secrets if s)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if any(secret in message for secret in self._secrets):
            for secret in self._secrets:
                message = message.replace(secret, REDACTED)
            record.msg, record.args = message, None
        return True


class OneLineReconnects(logging.Filter):
    """discord.py logs every failed gateway reconnect as an ERROR with a 40-line traceback, so an outage
    or a wrong DISCORD_GATEWAY_URL floods the log; it keeps retrying, and one line with the cause says
    the same."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and str(record.msg).startswith("Attempting a reconnect"):
            exc = record.exc_info[1]
            record.msg = "lost the connection to Discord's gateway (%s: %s); reconnecting in %.2fs"
            record.args = (type(exc).__name__, exc, *(record.args or ()))  # type: ignore[misc]
            record.exc_info = record.exc_text = None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def configure(level: str, secrets: Iterable[str]) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    handler.addFilter(RedactSecrets(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("discord.client").addFilter(OneLineReconnects())
