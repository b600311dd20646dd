"""The slash command that makes a job again, and reading one back: what Details shows to copy."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from bot.catalog import MODELS, Model
from bot.core.errors import InvalidInput
from bot.core.i18n import _, option_name
from bot.core.text import code_span


def command_for(model: Model, prompt: str, shown: Iterable[tuple[str, Any]]) -> str:
    """`/sdxl prompt:… width:1024 … seed:42`: every option the job used, the seed included.

    Values the catalog fixes (not options) are left out: the command sends them anyway."""
    options = {p.option for p in model.params}
    parts = [f"/{model.key}", f"prompt:{prompt}"]
    parts += [f"{name}:{value}" for name, value in shown if name in options and name != "prompt"]
    return " ".join(parts)


def parse_command(text: str) -> tuple[Model, dict[str, Any]]:
    """The model and options of a `command_for` line, typed as the slash options are.

    Splits only at ` option:` for the model's own option names, so a prompt may hold colons."""
    head, _, rest = text.strip().partition(" ")
    model = MODELS[head.lstrip("/")]
    names = "|".join(re.escape(p.option) for p in model.params)
    pieces = re.split(rf"(?:^|\s)({names}):", rest)
    options: dict[str, Any] = {}
    for name, value in zip(pieces[1::2], pieces[2::2], strict=True):
        param = model.param(name)
        assert param is not None
        options[name] = value.strip() if param.type is str else param.type(value.strip())
    return model, options


# Edit's "Other settings" line: every option except those with a field of their own in the modal.
OWN_FIELDS = ("prompt", "negative_prompt", "seed")


def settings_line(model: Model, shown: Iterable[tuple[str, Any]]) -> str:
    """`steps=20 guidance=5 width=1024 height=1024`: what the job used, catalog-fixed values left out."""
    options = {p.option for p in model.params} - set(OWN_FIELDS)
    return " ".join(f"{name}={value}" for name, value in shown if name in options)


def parse_settings(model: Model, text: str) -> dict[str, Any]:
    """`name=value` pairs, typed as the slash options are; `prepare` then checks them exactly as it
    checks the slash options, so a wrong value gets the same sentence either way."""
    options: dict[str, Any] = {}
    for pair in text.split():
        name, sep, raw = pair.partition("=")
        if not sep or not name:
            raise InvalidInput(_("Write each setting as name=value (you gave {given}).", given=code_span(pair, 40)))
        param = model.param(name)
        if param is None or name in OWN_FIELDS:
            raise InvalidInput(_("/{command} has no setting named {name} here.", command=model.key,
                                 name=code_span(name, 40)))
        if name in options:
            raise InvalidInput(_("{name} is given twice.", name=code_span(name, 40)))
        options[name] = raw if param.type is str else _number(name, raw, param.type)
    return options


def _number(name: str, raw: str, kind: type) -> int | float:
    try:
        return int(raw)
    except ValueError:
        pass
    try:
        value = float(raw)
    except ValueError:
        raise InvalidInput(_("`{option}` must be {kind} (you gave {given}).", option=option_name(name),
                             kind=_("a whole number") if kind is int else _("a number"),
                             given=code_span(raw, 40))) from None
    return value
