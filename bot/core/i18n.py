"""The bot's languages: a sentence is a `Text` (its English message id and its values), worded in a
reader's language only where it is shown, from the gettext catalogs in bot/locales/.

Any layer may make a `Text` (`_("You have {left} credits left.", left=3)`, `_n(...)` for plurals);
none below the ui knows who reads it. `str(text)` is the English sentence. The ui renders it with
`render(text, locale)` in the member's locale (or the server's, for a message posted for everyone).
docs/architecture.md "A string" says how to add one; "A language" how to add a language.
"""

from __future__ import annotations

import gettext
import logging
import string
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locales"
DOMAIN = "bot"
SOURCE = "en"
# Discord's locale codes the catalogs are written for, and the catalog each reads (gettext's own
# directory names); another Discord locale of the same language reads that language's catalog
# (es-419 reads es_ES, en-GB the English), any other the English.
CATALOGS: dict[str, str] = {"en-US": "en", "de": "de", "fr": "fr", "es-ES": "es_ES", "pt-BR": "pt_BR", "ja": "ja"}

# The message contexts (msgctxt) of the commands' own strings, one per place Discord shows them.
COMMAND_CONTEXTS = ("command name", "command description", "group name", "group description", "option name",
                    "option description", "choice")


class Text(str):
    """A sentence to show someone. It *is* its English (a str: compared, searched, logged and pasted into
    other text as English), and it keeps its message id, its values (numbers, member text, other Texts),
    the plural it takes and its message context, to be worded in another language by `render`."""

    msgid: str
    params: Mapping[str, Any]
    plural: str | None
    n: int | None
    context: str | None

    def __new__(cls, msgid: str, params: Mapping[str, Any] | None = None, plural: str | None = None,
                n: int | None = None, context: str | None = None) -> Text:
        values = dict(params or {})
        template = plural if plural is not None and n != 1 else msgid
        self = super().__new__(cls, template.format(**values) if values else template)
        self.msgid, self.params, self.plural, self.n, self.context = msgid, values, plural, n, context
        return self


def _(msgid: str, /, **params: Any) -> Text:
    """Marks a sentence for the catalogs (pybabel extract finds `_`); its values fill `{name}`s."""
    return Text(msgid, params)


def _n(singular: str, plural: str, n: int, /, **params: Any) -> Text:
    """A sentence with a plural: `n` picks the form (and fills `{n}` unless a value is given)."""
    return Text(singular, {"n": n, **params}, plural=plural, n=n)


def option_name(name: str) -> Text:
    """An option's name as the reader's Discord client shows it (its localized name)."""
    return Text(name, context="option name")


def catalog_name(locale: str | None) -> str:
    """The catalog a Discord locale reads: its own, its language's, or the English."""
    if not locale:
        return SOURCE
    if locale in CATALOGS:
        return CATALOGS[locale]
    language = locale.split("-")[0]
    return next((name for code, name in CATALOGS.items() if code.split("-")[0] == language), SOURCE)


@cache
def translations(catalog: str) -> gettext.NullTranslations:
    """The compiled catalog (bot/locales/<catalog>/LC_MESSAGES/bot.mo); English is the message ids."""
    if catalog == SOURCE:
        return gettext.NullTranslations()
    path = LOCALE_DIR / catalog / "LC_MESSAGES" / f"{DOMAIN}.mo"
    try:
        with path.open("rb") as fp:
            return gettext.GNUTranslations(fp)
    except OSError as exc:
        log.warning("the %s catalog could not be read (%s); its readers get English", catalog, exc)
        return gettext.NullTranslations()


def lookup(text: Text, catalog: str) -> str:
    """The template `text` reads as in `catalog`, not yet filled."""
    t = translations(catalog)
    if text.plural is not None:
        n = text.n if text.n is not None else 1
        if text.context:
            return t.npgettext(text.context, text.msgid, text.plural, n)
        return t.ngettext(text.msgid, text.plural, n)
    if text.context:
        return t.pgettext(text.context, text.msgid)
    return t.gettext(text.msgid)


def render(text: Text | str, locale: str | None) -> str:
    """`text` in `locale` (a Discord locale code, or a catalog's name); a plain str is shown as it is."""
    if not isinstance(text, Text):
        return text
    catalog = locale if locale is not None and locale in CATALOGS.values() else catalog_name(locale)
    values = {key: render(value, catalog) if isinstance(value, Text) else value for key, value in text.params.items()}
    template = lookup(text, catalog)
    if not values:  # a sentence without values is never formatted: its braces are its own
        return template
    try:
        return template.format(**values)
    except (KeyError, IndexError, ValueError) as exc:  # a catalog's mistake must not cost the answer
        log.warning("the %s translation of %r cannot be filled (%s); shown in English", catalog, text.msgid, exc)
        english = text.plural if text.plural is not None and text.n != 1 else text.msgid
        return english.format(**values)


def placeholders(template: str) -> set[str]:
    """The `{name}`s of a template, for the tests that hold every translation to its message id's."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
