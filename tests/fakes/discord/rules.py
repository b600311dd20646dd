"""Discord's rules, as pure functions: who sees which command, the invocation a command accepts, an
autocomplete answer, and the limits of a message. (The schema a sync must meet: schema.py; forms: components.py.)

The fake refuses what Discord refuses (a 400 Invalid Form Body naming the field) and holds injected
interactions to the schema the bot synced, so the bot's own schema mistakes fail tests.
"""

from __future__ import annotations

from typing import Any

from .schema import choice_problems
from .wire import Problem

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
_MAX_SAFE_INTEGER = 2**53


# ---------------------------------------------------------------------- command schema


def find_command(
    synced: dict[int | None, list[dict]], name: str, guild_id: int | None, *, ctype: int = 1,
    context: int | None = None, installs: frozenset[int] | set[int] = frozenset({0}),
    app_installs: frozenset[int] | set[int] = frozenset({0, 1}),
) -> tuple[dict | None, int | None]:
    """The command of type `ctype` a user in this place would see: the server's own commands (where the
    bot's server install reaches), then global ones usable in this `context` (0 server, 1 the bot's DM,
    2 a DM between users; default from `guild_id`) through one of `installs` (0 the server's or app's,
    1 the user's own). `app_installs`: what the application supports (a command's default)."""
    context = (0 if guild_id is not None else 1) if context is None else context
    if guild_id is not None and context == 0 and 0 in installs:
        for command in synced.get(guild_id, []):
            if command["name"] == name and command.get("type", 1) == ctype:
                return command, guild_id
    for command in synced.get(None, []):
        if command["name"] == name and command.get("type", 1) == ctype:
            if command_installs(command, None, context, installs, app_installs):
                return command, None
    return None, None


def command_installs(command: dict | None, scope: int | None, context: int, installs: frozenset[int] | set[int],
                     app_installs: frozenset[int] | set[int] = frozenset({0, 1})) -> set[int]:
    """The installations through which a `command` synced to `scope` (a guild id, None: global) reaches
    this place (empty: it does not). A server's own command comes with the server's install; no command
    at all (a hostile client's invention) claims whatever installs there are."""
    if command is None:
        return set(installs)
    if scope is not None:
        return set(installs) & {0}
    contexts = command.get("contexts")
    if contexts is not None and context not in contexts:
        return set()
    if context == 1 and command.get("dm_permission") is False:
        return set()
    types = command.get("integration_types")
    reach = set(app_installs if types is None else types) & set(installs)
    return reach & {1} if context == 2 else reach  # only a user's install reaches a DM between users


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


def validate_options(schema: list[dict], options: dict, attachments: dict, label: str,
                     focused: str | None = None, require_autocomplete: bool = False) -> None:
    """Hold an invocation to the schema as Discord's client does. While autocompleting (`focused`), the
    options are what the member typed so far: required ones may be missing, and the focused one is only
    of its type (a partial string, but never a partial number); with `require_autocomplete` the focused
    option must be synced with autocomplete: true, as the client asks only for those."""
    by_name = {o["name"]: o for o in schema}
    for name in [*options, *attachments]:
        if name not in by_name:
            raise AssertionError(f"{label}: unknown option {name!r} (options: {sorted(by_name)})")
    if focused is not None and require_autocomplete and not by_name.get(focused, {}).get("autocomplete"):
        raise AssertionError(f"{label}: option {focused!r} does not autocomplete (no autocomplete: true)")
    for option in schema:
        name = option["name"]
        if option.get("required") and focused is None and name not in options and name not in attachments:
            raise AssertionError(f"{label}: required option {name!r} is missing")
        if name in attachments and option["type"] != 11:
            raise AssertionError(
                f"{label}: option {name!r} is a {_OPTION_TYPE_NAMES.get(option['type'])}, not an attachment"
            )
        if name in options:
            partial = {"type": option["type"]} if name == focused else option
            _check_value(partial, options[name], f"{label} {name}")


def focused_option(options: list[dict]) -> dict | None:
    """The option an autocomplete interaction is for, wherever it sits under subcommands."""
    for option in options:
        if option.get("focused"):
            return option
        found = focused_option(option.get("options") or [])
        if found is not None:
            return found
    return None


def autocomplete_problems(data: dict, command_data: dict) -> list[Problem]:
    """An autocomplete answer (callback type 8): at most 25 choices, each held to the rules of a choice
    of the focused option's type (names 1-100, string values up to 100, integers for an integer...)."""
    choices = data.get("choices")
    if not isinstance(choices, list):
        return [("data.choices", "This field is required", "BASE_TYPE_REQUIRED")]
    problems: list[Problem] = []
    if len(choices) > 25:
        problems.append(("data.choices", "Must be 25 or fewer in length.", "BASE_TYPE_MAX_LENGTH"))
    option = focused_option(command_data.get("options") or []) or {}
    for k, choice in enumerate(choices):
        problems += choice_problems(f"data.choices.{k}", choice, option.get("type", 3))
    return problems


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
