"""The audit log's wording and /config audit's `since`, Discord-free: a row of `admin_actions` as a few
short lines (the audit channel's embeds and /config audit both show these), and what a generation records.

Every value a member or admin typed is quoted in a code span; mentions are markup only (the senders
never ping).
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from typing import Any

from bot.core.errors import InvalidInput
from bot.core.i18n import Text, _
from bot.core.text import code_span, credits
from bot.domain import PERSONAL
from bot.domain.audit import AuditAction, AuditEntry, family
from bot.domain.records import AuditRow, JobRecord, prompt_of
from bot.storage.roles import Audit

log = logging.getLogger(__name__)

PROMPT_SHOWN = 200  # of a generation's prompt, in the audit channel and the database row
VALUE_SHOWN = 120
SINCE_HELP = _("`since` must be a time like `2h`, `3d`, `45m`, `1w` or a date like `2026-11-30` (UTC).")
# Each action's heading in the audit channel and /config audit.
TITLES = {
    AuditAction.GENERATION: _("Image generated"), AuditAction.APPEAL: _("Appeal sent to moderators"),
    AuditAction.ALLOW: _("Appeal allowed once"), AuditAction.DENY: _("Appeal denied"),
    AuditAction.DELETE: _("Result deleted by a moderator"), AuditAction.APPROVE: _("Result approved"),
    AuditAction.REJECT: _("Result rejected"), AuditAction.REPORT: _("Result reported"),
    AuditAction.KEEP: _("Reported result kept"), AuditAction.REMOVE: _("Reported result removed"),
    AuditAction.HELD: _("Image held by the image check"),
    AuditAction.CONFIG: _("Configuration changed"), AuditAction.ALLOWANCE: _("Allowance changed"),
    AuditAction.GRANT: _("Credits granted"), AuditAction.RESET: _("Usage reset"),
    AuditAction.BUDGET: _("Server budget changed"), AuditAction.VIEW: _("Usage looked at"),
}
_AGO = re.compile(r"^(\d{1,6})\s*([mhdw])$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_UNIT = {"m": 60, "h": 3600, "d": 86_400, "w": 7 * 86_400}


def parse_since(text: str, now: float) -> float:
    """The moment `since` names: so long ago (`2h`), or a UTC day's start (`2026-11-30`)."""
    given = text.strip().lower()
    ago = _AGO.match(given)
    if ago:
        return now - int(ago[1]) * _UNIT[ago[2]]
    if _DATE.match(given):
        try:
            return datetime.strptime(given, "%Y-%m-%d").replace(tzinfo=UTC).timestamp()
        except ValueError:
            pass  # 2026-02-31: shaped like a date, not one
    raise InvalidInput(SINCE_HELP, detail=f"since {text[:40]!r} is not a time")


def message_link(guild_id: int, channel_id: int, message_id: int) -> str:
    return f"https://discord.com/channels/{guild_id}/{channel_id}/{message_id}"


def generation_detail(job: JobRecord, prompt: str, channel_id: int | None, message_id: int | None) -> dict[str, Any]:
    """What the audit row of a delivered image keeps: who (the row's actor), where, model, prompt, cost, link."""
    detail: dict[str, Any] = {"job": job["id"], "model": job["model"], "cost": job["cost"],
                              "prompt": prompt[:PROMPT_SHOWN], "channel_id": channel_id or job.get("channel_id")}
    if channel_id is not None and message_id is not None:
        detail["link"] = message_link(job["guild_id"], channel_id, message_id)
    return detail


def generation_entry(job: JobRecord, posted: tuple[int, int] | None) -> AuditEntry | None:
    """The audit row of a delivered image, recorded in the same transaction as its success (the settle),
    with where the result was posted (None: held for review). None when personal credits paid: no
    server's audit log is about it."""
    if job["guild_id"] == PERSONAL:
        return None
    channel_id, message_id = posted if posted is not None else (None, None)
    detail = generation_detail(job, prompt_of(job), channel_id, message_id)
    return AuditEntry(job["user_id"], AuditAction.GENERATION.value, None, detail)


def title(row: AuditRow) -> Text | str:
    known = family(row["action"])
    return TITLES[known] if known is not None else row["action"]


def lines(row: AuditRow) -> list[Text | str]:
    """The row in a few short lines: who, whom, and the detail that matters for its action."""
    detail = _detail(row)
    actor = f"<@{row['actor_id']}>"
    who = _("by {actor}", actor=actor)
    if row["target_id"] is not None and row["target_id"] != row["actor_id"] and family(row["action"]) not in (
            AuditAction.CONFIG,):
        who = _("by {actor} · member {member}", actor=actor, member=f"<@{row['target_id']}>")
    out: list[Text | str] = [who]
    kind = family(row["action"])
    if kind is AuditAction.GENERATION:
        where = _(" in {channel}", channel=f"<#{detail['channel_id']}>") if detail.get("channel_id") else ""
        link = _(" · [result]({link})", link=detail["link"]) if detail.get("link") else ""
        out.append(_("/{command} · {cost}{where}{link}", command=detail.get("model"),
                     cost=credits(int(detail.get("cost") or 0)), where=where, link=link))
        if detail.get("prompt"):
            out.append(code_span(detail["prompt"], PROMPT_SHOWN))
        return out
    if kind is AuditAction.CONFIG:
        out.append(code_span(row["action"].removeprefix("config."), 60) + (
            f" {code_span(detail['value'], VALUE_SHOWN)}" if detail.get("value") is not None else ""))
        return out
    if kind is AuditAction.APPEAL and isinstance(detail.get("rule"), dict):
        rule = detail["rule"]
        where = _(" in {channel}", channel=f"<#{detail['channel_id']}>") if detail.get("channel_id") else ""
        out.append(_("appeal #{appeal} · /{command}{where} · refused by {rule} {term}", appeal=detail.get("appeal"),
                     command=detail.get("model"), where=where, rule=str(rule.get("rule", "")).replace("server_", ""),
                     term=code_span(rule.get("term", ""), VALUE_SHOWN)))
        return out
    shown = [f"{key.replace('_', ' ')}: {code_span(value, VALUE_SHOWN)}" for key, value in detail.items()
             if value is not None and not isinstance(value, (dict, list))]
    if shown:
        out.append(" · ".join(shown))
    return out


def _detail(row: AuditRow) -> dict[str, Any]:
    return row["detail"] or {}


AUDIT_PAGE = 10


class AuditLog:
    """/config audit: one page of the server's record, newest first."""

    def __init__(self, store: Audit) -> None:
        self._store = store

    async def page(self, guild_id: int, *, member: int | None, action: str | None, since: str | None,
                   page: int) -> tuple[list[AuditRow], int]:
        start = None if since is None else parse_since(since, self._store.now())
        return await self._store.audit_log(guild_id, member=member, action=action, since=start,
                                           offset=(page - 1) * AUDIT_PAGE, limit=AUDIT_PAGE)
