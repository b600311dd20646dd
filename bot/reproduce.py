"""The slash command that makes a job again, and reading one back: what Details shows to copy."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from bot.catalog import MODELS, Model


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
