"""Logging set-up, with the secrets scrubbed from every record as a last line of defence."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable
from typing import TextIO

from bot.redact import REDACTED, Redactor

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
