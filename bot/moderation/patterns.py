"""Blocked regular expressions: untrusted input, so RE2 (linear time, bounded memory) and not `re`."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import re2

from bot.moderation.limits import COMBINED_MAX_MEM, MAX_PATTERN_CHARS, MAX_PATTERN_PROGRAM, PATTERN_MAX_MEM
from bot.text import code_span

log = logging.getLogger(__name__)

Compiled = Any  # re2's compiled pattern; google-re2 ships no type information


class BadPattern(ValueError):
    """A pattern that cannot be blocked; `reason` completes "That pattern can't be used: ..."."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _options(max_mem: int) -> Any:
    options = re2.Options()
    options.log_errors = False  # RE2 would print every refused pattern to stderr
    options.case_sensitive = False
    options.never_capture = True  # groups are never read; without them a search stays in the DFA
    options.max_mem = max_mem
    return options


_OPTIONS = _options(PATTERN_MAX_MEM)


def _reason(error: re2.error) -> str:
    """RE2's message ("missing ): (a", as bytes) as a phrase: "missing ) in `(a`"."""
    raw = error.args[0] if error.args else ""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    what, sep, where = text.partition(": ")
    if sep and where:
        return f"{what} in {code_span(where, 60)}"
    if "too large" in text:
        return "it is too large for the pattern engine's memory limit"
    return text or "the pattern engine refused it"


def _compile(text: str, max_mem: int = PATTERN_MAX_MEM) -> Compiled:
    try:
        return re2.compile(text, _OPTIONS if max_mem == PATTERN_MAX_MEM else _options(max_mem))
    except re2.error as e:
        raise BadPattern(_reason(e)) from None


def check_pattern(text: str) -> Compiled:
    """The compiled pattern, matched case-insensitively against `normalize`d prompts, or BadPattern."""
    if not text:
        raise BadPattern("it is empty")
    if len(text) > MAX_PATTERN_CHARS:
        raise BadPattern(f"it is {len(text)} characters long, and the limit is {MAX_PATTERN_CHARS}")
    compiled = _compile(text)
    if compiled.programsize > MAX_PATTERN_PROGRAM:
        raise BadPattern(f"it is too complex to check quickly ({compiled.programsize} steps once compiled, "
                         f"and the limit is {MAX_PATTERN_PROGRAM}); try a shorter repetition count")
    # `a*` or `x?` is found in every prompt (as nothing at all), so it would block them all.
    if compiled.search("") is not None:
        raise BadPattern("it can match empty text, so it would block prompts that contain nothing it names")
    return compiled


def _grouped(text: str) -> str:
    """`text` as one alternative of the combined search. A pattern ending inside `\\Q...` (a literal
    quote RE2 lets run to the end) would swallow the rest of the alternation, so it gets its `\\E`."""
    for candidate in (f"(?:{text})", f"(?:{text}\\E)"):
        try:
            _compile(candidate)
            return candidate
        except BadPattern:
            continue
    raise BadPattern("it cannot be combined with other patterns")


class PatternList:
    """A server's patterns, compiled once per configuration change.

    A check usually finds nothing, so all patterns are first searched at once as one alternation: one
    linear DFA pass over the prompt instead of fifty. Only on a hit is each pattern tried in turn to
    name the one that matched. (`re2.Set` would be as fast, but when its DFA runs out of memory it
    answers "no match", which google-re2's binding cannot tell from a real one: a filter that fails
    open. A single RE2 falls back to its NFA instead.) When the alternation is too large to compile the
    patterns are searched one by one, still linear.
    """

    def __init__(self, patterns: Sequence[tuple[str, Compiled]]) -> None:
        self._patterns = list(patterns)
        self._combined: Compiled | None = None
        if len(self._patterns) > 1:
            try:
                alternatives = "|".join(_grouped(text) for text, _ in self._patterns)
                self._combined = _compile(alternatives, COMBINED_MAX_MEM)
            except BadPattern as e:
                log.info("%d blocked patterns searched one by one: together %s", len(self._patterns), e.reason)

    def __len__(self) -> int:
        return len(self._patterns)

    @property
    def texts(self) -> list[str]:
        return [text for text, _ in self._patterns]

    def find(self, normalized: str) -> tuple[str, str] | None:
        """The first configured pattern that matches, and the text it matched."""
        if not self._patterns:
            return None
        if self._combined is not None and self._combined.search(normalized.encode()) is None:
            return None
        for text, compiled in self._patterns:
            match = compiled.search(normalized)
            if match is not None:
                return text, match.group()
        return None
