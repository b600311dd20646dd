"""Validation: pure functions over the contract's table; each refusal names the field or URL."""

from __future__ import annotations

import json
import math
from typing import Any

from yarl import URL

from .contract import INTEGER, NUMBER, URL_KIND, EndpointSpec, FieldSpec


class BadRequest(Exception):
    """A 400 with {"error": message}; the message always names the offending field or URL."""


def _reject_constant(name: str) -> Any:
    # json.loads accepts NaN/Infinity by default; no real JSON API does.
    raise ValueError(f"{name} is not valid JSON")


def parse_body(raw: bytes) -> Any:
    """The JSON value of the body; raises BadRequest when it is not strict JSON."""
    try:
        return json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadRequest(f"body is not valid JSON ({exc})") from None


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "boolean", int: "integer", float: "number", str: "string"}.get(
        type(value), type(value).__name__
    )


def _check_type(spec: FieldSpec, value: Any) -> None:
    # bool is a subclass of int in Python, but true is not an integer in JSON.
    if spec.kind == INTEGER:
        ok = type(value) is int
    elif spec.kind == NUMBER:
        ok = type(value) in (int, float) and math.isfinite(value)
    else:
        ok = isinstance(value, str)
    if not ok:
        wanted = "URL string" if spec.kind == URL_KIND else spec.kind
        raise BadRequest(f"field '{spec.name}' must be {wanted}, got {_type_name(value)}")


def _check_value(spec: FieldSpec, value: Any) -> None:
    if spec.minimum is not None and value < spec.minimum:
        raise BadRequest(f"field '{spec.name}' must be >= {spec.minimum:g}, got {value!r}")
    if spec.maximum is not None and value > spec.maximum:
        raise BadRequest(f"field '{spec.name}' must be <= {spec.maximum:g}, got {value!r}")
    if spec.choices is not None and value not in spec.choices:
        raise BadRequest(f"field '{spec.name}' must be one of {', '.join(spec.choices)}; got {value!r}")
    if spec.pattern is not None and not spec.pattern.match(value):
        raise BadRequest(f"field '{spec.name}' has an invalid value {value!r}")
    if spec.kind == URL_KIND:
        _check_url(spec.name, value)
    if spec.name == "prompt" and not value.strip():
        raise BadRequest("field 'prompt' must not be empty")


def _check_url(name: str, value: str) -> None:
    try:
        url = URL(value)
    except ValueError:
        url = None
    if url is None or url.scheme not in ("http", "https") or not url.host:
        raise BadRequest(f"field '{name}' must be an absolute http(s) URL, got {value!r}")


def _resolve_aliases(spec: EndpointSpec, body: dict[str, Any]) -> dict[str, Any]:
    """Rename accepted alternative spellings to the table's name; both spellings at once is a 400."""
    body = dict(body)
    for alias, canonical in spec.aliases:
        if alias in body:
            if canonical in body:
                raise BadRequest(f"send only one of '{canonical}' and '{alias}'")
            body[canonical] = body.pop(alias)
    return body


def validate(spec: EndpointSpec, body: Any) -> dict[str, Any]:
    """The body with aliases resolved, or BadRequest naming the first problem found."""
    if not isinstance(body, dict):
        raise BadRequest(f"body must be a JSON object, got {_type_name(body)}")
    allowed = {f.name for f in spec.fields} | {alias for alias, _ in spec.aliases}
    for name in body:
        if name not in allowed:
            raise BadRequest(f"unknown field '{name}' (this endpoint accepts: {', '.join(sorted(allowed))})")
    body = _resolve_aliases(spec, body)
    for f in spec.fields:
        if f.required and f.name not in body:
            raise BadRequest(f"missing required field '{f.name}'")
    for f in spec.fields:
        if f.name in body:
            _check_type(f, body[f.name])
            _check_value(f, body[f.name])
    return body
