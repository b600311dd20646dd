"""Discord's rules for registering commands (a bulk overwrite), as pure functions.

From developers/interactions/application-commands.mdx: names (`^[-_'\\p{L}\\p{N}\\p{sc=Deva}\\p{sc=Thai}]{1,32}$`,
lowercase where a letter has a lowercase form; USER and MESSAGE commands may be mixed case with spaces),
descriptions 1-100 (none for USER and MESSAGE commands), options and choices, localizations (keys from
Discord's locales, values under the same rules as what they localize, localized option names distinct),
`integration_types` and `contexts`, 100 slash and 15 user and 15 message commands per scope, and the
8,000 characters a slash command may total. Each problem is (path, message, Discord's error code), as
`wire.form_error` answers it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import re2

from .wire import LOCALES, Problem

# RE2 has no sc= form; \p{Devanagari} and \p{Thai} are the same scripts. The length is checked apart:
# a {1,32} repetition of this class is too big for RE2's DFA.
_NAME_CHARS = re2.compile(r"^[-_'\p{L}\p{N}\p{Devanagari}\p{Thai}]+$")
COMMAND_TYPES = {1: "CHAT_INPUT", 2: "USER", 3: "MESSAGE"}
_MAX_PER_SCOPE = {1: 100, 2: 15, 3: 15}
MAX_COMMAND_SIZE = 8000
_MAX_SAFE_INTEGER = 2**53
_BAD_NAME = "APPLICATION_COMMAND_INVALID_NAME"
_BAD_LENGTH = "BASE_TYPE_BAD_LENGTH"
_CHOICES = "BASE_TYPE_CHOICES"


def command_schema_problems(commands: list[Any], *,
                            install_types: frozenset[int] | set[int] = frozenset({0, 1})) -> list[Problem]:
    """What Discord refuses in a bulk overwrite of these commands; `install_types` are the installation
    contexts the application supports."""
    problems: list[Problem] = []
    seen: set[tuple[int, str]] = set()
    counts: Counter[int] = Counter()
    for i, command in enumerate(commands):
        if not isinstance(command, dict):
            problems.append((f"{i}", "Expected an object", "DICT_TYPE_CONVERT"))
            continue
        ctype, name = command.get("type", 1), command.get("name", "")
        if ctype not in COMMAND_TYPES:
            problems.append((f"{i}.type", "Value must be one of (1, 2, 3).", _CHOICES))
            continue
        if (ctype, name) in seen:
            problems.append((f"{i}.name", f"Application command names must be unique ({name!r})",
                             "APPLICATION_COMMANDS_DUPLICATE_NAME"))
        seen.add((ctype, name))
        counts[ctype] += 1
        problems += _command_problems(f"{i}", command, ctype, install_types)
    for ctype, count in counts.items():
        if count > _MAX_PER_SCOPE[ctype]:
            problems.append(("_", f"Maximum number of {COMMAND_TYPES[ctype]} commands in one scope is "
                                  f"{_MAX_PER_SCOPE[ctype]} ({count} sent)", "APPLICATION_COMMANDS_TOO_MANY"))
    return problems


def _command_problems(at: str, command: dict, ctype: int, install_types: frozenset[int] | set[int]) -> list[Problem]:
    problems = _install_problems(at, command, install_types)
    if ctype != 1:  # USER and MESSAGE: a mixed-case name with spaces, no description, no options
        problems += _length_problem(f"{at}.name", command.get("name", ""), 1, 32)
        problems += _localization_problems(at, command, "name", lambda v: _length_problem("", v, 1, 32))
        if command.get("description"):
            problems.append((f"{at}.description", "Context menu commands cannot have a description",
                             "APPLICATION_COMMAND_CONTEXT_MENU_DESCRIPTION"))
        if command.get("options"):
            problems.append((f"{at}.options", "Context menu commands cannot have options",
                             "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID"))
        return problems
    problems += _described_problems(at, command)
    problems += _options_problems(f"{at}.options", command.get("options") or [])
    size = command_size(command)
    if size > MAX_COMMAND_SIZE:
        problems.append((at, f"Command exceeds maximum size ({MAX_COMMAND_SIZE}): {size}", "APPLICATION_COMMAND_TOO_LARGE"))
    return problems


def _install_problems(at: str, command: dict, install_types: frozenset[int] | set[int]) -> list[Problem]:
    problems: list[Problem] = []
    for key, allowed in (("integration_types", (0, 1)), ("contexts", (0, 1, 2))):
        values = command.get(key)
        if values is None:
            continue
        if not isinstance(values, list):
            problems.append((f"{at}.{key}", "Expected a list", "LIST_TYPE_CONVERT"))
            continue
        for j, value in enumerate(values):
            if value not in allowed:
                problems.append((f"{at}.{key}.{j}", f"Value must be one of {allowed}.", _CHOICES))
            elif key == "integration_types" and value not in install_types:
                problems.append((f"{at}.{key}.{j}", f"The application does not support installation type {value}",
                                 "APPLICATION_COMMAND_INTEGRATION_TYPE_INVALID"))
    return problems


def _described_problems(at: str, item: dict) -> list[Problem]:
    """The name and description of a slash command or an option, and their localizations."""
    problems = [(f"{at}.name", *found) for found in _chat_name_problems(item.get("name", ""))]
    problems += _length_problem(f"{at}.description", item.get("description", ""), 1, 100)
    problems += _localization_problems(at, item, "name", lambda v: [("", *p) for p in _chat_name_problems(v)])
    problems += _localization_problems(at, item, "description", lambda v: _length_problem("", v, 1, 100))
    return problems


def _chat_name_problems(name: Any) -> list[tuple[str, str]]:
    if not isinstance(name, str) or not 1 <= len(name) <= 32:
        return [("Must be between 1 and 32 in length.", _BAD_LENGTH)]
    if not _NAME_CHARS.match(name) or name != name.lower():
        return [(f"Command name is invalid ({name!r}: letters, digits, - _ ', lowercase)", _BAD_NAME)]
    return []


def _length_problem(at: str, value: Any, low: int, high: int) -> list[Problem]:
    if not isinstance(value, str) or not low <= len(value) <= high:
        return [(at, f"Must be between {low} and {high} in length.", _BAD_LENGTH)]
    return []


def _localization_problems(at: str, item: dict, field: str,
                           check: Callable[[Any], list[Problem]]) -> list[Problem]:
    """`{field}_localizations`: null or a dict keyed by Discord's locales, each value held to `check`."""
    key = f"{field}_localizations"
    mapping = item.get(key)
    if mapping is None:
        return []
    if not isinstance(mapping, dict):
        return [(f"{at}.{key}", "Expected a dictionary", "DICT_TYPE_CONVERT")]
    problems: list[Problem] = []
    for locale, value in mapping.items():
        if locale not in LOCALES:
            problems.append((f"{at}.{key}.{locale}", f"Value must be one of {sorted(LOCALES)}.", _CHOICES))
            continue
        problems += [(f"{at}.{key}.{locale}", *rest) for _, *rest in check(value)]  # type: ignore[misc]
    return problems


def _options_problems(at: str, options: list[dict]) -> list[Problem]:
    problems: list[Problem] = []
    if len(options) > 25:
        problems.append((at, "Must be 25 or fewer in length.", "BASE_TYPE_MAX_LENGTH"))
    seen_optional = False
    for j, option in enumerate(options):
        where = f"{at}.{j}"
        problems += _described_problems(where, option)
        if option.get("type") in (1, 2):
            problems += _options_problems(f"{where}.options", option.get("options") or [])
            continue
        if option.get("required"):
            if seen_optional:
                problems.append((f"{where}.required", "Required options must be placed before non-required options",
                                 "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID"))
        else:
            seen_optional = True
        problems += _option_value_problems(where, option)
    problems += _distinct_names_problems(at, options)
    return problems


def _option_value_problems(at: str, option: dict) -> list[Problem]:
    problems: list[Problem] = []
    otype, choices = option.get("type"), option.get("choices") or []
    if choices and otype not in (3, 4, 10):
        problems.append((f"{at}.choices", "Only string, integer and number options take choices", _CHOICES))
    if len(choices) > 25:
        problems.append((f"{at}.choices", "Must be 25 or fewer in length.", "BASE_TYPE_MAX_LENGTH"))
    for k, choice in enumerate(choices):
        problems += choice_problems(f"{at}.choices.{k}", choice, otype)
    if option.get("autocomplete"):
        if otype not in (3, 4, 10):
            problems.append((f"{at}.autocomplete", "Only string, integer and number options autocomplete", _CHOICES))
        if choices:
            problems.append((f"{at}.autocomplete", "Autocomplete cannot be set with choices",
                             "APPLICATION_COMMAND_OPTION_CHOICES_AUTOCOMPLETE"))
    for key, low in (("min_length", 0), ("max_length", 1)):
        if option.get(key) is not None and not low <= option[key] <= 6000:
            problems.append((f"{at}.{key}", f"Must be between {low} and 6000.", "NUMBER_TYPE_MIN"))
    return problems


def choice_problems(at: str, choice: Any, otype: Any) -> list[Problem]:
    """A choice of an option of type `otype` (3 string, 4 integer, 10 number): in a command's schema or
    in an autocomplete answer. Names 1-100 (and their localizations), values of the option's type."""
    if not isinstance(choice, dict):
        return [(at, "Expected an object", "DICT_TYPE_CONVERT")]
    problems = _length_problem(f"{at}.name", choice.get("name"), 1, 100)
    problems += _localization_problems(at, choice, "name", lambda v: _length_problem("", v, 1, 100))
    value = choice.get("value")
    fits = {
        3: isinstance(value, str) and len(value) <= 100,
        4: type(value) is int and abs(value) < _MAX_SAFE_INTEGER,
        10: type(value) in (int, float) and abs(value) <= _MAX_SAFE_INTEGER,
    }.get(otype, True)
    if not fits:
        kind = {3: "a string of at most 100 characters", 4: "an integer", 10: "a number"}[otype]
        problems.append((f"{at}.value", f"Must be {kind} (got {value!r})", "BASE_TYPE_INVALID"))
    return problems


def _distinct_names_problems(at: str, options: list[dict]) -> list[Problem]:
    """Option names are unique, and so is each locale's set of names: a localized name may not repeat
    another option's default name or another option's name in that locale."""
    defaults = [o.get("name") for o in options]
    problems: list[Problem] = []
    for j, name in enumerate(defaults):
        if defaults.index(name) != j:
            problems.append((f"{at}.{j}.name", f"Option names must be unique ({name!r})", "APPLICATION_COMMAND_OPTIONS_DUPLICATE_NAME"))
    locales = {loc for o in options for loc in (o.get("name_localizations") or {})}
    for locale in sorted(locales & LOCALES):
        shown = [(o.get("name_localizations") or {}).get(locale, o.get("name")) for o in options]
        for j, option in enumerate(options):
            own = (option.get("name_localizations") or {}).get(locale)
            if own is None or own == option.get("name"):
                continue
            if shown.count(own) > 1 or own in defaults:
                problems.append((f"{at}.{j}.name_localizations.{locale}",
                                 f"Localized option name {own!r} repeats another option's name",
                                 "APPLICATION_COMMAND_OPTIONS_DUPLICATE_NAME"))
    return problems


def command_size(command: dict) -> int:
    """Characters counted toward the 8,000: names, descriptions and choice values of the command, its options
    and their choices; of a localized field only its longest form (the default included) counts."""
    def longest(item: dict, field: str) -> int:
        localized = item.get(f"{field}_localizations")
        forms = [str(item.get(field) or "")] + [str(v) for v in (localized if isinstance(localized, dict) else {}).values()]
        return max(len(f) for f in forms)

    total = longest(command, "name") + longest(command, "description")
    for option in command.get("options") or []:
        total += command_size(option)
    for choice in command.get("choices") or []:
        if isinstance(choice, dict):
            total += longest(choice, "name") + len(str(choice.get("value", "")))
    return total
