"""Whether the task answering a member has written to the ledger yet: what a failed command or button
may say about credits and changes depends on it (the funnel asks; bot/storage/outage.py keeps it)."""

from __future__ import annotations

from bot.storage.outage import ledger_written


def wrote_to_ledger() -> bool:
    """Nothing written: "nothing was spent" is true. Something (a job queued with its credits held, a
    setting changed): the answer says nothing of it."""
    return ledger_written()
