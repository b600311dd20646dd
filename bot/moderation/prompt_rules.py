"""Whether a prompt may be sent: the built-in rules and one server's blocked words and patterns."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from bot.moderation.builtin import builtin_lists
from bot.moderation.normalize import normalize, spans, split
from bot.moderation.patterns import BadPattern, PatternList, check_pattern
from bot.moderation.words import BadWord, WordHit, WordList, check_word
from bot.text import code_span

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
    def sentence(self) -> str:
        """One sentence to show the member as is."""
        term = code_span(self.term)
        if self.rule is Rule.MINOR_SAFETY:
            return f"This bot never makes sexual images involving minors ({term} with {code_span(self.paired_term)})."
        if self.rule is Rule.SERVER_WORD:
            return f"Your prompt uses {term}, which this server has blocked."
        if self.rule is Rule.SERVER_PATTERN:
            return f"Your prompt matches the pattern {term} (at {code_span(self.matched, 40)}), which this server has blocked."
        return f"Explicit terms like {term} can only be used in age-restricted channels."


def _quote(normalized: str, hit: WordHit) -> str:
    """The prompt's own text from the hit's first word to its last ("big   cat", not "big cat")."""
    where = spans(normalized)
    return normalized[where[hit.first][0]: where[hit.last][1]]


class PromptRules:
    """One server's rules, compiled once per configuration change; `check` is safe from any thread."""

    def __init__(self, words: WordList, patterns: PatternList) -> None:
        self.words = words
        self.patterns = patterns

    @classmethod
    def build(cls, words: Iterable[str], patterns: Iterable[str]) -> PromptRules:
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
        return cls(WordList(kept_words), PatternList(compiled))

    def check(self, prompt: str, *, age_restricted: bool, mild_filter: bool) -> Violation | None:
        """The first rule the prompt breaks, in the order minor safety, the server's words, the
        server's patterns, the mild filter (which applies outside age-restricted channels only)."""
        normalized = normalize(prompt)
        prompt_words = split(normalized)
        builtin = builtin_lists()
        minor = builtin.minors.find(prompt_words)
        if minor is not None:
            sexual = builtin.sexual.find(prompt_words)
            if sexual is not None:
                return Violation(Rule.MINOR_SAFETY, minor.term, _quote(normalized, minor),
                                 sexual.term, _quote(normalized, sexual))
        word = self.words.find(prompt_words)
        if word is not None:
            return Violation(Rule.SERVER_WORD, word.term, _quote(normalized, word))
        pattern = self.patterns.find(normalized)
        if pattern is not None:
            return Violation(Rule.SERVER_PATTERN, pattern[0], pattern[1])
        if mild_filter and not age_restricted:
            explicit = builtin.explicit.find(prompt_words)
            if explicit is not None:
                return Violation(Rule.MILD_FILTER, explicit.term, _quote(normalized, explicit))
        return None


NO_RULES = PromptRules(WordList(()), PatternList(()))  # a server that configured nothing
