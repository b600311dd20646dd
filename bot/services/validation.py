"""Turn a user's options into the exact body an endpoint takes, or say precisely what is wrong.

Discord's client enforces the same ranges, but a client can send anything, so every value is
checked again here against the catalog.
"""

from __future__ import annotations

import math
import random
import re
import unicodedata
from dataclasses import dataclass, replace
from typing import Any

from bot.catalog import PROMPT_MAX_LENGTH, SEED_MAX, Model, Param
from bot.core.errors import InvalidInput
from bot.core.i18n import Text, _, option_name
from bot.core.text import code_span

EMPTY_PROMPT = _("The prompt is empty. Describe the image you want, for example `a red fox in snow`.")
# Letters and symbols that Unicode draws as nothing: a prompt of only these is as empty as one of spaces.
_BLANK_GLYPHS = frozenset("\u2800\u115f\u1160\u3164\uffa0\u034f")
# Removed before text reaches Pixazo: control characters (NUL, escapes) mean nothing to a model, and
# bidi overrides only make the stored and shown prompt read differently from what is sent.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ufeff]")
_BREAKS = re.compile(r"[\t\n\r\v\f\u2028\u2029]")


@dataclass(frozen=True)
class Bounds:
    """The range of a whole-number value the bot accepts, whatever a client sends."""

    low: int
    high: int


# Admin values: big enough for any real server, small enough that a typo is not a billion credits.
CREDITS_PER_DAY = Bounds(0, 100_000)
EXTRA_CREDITS = Bounds(1, 100_000)
# A whole server's day (/quotas budget): room for many members at the largest allowance.
SERVER_CREDITS_PER_DAY = Bounds(0, 10_000_000)


@dataclass(frozen=True)
class Prepared:
    model: Model
    prompt: str
    payload: dict[str, Any]  # field name -> value, exactly what Pixazo receives
    shown: tuple[tuple[str, Any], ...]  # (option, value) for every parameter used, seed included


def prepare(model: Model, options: dict[str, Any], *, rng: random.Random | None = None) -> Prepared:
    given = {name: value for name, value in options.items() if value is not None}
    unknown = sorted(set(given) - {p.option for p in model.params})
    if unknown:
        raise InvalidInput(_("/{command} has no option named {option}.", command=model.key,
                             option=code_span(unknown[0], 40)))
    prompt = _prompt(model, given.get("prompt"))
    payload: dict[str, Any] = {}
    shown: list[tuple[str, Any]] = []
    for param in model.params:
        if param.option == "prompt":
            payload[param.field] = prompt
            continue
        value = _value(model, param, given.get(param.option), rng)
        if value is None:
            continue
        payload[param.field] = value
        shown.append((param.option, value))
    for name, value in model.fixed.items():
        payload[name] = value
        shown.append((name, value))
    return Prepared(model, prompt, payload, tuple(shown))


def clean_text(raw: str) -> str:
    """Member text as Pixazo gets it: line breaks become spaces, control and bidi characters go."""
    return _CONTROL.sub("", _BREAKS.sub(" ", raw)).strip()


def is_blank(text: str) -> bool:
    """True if nothing in `text` would be drawn: spaces, format and control characters, blank glyphs."""
    return all(c.isspace() or c in _BLANK_GLYPHS or unicodedata.category(c) in ("Cf", "Cc") for c in text)


def _prompt(model: Model, raw: Any) -> str:
    if raw is not None and not isinstance(raw, str):
        raise InvalidInput(_must_be("prompt", _("text")))
    text = clean_text(raw or "")
    if is_blank(text):
        raise InvalidInput(EMPTY_PROMPT)
    if len(text) > PROMPT_MAX_LENGTH:
        raise InvalidInput(_("The prompt is {length} characters long; /{command} takes at most {most}.", length=len(text),
                             command=model.key, most=PROMPT_MAX_LENGTH))
    return text


def _value(model: Model, param: Param, raw: Any, rng: random.Random | None) -> Any:
    if raw is None:
        if param.option == "seed":
            return (rng or random).randint(0, SEED_MAX)
        return param.default
    if param.type is str:
        return _text(model, param, raw)
    return _number(model, param, raw)


def _text(model: Model, param: Param, raw: Any) -> str | None:
    if not isinstance(raw, str):
        raise InvalidInput(_must_be(param.option, _("text")))
    text = clean_text(raw)
    if param.choices and text not in param.choices:
        raise InvalidInput(_("`{option}` must be one of {choices} (you gave {given}).", option=option_name(param.option),
                             choices=", ".join(param.choices), given=code_span(text, 40)))
    if param.max is not None and len(text) > param.max:
        raise InvalidInput(_("`{option}` is {length} characters long; the most is {most}.",
                             option=option_name(param.option), length=len(text), most=int(param.max)))
    return None if is_blank(text) else text


def _number(model: Model, param: Param, raw: Any) -> int | float:
    value = _in_range(param.option, raw, param.type, param.min, param.max, where=model.key)
    if param.multiple_of and value % param.multiple_of:
        below, above = nearest_multiples(value, param)
        near = [v for v in (below, above) if v is not None]
        options = _("{low} or {high}", low=near[0], high=near[1]) if len(near) == 2 else str(near[0])
        raise InvalidInput(_("`{option}` must be a multiple of {step}; the nearest valid values are {options}.",
                             option=option_name(param.option), step=param.multiple_of, options=options))
    return value


def whole_number(option: str, raw: Any, bounds: Bounds) -> int:
    """A whole-number value (an admin's credits) checked like a slash option, whatever the client sent."""
    return _in_range(option, raw, int, bounds.low, bounds.high)


def _in_range(option: str, raw: Any, kind: type, low: float | None, high: float | None, *,
              where: str = "") -> Any:
    if not isinstance(raw, int | float) or isinstance(raw, bool):
        raise InvalidInput(_must_be(option, _("a whole number") if kind is int else _("a number")))
    # JSON from a client may carry NaN or infinity; NaN compares false with every bound.
    if isinstance(raw, float) and not math.isfinite(raw):
        raise InvalidInput(_("`{option}` must be a finite number (you gave {given}).", option=option_name(option),
                             given=raw))
    if kind is int and isinstance(raw, float) and not raw.is_integer():
        raise InvalidInput(_("`{option}` must be a whole number (you gave {given}).", option=option_name(option),
                             given=f"{raw:g}"))
    # Compared before converting: float() of a 400-digit integer overflows.
    if (low is not None and raw < low) or (high is not None and raw > high):
        values = {"option": option_name(option), "low": _fmt(low), "high": _fmt(high), "given": _gave(raw)}
        if where:
            raise InvalidInput(_("`{option}` must be between {low} and {high} on /{command} (you gave {given}).",
                                 command=where, **values))
        raise InvalidInput(_("`{option}` must be between {low} and {high} (you gave {given}).", **values))
    return kind(raw)


def _must_be(option: str, kind: Text) -> Text:
    return _("`{option}` must be {kind}.", option=option_name(option), kind=kind)


def nearest_multiples(value: int, param: Param) -> tuple[int | None, int | None]:
    step = param.multiple_of or 1
    below, above = value - value % step, value - value % step + step
    low = param.min if param.min is not None else float("-inf")
    high = param.max if param.max is not None else float("inf")
    return (below if below >= low else None, above if above <= high else None)


def _gave(value: float) -> str:
    shown = str(value) if isinstance(value, int) else _fmt(value)  # float() of a 400-digit int overflows
    return shown if len(shown) <= 20 else shown[:12] + "…"  # a client can send a 300-digit number


def _fmt(value: float | None) -> str:
    if value is None:
        return "any"
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def with_negative(prepared: Prepared, extra: str) -> Prepared:
    """`prepared` with a server's negative prompt added to what goes to Pixazo, on models that take one.

    The member's own negative prompt comes first and is kept whole; the server's is cut to fit the field."""
    param = next((p for p in prepared.model.params if p.option == "negative_prompt"), None)
    extra = clean_text(extra)
    if param is None or not extra:
        return prepared
    own = prepared.payload.get(param.field) or ""
    joined = f"{own}, {extra}" if own else extra
    if param.max is not None:
        joined = joined[:int(param.max)].rstrip(", ")
    return replace(prepared, payload={**prepared.payload, param.field: joined})
