"""What /config shows: a server's configuration in a few lines each (mentions render as names; the
messages never ping), and the checks of what an admin typed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import discord

from bot.catalog import MODELS
from bot.core.errors import InvalidInput
from bot.core.i18n import Text, _, _n, option_name
from bot.core.text import code_block, code_span, credits, end_sentence, plain
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
from bot.moderation.limits import MAX_PATTERNS
from bot.moderation.words import BadWord, check_word
from bot.services.audit import AUDIT_PAGE
from bot.services.audit import lines as audit_lines
from bot.services.audit import title as audit_title
from bot.ui.embeds import COLOUR
from bot.ui.i18n import words

FIELD_MAX = 1024


def everywhere(config: GuildConfig) -> Text | str:
    if not config.channels:
        return _("every channel")
    return ", ".join(f"<#{c}>" for c in sorted(config.channels))


def everyone(config: GuildConfig) -> Text:
    if not config.roles:
        return _("everyone")
    return _("members with {roles}", roles=", ".join(f"<@&{r}>" for r in sorted(config.roles)))


def blocked(config: GuildConfig, t: Callable[[Text | str], str]) -> str:
    if not config.blocked:
        return t(_("nobody"))
    return "\n".join(f"<@{user}>: {plain(reason, 200) or t(_('(no reason)'))}"
                     for user, reason in sorted(config.blocked.items()))


def models(config: GuildConfig) -> Text:
    on = [f"/{key}" for key in MODELS if key not in config.models_off]
    off = [f"/{key}" for key in MODELS if key in config.models_off]
    if off:
        return _("On: {on}\nOff: {off}", on=", ".join(on) or _("none"), off=", ".join(off))
    return _("On: {on}", on=", ".join(on) or _("none"))


def terms(items: tuple[str, ...]) -> Text | str:
    return ", ".join(code_span(t, 120) for t in items) if items else _("none")


def onoff(value: object) -> Text:
    return _("on") if value else _("off")


def allowed(mention: str, added: bool) -> Text:
    return _("Allowed {target}.", target=mention) if added else _("{target} was already allowed.", target=mention)


def removed(mention: str, done: bool) -> Text:
    return _("Removed {target}.", target=mention) if done else _("{target} was not on the list.", target=mention)


def member_blocked(mention: str, reason: str, changed: bool) -> Text:
    if changed:
        return _("Blocked {member} from generating here. They will read: \"{refusal}\"", member=mention,
                 refusal=_("You are blocked from generating here: {reason}", reason=reason))
    return _("Already blocked: {member} from generating here. They will read: \"{refusal}\"", member=mention,
             refusal=_("You are blocked from generating here: {reason}", reason=reason))


def blocking(term: str, changed: bool, block: bool) -> Text:
    """A blocked word's or pattern's change; a quoted term that ends a sentence ("`dark.`") takes no stop."""
    stop = "" if end_sentence(term) == term else "."
    if block:
        return (_("Blocked {term}{stop}", term=term, stop=stop) if changed
                else _("{term} was already blocked.", term=term))
    return _("Unblocked {term}{stop}", term=term, stop=stop) if changed else _("{term} was not blocked.", term=term)


def words_count(config: GuildConfig) -> Text:
    return _n("This server blocks {n} word or phrase.", "This server blocks {n} words and phrases.", len(config.words))


def patterns_count(config: GuildConfig) -> Text:
    return _n("This server has {n} of {most} patterns.", "This server has {n} of {most} patterns.", len(config.patterns),
              most=MAX_PATTERNS)


def strictness(config: GuildConfig) -> Text:
    if config.get(WORDS_STRICT):
        return _("Strict: blocked words and patterns also match leetspeak and letters spelled apart (`c4stl3`, "
                 "`c a s t l e`), as well as look-alike letters and accents.")
    return _("Look-alike letters and accents are undone (`cаstle`, `cástle`); leetspeak and letters spelled apart "
             "are matched only in strict mode (`/config words strict`).")


def explicit(config: GuildConfig) -> Text:
    return _("Explicit terms outside age-restricted channels: {verdict} (filter {filter}). Results in age-restricted "
             "channels as spoilers: {spoiler}. Sexual content involving minors is always refused, everywhere.",
             verdict=_("refused") if config.get(NSFW_FILTER) else _("allowed"), filter=onoff(config.get(NSFW_FILTER)),
             spoiler=onoff(config.get(SPOILER)))


def fit(text: str, limit: int = FIELD_MAX, more: str = "(more)") -> str:
    """`text` cut at a line or a comma to fit `limit`, saying there is `more` (in the reader's language)."""
    if len(text) <= limit:
        return text
    return text[:limit - 4 - len(more)].rsplit("\n", 1)[0].rsplit(",", 1)[0] + f" … {more}"


def image_check_text(config: GuildConfig, check: ImageCheck, default_threshold: float) -> Text:
    if not check.available:
        return _("Unavailable: the image check is {problem}. Results are posted without it.", problem=check.problem)
    if not config.get(IMAGE_CHECK):
        return _("Off: results are posted without looking at them (`/config nsfw image-check:on`).")
    own = config.get(IMAGE_THRESHOLD)
    threshold = own if own is not None else default_threshold
    where = _("to the review channel") if config.get(REVIEW_CHANNEL) is not None else _("nowhere (no review channel)")
    values = {"percent": f"{threshold:.0%}", "classes": ", ".join(c.lower().replace("_", " ") for c in sorted(check.classes)),
              "where": where, "threshold": f"{threshold:.2f}"}
    if own is None:
        return _("On: outside age-restricted channels, a result the detector scores at {percent} or more for {classes} "
                 "is not posted; the member is told privately and it goes {where}. Threshold {threshold} (the bot "
                 "default).", **values)
    return _("On: outside age-restricted channels, a result the detector scores at {percent} or more for {classes} "
             "is not posted; the member is told privately and it goes {where}. Threshold {threshold}.", **values)


def review(config: GuildConfig) -> list[Text]:
    """The review settings, a line each."""
    channel = config.get(REVIEW_CHANNEL)
    hide = int(config.get(REPORTS_HIDE_AFTER))
    values: dict[str, Any] = {
        "where": f"<#{channel}>" if channel is not None else _("none set"),
        "approval": ", ".join(f"<#{c}>" for c in sorted(config.approval)) or _("no channel"),
        "reports": _("off") if hide <= 0 else _n("on, a result is hidden after {n} report",
                                                 "on, a result is hidden after {n} reports", hide)}
    lines = [_("Review channel: {where}\nApproval: {approval}\nReports: {reports}", **values)]
    if channel is None and config.approval:
        lines.append(_("Generating in the approval channels is refused until a review channel is set."))
    if channel is None and hide > 0:
        lines.append(_("Members cannot report results until a review channel is set."))
    return lines


def model(given: str) -> str:
    if given not in MODELS:  # a raw client is not held to the choices
        raise InvalidInput(_("`{option}` must be one of {choices}.", option=option_name("model"),
                             choices=", ".join(MODELS)))
    return given


def on(option: str, given: str) -> bool:
    if given not in ("on", "off"):
        raise InvalidInput(_("`{option}` must be {kind}.", option=option_name(option), kind=_("on or off")))
    return given == "on"


def word(term: str) -> str:
    try:
        return check_word(term)
    except BadWord as exc:
        raise InvalidInput(_("That cannot be blocked: {why}.", why=exc.text), detail=f"word {term!r}: {exc}") from None


def negative_now(text: str) -> Text:
    """What /config defaults says: the negative prompt now added, and to which models' requests."""
    if not text:
        return _("No negative prompt is added to requests now.")
    takers = ", ".join(f"/{m.key}" for m in MODELS.values() if any(p.option == "negative_prompt" for p in m.params))
    return _("Every request on {models} now also keeps out: {text}", models=takers, text=code_block(text, 1600))


def audit_options(action: str | None, page: int, actions: tuple[str, ...], most: int) -> int:
    """/config audit's page, once its options are checked (a raw client is not held to the choices)."""
    if action is not None and action not in actions:
        raise InvalidInput(_("`{option}` must be one of {choices}.", option=option_name("action"),
                             choices=", ".join(actions)))
    if not 1 <= page <= most:
        raise InvalidInput(_("`{option}` must be between {low} and {high} (you gave {given}).",
                             option=option_name("page"), low=1, high=most, given=page))
    return page


def config_embed(config: GuildConfig, snap: QuotaSnapshot, detector: ImageCheck, default_threshold: float,
                 locale: str = "en-US") -> discord.Embed:
    """/config show: the server's whole configuration, in the admin's language."""
    t = words(locale)

    def fitted(text: Text | str) -> str:
        return fit(t(text), more=t(_("(more)")))

    embed = discord.Embed(title=t(_("Bot configuration for this server")), colour=COLOUR)
    negative, budget, audit_to = config.get(NEGATIVE_PROMPT), snap.guild_budget, config.get(AUDIT_CHANNEL)
    imagine = _("model {command}; results only to a member who asks: {private}. Styles: {styles}",
                command=f"/{config.get(IMAGINE_MODEL)}", styles=", ".join(sorted(config.styles)) or _("none"),
                private=_("allowed") if config.get(PRIVATE_RESULTS) else _("not offered"))
    for name, value in (
            (_("Channels"), fitted(everywhere(config))),
            (_("Who may generate"), fitted(everyone(config))),
            (_("Blocked members"), fit(blocked(config, t), more=t(_("(more)")))),
            (_("Models"), fitted(models(config))),
            (_("Blocked words ({n})", n=len(config.words)), fitted(terms(config.words))),
            (_("Blocked patterns ({n})", n=len(config.patterns)), fitted(terms(config.patterns))),
            (_("Matching"), t(strictness(config))),
            (_("Explicit terms"), t(_("filter {filter} outside age-restricted channels; results in age-restricted "
                                      "channels as spoilers: {spoiler}. Sexual content involving minors is always "
                                      "refused.", filter=onoff(config.get(NSFW_FILTER)),
                                      spoiler=onoff(config.get(SPOILER))))),
            (_("Image check"), t(image_check_text(config, detector, default_threshold))),
            (_("Added negative prompt"), code_block(negative, FIELD_MAX) if negative else t(_("none"))),
            (_("Review"), fit("\n".join(t(line) for line in review(config)), more=t(_("(more)")))),
            (_("/imagine and styles ({n})", n=len(config.styles)), fitted(imagine)),
            (_("Server budget"), t(_("none") if budget is None else _("{budget} a day, {used} used today",
                                                                   budget=credits(budget), used=credits(snap.guild_used)))),
            (_("Audit log"), t(_("posted in {channel}", channel=f"<#{audit_to}>") if audit_to else
                               _("kept, not posted (`/config audit-channel`)")))):
        embed.add_field(name=t(name), value=value, inline=False)
    return embed


def audit_page(rows: list[Any], total: int, page: int, locale: str = "en-US") -> discord.Embed | Text:
    """One page of /config audit as an embed in the admin's language, or why there is nothing to show."""
    t = words(locale)
    pages = max(1, -(-total // AUDIT_PAGE))
    if not rows:
        return _("No audit log rows match.") if total == 0 else _n("There is only {n} page.",
                                                                        "There are only {n} pages.", pages)
    text = "\n".join(f"<t:{int(r['at'])}:f> **{t(audit_title(r))}** " + " · ".join(t(x) for x in audit_lines(r))
                     for r in rows)
    embed = discord.Embed(title=t(_("Audit log")), description=fit(text, 4000, t(_("(more)"))), colour=COLOUR)
    embed.set_footer(text=t(_n("Page {page} of {pages} · {n} row", "Page {page} of {pages} · {n} rows", total,
                               page=page, pages=pages)))
    return embed
