"""Discord's rules, as pure functions: the command schema a sync must meet, the invocation a
command accepts, and the limits of a message.

The fake refuses what Discord refuses (a 400 Invalid Form Body naming the field) and holds injected
interactions to the schema the bot synced, so the bot's own schema mistakes fail tests.
"""

from __future__ import annotations

import re
from typing import Any

_OPTION_TYPE_NAMES = {
    1: "subcommand",
    2: "subcommand group",
    3: "string",
    4: "integer",
    5: "boolean",
    6: "user",
    7: "channel",
    8: "role",
    9: "mentionable",
    10: "number",
    11: "attachment",
}
# Application command names: lowercase letters/digits of any script, '-', '_', "'".
_COMMAND_NAME_RE = re.compile(r"^[-_'\w]{1,32}$")
_MAX_SAFE_INTEGER = 2**53


# ---------------------------------------------------------------------- command schema


def find_command(
    synced: dict[int | None, list[dict]], name: str, guild_id: int | None
) -> tuple[dict | None, int | None]:
    """The chat-input command a user in this place would see: guild commands, then global ones."""
    if guild_id is not None:
        for command in synced.get(guild_id, []):
            if command["name"] == name and command.get("type", 1) == 1:
                return command, guild_id
    for command in synced.get(None, []):
        if command["name"] == name and command.get("type", 1) == 1:
            contexts = command.get("contexts")
            wanted_context = 0 if guild_id is not None else 1
            if contexts is not None and wanted_context not in contexts:
                continue
            if guild_id is None and command.get("dm_permission") is False:
                continue
            return command, None
    return None, None


def subcommand_schema(
    command: dict | None, subcommand: str | None, label: str, validate: bool
) -> tuple[list[tuple[str, int]], list[dict]]:
    """([(name, option type) of the subcommand path], option schema of the invoked leaf)."""
    schema = (command or {}).get("options") or []
    subs = [o for o in schema if o.get("type") in (1, 2)]
    if not subcommand:
        if subs and validate:
            raise AssertionError(f"{label} has subcommands {[o['name'] for o in subs]}; pass subcommand=")
        return [], schema
    parts = subcommand.split()
    path: list[tuple[str, int]] = []
    for depth, part in enumerate(parts):
        is_last = depth == len(parts) - 1
        match = next((o for o in schema if o["name"] == part and o.get("type") in (1, 2)), None)
        if match is None:
            if validate:
                raise AssertionError(
                    f"{label}: no subcommand {part!r} (has {[o['name'] for o in schema if o.get('type') in (1, 2)]})"
                )
            path.append((part, 1 if is_last else 2))
            schema = []
            continue
        if is_last and match["type"] == 2 and validate:
            raise AssertionError(f"{label}: {part!r} is a group; name a subcommand inside it")
        path.append((part, match["type"]))
        schema = match.get("options") or []
    return path, schema


def nest(path: list[tuple[str, int]], leaf: list[dict]) -> list[dict]:
    options = leaf
    for name, otype in reversed(path):
        options = [{"name": name, "type": otype, "options": options}]
    return options


def schema_type(schema: list[dict], name: str, value: Any) -> int:
    for option in schema:
        if option["name"] == name:
            return option["type"]
    # Not in the schema (validate=False): guess from the Python value.
    if isinstance(value, bool):
        return 5
    if isinstance(value, int):
        return 4
    if isinstance(value, float):
        return 10
    return 3


def validate_options(schema: list[dict], options: dict, attachments: dict, label: str) -> None:
    by_name = {o["name"]: o for o in schema}
    for name in [*options, *attachments]:
        if name not in by_name:
            raise AssertionError(f"{label}: unknown option {name!r} (options: {sorted(by_name)})")
    for option in schema:
        name = option["name"]
        if option.get("required") and name not in options and name not in attachments:
            raise AssertionError(f"{label}: required option {name!r} is missing")
        if name in attachments and option["type"] != 11:
            raise AssertionError(
                f"{label}: option {name!r} is a {_OPTION_TYPE_NAMES.get(option['type'])}, not an attachment"
            )
        if name in options:
            _check_value(option, options[name], f"{label} {name}")


def _check_value(option: dict, value: Any, where: str) -> None:
    otype = option["type"]
    type_name = _OPTION_TYPE_NAMES.get(otype, str(otype))
    ok = {
        3: isinstance(value, str),
        4: isinstance(value, int) and not isinstance(value, bool) and abs(value) <= _MAX_SAFE_INTEGER,
        10: isinstance(value, (int, float)) and not isinstance(value, bool),
        5: isinstance(value, bool),
        11: False,  # attachments come through the `attachments` argument
    }.get(otype, _is_snowflake(value))
    if not ok:
        raise AssertionError(f"{where}: {value!r} is not a valid {type_name}")
    choices = option.get("choices")
    if choices and value not in [c["value"] for c in choices]:
        raise AssertionError(f"{where}: {value!r} is not one of the choices {[c['value'] for c in choices]}")
    if otype in (4, 10):
        if option.get("min_value") is not None and value < option["min_value"]:
            raise AssertionError(f"{where}: {value} is below min_value {option['min_value']}")
        if option.get("max_value") is not None and value > option["max_value"]:
            raise AssertionError(f"{where}: {value} is above max_value {option['max_value']}")
    if otype == 3:
        if option.get("min_length") is not None and len(value) < option["min_length"]:
            raise AssertionError(f"{where}: length {len(value)} is below min_length {option['min_length']}")
        if option.get("max_length") is not None and len(value) > option["max_length"]:
            raise AssertionError(f"{where}: length {len(value)} is above max_length {option['max_length']}")


def _is_snowflake(value: Any) -> bool:
    return (isinstance(value, int) and not isinstance(value, bool)) or (
        isinstance(value, str) and value.isdigit()
    )


def find_component(components: list[dict], custom_id: str) -> dict | None:
    for component in components:
        if component.get("custom_id") == custom_id:
            return component
        for key in ("components", "accessory"):
            children = component.get(key)
            if isinstance(children, dict):
                children = [children]
            found = find_component(children or [], custom_id)
            if found is not None:
                return found
    return None


def command_schema_problems(commands: list[dict]) -> list[tuple[str, str]]:
    """The checks Discord makes on a bulk command overwrite (the ones a bot can get wrong)."""
    problems: list[tuple[str, str]] = []
    seen: set[tuple[int, str]] = set()
    for i, command in enumerate(commands):
        ctype, name = command.get("type", 1), command.get("name", "")
        if (ctype, name) in seen:
            problems.append((f"{i}.name", f"Application command names must be unique ({name!r})"))
        seen.add((ctype, name))
        if ctype == 1:
            problems += _name_problems(f"{i}", command)
            problems += _options_problems(f"{i}.options", command.get("options") or [])
        elif not 1 <= len(name) <= 32:
            problems.append((f"{i}.name", "Must be between 1 and 32 in length."))
    return problems


def _name_problems(where: str, item: dict) -> list[tuple[str, str]]:
    problems = []
    name, description = item.get("name", ""), item.get("description", "")
    if not _COMMAND_NAME_RE.match(name) or name != name.lower():
        problems.append((f"{where}.name", f"Invalid name {name!r}: 1-32 lowercase letters, digits, -_'"))
    if not 1 <= len(description) <= 100:
        problems.append((f"{where}.description", "Must be between 1 and 100 in length."))
    return problems


def _options_problems(where: str, options: list[dict]) -> list[tuple[str, str]]:
    problems = []
    if len(options) > 25:
        problems.append((where, "Must be 25 or fewer in length."))
    seen_optional = False
    for j, option in enumerate(options):
        at = f"{where}.{j}"
        problems += _name_problems(at, option)
        if option.get("type") in (1, 2):
            problems += _options_problems(f"{at}.options", option.get("options") or [])
            continue
        if option.get("required"):
            if seen_optional:
                problems.append(
                    (f"{at}.required", "Required options must be placed before non-required options")
                )
        else:
            seen_optional = True
        choices = option.get("choices") or []
        if len(choices) > 25:
            problems.append((f"{at}.choices", "Must be 25 or fewer in length."))
        for k, choice in enumerate(choices):
            if not 1 <= len(str(choice.get("name", ""))) <= 100:
                problems.append((f"{at}.choices.{k}.name", "Must be between 1 and 100 in length."))
            if isinstance(choice.get("value"), str) and len(choice["value"]) > 100:
                problems.append((f"{at}.choices.{k}.value", "Must be 100 or fewer in length."))
        for key, low in (("min_length", 0), ("max_length", 1)):
            if option.get(key) is not None and not low <= option[key] <= 6000:
                problems.append((f"{at}.{key}", f"Must be between {low} and 6000."))
    return problems


# ---------------------------------------------------------------------- message limits

_EMBED_TEXT_LIMITS = {"title": 256, "description": 4096}


def message_problems(payload: dict) -> list[tuple[str, str]]:
    """Discord's 400s for message content and embeds (see docs/discord-platform.md)."""
    problems: list[tuple[str, str]] = []
    content = payload.get("content")
    if isinstance(content, str) and len(content) > 2000:
        problems.append(("content", "Must be 2000 or fewer in length."))
    embeds = payload.get("embeds") or []
    if len(embeds) > 10:
        problems.append(("embeds", "Must be 10 or fewer in length."))
    total = 0
    for i, embed in enumerate(embeds):
        for key, limit in _EMBED_TEXT_LIMITS.items():
            text = embed.get(key) or ""
            total += len(text)
            if len(text) > limit:
                problems.append((f"embeds.{i}.{key}", f"Must be {limit} or fewer in length."))
        fields = embed.get("fields") or []
        if len(fields) > 25:
            problems.append((f"embeds.{i}.fields", "Must be 25 or fewer in length."))
        for j, fld in enumerate(fields):
            for key, limit in (("name", 256), ("value", 1024)):
                text = str(fld.get(key) or "")
                total += len(text)
                if not text:
                    problems.append((f"embeds.{i}.fields.{j}.{key}", "This field is required"))
                elif len(text) > limit:
                    problems.append((f"embeds.{i}.fields.{j}.{key}", f"Must be {limit} or fewer in length."))
        for key, sub, limit in (("footer", "text", 2048), ("author", "name", 256)):
            text = (embed.get(key) or {}).get(sub) or ""
            total += len(text)
            if len(text) > limit:
                problems.append((f"embeds.{i}.{key}.{sub}", f"Must be {limit} or fewer in length."))
    if total > 6000:
        problems.append(("embeds", "Embed size exceeds maximum size of 6000"))
    if len(payload.get("components") or []) > 40:
        problems.append(("components", "Must be 40 or fewer in length."))
    return problems
