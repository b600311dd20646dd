"""A result's buttons are sent from components made once per language: they must be exactly what the items
themselves make for that job, in every language and for every kind of payer."""

import discord
import pytest

from bot.core.i18n import CATALOGS
from bot.domain.delivery import Delivery
from bot.ui.i18n import words
from bot.ui.items.base import finished_view
from bot.ui.items.edits import edit_buttons
from bot.ui.items.results import (
    RESULT_BUTTONS,
    DeleteButton,
    DetailsButton,
    EditButton,
    RerollButton,
    result_view,
)

PAYERS = {
    "server": (None, RESULT_BUTTONS, True),
    "personal, in a channel": (Delivery(personal=True), (RerollButton, EditButton, DetailsButton, DeleteButton), False),
    "personal, private": (Delivery(personal=True, private=True), (RerollButton, EditButton, DetailsButton), False),
}


@pytest.mark.parametrize("locale", sorted(CATALOGS))
@pytest.mark.parametrize("payer", PAYERS)
@pytest.mark.parametrize("job_id", [1, 90, 2**53 - 1])
async def test_a_results_components_are_the_items_own_for_its_job(locale, payer, job_id):
    delivery, buttons, edits = PAYERS[payer]
    t = words(locale)
    items = [*(button(job_id, t) for button in buttons), *(edit_buttons(job_id, t) if edits else ())]
    expected = finished_view(*items).to_components()
    sent = result_view(job_id, delivery, locale)
    assert sent.to_components() == expected
    assert sent.is_finished() and not sent.is_dispatchable()  # discord.py keeps no copy of it
    ids = [face["custom_id"] for row in expected for face in row["components"]]
    assert all(custom_id.endswith(f":{job_id}") for custom_id in ids) and len(ids) == len(set(ids))
    assert len(ids) == (12 if edits else len(buttons))
    assert isinstance(sent, discord.ui.View)
