"""What /config shows: a server's configuration in a few lines each (mentions render as names; the
messages never ping), and the checks of what an admin typed."""

from __future__ import annotations

from typing import Any

import discord

from bot.catalog import MODELS
from bot.core.errors import InvalidInput
from bot.core.text import code_block, code_span, credits, plain
from bot.domain import QuotaSnapshot
from bot.moderation.config import (
    AUDIT_CHANNEL,
    IMAGE_CHECK,
    IMAGE_THRESHOLD,
    IMAGINE_MODEL,
    NEGATIVE_PROMPT,
    NSFW_FILTER,
    PRIVATE_RESULTS,
    REPORTS_HIDE_AFTER,
    REVIEW_CHANNEL,
    SPOILER,
    WORDS_STRICT,
    GuildConfig,
)
from bot.moderation.image_check import ImageCheck
from bot.moderation.words import check_word
from bot.services.audit import AUDIT_PAGE
from bot.services.audit import lines as audit_lines
from bot.services.audit import title as audit_title
from bot.ui.embeds import COLOUR
from bot.ui.i18n import words

FIELD_MAX = 1024


def everywhere(config: GuildConfig) -> str:
    if not config.channels:
        return "every channel"
    return ", ".join(f"<#{c}>" for c in sorted(config.channels))


def everyone(config: GuildConfig) -> str:
    if not config.roles:
        return "everyone"
    return "members with " + ", ".join(f"<@&{r}>" for r in sorted(config.roles))


def blocked(config: GuildConfig) -> str:
    if not config.blocked:
        return "nobody"
    return "\n".join(f"<@{user}>: {plain(reason, 200) or '(no reason)'}" for user, reason in sorted(config.blocked.items()))


def models(config: GuildConfig) -> str:
    on = [f"/{key}" for key in MODELS if key not in config.models_off]
    off = [f"/{key}" for key in MODELS if key in config.models_off]
    return f"On: {', '.join(on) or 'none'}" + (f"\nOff: {', '.join(off)}" if off else "")


def terms(items: tuple[str, ...]) -> str:
    return ", ".join(code_span(t, 120) for t in items) if items else "none"


def onoff(value: object) -> str:
    return "on" if value else "off"


def strictness(config: GuildConfig) -> str:
    if config.get(WORDS_STRICT):
        return ("Strict: blocked words and patterns also match leetspeak and letters spelled apart (`c4stl3`, "
                "`c a s t l e`), as well as look-alike letters and accents.")
    return ("Look-alike letters and accents are undone (`cаstle`, `cástle`); leetspeak and letters spelled apart "
            "are matched only in strict mode (`/config words strict`).")


def fit(text: str, limit: int = FIELD_MAX) -> str:
    return text if len(text) <= limit else text[:limit - 14].rsplit("\n", 1)[0].rsplit(",", 1)[0] + " … (more)"


def image_check_text(config: GuildConfig, check: ImageCheck, default_threshold: float) -> str:
    if not check.available:
        return f"Unavailable: the image check is {check.problem}. Results are posted without it."
    if not config.get(IMAGE_CHECK):
        return "Off: results are posted without looking at them (`/config nsfw image-check:on`)."
    own = config.get(IMAGE_THRESHOLD)
    threshold = own if own is not None else default_threshold
    where = "to the review channel" if config.get(REVIEW_CHANNEL) is not None else "nowhere (no review channel)"
    return (f"On: outside age-restricted channels, a result the detector scores at {threshold:.0%} or more for "
            f"{', '.join(c.lower().replace('_', ' ') for c in sorted(check.classes))} is not posted; the member "
            f"is told privately and it goes {where}. Threshold {threshold:.2f}"
            f"{'' if own is not None else ' (the bot default)'}.")


def review(config: GuildConfig) -> str:
    channel = config.get(REVIEW_CHANNEL)
    where = f"<#{channel}>" if channel is not None else "none set"
    approval = ", ".join(f"<#{c}>" for c in sorted(config.approval)) or "no channel"
    hide = int(config.get(REPORTS_HIDE_AFTER))
    reports = "off" if hide <= 0 else f"on, a result is hidden after {hide} report(s)"
    lines = [f"Review channel: {where}", f"Approval: {approval}", f"Reports: {reports}"]
    if channel is None and config.approval:
        lines.append("Generating in the approval channels is refused until a review channel is set.")
    if channel is None and hide > 0:
        lines.append("Members cannot report results until a review channel is set.")
    return "\n".join(lines)


def model(given: str) -> str:
    if given not in MODELS:  # a raw client is not held to the choices
        raise InvalidInput(f"`model` must be one of {', '.join(MODELS)}.")
    return given


def on(option: str, given: str) -> bool:
    if given not in ("on", "off"):
        raise InvalidInput(f"`{option}` must be on or off.")
    return given == "on"


def word(term: str) -> str:
    try:
        return check_word(term)
    except ValueError as exc:
        raise InvalidInput(f"That cannot be blocked: {exc}.", detail=f"word {term!r}: {exc}") from None


def config_embed(config: GuildConfig, snap: QuotaSnapshot, detector: ImageCheck, default_threshold: float
                 ) -> discord.Embed:
    """/config show: the server's whole configuration."""
    embed = discord.Embed(title="Bot configuration for this server", colour=COLOUR)
    embed.add_field(name="Channels", value=fit(everywhere(config)), inline=False)
    embed.add_field(name="Who may generate", value=fit(everyone(config)), inline=False)
    embed.add_field(name="Blocked members", value=fit(blocked(config)), inline=False)
    embed.add_field(name="Models", value=fit(models(config)), inline=False)
    embed.add_field(name=f"Blocked words ({len(config.words)})", value=fit(terms(config.words)), inline=False)
    embed.add_field(name=f"Blocked patterns ({len(config.patterns)})", value=fit(terms(config.patterns)),
                    inline=False)
    embed.add_field(name="Matching", value=strictness(config), inline=False)
    embed.add_field(name="Explicit terms", value=(
        f"filter {onoff(config.get(NSFW_FILTER))} outside age-restricted channels; results in age-restricted "
        f"channels as spoilers: {onoff(config.get(SPOILER))}. Sexual content involving minors is always refused."),
        inline=False)
    embed.add_field(name="Image check", value=image_check_text(config, detector, default_threshold), inline=False)
    negative = config.get(NEGATIVE_PROMPT)
    embed.add_field(name="Added negative prompt", value=code_block(negative, FIELD_MAX) if negative else "none",
                    inline=False)
    embed.add_field(name="Review", value=fit(review(config)), inline=False)  # part 8
    embed.add_field(name=f"/imagine and styles ({len(config.styles)})", value=fit(
        f"model /{config.get(IMAGINE_MODEL)}; results only to a member who asks: "
        f"{'allowed' if config.get(PRIVATE_RESULTS) else 'not offered'}. Styles: "
        + (", ".join(sorted(config.styles)) or "none")), inline=False)
    budget = snap.guild_budget
    embed.add_field(name="Server budget", value="none" if budget is None else
                    f"{credits(budget)} a day, {credits(snap.guild_used)} used today", inline=False)
    audit_to = config.get(AUDIT_CHANNEL)
    embed.add_field(name="Audit log", value=f"posted in <#{audit_to}>" if audit_to else "kept, not posted "
                    "(`/config audit-channel`)", inline=False)
    return embed


def audit_page(rows: list[Any], total: int, page: int, locale: str = "en-US") -> tuple[discord.Embed | None, str]:
    """One page of /config audit as an embed, or (None, why there is nothing to show); its rows in the
    admin's language."""
    t = words(locale)
    pages = max(1, -(-total // AUDIT_PAGE))
    if not rows:
        return None, "No audit log rows match." if total == 0 else f"There are only {pages} page(s)."
    text = "\n".join(f"<t:{int(r['at'])}:f> **{t(audit_title(r))}** " + " · ".join(t(x) for x in audit_lines(r))
                     for r in rows)
    embed = discord.Embed(title="Audit log", description=fit(text, 4000), colour=COLOUR)
    embed.set_footer(text=f"Page {page} of {pages} · {total} row(s)")
    return embed, ""
