"""The persistent buttons and forms: every one built on bot/ui/items/base.py, registered by the bot at
start (`ITEMS` as discord.py dynamic items, `FORMS` answered from its interaction listener)."""

from __future__ import annotations

from bot.ui.items.appeals import AllowButton, AskButton, DenyButton, DenyForm
from bot.ui.items.approval import ApproveButton, RejectButton, RejectForm
from bot.ui.items.base import Form, Press
from bot.ui.items.batch import RerollAllButton, UseButton
from bot.ui.items.edits import MenuForm, OutpaintButton, OutpaintForm, VaryButton, VaryForm
from bot.ui.items.history import ForgetButton, PageButton
from bot.ui.items.queue import CancelButton
from bot.ui.items.reports import KeepButton, RemoveButton
from bot.ui.items.results import (
                                  DeleteButton,
                                  DetailsButton,
                                  EditButton,
                                  EditForm,
                                  ReportButton,
                                  ReportForm,
                                  RerollButton,
)

ITEMS: tuple[type[Press], ...] = (CancelButton, RerollButton, EditButton, DetailsButton, DeleteButton, ReportButton,
                                  ApproveButton, RejectButton, KeepButton, RemoveButton, AskButton, AllowButton,
                                  DenyButton, PageButton, ForgetButton, UseButton, RerollAllButton, OutpaintButton,
                                  VaryButton)
FORMS: tuple[type[Form], ...] = (EditForm, ReportForm, RejectForm, DenyForm, OutpaintForm, VaryForm, MenuForm)
