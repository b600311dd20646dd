"""Forms (modals), as pure functions: the type 9 reply Discord accepts, and what a filled-in form sends back.

From developers/components/reference.mdx and developers/interactions/receiving-and-responding.mdx:
a modal has a `custom_id` (1-100), a `title` (1-45) and 1-5 top-level components. In a modal a
Label (type 18: `label` up to 45, `description` up to 100) holds exactly one component: a text input (4),
a string select (3), a user/role/mentionable/channel select (5-8), a file upload (19), a radio group (21),
a checkbox group (22) or a checkbox (23). A Text Display (10) may stand alone. An Action Row (1) holding
one text input is the older, deprecated form (its text input then needs its own `label`); selects and
file uploads must sit in a Label. No component in a modal may be `disabled`.

On submit (MODAL_SUBMIT, interaction type 5) each component answers in the same nesting with its
`id` (Discord numbers components that were sent without one, in order): a Label `{type: 18, id,
component}`, a text input `{type: 4, id, custom_id, value}`, a string select `{type: 3, id, custom_id,
values}`, a file upload `{type: 19, id, custom_id, values: [attachment ids]}` (the files in
`data.resolved.attachments`), a text display `{type: 10, id}`, an action row `{type: 1, id, components}`.
"""

from __future__ import annotations

import copy
import os
from typing import Any

from .wire import Problem

IN_LABEL = {3, 4, 5, 6, 7, 8, 19, 21, 22, 23}
_FILE_GROUPS = {"image", "video", "audio"}
_LEN = "BASE_TYPE_BAD_LENGTH"


# ---------------------------------------------------------------------- the type 9 reply


def modal_problems(data: Any) -> list[Problem]:
    """What Discord refuses in a modal (the `data` of a type 9 callback)."""
    if not isinstance(data, dict):
        return [("data", "Expected an object", "DICT_TYPE_CONVERT")]
    problems = _text("data.custom_id", data.get("custom_id"), 1, 100)
    problems += _text("data.title", data.get("title"), 1, 45)
    components = data.get("components")
    if not isinstance(components, list) or not 1 <= len(components) <= 5:
        return [*problems, ("data.components", "Must be between 1 and 5 in length.", _LEN)]
    for i, component in enumerate(components):
        problems += _top_level_problems(f"data.components.{i}", component)
    custom_ids = [c.get("custom_id") for c in walk(components) if c.get("custom_id") is not None]
    ids = [c["id"] for c in walk(components) if c.get("id")]
    if len(set(custom_ids)) != len(custom_ids):
        problems.append(("data.components", "Custom ids must be unique within the modal", "COMPONENT_CUSTOM_ID_DUPLICATED"))
    if len(set(ids)) != len(ids):
        problems.append(("data.components", "Component ids must be unique within the modal", "COMPONENT_ID_DUPLICATED"))
    return problems


def _top_level_problems(at: str, component: Any) -> list[Problem]:
    kind = component.get("type") if isinstance(component, dict) else None
    if kind == 18:
        problems = _text(f"{at}.label", component.get("label"), 1, 45)
        if component.get("description") is not None:
            problems += _text(f"{at}.description", component["description"], 1, 100)
        inner = component.get("component")
        if not isinstance(inner, dict) or inner.get("type") not in IN_LABEL:
            return [*problems, (f"{at}.component", f"A Label holds one of the types {sorted(IN_LABEL)}",
                                "COMPONENT_TYPE_INVALID")]
        return problems + _input_problems(f"{at}.component", inner, in_label=True)
    if kind == 10:
        return _text(f"{at}.content", component.get("content"), 1, 4000)
    if kind == 1:
        inner = component.get("components")
        if not (isinstance(inner, list) and len(inner) == 1 and isinstance(inner[0], dict) and inner[0].get("type") == 4):
            return [(f"{at}.components", "In a modal an Action Row holds exactly one text input (selects and file "
                                         "uploads go in a Label)", "COMPONENT_TYPE_INVALID")]
        return _input_problems(f"{at}.components.0", inner[0], in_label=False)
    return [(f"{at}.type", f"Component type {kind} cannot be used in a modal", "COMPONENT_TYPE_INVALID")]


def _input_problems(at: str, component: dict, *, in_label: bool) -> list[Problem]:
    problems = _text(f"{at}.custom_id", component.get("custom_id"), 1, 100)
    if component.get("disabled"):
        problems.append((f"{at}.disabled", "Modals cannot have disabled components", "COMPONENT_DISABLED_IN_MODAL"))
    kind = component["type"]
    if kind == 4:
        problems += _text_input_problems(at, component, in_label)
    elif kind == 3:
        problems += _select_problems(at, component)
    elif kind == 19:
        problems += _upload_problems(at, component)
    return problems


def _text_input_problems(at: str, component: dict, in_label: bool) -> list[Problem]:
    problems: list[Problem] = []
    if component.get("style") not in (1, 2):
        problems.append((f"{at}.style", "Value must be one of (1, 2).", "BASE_TYPE_CHOICES"))
    if not in_label or component.get("label") is not None:  # deprecated there, but still a 1-45 text
        problems += _text(f"{at}.label", component.get("label"), 1, 45)
    for key, low, high in (("min_length", 0, 4000), ("max_length", 1, 4000)):
        if component.get(key) is not None and not low <= component[key] <= high:
            problems.append((f"{at}.{key}", f"Must be between {low} and {high}.", "NUMBER_TYPE_MIN"))
    for key, high in (("value", 4000), ("placeholder", 100)):
        if component.get(key) is not None:
            problems += _text(f"{at}.{key}", component[key], 0, high)
    return problems


def _select_problems(at: str, component: dict) -> list[Problem]:
    options = component.get("options")
    if not isinstance(options, list) or not 1 <= len(options) <= 25:
        return [(f"{at}.options", "Must be between 1 and 25 in length.", _LEN)]
    problems: list[Problem] = []
    for j, option in enumerate(options):
        for key, low in (("label", 1), ("value", 1), ("description", 0)):
            if key != "description" or option.get(key) is not None:
                problems += _text(f"{at}.options.{j}.{key}", option.get(key), low, 100)
    if component.get("placeholder") is not None:
        problems += _text(f"{at}.placeholder", component["placeholder"], 0, 150)
    return problems + _count_problems(at, component, 25)


def _upload_problems(at: str, component: dict) -> list[Problem]:
    problems = _count_problems(at, component, 10)
    types = component.get("file_types")
    if types is not None:
        if not isinstance(types, list) or len(types) > 10:
            problems.append((f"{at}.file_types", "Must be 10 or fewer in length.", _LEN))
        else:
            for j, kind in enumerate(types):
                if not (kind in _FILE_GROUPS or (isinstance(kind, str) and kind.startswith(".") and len(kind) > 1)):
                    problems.append((f"{at}.file_types.{j}", "A file type is image, video, audio or .extension",
                                     "BASE_TYPE_INVALID"))
    return problems


def _count_problems(at: str, component: dict, most: int) -> list[Problem]:
    """min_values 0-`most` (at least 1 when required, the default), max_values 1-`most`, min <= max."""
    low, high = _counts(component)
    problems: list[Problem] = []
    if not 0 <= low <= most:
        problems.append((f"{at}.min_values", f"Must be between 0 and {most}.", "NUMBER_TYPE_MIN"))
    if not 1 <= high <= most:
        problems.append((f"{at}.max_values", f"Must be between 1 and {most}.", "NUMBER_TYPE_MAX"))
    if low > high:
        problems.append((f"{at}.min_values", "Must be at most max_values.", "NUMBER_TYPE_MAX"))
    if low == 0 and component.get("required", True):
        problems.append((f"{at}.min_values", "min_values must be at least 1 when the component is required",
                         "NUMBER_TYPE_MIN"))
    return problems


def _counts(component: dict) -> tuple[int, int]:
    """(min_values, max_values); each defaults to 1 when left out or null (discord.py sends nulls)."""
    low, high = component.get("min_values"), component.get("max_values")
    return 1 if low is None else low, 1 if high is None else high


def _text(at: str, value: Any, low: int, high: int) -> list[Problem]:
    if not isinstance(value, str) or not low <= len(value) <= high:
        return [(at, f"Must be between {low} and {high} in length.", _LEN)]
    return []


def walk(components: list[Any]) -> list[dict]:
    """Every component of a modal (or of a submission), outer before inner."""
    found: list[dict] = []
    for component in components:
        if not isinstance(component, dict):
            continue
        found.append(component)
        inner = component.get("component")
        found += walk(([inner] if isinstance(inner, dict) else []) + list(component.get("components") or []))
    return found


# ---------------------------------------------------------------------- filling one in


def with_ids(components: list[dict]) -> list[dict]:
    """A copy of the modal's components with Discord's ids: those sent are kept, the rest numbered in
    order, skipping numbers already taken (id 0 counts as none)."""
    filled = copy.deepcopy(components)
    taken = {c["id"] for c in walk(filled) if c.get("id")}
    next_id = 1
    for component in walk(filled):
        if not component.get("id"):
            while next_id in taken:
                next_id += 1
            component["id"] = next_id
            taken.add(next_id)
    return filled


def inputs(components: list[dict]) -> list[tuple[str | None, dict]]:
    """(the label a member sees, the input) for each input of a modal, in order."""
    found: list[tuple[str | None, dict]] = []
    for component in components:
        if component.get("type") == 18 and isinstance(component.get("component"), dict):
            found.append((component.get("label"), component["component"]))
        if component.get("type") == 1:
            found += [(inner.get("label"), inner) for inner in component.get("components") or []]
    return found


def prefilled(component: dict) -> Any:
    """What an input shows before the member touches it: its text, its default options, no files."""
    if component.get("type") == 4:
        return component.get("value") or ""
    if component.get("type") == 3:
        return [o["value"] for o in component.get("options") or [] if o.get("default")]
    return []


def answer(components: list[dict], chosen: dict[int, Any]) -> list[dict]:
    """The MODAL_SUBMIT `data.components` for a modal whose inputs (by id) hold `chosen` values: text for
    a text input, a list of option values for a select, a list of attachment ids for a file upload."""
    def one(component: dict) -> dict:
        kind, out = component["type"], {"type": component["type"], "id": component["id"]}
        if kind == 18:
            out["component"] = one(component["component"])
        elif kind == 1:
            out["components"] = [one(c) for c in component.get("components") or []]
        elif kind == 4:
            out.update(custom_id=component["custom_id"], value=chosen.get(component["id"], ""))
        elif kind in IN_LABEL:
            out.update(custom_id=component["custom_id"], values=list(chosen.get(component["id"], [])))
        return out

    return [one(c) for c in components]


def choice_problem(label: str, component: dict, value: Any) -> str | None:
    """Why Discord's client would not let a member submit `value` in this input (None: it would)."""
    kind, required = component.get("type"), component.get("required", True)
    if kind == 4:
        if not isinstance(value, str):
            return f"{label}: a text input takes text, not {value!r}"
        low, high = component.get("min_length") or 0, component.get("max_length") or 4000
        if value == "" and not required:
            return None
        if value == "" or not low <= len(value) <= high:
            return f"{label}: {len(value)} characters, the input takes {max(low, 1 if required else 0)}-{high}"
        return None
    count, (low, high) = len(value), _counts(component)
    if count == 0 and not required:
        return None
    if not low <= count <= high:
        return f"{label}: {count} chosen, the input takes {low}-{high}"
    if kind == 3:
        offered = {o["value"] for o in component.get("options") or []}
        unknown = [v for v in value if v not in offered]
        return f"{label}: {unknown} are not among the options {sorted(offered)}" if unknown else None
    return None


def file_type_problem(label: str, component: dict, filename: str) -> str | None:
    """Discord's client filters uploads by extension only (developers/reference.mdx, File Type Filtering)."""
    wanted = component.get("file_types")
    if not wanted:
        return None
    groups = {"image": {".png", ".gif", ".jpg", ".jpeg", ".jfif", ".webp", ".avif"},
              "video": {".mp4", ".mov", ".qt", ".webm"}, "audio": {".mp3", ".m4a", ".wav", ".ogg", ".opus", ".flac"}}
    allowed = set().union(*(groups.get(w, {w.lower()}) for w in wanted))
    extension = os.path.splitext(filename)[1].lower()
    return None if extension in allowed else f"{label}: {filename} is not among the file types {wanted}"
