"""The forms (modals) the buttons open. Each is the form only: its submission is answered by a `Form`
(bot/ui/items/base.py) from its row, so a form opened before a restart still works when submitted after
it. The inputs' custom_ids name them; the form's custom_id carries the row's id."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import discord

from bot.catalog import Model
from bot.core.i18n import Text, _
from bot.services.reproduce import settings_line

REASON_MAX = 300  # a moderator's reason (Reject, Deny) and a member's (Report)
Words = Callable[[Text | str], str]


class _Form(discord.ui.Modal):
    def __init__(self, title: str, custom_id: str, *inputs: discord.ui.TextInput[Any]) -> None:
        super().__init__(title=title, custom_id=custom_id, timeout=None)
        for text_input in inputs:
            self.add_item(text_input)
        # Finished at once, as the result view: discord.py keeps no copy in memory to answer it.
        self.stop()


def _reason(label: str, *, required: bool) -> discord.ui.TextInput[Any]:
    return discord.ui.TextInput(label=label, custom_id="reason", style=discord.TextStyle.paragraph, required=required,
                                max_length=REASON_MAX)


def edit_form(job_id: int, model: Model, options: dict[str, Any], shown: list[tuple[str, Any]],
              t: Words = str) -> discord.ui.Modal:
    """The Edit form, in the presser's language (`t`)."""
    prompt = model.param("prompt")
    inputs: list[discord.ui.TextInput[Any]] = [discord.ui.TextInput(
        label=t(_("Prompt")), custom_id="prompt", style=discord.TextStyle.paragraph, default=options["prompt"],
        max_length=int(prompt.max) if prompt and prompt.max else None)]
    if model.param("negative_prompt"):
        inputs.append(discord.ui.TextInput(label=t(_("Negative prompt")), custom_id="negative_prompt",
                                           style=discord.TextStyle.paragraph, required=False,
                                           default=options.get("negative_prompt") or ""))
    if model.param("seed"):
        seed = options.get("seed")
        inputs.append(discord.ui.TextInput(label=t(_("Seed (empty = random)")), custom_id="seed", required=False,
                                           default="" if seed is None else str(seed)))
    inputs.append(discord.ui.TextInput(label=t(_("Other settings")), custom_id="other", required=False,
                                       default=settings_line(model, shown)))
    return _Form(t(_("Edit and run again")), f"result:edit-modal:{job_id}", *inputs)


def report_form(job_id: int, t: Words = str) -> discord.ui.Modal:
    return _Form(t(_("Report this image")), f"result:report-modal:{job_id}",
                 _reason(t(_("What is wrong with it? (optional)")), required=False))


def reject_form(review_id: int, t: Words = str) -> discord.ui.Modal:
    return _Form(t(_("Reject this image")), f"review:reject-modal:{review_id}",
                 _reason(t(_("Reason (shown to the member)")), required=False))


def deny_form(appeal_id: int, t: Words = str) -> discord.ui.Modal:
    return _Form(t(_("Deny this appeal")), f"appeal:deny-form:{appeal_id}",
                 _reason(t(_("Reason (sent to the member)")), required=True))
