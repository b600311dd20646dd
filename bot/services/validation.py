"""Turn a user's options into the exact body an endpoint takes, or say precisely what is wrong.

Discord's client enforces the same ranges, but a client can send anything, so every value is
checked again here against the catalog.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from bot.catalog import PROMPT_MAX_LENGTH, SEED_MAX, Model, Param
from bot.errors import InvalidInput


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
        raise InvalidInput(f"/{model.key} has no option named `{unknown[0]}`.")
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


def _prompt(model: Model, raw: Any) -> str:
    text = raw.strip() if isinstance(raw, str) else ""
    if not text:
        raise InvalidInput("The prompt is empty. Describe the image you want, for example `a red fox in snow`.")
    if len(text) > PROMPT_MAX_LENGTH:
        raise InvalidInput(f"The prompt is {len(text)} characters long; /{model.key} takes at most {PROMPT_MAX_LENGTH}.")
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
        raise InvalidInput(f"`{param.option}` must be text.")
    text = raw.strip()
    if param.choices and text not in param.choices:
        raise InvalidInput(f"`{param.option}` must be one of {', '.join(param.choices)} (you gave `{text[:40]}`).")
    if param.max is not None and len(text) > param.max:
        raise InvalidInput(f"`{param.option}` is {len(text)} characters long; the most is {int(param.max)}.")
    return text or None


def _number(model: Model, param: Param, raw: Any) -> int | float:
    is_number = isinstance(raw, int | float) and not isinstance(raw, bool)
    if not is_number or (param.type is int and isinstance(raw, float) and not raw.is_integer()):
        kind = "a whole number" if param.type is int else "a number"
        raise InvalidInput(f"`{param.option}` must be {kind}.")
    value = param.type(raw)
    if (param.min is not None and value < param.min) or (param.max is not None and value > param.max):
        raise InvalidInput(
            f"`{param.option}` must be between {_fmt(param.min)} and {_fmt(param.max)} on /{model.key} "
            f"(you gave {_fmt(value)})."
        )
    if param.multiple_of and value % param.multiple_of:
        below, above = nearest_multiples(value, param)
        options = " or ".join(str(v) for v in (below, above) if v is not None)
        raise InvalidInput(f"`{param.option}` must be a multiple of {param.multiple_of}; the nearest valid values are {options}.")
    return value


def nearest_multiples(value: int, param: Param) -> tuple[int | None, int | None]:
    step = param.multiple_of or 1
    below, above = value - value % step, value - value % step + step
    low = param.min if param.min is not None else float("-inf")
    high = param.max if param.max is not None else float("inf")
    return (below if below >= low else None, above if above <= high else None)


def _fmt(value: float | None) -> str:
    if value is None:
        return "any"
    return str(int(value)) if float(value).is_integer() else f"{value:g}"
