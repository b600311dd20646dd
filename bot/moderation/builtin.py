"""The bot's own rules, whose word lists live in builtin_terms.toml (shipped as package data)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources

from bot.moderation.words import WordList

TERMS_FILE = "builtin_terms.toml"


@dataclass(frozen=True)
class BuiltinTerms:
    minors: tuple[str, ...]
    sexual: tuple[str, ...]
    explicit: tuple[str, ...]


@dataclass(frozen=True)
class BuiltinLists:
    minors: WordList
    sexual: WordList
    explicit: WordList


@cache
def builtin_terms() -> BuiltinTerms:
    data = tomllib.loads(resources.files("bot.moderation").joinpath(TERMS_FILE).read_text("utf-8"))
    ages = data["minor_safety"]["ages"]
    numbers = [*ages["digits"], *ages["words"]]
    spelled = [f"{n} {unit}" for n in numbers for unit in ages["units"]]
    spelled += [f"{word} {n}" for word in ages["before"] for n in numbers]
    return BuiltinTerms(
        minors=tuple(data["minor_safety"]["minors"]) + tuple(spelled),
        sexual=tuple(data["minor_safety"]["sexual"]),
        explicit=tuple(data["mild_filter"]["explicit"]),
    )


@cache
def builtin_lists() -> BuiltinLists:
    """Compiled once per process: the lists never change while the bot runs."""
    terms = builtin_terms()
    return BuiltinLists(WordList(terms.minors), WordList(terms.sexual), WordList(terms.explicit))
