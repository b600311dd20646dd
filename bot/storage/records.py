"""Rows become records here, once, for both backends: each store hands every row it returns through one
of these functions. A job's state becomes a JobState; the columns kept as JSON text are parsed (a job's
params, inputs and delivery, a review's detail, an appeal's request and rule, an admin action's detail,
a configuration row's detail). Unreadable JSON reads as empty, as it always did, never as a crash of
whatever button asked for the row."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from typing import Any, Protocol, cast

from pydantic import ValidationError

from bot.domain.delivery import Delivery
from bot.domain.jobs import JobState
from bot.domain.params import Params
from bot.domain.records import AdminAction, AppealRecord, AuditRow, GuildRule, JobRecord, UsageRow
from bot.domain.reviews import ReviewRecord

log = logging.getLogger(__name__)


class Row(Protocol):
    """A row as both drivers hand it over (sqlite3.Row, asyncpg.Record, a dict): names and values."""

    def keys(self) -> Iterable[str]: ...

    def __getitem__(self, key: str, /) -> Any: ...


def _json(text: Any, empty: Any) -> Any:
    if text is None or text == "":
        return empty
    if not isinstance(text, str | bytes):
        return text  # a driver that decoded it already
    try:
        return json.loads(text)
    except ValueError:
        return empty


def _object(text: Any) -> dict[str, Any]:
    value = _json(text, {})
    return value if isinstance(value, dict) else {}


def delivery_of(text: Any) -> Delivery | None:
    if text is None:
        return None
    if isinstance(text, str | bytes):
        try:
            return Delivery.model_validate_json(text)  # the common case, in one pass
        except ValidationError:
            pass  # not JSON, or not an object: read leniently below
    try:
        return Delivery.model_validate(_object(text))
    except ValidationError as exc:
        log.warning("a job's delivery could not be read (%s); it is delivered as a channel post", exc)
        return Delivery()


def encode_delivery(delivery: Delivery) -> str:
    return delivery.model_dump_json(exclude_defaults=True)


def job_record(row: Row) -> JobRecord:
    record = dict(row)
    record.pop("audit_entry", None)  # SQLite's settle leaves its audit row there for a trigger: NULL at rest
    if record.get("state") is not None:
        record["state"] = JobState(record["state"])
    if "params" in record:
        record["params"] = Params(str(record.get("model", "")), _object(record["params"]))
    if "inputs" in record:
        record["inputs"] = None if record["inputs"] is None else _object(record["inputs"])
    if "delivery" in record:
        record["delivery"] = delivery_of(record["delivery"])
    return cast(JobRecord, record)


def job_records(rows: list[Any]) -> list[JobRecord]:
    return [job_record(r) for r in rows]


def review_record(row: Row) -> ReviewRecord:
    record = dict(row)
    if "detail" in record:
        record["detail"] = None if record["detail"] is None else _object(record["detail"])
    return cast(ReviewRecord, record)


def appeal_record(row: Row) -> AppealRecord:
    record = dict(row)
    record["request"] = _object(record.get("request"))
    record["rule"] = _object(record.get("rule"))
    return cast(AppealRecord, record)


def audit_row(row: Row) -> AuditRow:
    record = dict(row)
    record["detail"] = _object(record.get("detail"))
    return cast(AuditRow, record)


def admin_action(row: Row) -> AdminAction:
    record = dict(row)
    record["detail"] = _object(record.get("detail"))
    return cast(AdminAction, record)


def guild_rule(row: Row) -> GuildRule:
    record = dict(row)
    record["detail"] = _json(record.get("detail"), None)
    return cast(GuildRule, record)


def usage_row(row: Row) -> UsageRow:
    return cast(UsageRow, dict(row))


def defaults_of(rows: list[Any]) -> dict[str, Any]:
    """A member's defaults (name, JSON value rows) as name -> value; an unreadable value is left out."""
    found: dict[str, Any] = {}
    for row in rows:
        value = _json(row["value"], None)
        if value is not None:
            found[str(row["name"])] = value
    return found
