"""The forms of Zoom Out, Pan and Vary Region, and of the message menus "Inpaint this…" and "Zoom out this":
the prompt (prefilled where the bot knows it), a choice (how far, which region) and, for a region, an
uploaded mask, each in a Label as Discord's forms want them. Only the form: its submission is answered by
a `Form` (bot/ui/items/edits.py) from its custom_id, so a form opened before a restart still works."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import discord

from bot.catalog import PROMPT_MAX_LENGTH
from bot.core.i18n import Text, _
from bot.services.edits import REGION_CHOICES, UPLOADED, ZOOMS
from bot.services.inpaint import Upload

REGION_DEFAULT = "centre"
ZOOM_DEFAULT = "2"
TITLE_MAX = 45
Words = Callable[[Text | str], str]


def _modal(title: str, custom_id: str, *items: discord.ui.Item[Any]) -> discord.ui.Modal:
    modal = discord.ui.Modal(title=title[:TITLE_MAX], custom_id=custom_id, timeout=None)
    for item in items:
        modal.add_item(item)
    modal.stop()  # finished at once: discord.py keeps no copy in memory to answer it
    return modal


def _prompt(default: str, t: Words) -> discord.ui.Label[Any]:
    return discord.ui.Label(text=t(_("Prompt")), description=t(_("What to paint in the new or chosen part")),
                            component=discord.ui.TextInput(custom_id="prompt", style=discord.TextStyle.paragraph,
                                                           default=default[:PROMPT_MAX_LENGTH] or None,
                                                           max_length=PROMPT_MAX_LENGTH))


def outpaint_form(title: Text, custom_id: str, prompt: str, t: Words = str) -> discord.ui.Modal:
    """Zoom Out and Pan from a result's button: the prompt, editable. `t` words it in the member's language."""
    return _modal(t(title), custom_id, _prompt(prompt, t))


def zoom_form(custom_id: str, prompt: str = "", t: Words = str) -> discord.ui.Modal:
    """"Zoom out this": the prompt and how far."""
    options = [discord.SelectOption(label=t(_("Zoom out {factor}×", factor=value)), value=value,
                                    default=value == ZOOM_DEFAULT) for value in ZOOMS]
    how_far: discord.ui.Label[Any] = discord.ui.Label(
        text=t(_("How far")), component=discord.ui.Select(custom_id="factor", options=options))
    return _modal(t(_("Zoom out this picture")), custom_id, _prompt(prompt, t), how_far)


def region_form(custom_id: str, prompt: str = "", t: Words = str) -> discord.ui.Modal:
    """Vary Region and "Inpaint this…": the prompt, the region, or the member's own mask."""
    options = [discord.SelectOption(label=t(name), value=value, default=value == REGION_DEFAULT)
               for value, name in REGION_CHOICES.items()]
    options.append(discord.SelectOption(label=t(_("My own mask (upload it below)")), value=UPLOADED))
    region: discord.ui.Label[Any] = discord.ui.Label(
        text=t(_("Region to repaint")), component=discord.ui.Select(custom_id="region", options=options))
    mask: discord.ui.Label[Any] = discord.ui.Label(
        text=t(_("Your mask (optional)")), description=t(_("White is repainted, black is kept; any size")),
        component=discord.ui.FileUpload(custom_id="mask", required=False, max_values=1))
    return _modal(t(_("Repaint a region")), custom_id, _prompt(prompt, t), region, mask)


def chosen(data: Any) -> dict[str, list[str]]:
    """custom_id -> the chosen values of each select and file upload of a submitted form (uploads: ids)."""
    found: dict[str, list[str]] = {}
    for row in (data or {}).get("components") or []:
        inner = [row["component"]] if row.get("component") else row.get("components") or []
        for item in inner:
            if isinstance(item.get("values"), list):
                found[str(item.get("custom_id", ""))] = [str(v) for v in item["values"]]
    return found


def uploaded(data: Any, custom_id: str, role: str) -> Upload | None:
    """The file uploaded in the form's `custom_id` input, as Discord describes it (None: none)."""
    ids = chosen(data).get(custom_id) or []
    attachments = ((data or {}).get("resolved") or {}).get("attachments") or {}
    found = attachments.get(ids[0]) if ids else None
    if not isinstance(found, dict):
        return None
    return Upload(role, str(found.get("filename") or role), str(found.get("url") or ""), int(found.get("size") or 0),
                  found.get("content_type"), found.get("width"), found.get("height"))
