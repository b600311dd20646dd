"""/quotas values from a client that ignores the synced ranges: each is checked by the bot itself."""

from __future__ import annotations

import math
import sqlite3

import pytest

from bot.domain import Member
from tests.conftest import GUILD_ID, embed_fields, is_ephemeral
from tests.fakes.discord import DEFAULT_MEMBER_PERMISSIONS
from tests.fakes.pixazo import Behaviour
from tests.ledger import open_view

ADMIN = DEFAULT_MEMBER_PERMISSIONS | (1 << 5)  # Manage Server
BOB = 4001


async def stored(harness) -> dict:
    """What the ledger holds for this server, read through the store: every allowance or grant
    write records an admin action in the same transaction, and the snapshots show their effect."""
    async with open_view(harness.settings) as store:
        def quota(user: int, roles: tuple[int, ...] = ()):
            return store.snapshot(Member(GUILD_ID, user, roles), default_allowance=-1)

        bob, role = await quota(BOB), await quota(4000, (777,))
        return {"actions": [a["action"] for a in reversed(await store.admin_actions(GUILD_ID))],
                "bob": (bob.source, bob.allowance, bob.granted), "role 777": role.source}


async def admin(harness, sub: str, options: dict, **kwargs) -> dict:
    # Refused before the command runs: an immediate answer; otherwise the cog defers first.
    _, message = await harness.answer("quotas", options, subcommand=sub, permissions=ADMIN, user_id=9000,
                                      username="mod", **kwargs)
    sent = message.get("_payload", message)  # a followup keeps what the bot sent; a callback is what it sent
    assert is_ephemeral(message) and sent["allowed_mentions"] == {"parse": []}
    return message


async def refused(harness, sub: str, options: dict, **kwargs) -> str:
    message = await admin(harness, sub, options, validate=False, **kwargs)
    nothing = {"actions": [], "bob": ("bot default", -1, 0), "role 777": "bot default"}
    assert await stored(harness) == nothing, f"a refused /quotas {sub} wrote to the ledger"
    assert "unexpected" not in message["content"].lower()
    return message["content"]


@pytest.mark.parametrize(("sub", "options", "expected"), [
    ("default", {"credits_per_day": 10**9},
     "`credits_per_day` must be between 0 and 100000 (you gave 1000000000)."),
    ("default", {"credits_per_day": 10**400},
     "`credits_per_day` must be between 0 and 100000 (you gave 100000000000…)."),
    ("default", {"credits_per_day": -5}, "`credits_per_day` must be between 0 and 100000 (you gave -5)."),
    ("role", {"role": 777, "credits_per_day": -1},
     "`credits_per_day` must be between 0 and 100000 (you gave -1)."),
    ("member", {"member": BOB, "credits_per_day": 100_001},
     "`credits_per_day` must be between 0 and 100000 (you gave 100001)."),
    ("grant", {"member": BOB, "extra_credits": 5_000_000},
     "`extra_credits` must be between 1 and 100000 (you gave 5000000)."),
    ("grant", {"member": BOB, "extra_credits": 0}, "`extra_credits` must be between 1 and 100000 (you gave 0)."),
    ("grant", {"member": BOB, "extra_credits": -3}, "`extra_credits` must be between 1 and 100000 (you gave -3)."),
    ("grant", {"member": BOB, "extra_credits": 2.5}, "`extra_credits` must be a whole number (you gave 2.5)."),
    ("grant", {"member": BOB, "extra_credits": math.nan}, "`extra_credits` must be a finite number (you gave nan)."),
    ("default", {"credits_per_day": math.inf}, "`credits_per_day` must be a finite number (you gave inf)."),
    ("grant", {"member": BOB, "extra_credits": "lots"}, "`extra_credits` must be a whole number."),
    ("grant", {"member": BOB, "extra_credits": True}, "`extra_credits` must be a whole number."),
    ("grant", {"member": BOB}, "`extra_credits` is required."),
    ("grant", {"extra_credits": 5}, "`member` is required."),
    ("role", {"role": GUILD_ID, "credits_per_day": 5}, "@everyone is the whole server: use `/quotas default` for that."),
])
async def test_out_of_range_and_malformed_admin_values_are_refused_and_nothing_is_stored(harness, sub, options,
                                                                                         expected):
    assert await refused(harness, sub, options) == expected


async def test_the_bounds_themselves_are_accepted(harness):
    await admin(harness, "default", {"credits_per_day": 0})
    await admin(harness, "member", {"member": BOB, "credits_per_day": 100_000})
    done = await admin(harness, "grant", {"member": BOB, "extra_credits": 100_000})
    assert "100000 credits extra" in done["content"]
    assert await stored(harness) == {"actions": ["allowance.default", "allowance.member", "grant"],
                                     "bob": ("member", 100_000, 100_000), "role 777": "server default"}


@pytest.mark.parametrize("value", [str(BOB), "somebody"])
async def test_a_member_option_naming_no_one_resolved_is_refused(harness, value):
    # discord.py would int("somebody") outside any handler, or pass the command a bare Object.
    text = await refused(harness, "grant", {"extra_credits": 5},
                         raw_options=[{"name": "member", "type": 6, "value": value}])
    assert text == "`member` must be a member."


async def test_usage_quotes_stored_errors_and_names_without_rendering_them(harness):
    harness.pixazo.default = Behaviour.UNAUTHORIZED
    await harness.answer("sdxl", {"prompt": "a fox"}, username="**boss** [x](https://e.example)")
    # Arranging, not reading: no store call writes an arbitrary error onto a failed job.
    with sqlite3.connect(harness.settings.database_path) as db:
        # Stored errors can hold outside text: a provider's reason, a file name.
        db.execute("UPDATE jobs SET error = ?", ("[Claim Nitro](https://e.example) `x` # HEADING",))
    usage = await admin(harness, "usage", {"member": 4000})
    (embed,) = usage["embeds"]
    assert embed["title"] == r"Usage of \*\*boss\*\* \[x\]\(https\:\/\/e\.example\)"
    assert "failed (`[Claim Nitro](https://e.example) ˋxˋ # HEADING`)" in embed_fields(usage)["Recent jobs"]


async def test_a_user_who_is_not_a_member_is_refused_by_name(harness):
    # A user resolved without member data (they left the server): discord.py's Member transformer refuses it.
    user = {"id": str(BOB), "username": "gone", "discriminator": "0", "global_name": None, "avatar": None}
    text = await refused(harness, "grant", {"extra_credits": 5},
                         raw_options=[{"name": "member", "type": 6, "value": str(BOB)}],
                         raw_resolved={"users": {str(BOB): user}})
    assert text == "`member` must be a member of this server."
