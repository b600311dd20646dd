"""Slash commands made from the catalog: each model's parameters become the command's options, with
their ranges, choices and descriptions, so adding a model to bot/catalog.py adds its command."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any, Literal

import discord
from discord import app_commands

from bot.catalog import Param
from bot.ui.installs import anywhere

DESCRIPTION_MAX = 100


def option_annotation(param: Param) -> Any:
    if param.choices:
        return Literal[param.choices]  # discord.py turns a Literal into the option's choices
    # For text the range is a length, so its bounds are whole numbers whatever the value's type.
    bound = int if param.type is str else param.type
    low = None if param.min is None else bound(param.min)
    high = None if param.max is None else bound(param.max)
    return app_commands.Range[param.type, low, high]


def option_description(param: Param) -> str:
    text = param.description
    if param.default is not None:
        text = f"{text} (default {param.default})"
    return text[:DESCRIPTION_MAX]


def make_command(name: str, description: str, params: tuple[Param, ...],
                 handler: Callable[..., Awaitable[None]], extra: dict[str, tuple[Any, str]] | None = None,
                 optional: dict[str, tuple[Any, str]] | None = None) -> app_commands.Command:
    """A slash command whose options are `params`, calling `handler(interaction, **options)`.

    `extra` adds required options that are not Pixazo fields (attachments): name -> (annotation, description);
    `optional` adds optional ones (count, style), last.
    """
    extra = extra or {}
    optional = optional or {}

    async def callback(interaction: discord.Interaction, **options: Any) -> None:
        await handler(interaction, **options)

    def option(param: Param) -> inspect.Parameter:
        default = inspect.Parameter.empty if param.option == "prompt" else None
        return inspect.Parameter(param.option, inspect.Parameter.KEYWORD_ONLY, default=default,
                                 annotation=option_annotation(param))

    options = [option(p) for p in params]
    # Discord wants required options first: the prompt, then `extra` (attachments), then the rest.
    signature = [inspect.Parameter("interaction", inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                   annotation=discord.Interaction)]
    signature += [o for o in options if o.default is inspect.Parameter.empty]
    signature += [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation)
                  for name, (annotation, _) in extra.items()]
    signature += [o for o in options if o.default is not inspect.Parameter.empty]
    signature += [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=annotation)
                  for name, (annotation, _) in optional.items()]
    callback.__signature__ = inspect.Signature(signature)  # type: ignore[attr-defined]
    callback.__discord_app_commands_param_description__ = {  # type: ignore[attr-defined]
        **{p.option: option_description(p) for p in params},
        **{name: text for name, (_, text) in (extra | optional).items()},
    }
    return anywhere(app_commands.Command(name=name, description=description[:DESCRIPTION_MAX], callback=callback))
