"""Logging set-up, with the secrets scrubbed from every record as a last line of defence.

LOG_FORMAT=text writes one readable line per record; json one JSON object per line (`JsonFormatter`)
with the ids of what the line is about as fields: `job`, `server`, `member` and `shard`, from `bind()`
(the queue binds a job's task to its job, the ui a command's or a button's to its interaction) or from
a call's own `extra=`.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from typing import Any, TextIO

from bot.core.redact import REDACTED, Redactor

__all__ = ["REDACTED", "JsonFormatter", "RedactSecrets", "RedactingFormatter", "bind", "configure", "handler"]
FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
# What this task's lines are about (a task starts with a copy of its parent's): job, server, member, shard.
_about: ContextVar[Mapping[str, int | str] | None] = ContextVar("log_about", default=None)
# A LogRecord's own attributes: anything else on a record came from `extra=` and is a field of its own.
_RECORD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}


def bind(**ids: int | str | None) -> None:
    """From here on in this task, its log lines are about these (None values are left out)."""
    _about.set({**(_about.get() or {}), **{k: v for k, v in ids.items() if v is not None}})


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


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, the ids the line is about,
    any `extra=` fields, and the traceback as `exc`. Every string in every field is redacted before it
    is encoded (a secret JSON would escape could hide from a pass over the encoded line), and the line
    once more after."""

    def __init__(self, secrets: Iterable[str], *, shard: str | None = None) -> None:
        super().__init__()
        self._redactor = Redactor(secrets)
        self._shard = shard  # the process's shards, unless the line is about one

    def format(self, record: logging.LogRecord) -> str:
        fields: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname, "logger": record.name, "message": record.getMessage()}
        if self._shard is not None:
            fields["shard"] = self._shard
        fields.update(_about.get() or {})
        fields.update({k: v for k, v in record.__dict__.items() if k not in _RECORD and not k.startswith("_")})
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            fields["exc"] = record.exc_text
        if record.stack_info:
            fields["stack"] = record.stack_info
        line = json.dumps(self._clean(fields), ensure_ascii=False, default=str)
        return self._redactor.redact(line)

    def _clean(self, value: Any) -> Any:
        if isinstance(value, str):
            return self._redactor.redact(value)
        if isinstance(value, bool | int | float) or value is None:
            return value
        if isinstance(value, Mapping):
            return {self._redactor.redact(str(k)): self._clean(v) for k, v in value.items()}
        if isinstance(value, list | tuple | set | frozenset):
            return [self._clean(v) for v in value]
        return self._redactor.redact(str(value))


def handler(stream: TextIO, secrets: Iterable[str], *, fmt: str = "text", shard: str | None = None) -> logging.Handler:
    secrets = tuple(secrets)
    out = logging.StreamHandler(stream)
    out.setFormatter(JsonFormatter(secrets, shard=shard) if fmt == "json" else RedactingFormatter(FORMAT, secrets))
    out.addFilter(RedactSecrets(secrets))
    return out


def configure(level: str, secrets: Iterable[str], *, fmt: str = "text", shard: str | None = None) -> None:
    root = logging.getLogger()
    root.handlers[:] = [handler(sys.stderr, secrets, fmt=fmt, shard=shard)]
    root.setLevel(level)
    logging.getLogger("discord.client").addFilter(OneLineReconnects())
    logging.getLogger("discord.shard").addFilter(OneLineReconnects())  # the same lines, from AutoShardedBot
