"""Logging set-up, with the secrets scrubbed from every record as a last line of defence."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable
from typing import TextIO

from bot.core.redact import REDACTED, Redactor

__all__ = ["REDACTED", "RedactSecrets", "RedactingFormatter", "configure", "handler"]
FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


class RedactSecrets(logging.Filter):
    """Scrubs the record itself (message, traceback text, stack), for whatever reads it after this handler."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self._redactor = Redactor(secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        redact = self._redactor.redact
        message = record.getMessage()
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        # A secret inside an exception is in its formatted traceback (message, chained causes), not in
        # record.msg. Formatters reuse exc_text once it is set, so the redacted text is what they print.
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


class OneLineReconnects(logging.Filter):
    """discord.py logs every failed gateway reconnect as an ERROR with a 40-line traceback, so an outage
    or a wrong DISCORD_GATEWAY_URL floods the log; it keeps retrying, and one line with the cause says
    the same."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = str(record.msg)
        if record.exc_info and text.startswith("Attempting a reconnect"):
            exc = record.exc_info[1]
            # discord.client's has (delay,); discord.shard's (AutoShardedBot, part 9) (shard id, delay).
            shard = " on shard %s" if "shard" in text else ""
            record.msg = f"lost the connection to Discord's gateway{shard} (%s: %s); reconnecting in %.2fs"
            args = tuple(record.args or ())
            record.args = (*args[:-1], type(exc).__name__, exc, *args[-1:]) if shard else (type(exc).__name__, exc, *args)
            self._one_line(record)
        elif record.exc_info and text.startswith("Failed to connect for shard_id"):
            exc = record.exc_info[1]
            record.msg = "could not connect shard %s to Discord's gateway (%s: %s); retrying in 5s"
            record.args = (*tuple(record.args or ()), type(exc).__name__, exc)
            self._one_line(record)
        return True

    @staticmethod
    def _one_line(record: logging.LogRecord) -> None:
        record.exc_info = record.exc_text = None
        record.levelno, record.levelname = logging.WARNING, "WARNING"


class RedactingFormatter(logging.Formatter):
    """The last pass: whatever ended up in the formatted line (a field a filter does not know) is scrubbed."""

    def __init__(self, fmt: str, secrets: Iterable[str]) -> None:
        super().__init__(fmt)
        self._redactor = Redactor(secrets)

    def format(self, record: logging.LogRecord) -> str:
        return self._redactor.redact(super().format(record))


def handler(stream: TextIO, secrets: Iterable[str]) -> logging.Handler:
    secrets = tuple(secrets)
    out = logging.StreamHandler(stream)
    out.setFormatter(RedactingFormatter(FORMAT, secrets))
    out.addFilter(RedactSecrets(secrets))
    return out


def configure(level: str, secrets: Iterable[str]) -> None:
    root = logging.getLogger()
    root.handlers[:] = [handler(sys.stderr, secrets)]
    root.setLevel(level)
    logging.getLogger("discord.client").addFilter(OneLineReconnects())
    logging.getLogger("discord.shard").addFilter(OneLineReconnects())  # the same lines, from AutoShardedBot
