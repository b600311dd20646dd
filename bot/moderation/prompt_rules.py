"""Whether a prompt may be sent: the built-in rules and one server's blocked words and patterns."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from bot.core.i18n import Text, _
from bot.core.text import code_span
from bot.moderation.builtin import builtin_lists
from bot.moderation.normalize import normalize, spans, split
from bot.moderation.patterns import BadPattern, PatternList, check_pattern
from bot.moderation.readings import read
from bot.moderation.words import BadWord, WordHit, WordList, check_word

log = logging.getLogger(__name__)


class Rule(StrEnum):
    MINOR_SAFETY = "minor_safety"
    SERVER_WORD = "server_word"
    SERVER_PATTERN = "server_pattern"
    MILD_FILTER = "mild_filter"


@dataclass(frozen=True)
class Violation:
    rule: Rule
    term: str  # the configured word or pattern, or the built-in term (for MINOR_SAFETY the minor one)
    matched: str  # the prompt's text that matched, normalized
    # MINOR_SAFETY only: the sexual term found with `term`, and the prompt's text it matched.
    paired_term: str | None = None
    paired_matched: str | None = None

    @property
    def appealable(self) -> bool:
        """A server's own rules can be wrong about a prompt; the built-in ones are not negotiable."""
        return self.rule in (Rule.SERVER_WORD, Rule.SERVER_PATTERN)

    @property
    def text(self) -> Text:
        """One sentence to show the member as is, in their language where it is shown."""
        term = code_span(self.term)
        if self.rule is Rule.MINOR_SAFETY:
            return _("This bot never makes sexual images involving minors ({term} with {paired}).", term=term,
                     paired=code_span(self.paired_term))
        if self.rule is Rule.SERVER_WORD:
            return _("Your prompt uses {term}, which this server has blocked.", term=term)
        if self.rule is Rule.SERVER_PATTERN:
            return _("Your prompt matches the pattern {term} (at {matched}), which this server has blocked.", term=term,
                     matched=code_span(self.matched, 40))
        return _("Explicit terms like {term} can only be used in age-restricted channels.", term=term)

    @property
    def sentence(self) -> str:
        """The sentence in English."""
        return str(self.text)


class _View:
    """One reading of the prompt: its text, and (worked out when first needed) its UTF-8 for RE2, its
    words, and where each word is, to quote a match."""

    __slots__ = ("text", "_shown", "_encoded", "_words")

    def __init__(self, text: str, shown: str | None = None) -> None:
        self.text = text
        # The member's own characters are quoted where the reading keeps their places ("nаked").
        self._shown = shown if shown is not None and len(shown) == len(text) else text
        self._encoded: bytes | None = None
        self._words: list[str] | None = None

    @property
    def encoded(self) -> bytes:
        if self._encoded is None:
            self._encoded = self.text.encode()
        return self._encoded

    @property
    def words(self) -> list[str]:
        if self._words is None:
            self._words = split(self.text)
        return self._words

    def shown(self, start: int, end: int) -> str:
        return self._shown[start:end]

    def quote(self, hit: WordHit) -> str:
        """The text from the hit's first word to its last ("big   cat", not "big cat")."""
        where = spans(self.text, hit.last + 1)
        return self.shown(where[hit.first][0], where[hit.last][1])


def _find(terms: WordList, views: Sequence[_View], spelled: Sequence[str] = ()) -> tuple[str, str] | None:
    """The first term found in any reading (and, for the built-in lists, inside letters spelled apart)."""
    for view in views:
        start = terms.screen(view.encoded)
        if start is None:
            continue
        if view.text.isascii():
            found = terms.find_from(view.text, start)
            if found is not None:
                return found[0], view.shown(found[1], found[2])
            continue
        hit = terms.find(view.words)  # (split once for every list that looks at this reading)
        if hit is not None:
            return hit.term, view.quote(hit)
    return terms.inside(spelled)


class PromptRules:
    """One server's rules, compiled once per configuration change; `check` is safe from any thread.

    `strict` (/config words strict): the server's words and patterns are also matched on the prompt's
    loose readings (letters spelled apart joined, digits and symbols read as letters), as the built-in
    rules always are. Look-alike letters and accents are undone for every rule either way."""

    def __init__(self, words: WordList, patterns: PatternList, *, strict: bool = False) -> None:
        self.words = words
        self.patterns = patterns
        self.strict = strict

    @classmethod
    def build(cls, words: Iterable[str], patterns: Iterable[str], *, strict: bool = False) -> PromptRules:
        """From stored rows. A row that no longer passes (a pattern RE2 now refuses, a rule tightened
        since it was added) is skipped and logged: one bad row must not take a server's config down."""
        kept_words: list[str] = []
        for term in words:
            try:
                check_word(term)
            except BadWord as e:
                log.warning("A stored blocked word is skipped: %s (%r)", e.reason, term[:120])
                continue
            kept_words.append(term)
        compiled = []
        for text in patterns:
            try:
                compiled.append((text, check_pattern(text)))
            except BadPattern as e:
                log.warning("A stored blocked pattern is skipped: %s (%r)", e.reason, text[:220])
        return cls(WordList(kept_words), PatternList(compiled), strict=strict)

    def check(self, prompt: str, *, age_restricted: bool, mild_filter: bool) -> Violation | None:
        """The first rule the prompt breaks, in the order minor safety, the server's words, the
        server's patterns, the mild filter (which applies outside age-restricted channels only)."""
        normalized = normalize(prompt)
        found = read(normalized)
        base = _View(found.folded, normalized)
        exact = [base] if found.unmixed is None else [base, _View(found.unmixed, normalized)]
        # Loosened once: from the transliterated reading where there is one (it differs from the base only
        # in mixed-script words, which it reads better), else from the base.
        loose = found.loose
        seen = {view.text for view in exact}
        readings = exact + [_View(text) for text in (loose.texts if loose is not None else ()) if text not in seen]
        spelled = loose.spelled if loose is not None else ()
        builtin = builtin_lists()
        minor = _find(builtin.minors, readings, spelled)
        if minor is not None:
            sexual = _find(builtin.sexual, readings, spelled)
            if sexual is not None:
                return Violation(Rule.MINOR_SAFETY, minor[0], minor[1], sexual[0], sexual[1])
        word = _find(self.words, readings, spelled) if self.strict else _find(self.words, exact)
        if word is not None:
            return Violation(Rule.SERVER_WORD, *word)
        if len(self.patterns):
            views = ([] if normalized == base.text else [_View(normalized)]) + exact
            if self.strict:
                views += readings[len(exact):]
            for view in views:
                pattern = self.patterns.find(view.text, view.encoded)
                if pattern is not None:
                    return Violation(Rule.SERVER_PATTERN, pattern[0], pattern[1])
        if mild_filter and not age_restricted:
            explicit = _find(builtin.explicit, readings, spelled)
            if explicit is not None:
                return Violation(Rule.MILD_FILTER, *explicit)
        return None


NO_RULES = PromptRules(WordList(()), PatternList(()))  # a server that configured nothing
