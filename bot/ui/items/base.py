"""The one base of every persistent button (`Press`) and every form (`Form`).

Each reads its row's id from the custom_id (any run of digits: an id out of range is answered as
unknown, never ignored), loads the row through `pressed` (bot/ui/presses.py: it must exist, belong to
the server and channel pressed in, and the presser must be who the item allows, judged by the press's
own permissions there), then acts; every error on the way goes through the one funnel
(`answer_error`), so no item has a try/except of its own.

Why the callback wraps, not `interaction_check` or `View.on_error`: discord.py builds a dynamic item's
View from the message (`View.from_message`), so a View's `on_error` never sees its errors; an error
raised in `interaction_check` is swallowed as "not allowed" with no answer at all, and one raised in
the callback is only logged (discord/ui/view.py, `schedule_dynamic_item_call`). Forms are answered
from a listener (`answer_forms`), not a live View, so a form opened before a restart still works.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar, Self

import discord

from bot.core.i18n import Text
from bot.ui.app import PixazoBot
from bot.ui.funnel import answer_error, bind_logs
from bot.ui.presses import Subject, Who, pressed

Interaction = discord.Interaction[PixazoBot]


class Press(discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"(?!)"):
    subject: ClassVar[Subject]
    what: ClassVar[str]  # the press in the operator's log line of a refusal ("cancel", "report")
    where: str  # the item in the funnel's log line ("Cancel button")
    who: ClassVar[Who] = Who.ANYONE
    refusal: ClassVar[Text | str] = ""  # the sentence for a member `who` does not allow
    id_group: ClassVar[str] = "job"  # the template's group holding the row's id

    def __init__(self, row_id: int, button: discord.ui.Button[Any]) -> None:
        super().__init__(button)
        self.row_id = row_id

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any],
                             match: re.Match[str], /) -> Self:
        return cls.from_match(match)

    @classmethod
    def from_match(cls, match: re.Match[str]) -> Self:
        """The item again from its custom_id; items with more than the id in it override this."""
        return cls(int(match[cls.id_group]))  # type: ignore[call-arg]  # each item's own constructor takes the id

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        bind_logs(interaction)
        try:
            row = await pressed(interaction, self.subject, self.row_id, what=self.what, who=self.who,
                                refusal=self.refusal)
            await self.act(interaction, row)
        except Exception as exc:  # the one funnel: every error gets an answer
            await answer_error(interaction, exc, self.where)

    async def act(self, interaction: Interaction, row: Any) -> None:
        raise NotImplementedError


# The base answers no custom_id of its own: only its subclasses are registered (bot/ui/items/__init__.py).
del Press.__discord_ui_compiled_template__


class Form:
    """A submitted form (modal) whose custom_id matches `pattern`: the row loaded and checked as a press's
    is, then `act` with the form's values (custom_id -> text)."""

    pattern: ClassVar[re.Pattern[str]]
    subject: ClassVar[Subject]
    what: ClassVar[str]
    where: ClassVar[str]
    who: ClassVar[Who] = Who.ANYONE
    refusal: ClassVar[Text | str] = ""
    id_group: ClassVar[str] = "job"

    @classmethod
    async def answer(cls, interaction: Interaction, match: re.Match[str]) -> None:
        bind_logs(interaction)
        try:
            row = await pressed(interaction, cls.subject, int(match[cls.id_group]), what=cls.what, who=cls.who,
                                refusal=cls.refusal)
            await cls.act(interaction, row, submitted_values(interaction.data))
        except Exception as exc:  # the one funnel: every error gets an answer
            await answer_error(interaction, exc, cls.where)

    @classmethod
    async def act(cls, interaction: Interaction, row: Any, values: dict[str, str]) -> None:
        raise NotImplementedError


def submitted_values(data: Any) -> dict[str, str]:
    """custom_id -> text of a modal submission (rows of text inputs, or labels around them)."""
    values: dict[str, str] = {}
    for row in (data or {}).get("components") or []:
        inner = [row["component"]] if row.get("component") else row.get("components") or []
        for item in inner:
            values[item.get("custom_id", "")] = item.get("value") or ""
    return values


async def answer_forms(interaction: Interaction, forms: tuple[type[Form], ...]) -> None:
    """The bot's listener for form submissions: the first form whose pattern matches answers it."""
    if interaction.type is not discord.InteractionType.modal_submit:
        return
    data: Any = interaction.data or {}
    custom_id = str(data.get("custom_id", ""))
    for form in forms:
        match = form.pattern.match(custom_id)
        if match is not None:
            await form.answer(interaction, match)
            return


def finished_view(*items: discord.ui.Item[Any], disabled: bool = False) -> discord.ui.View:
    """A view of persistent items, finished at once: discord.py keeps no copy of it to answer presses;
    the registered dynamic items answer them, now and after a restart. `disabled`: shown greyed out."""
    view = discord.ui.View(timeout=None)
    for item in items:
        if disabled and isinstance(item, Press):
            item.item.disabled = True
        view.add_item(item)
    view.stop()
    return view


class ReadyView(discord.ui.View):
    """A finished view given as the components Discord takes (what discord.py sends is what to_components
    returns): for a message posted many times with the same buttons, made once, only the ids changing."""

    def __init__(self, components: list[dict[str, Any]]) -> None:
        super().__init__(timeout=None)
        self._ready = components
        self.stop()

    def to_components(self) -> list[dict[str, Any]]:
        return self._ready
